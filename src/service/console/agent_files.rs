//! Agents as a file, for configuration kept as code: `chatkit-server agents export` writes
//! every agent and its MCP servers as JSON, secrets left out (header names stay, with `null`
//! values); `agents import FILE` writes such a file back, matching agents by account and slug
//! and servers by name. Secrets given in the file are sealed on the way in; a secret left out
//! (or `null`) keeps the stored value. The whole file is checked before anything is written,
//! and written in one transaction.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::agents::{AgentConsole, AgentInput, agent_fields, http_url, seal};
use super::{Actor, ConsoleError};
use crate::config::mcp::valid_tool_name;
use crate::store::{
    AgentImport, AgentRow, DEFAULT_SLUG, ImportSummary, McpServerFields, McpServerImport,
    McpServerRow,
};

/// The version of the file format this server writes and reads.
pub const FILE_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsFile {
    pub version: u32,
    pub agents: Vec<AgentEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentEntry {
    #[serde(default = "default_account")]
    pub account: String,
    pub slug: String,
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub models: Option<Vec<String>>,
    #[serde(default)]
    pub instructions: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub llm_base_url: Option<String>,
    /// Read on import (and sealed); never written by an export.
    #[serde(default, skip_serializing)]
    pub llm_api_key: Option<String>,
    #[serde(default)]
    pub client_tools: Option<Vec<Value>>,
    #[serde(default)]
    pub approval_tools: Option<Vec<String>>,
    #[serde(default)]
    pub human_input: Option<bool>,
    #[serde(default)]
    pub form_timeout_secs: Option<i64>,
    #[serde(default)]
    pub human_webhook_url: Option<String>,
    #[serde(default)]
    pub limits: Option<Value>,
    #[serde(default)]
    pub mcp_servers: Vec<ServerEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    pub name: String,
    pub url: String,
    /// Header values; `null` keeps the stored value (an export writes only `null`s).
    #[serde(default)]
    pub headers: BTreeMap<String, Option<String>>,
    #[serde(default)]
    pub allowed_tools: Option<Vec<String>>,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    #[serde(default)]
    pub structured_widgets: bool,
    #[serde(default = "default_elicitation_timeout_ms")]
    pub elicitation_timeout_ms: u64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn default_account() -> String {
    DEFAULT_SLUG.to_owned()
}
fn yes() -> bool {
    true
}
fn default_timeout_ms() -> u64 {
    30_000
}
fn default_protocol() -> String {
    "auto".to_owned()
}
fn default_elicitation_timeout_ms() -> u64 {
    15 * 60 * 1000
}

fn parse_list(json: &Option<String>) -> Option<Vec<String>> {
    json.as_deref().and_then(|j| serde_json::from_str(j).ok())
}

fn entry(account: String, agent: &AgentRow, servers: &[McpServerRow]) -> AgentEntry {
    AgentEntry {
        account,
        slug: agent.slug.clone(),
        name: agent.name.clone(),
        enabled: agent.enabled,
        model: agent.model.clone(),
        models: parse_list(&agent.models),
        instructions: agent.instructions.clone(),
        temperature: agent.temperature,
        llm_base_url: agent.llm_base_url.clone(),
        llm_api_key: None,
        client_tools: agent
            .client_tools
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok()),
        approval_tools: parse_list(&agent.approval_tools),
        human_input: agent.human_input,
        form_timeout_secs: agent.form_timeout_secs,
        human_webhook_url: agent.human_webhook_url.clone(),
        limits: agent
            .limits
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok()),
        mcp_servers: servers
            .iter()
            .map(|s| ServerEntry {
                name: s.name.clone(),
                url: s.url.clone(),
                headers: s
                    .header_map()
                    .unwrap_or_default()
                    .into_keys()
                    .map(|name| (name, None))
                    .collect(),
                allowed_tools: s.allowed_tool_list().ok().flatten(),
                timeout_ms: u64::try_from(s.timeout_ms).unwrap_or(0),
                protocol: s.protocol.clone(),
                structured_widgets: s.structured_widgets,
                elicitation_timeout_ms: u64::try_from(s.elicitation_timeout_ms).unwrap_or(0),
                enabled: s.enabled,
            })
            .collect(),
    }
}

/// A problem in the file, named by agent (and server) and field.
fn problem(slug: &str, error: ConsoleError) -> ConsoleError {
    match error {
        ConsoleError::InvalidInput(field, message) => {
            ConsoleError::InvalidInput(field, format!("agent '{slug}', {field}: {message}"))
        }
        other => other,
    }
}

impl AgentConsole {
    /// Every agent and its servers, secrets left out.
    pub async fn export(&self, actor: &Actor) -> Result<AgentsFile, ConsoleError> {
        actor.require_admin()?;
        let agents = self.store().export_agents().await?;
        Ok(AgentsFile {
            version: FILE_VERSION,
            agents: agents
                .into_iter()
                .map(|(account, agent, servers)| entry(account, &agent, &servers))
                .collect(),
        })
    }

    /// Checks the whole file, then writes it in one transaction, and audits what it did.
    pub async fn import(&self, actor: &Actor, json: &str) -> Result<ImportSummary, ConsoleError> {
        actor.require_admin()?;
        let file: AgentsFile = serde_json::from_str(json)
            .map_err(|e| ConsoleError::InvalidInput("file", format!("not an agents file: {e}")))?;
        if file.version != FILE_VERSION {
            return Err(ConsoleError::InvalidInput(
                "version",
                format!(
                    "version {} is not known here (this server reads version {FILE_VERSION})",
                    file.version
                ),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut imports = Vec::new();
        for agent in file.agents {
            if !seen.insert((agent.account.clone(), agent.slug.clone())) {
                return Err(ConsoleError::InvalidInput(
                    "slug",
                    format!("agent '{}' appears twice", agent.slug),
                ));
            }
            let slug = agent.slug.clone();
            imports.push(self.agent_import(agent).map_err(|e| problem(&slug, e))?);
        }
        let summary = self.store().import_agents(imports).await?;
        self.audit()
            .record(
                actor,
                "agents.import",
                Some("agent"),
                None,
                serde_json::json!({
                    "agents_created": summary.agents_created,
                    "agents_updated": summary.agents_updated,
                    "servers_created": summary.servers_created,
                    "servers_updated": summary.servers_updated,
                }),
            )
            .await?;
        Ok(summary)
    }

    fn agent_import(&self, agent: AgentEntry) -> Result<AgentImport, ConsoleError> {
        let join =
            |list: &Option<Vec<String>>| list.as_ref().map(|l| l.join(",")).unwrap_or_default();
        let input = AgentInput {
            slug: agent.slug.clone(),
            name: agent.name.clone(),
            model: agent.model.clone().unwrap_or_default(),
            models: join(&agent.models),
            instructions: agent.instructions.clone().unwrap_or_default(),
            temperature: agent.temperature.map(|t| t.to_string()).unwrap_or_default(),
            llm_base_url: agent.llm_base_url.clone().unwrap_or_default(),
            llm_api_key: agent.llm_api_key.clone().unwrap_or_default(),
            clear_api_key: None,
            client_tools: agent
                .client_tools
                .as_ref()
                .map(|t| Value::Array(t.clone()).to_string())
                .unwrap_or_default(),
            approval_tools: join(&agent.approval_tools),
            human_input: match agent.human_input {
                None => String::new(),
                Some(true) => "on".into(),
                Some(false) => "off".into(),
            },
            form_timeout_secs: agent
                .form_timeout_secs
                .map(|s| s.to_string())
                .unwrap_or_default(),
            human_webhook_url: agent.human_webhook_url.clone().unwrap_or_default(),
            limits: agent
                .limits
                .as_ref()
                .map(Value::to_string)
                .unwrap_or_default(),
            enabled: agent.enabled.then(|| "on".to_owned()),
        };
        let fields = agent_fields(&input, self.sealer())?;
        if agent.slug == DEFAULT_SLUG && !fields.enabled {
            return Err(ConsoleError::InvalidInput(
                "enabled",
                "the default agent cannot be disabled".to_owned(),
            ));
        }
        let mut names = std::collections::HashSet::new();
        let mut servers = Vec::new();
        for server in agent.mcp_servers {
            if !names.insert(server.name.clone()) {
                return Err(ConsoleError::InvalidInput(
                    "mcp_servers",
                    format!("the server '{}' appears twice", server.name),
                ));
            }
            servers.push(self.server_import(server)?);
        }
        Ok(AgentImport {
            account: agent.account,
            fields,
            mcp_servers: servers,
        })
    }

    fn server_import(&self, server: ServerEntry) -> Result<McpServerImport, ConsoleError> {
        let invalid = |message: String| ConsoleError::InvalidInput("mcp_servers", message);
        if !valid_tool_name(&server.name) {
            return Err(invalid(format!(
                "'{}' is not a server name (letters, digits, '-' or '_')",
                server.name
            )));
        }
        let url = http_url(&server.url, "mcp_servers")?;
        if !matches!(server.protocol.as_str(), "auto" | "legacy") {
            return Err(invalid(format!(
                "server '{}': the protocol is auto or legacy",
                server.name
            )));
        }
        if server.timeout_ms == 0 || server.elicitation_timeout_ms == 0 {
            return Err(invalid(format!(
                "server '{}': timeouts are at least 1 ms",
                server.name
            )));
        }
        if let Some(bad) = server
            .allowed_tools
            .iter()
            .flatten()
            .find(|t| !valid_tool_name(t))
        {
            return Err(invalid(format!(
                "server '{}': '{bad}' is not a tool name",
                server.name
            )));
        }
        let mut fields = McpServerFields::new(&server.name, &url);
        let mut keep_headers = Vec::new();
        for (name, value) in server.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(invalid(format!(
                    "server '{}': '{name}' is not an HTTP header name",
                    server.name
                )));
            }
            match value {
                None => keep_headers.push(name),
                Some(value) => {
                    if reqwest::header::HeaderValue::from_str(&value).is_err() {
                        return Err(invalid(format!(
                            "server '{}': the value of '{name}' cannot be a header",
                            server.name
                        )));
                    }
                    let sealed = seal(self.sealer(), &value, "mcp_servers")?;
                    fields.headers.insert(name, sealed);
                }
            }
        }
        fields.allowed_tools = server.allowed_tools;
        fields.timeout = Duration::from_millis(server.timeout_ms);
        fields.protocol = server.protocol;
        fields.structured_widgets = server.structured_widgets;
        fields.elicitation_timeout = Duration::from_millis(server.elicitation_timeout_ms);
        fields.enabled = server.enabled;
        Ok(McpServerImport {
            fields,
            keep_headers,
        })
    }
}
