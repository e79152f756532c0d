-- Uploads move pending -> uploading (the single-use token is claimed) -> uploaded | failed.
-- SQLite cannot alter a CHECK constraint, so the table is rebuilt (nothing refers to it).
CREATE TABLE attachments_new (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    thread_id TEXT REFERENCES threads (id) ON DELETE SET NULL,
    name TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size BIGINT NOT NULL,
    sha256 TEXT,
    storage_key TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'uploaded', 'failed')),
    created_at TIMESTAMP NOT NULL
);
INSERT INTO attachments_new SELECT * FROM attachments;
DROP TABLE attachments;
ALTER TABLE attachments_new RENAME TO attachments;
CREATE INDEX attachments_owner ON attachments (account_id, user_id);
CREATE INDEX attachments_thread ON attachments (thread_id);
-- The orphan sweep: never used in a message, oldest first.
CREATE INDEX attachments_unused ON attachments (created_at) WHERE thread_id IS NULL;
CREATE INDEX attachments_storage_key ON attachments (storage_key);
