-- Human-input webhooks: an agent's own receiver (it replaces CHATKIT_HUMAN_WEBHOOK_URL for that
-- agent), and the outbox of deliveries. A delivery row is written in the same transaction as
-- the interaction change it reports, so a crash loses none; a background worker sends it.
ALTER TABLE agents ADD COLUMN human_webhook_url TEXT;

CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event TEXT NOT NULL CHECK (event IN ('form.waiting', 'form.answered', 'form.expired')),
    interaction_id TEXT NOT NULL REFERENCES human_interactions (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    -- The exact JSON sent (and signed) on every attempt.
    body TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- The receiver's HTTP status on the last attempt, if it answered.
    last_status INTEGER,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    -- A worker's lease while it sends: others skip the row until then.
    locked_until TIMESTAMP
);
-- The console's list, newest first.
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at, id);
-- The worker's scan for due rows.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_interaction ON webhook_deliveries (interaction_id);
