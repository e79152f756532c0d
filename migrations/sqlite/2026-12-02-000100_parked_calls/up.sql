-- A handshake-era MCP call waits, parked in the memory of the process that holds it, for a
-- person's answer. The answer may reach another process: that process leaves it here for the
-- holder (found by `instance_id`, alive while `heartbeat_at` is fresh), which completes the
-- call and leaves its `result` here in turn. Rows past `expires_at` are forgotten.
CREATE TABLE parked_calls (
    token TEXT PRIMARY KEY NOT NULL,
    instance_id TEXT NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    answer TEXT,
    result TEXT
);
CREATE INDEX parked_calls_instance ON parked_calls (instance_id);
