-- Runs are owned by the process that streams them: `instance_id` names that process (random
-- per start) and `heartbeat_at` is refreshed while it lives, so any process can tell a run
-- whose owner died and mark it `interrupted`. At most one run per thread is `running`, which
-- the unique partial index enforces across processes. SQLite cannot alter a CHECK constraint,
-- so the table is rebuilt (nothing refers to it; its triggers and indexes are made again).
CREATE TABLE runs_new (
    id TEXT PRIMARY KEY NOT NULL,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    status TEXT NOT NULL
        CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted')),
    model TEXT,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    error TEXT,
    partial_text TEXT,
    first_token_ms BIGINT,
    cost_micros BIGINT,
    instance_id TEXT,
    heartbeat_at TIMESTAMP
);
INSERT INTO runs_new (id, thread_id, status, model, prompt_tokens, completion_tokens,
    started_at, finished_at, error, partial_text, first_token_ms, cost_micros, heartbeat_at)
SELECT id, thread_id, status, model, prompt_tokens, completion_tokens, started_at, finished_at,
    error, partial_text, first_token_ms, cost_micros,
    CASE WHEN status = 'running' THEN started_at END
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
CREATE INDEX runs_thread_started ON runs (thread_id, started_at);
CREATE INDEX runs_started ON runs (started_at);

-- Earlier versions could leave several runs of a thread `running`; all but the newest end here.
UPDATE runs SET status = 'interrupted', finished_at = started_at,
    error = 'The server stopped before the answer finished.'
WHERE status = 'running' AND EXISTS (
    SELECT 1 FROM runs newer WHERE newer.thread_id = runs.thread_id
    AND newer.status = 'running'
    AND (newer.started_at > runs.started_at
         OR (newer.started_at = runs.started_at AND newer.id > runs.id)));
CREATE UNIQUE INDEX runs_one_running ON runs (thread_id) WHERE status = 'running';

CREATE TRIGGER runs_count_insert AFTER INSERT ON runs WHEN NEW.status = 'failed' BEGIN
    UPDATE threads SET failed_runs = failed_runs + 1 WHERE id = NEW.thread_id;
END;
CREATE TRIGGER runs_count_delete AFTER DELETE ON runs WHEN OLD.status = 'failed' BEGIN
    UPDATE threads SET failed_runs = failed_runs - 1 WHERE id = OLD.thread_id;
END;
CREATE TRIGGER runs_count_update AFTER UPDATE OF status ON runs
WHEN (OLD.status = 'failed') <> (NEW.status = 'failed') BEGIN
    UPDATE threads SET failed_runs = failed_runs
        + CASE WHEN NEW.status = 'failed' THEN 1 ELSE -1 END
    WHERE id = NEW.thread_id;
END;
