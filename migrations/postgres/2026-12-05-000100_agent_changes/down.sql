DROP TRIGGER agent_mcp_servers_counted ON agent_mcp_servers;
DROP TRIGGER agents_counted ON agents;
DROP FUNCTION chatkit_count_agent_change();
DROP TABLE agent_changes;
