-- An agent may use its own OpenAI-compatible endpoint instead of the server's.
ALTER TABLE agents ADD COLUMN llm_base_url TEXT;
ALTER TABLE agents ADD COLUMN llm_api_key TEXT;
