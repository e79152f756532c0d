-- Runs are owned by the process that streams them: `instance_id` names that process (random
-- per start) and `heartbeat_at` is refreshed while it lives, so any process can tell a run
-- whose owner died and mark it `interrupted`. At most one run per thread is `running`, which
-- the unique partial index enforces across processes.
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'completed', 'failed', 'cancelled', 'interrupted'));
ALTER TABLE runs ADD COLUMN instance_id TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at TIMESTAMP;
UPDATE runs SET heartbeat_at = started_at WHERE status = 'running';

-- Earlier versions could leave several runs of a thread `running`; all but the newest end here.
UPDATE runs SET status = 'interrupted', finished_at = started_at,
    error = 'The server stopped before the answer finished.'
WHERE status = 'running' AND EXISTS (
    SELECT 1 FROM runs newer WHERE newer.thread_id = runs.thread_id
    AND newer.status = 'running'
    AND (newer.started_at > runs.started_at
         OR (newer.started_at = runs.started_at AND newer.id > runs.id)));
CREATE UNIQUE INDEX runs_one_running ON runs (thread_id) WHERE status = 'running';
