-- Folds the rows back into a JSON list per agent, in the format of CHATKIT_MCP_SERVERS
-- (json_strip_nulls leaves out the members that are NULL, such as absent headers).
ALTER TABLE agents ADD COLUMN mcp_servers TEXT;

CREATE FUNCTION pg_temp.json_or_null(t TEXT) RETURNS JSON LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::json;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

UPDATE agents SET mcp_servers = s.list
FROM (
    SELECT agent_id, json_agg(json_strip_nulls(json_build_object(
        'name', name,
        'url', url,
        'headers', pg_temp.json_or_null(headers),
        'allowed_tools', pg_temp.json_or_null(allowed_tools),
        'timeout_ms', timeout_ms,
        'protocol', protocol,
        'structured_widgets', structured_widgets,
        'elicitation_timeout_ms', elicitation_timeout_ms,
        'enabled', enabled
    )) ORDER BY created_at, id)::text AS list
    FROM agent_mcp_servers
    GROUP BY agent_id
) s
WHERE agents.id = s.agent_id;

DROP FUNCTION pg_temp.json_or_null(TEXT);

DROP TABLE agent_mcp_servers;
