-- An operator's claim on a pending interaction in the console: a lease that ends at
-- claimed_until unless renewed, so a closed tab frees the entry by itself.
CREATE TABLE interaction_claims (
    interaction_id TEXT PRIMARY KEY REFERENCES human_interactions (id) ON DELETE CASCADE,
    operator_id TEXT NOT NULL,
    operator_email TEXT NOT NULL,
    claimed_until TIMESTAMP NOT NULL
);

-- The console's queue: pending entries, oldest first.
CREATE INDEX human_interactions_queue ON human_interactions (status, created_at, id);
