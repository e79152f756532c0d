-- An agent's own MCP servers get a table of their own (one row per server, edited in the
-- console) instead of a JSON list in agents.mcp_servers.
CREATE TABLE agent_mcp_servers (
    id TEXT PRIMARY KEY NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    -- JSON object of extra HTTP headers; NULL for none.
    headers TEXT,
    -- JSON list of the tools offered to the model; NULL for all of them.
    allowed_tools TEXT,
    timeout_ms BIGINT NOT NULL DEFAULT 30000,
    -- A protocol the server understands: 'auto' or 'legacy'.
    protocol TEXT NOT NULL DEFAULT 'auto',
    structured_widgets BOOLEAN NOT NULL DEFAULT 0,
    elicitation_timeout_ms BIGINT NOT NULL DEFAULT 900000,
    enabled BOOLEAN NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (agent_id, name)
);

-- Each object of a well-formed JSON list with a text name and url becomes a row; fields of
-- the wrong type take their defaults. A list that is not JSON (or not a list) moves nothing,
-- of two entries with one name the first wins, and creation times a millisecond apart keep
-- the list's order. The nested CASE keeps json_type away from text that is not JSON, which
-- it would reject.
INSERT INTO agent_mcp_servers (
    id, agent_id, name, url, headers, allowed_tools, timeout_ms, protocol, structured_widgets,
    elicitation_timeout_ms, enabled, created_at, updated_at
)
SELECT
    'mcp_' || lower(hex(randomblob(8))),
    a.id,
    json_extract(e.value, '$.name'),
    json_extract(e.value, '$.url'),
    CASE WHEN json_type(e.value, '$.headers') = 'object'
        THEN json_extract(e.value, '$.headers') END,
    CASE WHEN json_type(e.value, '$.allowed_tools') = 'array'
        THEN json_extract(e.value, '$.allowed_tools') END,
    CASE WHEN json_type(e.value, '$.timeout_ms') = 'integer'
            AND json_extract(e.value, '$.timeout_ms') >= 0
        THEN json_extract(e.value, '$.timeout_ms') ELSE 30000 END,
    CASE WHEN json_type(e.value, '$.protocol') = 'text'
        THEN json_extract(e.value, '$.protocol') ELSE 'auto' END,
    coalesce(json_type(e.value, '$.structured_widgets') = 'true', 0),
    CASE WHEN json_type(e.value, '$.elicitation_timeout_ms') = 'integer'
            AND json_extract(e.value, '$.elicitation_timeout_ms') >= 0
        THEN json_extract(e.value, '$.elicitation_timeout_ms') ELSE 900000 END,
    coalesce(json_type(e.value, '$.enabled') <> 'false', 1),
    strftime('%Y-%m-%d %H:%M:%f', 'now', printf('+%.3f seconds', e.key / 1000.0)),
    strftime('%Y-%m-%d %H:%M:%f', 'now', printf('+%.3f seconds', e.key / 1000.0))
FROM agents a,
    json_each(coalesce(
        CASE WHEN json_valid(a.mcp_servers) THEN
            CASE WHEN json_type(a.mcp_servers) = 'array' THEN a.mcp_servers END
        END,
        '[]'
    )) e
WHERE e.type = 'object'
    AND json_type(e.value, '$.name') = 'text'
    AND json_type(e.value, '$.url') = 'text'
ORDER BY a.id, e.key
ON CONFLICT (agent_id, name) DO NOTHING;

ALTER TABLE agents DROP COLUMN mcp_servers;
