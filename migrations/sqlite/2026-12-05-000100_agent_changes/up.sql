-- A count of changes to agents and their MCP servers, whichever process or tool made them:
-- a run reuses the agent it built from the rows while the count stands (read in the same
-- transaction as the turn's message), instead of reading and building it again per turn.
CREATE TABLE agent_changes (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO agent_changes (id, n) VALUES (1, 0);

CREATE TRIGGER agents_insert_counted AFTER INSERT ON agents BEGIN
    UPDATE agent_changes SET n = n + 1;
END;
CREATE TRIGGER agents_update_counted AFTER UPDATE ON agents BEGIN
    UPDATE agent_changes SET n = n + 1;
END;
CREATE TRIGGER agents_delete_counted AFTER DELETE ON agents BEGIN
    UPDATE agent_changes SET n = n + 1;
END;
CREATE TRIGGER agent_mcp_servers_insert_counted AFTER INSERT ON agent_mcp_servers BEGIN
    UPDATE agent_changes SET n = n + 1;
END;
CREATE TRIGGER agent_mcp_servers_update_counted AFTER UPDATE ON agent_mcp_servers BEGIN
    UPDATE agent_changes SET n = n + 1;
END;
CREATE TRIGGER agent_mcp_servers_delete_counted AFTER DELETE ON agent_mcp_servers BEGIN
    UPDATE agent_changes SET n = n + 1;
END;
