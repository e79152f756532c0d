-- Every console page shows how many forms wait for an answer. Counting them through
-- human_interactions_thread_status reads every interaction ever asked; this partial index
-- holds the waiting ones only, so the count costs what there is to count.
CREATE INDEX human_interactions_pending ON human_interactions (created_at) WHERE status = 'pending';
