//! Tools from elsewhere: MCP servers reached over streamable HTTP (`CHATKIT_MCP_SERVERS`, and an
//! agent's own list in the database, read with the same type) and tools the ChatKit client runs
//! (`CHATKIT_CLIENT_TOOLS`). Both are JSON lists.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{ConfigError, Secret};

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

/// `CHATKIT_MCP_SERVERS`: http(s) URLs, unique names a tool name could carry.
pub(super) fn mcp_servers(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<McpServerSettings>, ConfigError> {
    let servers: Vec<McpServerSettings> = match get("CHATKIT_MCP_SERVERS") {
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
