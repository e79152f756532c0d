DROP TABLE usage_days;
CREATE INDEX runs_started ON runs (started_at);
