-- An agent's own MCP servers, as a JSON list in the format of CHATKIT_MCP_SERVERS.
ALTER TABLE agents ADD COLUMN mcp_servers TEXT;
