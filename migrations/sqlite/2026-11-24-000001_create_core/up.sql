-- Tenants, their agents, and the ChatKit data a conversation is made of.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    model TEXT,
    instructions TEXT,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, slug)
);

CREATE TABLE threads (
    id TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    title TEXT,
    status TEXT NOT NULL,
    allowed_image_domains TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX threads_owner_created ON threads (account_id, agent_id, user_id, created_at, id);

CREATE TABLE items (
    id TEXT PRIMARY KEY NOT NULL,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('visible', 'hidden', 'model_only')),
    status TEXT,
    created_at TIMESTAMP NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX items_thread_created ON items (thread_id, created_at, id);

CREATE TABLE feedback (
    item_id TEXT NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('positive', 'negative')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (item_id, user_id)
);

CREATE TABLE attachments (
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
CREATE INDEX attachments_owner ON attachments (account_id, user_id);
CREATE INDEX attachments_thread ON attachments (thread_id);
