DROP INDEX runs_running_started;
