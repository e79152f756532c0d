ALTER TABLE agents DROP COLUMN llm_api_key;
ALTER TABLE agents DROP COLUMN llm_base_url;
