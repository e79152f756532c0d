ALTER TABLE runs DROP COLUMN context_dropped;
