DROP INDEX attachments_storage_key;
DROP INDEX attachments_unused;
DELETE FROM attachments WHERE state NOT IN ('pending', 'uploaded');
ALTER TABLE attachments DROP CONSTRAINT attachments_state_check;
ALTER TABLE attachments ADD CONSTRAINT attachments_state_check
    CHECK (state IN ('pending', 'uploaded'));
