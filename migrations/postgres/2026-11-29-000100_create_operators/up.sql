-- Operators of the console, their sign-in sessions, and the audit log of what they did.

-- Emails are stored lower-cased, so UNIQUE is case-insensitive on both backends.
CREATE TABLE operators (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL UNIQUE CHECK (email = lower(email)),
    -- An argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer')),
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP
);

-- The cookie's token is never stored, only its SHA-256 (hex): a copy of this table signs no
-- one in.
CREATE TABLE operator_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    operator_id TEXT NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL,
    -- Absolute end, however active the session stays.
    expires_at TIMESTAMP NOT NULL,
    ip TEXT,
    user_agent TEXT
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);

-- Insert-only. The operator's email is copied so a row still says who acted after the
-- operator is gone.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    operator_id TEXT REFERENCES operators (id) ON DELETE SET NULL,
    operator_email TEXT,
    ip TEXT,
    action TEXT NOT NULL,
    object_type TEXT,
    object_id TEXT,
    -- JSON object, e.g. {"before": {...}, "after": {...}}.
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_action_at ON audit_log (action, at);
