-- An agent's own rate limits and quotas: a JSON object of the limits it sets in place of the
-- server's (see LimitOverrides); NULL uses the server's.
ALTER TABLE agents ADD COLUMN limits TEXT;
