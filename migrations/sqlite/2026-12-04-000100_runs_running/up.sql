-- Every process's heartbeat looks for stale running runs, oldest first. Ordered by
-- `started_at`, the planner walked `runs_started` over every run ever made, a scan that grew
-- with the table on each beat; this index holds the running runs only.
CREATE INDEX runs_running_started ON runs (started_at) WHERE status = 'running';
