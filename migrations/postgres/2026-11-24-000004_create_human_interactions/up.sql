-- One row per question the agent asked a person (a form, an approval, an MCP elicitation):
-- everything needed to show it again, answer it, and resume the run, even after a restart.
CREATE TABLE human_interactions (
    id TEXT PRIMARY KEY NOT NULL,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    run_id TEXT,
    item_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    tool_name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('form', 'approval', 'elicitation')),
    schema TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'answered', 'best_judgement', 'cancelled', 'expired', 'denied')),
    answer TEXT,
    answered_by TEXT CHECK (answered_by IN ('user', 'operator')),
    -- Kind-specific JSON, e.g. an MCP server's input key and opaque requestState.
    details TEXT,
    created_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX human_interactions_thread_status ON human_interactions (thread_id, status);
CREATE INDEX human_interactions_item ON human_interactions (item_id);
