//! Tools from elsewhere: MCP servers reached over streamable HTTP (`CHATKIT_MCP_SERVERS`, and an
//! agent's own list in the database, read with the same type) and tools the ChatKit client runs
//! (`CHATKIT_CLIENT_TOOLS`). Both are JSON lists.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ConfigError, Secret, parse};

/// An MCP server reached over streamable HTTP.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSettings {
    /// Names the server in logs, in tool-name clashes, and to operators.
    pub name: String,
    pub url: String,
    /// Extra HTTP headers, e.g. `{"Authorization": "Bearer …"}`; their values are credentials
    /// as often as not, so none of them prints.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// When given, only these tools are offered to the model.
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    /// Longest wait for one request (connect, list, call).
    #[serde(
        default = "default_mcp_timeout",
        rename = "timeout_ms",
        deserialize_with = "millis"
    )]
    pub timeout: Duration,
    /// Longest wait for the tool list at the start of a turn, connecting included
    /// (`list_timeout_ms`); unset, `CHATKIT_MCP_LIST_TIMEOUT_MS` for the servers of
    /// `CHATKIT_MCP_SERVERS`, [`DEFAULT_LIST_TIMEOUT`] for an agent's own.
    #[serde(default, rename = "list_timeout_ms", deserialize_with = "some_millis")]
    pub list_timeout: Option<Duration>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Take a bare widget root in `structuredContent` for a widget (mcp-chatkit-widget style).
    #[serde(default)]
    pub structured_widgets: bool,
    /// `auto` (default) detects the protocol era; `legacy` always uses the `initialize`
    /// handshake, for servers whose modern-era support misbehaves.
    #[serde(default)]
    pub protocol: McpProtocol,
    /// How long a handshake-era call waits for the user's answer to a live
    /// `elicitation/create` before it is answered `cancel` (the call stays open meanwhile).
    #[serde(
        default = "default_elicitation_timeout",
        rename = "elicitation_timeout_ms",
        deserialize_with = "millis"
    )]
    pub elicitation_timeout: Duration,
}

fn default_elicitation_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum McpProtocol {
    #[default]
    Auto,
    Legacy,
}

/// How long a turn waits for a server's tools by default: a turn that calls none of them
/// should not wait the server's whole `timeout_ms` for it.
pub const DEFAULT_LIST_TIMEOUT: Duration = Duration::from_millis(3000);

fn default_mcp_timeout() -> Duration {
    Duration::from_secs(30)
}

fn enabled() -> bool {
    true
}

fn millis<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let ms: u64 = serde::Deserialize::deserialize(deserializer)?;
    Ok(Duration::from_millis(ms))
}

fn some_millis<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    millis(deserializer).map(Some)
}

/// A tool the ChatKit client runs (`onClientTool`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ClientToolSettings {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "empty_object_schema")]
    pub parameters: serde_json::Value,
}

fn empty_object_schema() -> serde_json::Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// `CHATKIT_MCP_SERVERS`: http(s) URLs, unique names a tool name could carry; each without a
/// `list_timeout_ms` of its own gets `CHATKIT_MCP_LIST_TIMEOUT_MS`.
pub(super) fn mcp_servers(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<McpServerSettings>, ConfigError> {
    let default_ms = u64::try_from(DEFAULT_LIST_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    let list_timeout = Duration::from_millis(parse::number(
        get,
        "CHATKIT_MCP_LIST_TIMEOUT_MS",
        default_ms,
        1,
        600_000,
    )?);
    let mut servers: Vec<McpServerSettings> = match get("CHATKIT_MCP_SERVERS") {
        None => Vec::new(),
        Some(raw) => serde_json::from_str(&raw).map_err(|e| {
            ConfigError::new(
                "CHATKIT_MCP_SERVERS",
                format!(
                    "not a JSON list of {{name, url, headers?, allowed_tools?, timeout_ms?}}: {e}"
                ),
            )
        })?,
    };
    for server in &mut servers {
        server.list_timeout.get_or_insert(list_timeout);
    }
    for (i, server) in servers.iter().enumerate() {
        if !(server.url.starts_with("http://") || server.url.starts_with("https://")) {
            return Err(ConfigError::new(
                "CHATKIT_MCP_SERVERS",
                format!("'{}' is not an http(s) URL", server.url),
            ));
        }
        if !valid_tool_name(&server.name) || servers[..i].iter().any(|s| s.name == server.name) {
            return Err(ConfigError::new(
                "CHATKIT_MCP_SERVERS",
                format!(
                    "server names must be unique letters, digits, _ and - ('{}')",
                    server.name
                ),
            ));
        }
    }
    Ok(servers)
}

/// `CHATKIT_CLIENT_TOOLS`: each named as OpenAI accepts a function name.
pub(super) fn client_tools(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<ClientToolSettings>, ConfigError> {
    let tools: Vec<ClientToolSettings> = match get("CHATKIT_CLIENT_TOOLS") {
        None => Vec::new(),
        Some(raw) => serde_json::from_str(&raw).map_err(|e| {
            ConfigError::new(
                "CHATKIT_CLIENT_TOOLS",
                format!("not a JSON list of {{name, description, parameters}}: {e}"),
            )
        })?,
    };
    if let Some(bad) = tools.iter().find(|t| !valid_tool_name(&t.name)) {
        return Err(ConfigError::new(
            "CHATKIT_CLIENT_TOOLS",
            format!(
                "'{}' is not a tool name (letters, digits, _ and -, at most 64)",
                bad.name
            ),
        ));
    }
    Ok(tools)
}

/// What OpenAI accepts as a function name.
pub fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn client_tools() {
        let tools = settings(&[(
            "CHATKIT_CLIENT_TOOLS",
            r#"[{"name": "get_selection", "description": "d"}]"#,
        )])
        .unwrap()
        .tools
        .client_tools;
        assert_eq!(tools[0].name, "get_selection");
        assert_eq!(tools[0].parameters["type"], "object");
        assert_eq!(
            settings(&[("CHATKIT_CLIENT_TOOLS", "[{")]).unwrap_err().var,
            "CHATKIT_CLIENT_TOOLS"
        );
        assert_eq!(
            settings(&[("CHATKIT_CLIENT_TOOLS", r#"[{"name": "bad name"}]"#)])
                .unwrap_err()
                .var,
            "CHATKIT_CLIENT_TOOLS"
        );
    }

    #[test]
    fn mcp_servers() {
        let servers = settings(&[(
            "CHATKIT_MCP_SERVERS",
            r#"[{"name": "weather", "url": "http://127.0.0.1:9/mcp", "timeout_ms": 1500, "headers": {"Authorization": "Bearer t"}}]"#,
        )])
        .unwrap()
        .tools
        .mcp_servers;
        assert_eq!(servers[0].timeout, Duration::from_millis(1500));
        assert!(servers[0].enabled && !servers[0].structured_widgets);
        assert_eq!(servers[0].elicitation_timeout, Duration::from_secs(900));
        assert_eq!(servers[0].headers["Authorization"].expose(), "Bearer t");
        assert_eq!(servers[0].protocol, McpProtocol::Auto);
        assert_eq!(servers[0].list_timeout, Some(DEFAULT_LIST_TIMEOUT));
        let servers = settings(&[
            (
                "CHATKIT_MCP_SERVERS",
                r#"[{"name": "a", "url": "http://x"}, {"name": "b", "url": "http://y", "list_timeout_ms": 900}]"#,
            ),
            ("CHATKIT_MCP_LIST_TIMEOUT_MS", "1500"),
        ])
        .unwrap()
        .tools
        .mcp_servers;
        assert_eq!(servers[0].list_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(servers[1].list_timeout, Some(Duration::from_millis(900)));
        assert_eq!(
            settings(&[("CHATKIT_MCP_LIST_TIMEOUT_MS", "soon")])
                .unwrap_err()
                .var,
            "CHATKIT_MCP_LIST_TIMEOUT_MS"
        );
        for bad in [
            r#"[{"name": "a", "url": "ftp://x"}]"#,
            r#"[{"name": "a", "url": "http://x"}, {"name": "a", "url": "http://y"}]"#,
            r#"[{"name": "a", "url": "http://x", "timeout": 3}]"#,
        ] {
            assert_eq!(
                settings(&[("CHATKIT_MCP_SERVERS", bad)]).unwrap_err().var,
                "CHATKIT_MCP_SERVERS",
                "{bad}"
            );
        }
    }
}
