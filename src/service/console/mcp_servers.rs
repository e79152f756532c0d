//! An agent's MCP servers in the console (admins only): add, edit, switch on and off,
//! delete, and test the connection with the same client runs use. Header values are secrets:
//! the form sets or replaces them by name and never shows them again.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::agents::{AgentConsole, MASK, change, conflict, http_url, names, seal};
use super::{Actor, ConsoleError};
use crate::agent::mcp::McpServer;
use crate::config::mcp::valid_tool_name;
use crate::store::{McpServerFields, McpServerRow};

const MAX_NAME_CHARS: usize = 64;
/// Longest call timeout a server may set.
const MAX_TIMEOUT_SECS: u64 = 600;

/// The server form as submitted. No `Debug`: it may hold header secrets.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct McpServerInput {
    pub name: String,
    pub url: String,
    /// `Name: value` lines: each sets or replaces that header; `Name:` alone removes it.
    /// Headers not named keep their stored values.
    pub headers: String,
    /// "on" removes every stored header first.
    pub clear_headers: Option<String>,
    /// Tool names, by commas or lines; empty offers every tool.
    pub allowed_tools: String,
    pub timeout_secs: String,
    /// `auto` or `legacy`.
    pub protocol: String,
    pub enabled: Option<String>,
}

impl McpServerInput {
    /// The form of a new server.
    pub fn new_server() -> McpServerInput {
        McpServerInput {
            timeout_secs: "30".into(),
            protocol: "auto".into(),
            enabled: Some("on".into()),
            ..Default::default()
        }
    }
}

/// What a connection test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestReport {
    pub server_id: String,
    pub ok: bool,
    /// "found 7 tools: a, b — protocol 2025-06-18", or the error.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ConsoleError {
    ConsoleError::InvalidInput(field, message.into())
}

/// A server as audit rows show it: header names with masked values.
pub fn server_view(row: &McpServerRow) -> Value {
    let headers: BTreeMap<String, &str> = row
        .header_map()
        .unwrap_or_default()
        .into_keys()
        .map(|name| (name, MASK))
        .collect();
    json!({
        "name": row.name,
        "url": row.url,
        "headers": headers,
        "allowed_tools": row.allowed_tool_list().unwrap_or_default(),
        "timeout_ms": row.timeout_ms,
        "protocol": row.protocol,
        "enabled": row.enabled,
    })
}

/// The `Name: value` lines of the form: what to set, and what to remove.
#[allow(clippy::type_complexity)]
fn header_lines(text: &str) -> Result<(Vec<(String, String)>, Vec<String>), ConsoleError> {
    let (mut set, mut remove) = (Vec::new(), Vec::new());
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(invalid(
                "headers",
                format!(
                    "write each header as 'Name: value' (the line '{}' has no ':')",
                    { line.chars().take(40).collect::<String>() }
                ),
            ));
        };
        let (name, value) = (name.trim(), value.trim());
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(invalid(
                "headers",
                format!("'{name}' is not an HTTP header name"),
            ));
        }
        if value.is_empty() {
            remove.push(name.to_owned());
        } else if reqwest::header::HeaderValue::from_str(value).is_err() {
            return Err(invalid(
                "headers",
                format!("the value of '{name}' has characters a header cannot carry"),
            ));
        } else {
            set.push((name.to_owned(), value.to_owned()));
        }
    }
    Ok((set, remove))
}

impl AgentConsole {
    /// The fields of a server from the form, over `stored` headers (sealed values).
    fn server_fields(
        &self,
        input: &McpServerInput,
        stored: BTreeMap<String, String>,
    ) -> Result<(McpServerFields, Vec<String>), ConsoleError> {
        let name = input.name.trim();
        if !valid_tool_name(name) || name.len() > MAX_NAME_CHARS {
            return Err(invalid(
                "name",
                format!(
                    "the name prefixes tool names on a clash: 1 to {MAX_NAME_CHARS} letters, \
                     digits, '-' or '_'"
                ),
            ));
        }
        let url = http_url(&input.url, "url")?;
        let (set, remove) = header_lines(&input.headers)?;
        let mut headers = if input.clear_headers.is_some() {
            BTreeMap::new()
        } else {
            stored
        };
        for name in &remove {
            headers.retain(|stored, _| !stored.eq_ignore_ascii_case(name));
        }
        let mut replaced = Vec::new();
        for (name, value) in set {
            headers.retain(|stored, _| !stored.eq_ignore_ascii_case(&name));
            headers.insert(name.clone(), seal(self.sealer(), &value, "headers")?);
            replaced.push(format!("headers.{name}"));
        }
        let timeout = match input.timeout_secs.trim() {
            "" => Duration::from_secs(30),
            t => match t.parse::<u64>() {
                Ok(secs) if (1..=MAX_TIMEOUT_SECS).contains(&secs) => Duration::from_secs(secs),
                _ => {
                    return Err(invalid(
                        "timeout_secs",
                        format!("the timeout is whole seconds, 1 to {MAX_TIMEOUT_SECS}"),
                    ));
                }
            },
        };
        let protocol = match input.protocol.trim() {
            "" | "auto" => "auto",
            "legacy" => "legacy",
            _ => return Err(invalid("protocol", "choose auto or legacy")),
        };
        let mut fields = McpServerFields::new(name, &url);
        fields.headers = headers;
        fields.allowed_tools = names(&input.allowed_tools, "allowed_tools", valid_tool_name)?;
        fields.timeout = timeout;
        fields.protocol = protocol.to_owned();
        fields.enabled = input.enabled.is_some();
        Ok((fields, replaced))
    }

    /// Adds a server to agent `agent_id`.
    pub async fn add_server(
        &self,
        actor: &Actor,
        agent_id: &str,
        input: &McpServerInput,
    ) -> Result<McpServerRow, ConsoleError> {
        actor.require_admin()?;
        let (fields, replaced) = self.server_fields(input, BTreeMap::new())?;
        let row = self
            .store()
            .create_mcp_server(agent_id, fields)
            .await
            .map_err(conflict("name"))?;
        let replaced: Vec<&str> = replaced.iter().map(String::as_str).collect();
        self.audit()
            .record(
                actor,
                "mcp_server.create",
                Some("mcp_server"),
                Some(&row.id),
                with_agent(change(Value::Null, server_view(&row), &replaced), agent_id),
            )
            .await?;
        Ok(row)
    }

    /// Changes server `id` of agent `agent_id`; headers not named in the form keep their
    /// stored values.
    pub async fn update_server(
        &self,
        actor: &Actor,
        agent_id: &str,
        id: &str,
        input: &McpServerInput,
    ) -> Result<McpServerRow, ConsoleError> {
        actor.require_admin()?;
        let before = self.store().mcp_server(agent_id, id).await?;
        let (fields, replaced) = self.server_fields(input, before.header_map()?)?;
        let after = self
            .store()
            .update_mcp_server(agent_id, id, fields)
            .await
            .map_err(conflict("name"))?;
        let replaced: Vec<&str> = replaced.iter().map(String::as_str).collect();
        self.audit()
            .record(
                actor,
                "mcp_server.update",
                Some("mcp_server"),
                Some(id),
                with_agent(
                    change(server_view(&before), server_view(&after), &replaced),
                    agent_id,
                ),
            )
            .await?;
        Ok(after)
    }

    pub async fn set_server_enabled(
        &self,
        actor: &Actor,
        agent_id: &str,
        id: &str,
        enabled: bool,
    ) -> Result<(), ConsoleError> {
        actor.require_admin()?;
        let before = self.store().mcp_server(agent_id, id).await?;
        self.store()
            .set_mcp_server_enabled(agent_id, id, enabled)
            .await?;
        let after = self.store().mcp_server(agent_id, id).await?;
        let action = if enabled {
            "mcp_server.enable"
        } else {
            "mcp_server.disable"
        };
        self.audit()
            .record(
                actor,
                action,
                Some("mcp_server"),
                Some(id),
                with_agent(
                    change(server_view(&before), server_view(&after), &[]),
                    agent_id,
                ),
            )
            .await?;
        Ok(())
    }

    pub async fn delete_server(
        &self,
        actor: &Actor,
        agent_id: &str,
        id: &str,
    ) -> Result<(), ConsoleError> {
        actor.require_admin()?;
        let before = self.store().mcp_server(agent_id, id).await?;
        self.store().delete_mcp_server(agent_id, id).await?;
        self.audit()
            .record(
                actor,
                "mcp_server.delete",
                Some("mcp_server"),
                Some(id),
                with_agent(change(server_view(&before), Value::Null, &[]), agent_id),
            )
            .await?;
        Ok(())
    }

    /// Connects to server `id` as a run would (its headers opened, its timeout) and lists its
    /// tools. A failure is a report, not an error: it is what the operator asked to see.
    pub async fn test_server(
        &self,
        actor: &Actor,
        agent_id: &str,
        id: &str,
    ) -> Result<TestReport, ConsoleError> {
        actor.require_admin()?;
        let row = self.store().mcp_server(agent_id, id).await?;
        let report = |ok, message| TestReport {
            server_id: row.id.clone(),
            ok,
            message,
        };
        let settings = match crate::runs::server_settings(&row, self.sealer()) {
            Ok(settings) => settings,
            Err(problem) => return Ok(report(false, format!("cannot be used: {problem}"))),
        };
        // The session's own timeouts bound each step; this bounds the whole test.
        let limit = settings.timeout * 2 + Duration::from_secs(1);
        let server = McpServer::new(settings);
        Ok(match tokio::time::timeout(limit, server.probe()).await {
            Err(_) => report(false, format!("no answer within {} s", limit.as_secs())),
            Ok(Err(e)) => report(false, e.to_string()),
            Ok(Ok((tools, protocol))) => {
                let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
                let mut message = match names.len() {
                    0 => "found no tools".to_owned(),
                    1 => format!("found 1 tool: {}", names[0]),
                    n => format!("found {n} tools: {}", names.join(", ")),
                };
                if let Some(protocol) = protocol {
                    message.push_str(&format!(" — protocol {protocol}"));
                }
                report(true, message)
            }
        })
    }
}

/// A server's audit detail, naming its agent.
fn with_agent(mut detail: Value, agent_id: &str) -> Value {
    detail["agent_id"] = json!(agent_id);
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines_set_and_remove_by_name() {
        let (set, remove) =
            header_lines("Authorization: Bearer a:b\n\n  X-Old:  \nX-Key: k").unwrap();
        assert_eq!(
            set,
            [
                ("Authorization".to_owned(), "Bearer a:b".to_owned()),
                ("X-Key".to_owned(), "k".to_owned())
            ]
        );
        assert_eq!(remove, ["X-Old"]);
        for bad in ["no colon", "Bad Name: x", "X-Key: a\u{7}b"] {
            assert!(header_lines(bad).is_err(), "{bad}");
        }
    }
}
