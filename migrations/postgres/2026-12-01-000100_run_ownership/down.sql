DROP INDEX runs_one_running;
UPDATE runs SET status = 'failed' WHERE status = 'interrupted';
ALTER TABLE runs DROP COLUMN heartbeat_at;
ALTER TABLE runs DROP COLUMN instance_id;
ALTER TABLE runs DROP CONSTRAINT runs_status_check;
ALTER TABLE runs ADD CONSTRAINT runs_status_check
    CHECK (status IN ('running', 'completed', 'failed', 'cancelled'));
