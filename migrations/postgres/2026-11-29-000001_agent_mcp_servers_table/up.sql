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
    structured_widgets BOOLEAN NOT NULL DEFAULT FALSE,
    elicitation_timeout_ms BIGINT NOT NULL DEFAULT 900000,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (agent_id, name)
);

-- Text as JSON, or NULL where it is not JSON (a cast alone would fail the migration).
CREATE FUNCTION pg_temp.json_or_null(t TEXT) RETURNS JSON LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN t::json;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

-- Each object of a well-formed JSON list with a text name and url becomes a row; fields of
-- the wrong type take their defaults. A list that is not JSON (or not a list) moves nothing,
-- of two entries with one name the first wins, and creation times a millisecond apart keep
-- the list's order.
INSERT INTO agent_mcp_servers (
    id, agent_id, name, url, headers, allowed_tools, timeout_ms, protocol, structured_widgets,
    elicitation_timeout_ms, enabled, created_at, updated_at
)
SELECT
    'mcp_' || substr(md5(random()::text || clock_timestamp()::text), 1, 16),
    a.id,
    e.value ->> 'name',
    e.value ->> 'url',
    CASE WHEN json_typeof(e.value -> 'headers') = 'object'
        THEN (e.value -> 'headers')::text END,
    CASE WHEN json_typeof(e.value -> 'allowed_tools') = 'array'
        THEN (e.value -> 'allowed_tools')::text END,
    CASE WHEN (e.value ->> 'timeout_ms') ~ '^[0-9]{1,18}$'
            AND json_typeof(e.value -> 'timeout_ms') = 'number'
        THEN (e.value ->> 'timeout_ms')::bigint ELSE 30000 END,
    CASE WHEN json_typeof(e.value -> 'protocol') = 'string'
        THEN e.value ->> 'protocol' ELSE 'auto' END,
    CASE WHEN json_typeof(e.value -> 'structured_widgets') = 'boolean'
        THEN (e.value ->> 'structured_widgets')::boolean ELSE FALSE END,
    CASE WHEN (e.value ->> 'elicitation_timeout_ms') ~ '^[0-9]{1,18}$'
            AND json_typeof(e.value -> 'elicitation_timeout_ms') = 'number'
        THEN (e.value ->> 'elicitation_timeout_ms')::bigint ELSE 900000 END,
    CASE WHEN json_typeof(e.value -> 'enabled') = 'boolean'
        THEN (e.value ->> 'enabled')::boolean ELSE TRUE END,
    now() AT TIME ZONE 'UTC' + e.n * INTERVAL '1 millisecond',
    now() AT TIME ZONE 'UTC' + e.n * INTERVAL '1 millisecond'
FROM agents a
CROSS JOIN LATERAL json_array_elements(
    CASE WHEN json_typeof(pg_temp.json_or_null(a.mcp_servers)) = 'array'
        THEN pg_temp.json_or_null(a.mcp_servers) ELSE '[]'::json END
) WITH ORDINALITY AS e (value, n)
WHERE json_typeof(e.value) = 'object'
    AND json_typeof(e.value -> 'name') = 'string'
    AND json_typeof(e.value -> 'url') = 'string'
ORDER BY a.id, e.n
ON CONFLICT (agent_id, name) DO NOTHING;

DROP FUNCTION pg_temp.json_or_null(TEXT);

ALTER TABLE agents DROP COLUMN mcp_servers;
