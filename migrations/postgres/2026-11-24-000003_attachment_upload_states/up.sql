-- Uploads move pending -> uploading (the single-use token is claimed) -> uploaded | failed.
ALTER TABLE attachments DROP CONSTRAINT attachments_state_check;
ALTER TABLE attachments ADD CONSTRAINT attachments_state_check
    CHECK (state IN ('pending', 'uploading', 'uploaded', 'failed'));
-- The orphan sweep: never used in a message, oldest first.
CREATE INDEX attachments_unused ON attachments (created_at) WHERE thread_id IS NULL;
CREATE INDEX attachments_storage_key ON attachments (storage_key);
