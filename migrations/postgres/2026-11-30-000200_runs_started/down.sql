DROP INDEX runs_started;
