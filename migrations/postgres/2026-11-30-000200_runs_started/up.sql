-- Daily token quotas sum the runs started since UTC midnight in an account (or of one of its
-- users): this index finds today's runs without reading the older ones.
CREATE INDEX runs_started ON runs (started_at);
