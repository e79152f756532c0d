CREATE TABLE attachments_old (
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
    state TEXT NOT NULL CHECK (state IN ('pending', 'uploaded')),
    created_at TIMESTAMP NOT NULL
);
INSERT INTO attachments_old SELECT * FROM attachments WHERE state IN ('pending', 'uploaded');
DROP TABLE attachments;
ALTER TABLE attachments_old RENAME TO attachments;
CREATE INDEX attachments_owner ON attachments (account_id, user_id);
CREATE INDEX attachments_thread ON attachments (thread_id);
