-- A count of changes to agents and their MCP servers, whichever process or tool made them:
-- a run reuses the agent it built from the rows while the count stands (read in the same
-- transaction as the turn's message), instead of reading and building it again per turn.
CREATE TABLE agent_changes (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n BIGINT NOT NULL
);
INSERT INTO agent_changes (id, n) VALUES (1, 0);

CREATE FUNCTION chatkit_count_agent_change() RETURNS trigger AS $$
BEGIN
    UPDATE agent_changes SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER agents_counted
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agents
    FOR EACH STATEMENT EXECUTE FUNCTION chatkit_count_agent_change();

CREATE TRIGGER agent_mcp_servers_counted
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agent_mcp_servers
    FOR EACH STATEMENT EXECUTE FUNCTION chatkit_count_agent_change();
