ALTER TABLE agents DROP COLUMN updated_at;
ALTER TABLE agents DROP COLUMN form_timeout_secs;
ALTER TABLE agents DROP COLUMN human_input;
ALTER TABLE agents DROP COLUMN approval_tools;
ALTER TABLE agents DROP COLUMN client_tools;
ALTER TABLE agents DROP COLUMN temperature;
ALTER TABLE agents DROP COLUMN models;
