ALTER TABLE agents DROP COLUMN mcp_servers;
