CREATE TABLE runs_old (
    id TEXT PRIMARY KEY NOT NULL,
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
    model TEXT,
    prompt_tokens BIGINT NOT NULL DEFAULT 0,
    completion_tokens BIGINT NOT NULL DEFAULT 0,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    error TEXT,
    partial_text TEXT,
    first_token_ms BIGINT,
    cost_micros BIGINT
);
INSERT INTO runs_old SELECT id, thread_id,
    CASE WHEN status = 'interrupted' THEN 'failed' ELSE status END,
    model, prompt_tokens, completion_tokens, started_at, finished_at, error, partial_text,
    first_token_ms, cost_micros
FROM runs;
DROP TABLE runs;
ALTER TABLE runs_old RENAME TO runs;
CREATE INDEX runs_thread_started ON runs (thread_id, started_at);
CREATE INDEX runs_started ON runs (started_at);
UPDATE threads SET failed_runs =
    (SELECT COUNT(*) FROM runs r WHERE r.thread_id = threads.id AND r.status = 'failed');
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
