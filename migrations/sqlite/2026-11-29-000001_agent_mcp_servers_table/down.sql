-- Folds the rows back into a JSON list per agent, in the format of CHATKIT_MCP_SERVERS
-- (json_patch onto '{}' leaves out the members that are NULL, such as absent headers).
ALTER TABLE agents ADD COLUMN mcp_servers TEXT;

UPDATE agents SET mcp_servers = (
    SELECT json_group_array(json(entry)) FROM (
        SELECT json_patch('{}', json_object(
            'name', s.name,
            'url', s.url,
            'headers', CASE WHEN json_valid(s.headers) THEN json(s.headers) END,
            'allowed_tools', CASE WHEN json_valid(s.allowed_tools) THEN json(s.allowed_tools) END,
            'timeout_ms', s.timeout_ms,
            'protocol', s.protocol,
            'structured_widgets', json(CASE WHEN s.structured_widgets THEN 'true' ELSE 'false' END),
            'elicitation_timeout_ms', s.elicitation_timeout_ms,
            'enabled', json(CASE WHEN s.enabled THEN 'true' ELSE 'false' END)
        )) AS entry
        FROM agent_mcp_servers s
        WHERE s.agent_id = agents.id
        ORDER BY s.created_at, s.id
    )
)
WHERE EXISTS (SELECT 1 FROM agent_mcp_servers s WHERE s.agent_id = agents.id);

DROP TABLE agent_mcp_servers;
