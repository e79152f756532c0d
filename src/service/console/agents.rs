//! Agents in the console (admins only): the list, creating and editing an agent from the
//! form's text fields, switching it on and off. Secrets are write-only: a blank "replace"
//! field keeps the stored value, a new one is sealed before it reaches the store, and no
//! page, audit row or log line carries one. Every change is audited with before and after.
//! An agent's MCP servers are in [`super::mcp_servers`].

use serde::Deserialize;
use serde_json::{Value, json};

use super::audit::AuditService;
use super::{Actor, ConsoleError};
use crate::config::mcp::valid_tool_name;
use crate::config::{ClientToolSettings, LimitOverrides, Sealer};
use crate::store::{
    AgentFields, AgentOverview, AgentRow, DEFAULT_SLUG, McpServerRow, SecretChange, Store,
    StoreError,
};

/// How an audit row shows a stored secret.
pub const MASK: &str = "***";

const MAX_SLUG_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 200;
const MAX_INSTRUCTIONS_CHARS: usize = 100_000;
/// Longest form timeout an agent may set: a year, as `CHATKIT_HUMAN_INPUT_TIMEOUT_SECS`.
const MAX_FORM_TIMEOUT_SECS: i64 = 365 * 86_400;

/// The agent form as submitted: text fields, parsed and checked by the service. No `Debug`:
/// it may hold a new API key.
#[derive(Clone, Default, Deserialize)]
#[serde(default)]
pub struct AgentInput {
    pub slug: String,
    pub name: String,
    pub model: String,
    /// Models a client may pick, separated by commas or lines; empty: the server's list.
    pub models: String,
    pub instructions: String,
    pub temperature: String,
    pub llm_base_url: String,
    /// A new API key; empty keeps the stored one.
    pub llm_api_key: String,
    /// "on" removes the stored key.
    pub clear_api_key: Option<String>,
    /// JSON list of `{name, description, parameters}`; empty: the server's client tools.
    pub client_tools: String,
    /// Tool names, separated by commas or lines; empty: the server's list.
    pub approval_tools: String,
    /// `""` (the server's setting), `on` or `off`.
    pub human_input: String,
    pub form_timeout_secs: String,
    /// Where this agent's human-input webhooks go; empty: `CHATKIT_HUMAN_WEBHOOK_URL`.
    pub human_webhook_url: String,
    /// JSON object of the agent's own limits (`LimitOverrides`); empty: the server's.
    pub limits: String,
    /// "on" when the box is ticked (a new agent's form has it).
    pub enabled: Option<String>,
}

impl AgentInput {
    /// The form filled with a stored agent (secrets left blank: they are never shown).
    pub fn of(agent: &AgentRow) -> AgentInput {
        let list = |json: &Option<String>| {
            json.as_deref()
                .and_then(|j| serde_json::from_str::<Vec<String>>(j).ok())
                .map(|l| l.join(", "))
                .unwrap_or_default()
        };
        AgentInput {
            slug: agent.slug.clone(),
            name: agent.name.clone(),
            model: agent.model.clone().unwrap_or_default(),
            models: list(&agent.models),
            instructions: agent.instructions.clone().unwrap_or_default(),
            temperature: agent.temperature.map(|t| t.to_string()).unwrap_or_default(),
            llm_base_url: agent.llm_base_url.clone().unwrap_or_default(),
            llm_api_key: String::new(),
            clear_api_key: None,
            client_tools: agent
                .client_tools
                .as_deref()
                .and_then(|j| serde_json::from_str::<Value>(j).ok())
                .and_then(|v| serde_json::to_string_pretty(&v).ok())
                .unwrap_or_default(),
            approval_tools: list(&agent.approval_tools),
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
            limits: agent.limits.clone().unwrap_or_default(),
            enabled: agent.enabled.then(|| "on".to_owned()),
        }
    }

    /// The form of a new agent.
    pub fn new_agent() -> AgentInput {
        AgentInput {
            enabled: Some("on".into()),
            ..Default::default()
        }
    }
}

/// An agent's page: the row and its servers.
#[derive(Debug, Clone)]
pub struct AgentDetail {
    pub agent: AgentRow,
    pub servers: Vec<McpServerRow>,
}

#[derive(Clone)]
pub struct AgentConsole {
    store: Store,
    audit: AuditService,
    sealer: Option<Sealer>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> ConsoleError {
    ConsoleError::InvalidInput(field, message.into())
}

/// A trimmed field, `None` when blank.
fn text(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Names separated by commas or lines, each a valid tool or model name; `None` when blank.
pub(super) fn names(
    value: &str,
    field: &'static str,
    check: fn(&str) -> bool,
) -> Result<Option<Vec<String>>, ConsoleError> {
    let list: Vec<String> = value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(bad) = list.iter().find(|name| !check(name)) {
        return Err(invalid(field, format!("'{bad}' is not a valid name")));
    }
    Ok((!list.is_empty()).then_some(list))
}

/// Model names: printable, no spaces, at most 200 characters.
fn valid_model(name: &str) -> bool {
    name.chars().count() <= 200 && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// An http(s) URL, or why not.
pub(super) fn http_url(value: &str, field: &'static str) -> Result<String, ConsoleError> {
    let url = reqwest::Url::parse(value.trim())
        .map_err(|e| invalid(field, format!("'{}' is not a URL: {e}", value.trim())))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            field,
            "the URL must start with http:// or https://",
        ));
    }
    Ok(value.trim().trim_end_matches('/').to_owned())
}

/// Seals a new secret, or refuses when no key is configured.
pub(super) fn seal(
    sealer: Option<&Sealer>,
    plain: &str,
    field: &'static str,
) -> Result<String, ConsoleError> {
    let sealer =
        sealer.ok_or_else(|| invalid(field, crate::config::SealError::NoKey.to_string()))?;
    sealer
        .seal(plain)
        .map_err(|e| ConsoleError::Conflict(e.to_string()))
}

/// Checks the form and makes the fields to store, sealing a new key.
pub fn agent_fields(
    input: &AgentInput,
    sealer: Option<&Sealer>,
) -> Result<AgentFields, ConsoleError> {
    let slug = input.slug.trim();
    if slug.is_empty()
        || slug.chars().count() > MAX_SLUG_CHARS
        || !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(invalid(
            "slug",
            format!(
                "the slug names the agent in URLs: 1 to {MAX_SLUG_CHARS} lowercase letters, \
                 digits, '-' or '_'"
            ),
        ));
    }
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            "name",
            format!("give the agent a name (at most {MAX_NAME_CHARS} characters)"),
        ));
    }
    let model = text(&input.model);
    if let Some(model) = &model
        && !valid_model(model)
    {
        return Err(invalid("model", format!("'{model}' is not a model name")));
    }
    let instructions = text(&input.instructions);
    if instructions
        .as_ref()
        .is_some_and(|i| i.chars().count() > MAX_INSTRUCTIONS_CHARS)
    {
        return Err(invalid(
            "instructions",
            format!("at most {MAX_INSTRUCTIONS_CHARS} characters"),
        ));
    }
    let temperature = match text(&input.temperature) {
        None => None,
        Some(t) => match t.parse::<f64>() {
            Ok(t) if (0.0..=2.0).contains(&t) => Some(t),
            _ => {
                return Err(invalid(
                    "temperature",
                    "the temperature is a number from 0 to 2 (empty: the model's default)",
                ));
            }
        },
    };
    let llm_base_url = text(&input.llm_base_url)
        .map(|url| http_url(&url, "llm_base_url"))
        .transpose()?;
    let llm_api_key = match (text(&input.llm_api_key), input.clear_api_key.is_some()) {
        (Some(key), _) => SecretChange::Set(seal(sealer, &key, "llm_api_key")?),
        (None, true) => SecretChange::Clear,
        (None, false) => SecretChange::Keep,
    };
    let client_tools = match text(&input.client_tools) {
        None => None,
        Some(json) => Some(client_tools(&json)?),
    };
    let human_input = match input.human_input.trim() {
        "" => None,
        "on" => Some(true),
        "off" => Some(false),
        _ => return Err(invalid("human_input", "choose default, on or off")),
    };
    let form_timeout_secs = match text(&input.form_timeout_secs) {
        None => None,
        Some(t) => match t.parse::<i64>() {
            Ok(secs) if (1..=MAX_FORM_TIMEOUT_SECS).contains(&secs) => Some(secs),
            _ => {
                return Err(invalid(
                    "form_timeout_secs",
                    format!("the form timeout is whole seconds, 1 to {MAX_FORM_TIMEOUT_SECS}"),
                ));
            }
        },
    };
    // Deliveries are signed with the secret key, so a receiver without one is refused here
    // rather than at the next start.
    let human_webhook_url = match text(&input.human_webhook_url) {
        None => None,
        Some(_) if sealer.is_none() => {
            return Err(invalid(
                "human_webhook_url",
                "set CHATKIT_SECRET_KEY first: webhook deliveries are signed with it",
            ));
        }
        Some(url) => Some(
            crate::config::webhooks::webhook_url(&url)
                .map_err(|e| invalid("human_webhook_url", format!("the webhook URL {e}")))?,
        ),
    };
    let limits = match text(&input.limits) {
        None => None,
        Some(json) => {
            let own: LimitOverrides = serde_json::from_str(&json).map_err(|e| {
                invalid(
                    "limits",
                    format!(
                        "a JSON object of limits from 1 up (user_requests_per_minute, \
                         account_requests_per_minute, user_turns_per_minute, \
                         account_turns_per_minute, user_concurrent_streams, \
                         user_tokens_per_day, account_tokens_per_day, context_tokens): {e}"
                    ),
                )
            })?;
            (!own.is_empty())
                .then(|| serde_json::to_string(&own))
                .transpose()
                .map_err(|e| invalid("limits", e.to_string()))?
        }
    };
    Ok(AgentFields {
        slug: slug.to_owned(),
        name: name.to_owned(),
        model,
        models: names(&input.models, "models", valid_model)?,
        instructions,
        temperature,
        llm_base_url,
        llm_api_key,
        client_tools,
        approval_tools: names(&input.approval_tools, "approval_tools", valid_tool_name)?,
        human_input,
        form_timeout_secs,
        human_webhook_url,
        limits,
        enabled: input.enabled.is_some(),
    })
}

/// A JSON list of client tools as the server's `CHATKIT_CLIENT_TOOLS` takes them.
fn client_tools(json: &str) -> Result<Vec<Value>, ConsoleError> {
    let problem = |e: String| {
        invalid(
            "client_tools",
            format!("a JSON list of {{\"name\", \"description\", \"parameters\"}}: {e}"),
        )
    };
    let tools: Vec<ClientToolSettings> =
        serde_json::from_str(json).map_err(|e| problem(e.to_string()))?;
    if let Some(bad) = tools.iter().find(|t| !valid_tool_name(&t.name)) {
        return Err(problem(format!("'{}' is not a valid tool name", bad.name)));
    }
    Ok(tools
        .into_iter()
        .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters}))
        .collect())
}

/// An agent as audit rows and exports show it: every setting, the key only as "***".
pub fn agent_view(agent: &AgentRow) -> Value {
    let parsed = |json: &Option<String>| {
        json.as_deref()
            .map(|j| serde_json::from_str::<Value>(j).unwrap_or(Value::Null))
    };
    json!({
        "slug": agent.slug,
        "name": agent.name,
        "enabled": agent.enabled,
        "model": agent.model,
        "models": parsed(&agent.models),
        "instructions": agent.instructions,
        "temperature": agent.temperature,
        "llm_base_url": agent.llm_base_url,
        "llm_api_key": agent.llm_api_key.as_ref().map(|_| MASK),
        "client_tools": parsed(&agent.client_tools),
        "approval_tools": parsed(&agent.approval_tools),
        "human_input": agent.human_input,
        "form_timeout_secs": agent.form_timeout_secs,
        // The host only: a receiver's path often holds its own token.
        "human_webhook_url": agent.human_webhook_url.as_deref().map(super::webhooks::host_of),
        "limits": parsed(&agent.limits),
    })
}

/// The `{before, after}` detail of a change, naming the secrets that were replaced (whose
/// masks alone would look unchanged).
pub(super) fn change(before: Value, after: Value, replaced: &[&str]) -> Value {
    let mut detail = json!({"before": before, "after": after});
    if !replaced.is_empty() {
        detail["secrets_replaced"] = json!(replaced);
    }
    detail
}

impl AgentConsole {
    pub fn new(store: Store, audit: AuditService, sealer: Option<Sealer>) -> Self {
        AgentConsole {
            store,
            audit,
            sealer,
        }
    }

    /// Whether secrets can be saved (a key is configured); pages say so beside the fields.
    pub fn can_store_secrets(&self) -> bool {
        self.sealer.is_some()
    }

    pub(super) fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_ref()
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    pub(super) fn audit(&self) -> &AuditService {
        &self.audit
    }

    pub async fn list(&self, actor: &Actor) -> Result<Vec<AgentOverview>, ConsoleError> {
        actor.require_admin()?;
        Ok(self.store.agents_overview().await?)
    }

    pub async fn detail(&self, actor: &Actor, id: &str) -> Result<AgentDetail, ConsoleError> {
        actor.require_admin()?;
        let agent = self.store.agent_by_id(id).await?;
        let servers = self.store.list_mcp_servers(&agent.id).await?;
        Ok(AgentDetail { agent, servers })
    }

    /// Adds an agent to the default account.
    pub async fn create(
        &self,
        actor: &Actor,
        input: &AgentInput,
    ) -> Result<AgentRow, ConsoleError> {
        actor.require_admin()?;
        let fields = agent_fields(input, self.sealer.as_ref())?;
        let key_set = matches!(fields.llm_api_key, SecretChange::Set(_));
        let (account, _) = self.store.ensure_defaults().await?;
        let agent = self
            .store
            .create_agent(&account.id, fields)
            .await
            .map_err(conflict("slug"))?;
        let replaced: &[&str] = if key_set { &["llm_api_key"] } else { &[] };
        self.audit
            .record(
                actor,
                "agent.create",
                Some("agent"),
                Some(&agent.id),
                change(Value::Null, agent_view(&agent), replaced),
            )
            .await?;
        Ok(agent)
    }

    /// Changes agent `id`; the default agent stays enabled and keeps its slug.
    pub async fn update(
        &self,
        actor: &Actor,
        id: &str,
        input: &AgentInput,
    ) -> Result<AgentRow, ConsoleError> {
        actor.require_admin()?;
        let fields = agent_fields(input, self.sealer.as_ref())?;
        let current = self.store.agent_by_id(id).await?;
        if current.slug == DEFAULT_SLUG {
            if fields.slug != DEFAULT_SLUG {
                return Err(invalid(
                    "slug",
                    "the default agent serves the chat at / and keeps its slug",
                ));
            }
            if !fields.enabled {
                return Err(invalid(
                    "enabled",
                    "the default agent serves the chat at / and cannot be disabled",
                ));
            }
        }
        let key_set = matches!(fields.llm_api_key, SecretChange::Set(_));
        let (before, after) = self
            .store
            .update_agent(id, fields)
            .await
            .map_err(conflict("slug"))?;
        let replaced: &[&str] = if key_set { &["llm_api_key"] } else { &[] };
        self.audit
            .record(
                actor,
                "agent.update",
                Some("agent"),
                Some(id),
                change(agent_view(&before), agent_view(&after), replaced),
            )
            .await?;
        Ok(after)
    }

    /// Switches agent `id` on or off (the default agent cannot be switched off).
    pub async fn set_enabled(
        &self,
        actor: &Actor,
        id: &str,
        enabled: bool,
    ) -> Result<(), ConsoleError> {
        actor.require_admin()?;
        let before = self.store.agent_by_id(id).await?;
        if !enabled && before.slug == DEFAULT_SLUG {
            return Err(ConsoleError::Conflict(
                "The default agent serves the chat at / and cannot be disabled.".to_owned(),
            ));
        }
        self.store.set_agent_enabled(id, enabled).await?;
        let after = self.store.agent_by_id(id).await?;
        let action = if enabled {
            "agent.enable"
        } else {
            "agent.disable"
        };
        self.audit
            .record(
                actor,
                action,
                Some("agent"),
                Some(id),
                change(agent_view(&before), agent_view(&after), &[]),
            )
            .await?;
        Ok(())
    }
}

/// A duplicate name as a form error on `field`.
pub(super) fn conflict(field: &'static str) -> impl Fn(StoreError) -> ConsoleError {
    move |e| match e {
        StoreError::Conflict(what) => invalid(field, format!("{what} already exists")),
        other => other.into(),
    }
}
