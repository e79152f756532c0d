-- What an operator sets on an agent in the console, beyond its model and endpoint. A NULL
-- keeps the server's own setting (CHATKIT_MODELS, CHATKIT_CLIENT_TOOLS, ...), so an agent
-- states only what differs. Lists are JSON text. llm_api_key holds a sealed value ("v1:...")
-- once CHATKIT_SECRET_KEY is set; the server seals older plain values when it starts.
ALTER TABLE agents ADD COLUMN models TEXT;
ALTER TABLE agents ADD COLUMN temperature DOUBLE PRECISION;
ALTER TABLE agents ADD COLUMN client_tools TEXT;
ALTER TABLE agents ADD COLUMN approval_tools TEXT;
ALTER TABLE agents ADD COLUMN human_input BOOLEAN;
ALTER TABLE agents ADD COLUMN form_timeout_secs BIGINT;
ALTER TABLE agents ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE agents SET updated_at = created_at;
