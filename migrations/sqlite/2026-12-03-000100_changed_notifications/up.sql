-- Nothing on SQLite: one process owns the file and learns of its own changes (the Postgres
-- migration of this name adds triggers that tell the other processes). Kept so that both
-- directories list the same migrations.
SELECT 1;
