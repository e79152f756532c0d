DROP TRIGGER agent_mcp_servers_delete_counted;
DROP TRIGGER agent_mcp_servers_update_counted;
DROP TRIGGER agent_mcp_servers_insert_counted;
DROP TRIGGER agents_delete_counted;
DROP TRIGGER agents_update_counted;
DROP TRIGGER agents_insert_counted;
DROP TABLE agent_changes;
