//! Settings: the only reader of environment variables. Everything is parsed and checked once at
//! start; a bad value stops the start with one line naming the variable and the problem.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How ChatKit requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Trusts the `X-ChatKit-User` header (or `anonymous`): for local development only, so it
    /// refuses to serve a non-loopback address.
    Dev,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite://file.db` (default `sqlite://chatkit.db`) or `postgres://…`.
    pub database_url: String,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    pub bind: SocketAddr,
    pub auth: AuthMode,
    /// Largest accepted JSON request body on `POST /chatkit`.
    pub max_request_bytes: usize,
    /// Interval of SSE keep-alive comments; it also bounds how late a vanished client is noticed.
    pub sse_keep_alive: Duration,
    /// The language model; `None` runs the server without one (turns end with an error).
    pub llm: Option<LlmSettings>,
    /// Tools the default agent declares for the client to run (`CHATKIT_CLIENT_TOOLS`).
    pub client_tools: Vec<ClientToolSettings>,
    /// MCP servers whose tools the default agent uses (`CHATKIT_MCP_SERVERS`).
    pub mcp_servers: Vec<McpServerSettings>,
    /// Where the demo page loads the ChatKit web component from.
    pub script_url: String,
    /// The domain key the demo page gives the ChatKit client (`CHATKIT_DOMAIN_KEY`, alias
    /// `CHATKIT_PK`).
    pub domain_key: String,
    /// Folder served under `/static`.
    pub static_dir: std::path::PathBuf,
    /// File uploads: where they live, what is accepted, how their URLs are signed.
    pub attachments: AttachmentSettings,
    /// Key of signed URLs (`CHATKIT_SECRET_KEY`); `None` makes startup generate a random one,
    /// so signed URLs then die with the process.
    pub secret_key: Option<Vec<u8>>,
    /// Absolute base of the URLs we hand out (`CHATKIT_PUBLIC_URL`, no trailing slash);
    /// `None` means `http://` + the bound address, known only once the port is bound.
    pub public_url: Option<String>,
    /// Tools (as the model names them) that wait for the user's approval before they run
    /// (`CHATKIT_APPROVAL_TOOLS`, a comma list).
    pub approval_tools: Vec<String>,
    /// Whether agents get the built-in `request_human_input` tool (`CHATKIT_HUMAN_INPUT`).
    pub human_input: bool,
    /// How long a question to a person stays answerable (`CHATKIT_HUMAN_INPUT_TIMEOUT_SECS`).
    pub human_input_timeout: Duration,
    /// The operator console: its first admin and its sessions.
    pub console: ConsoleSettings,
}

/// The operator console.
#[derive(Clone)]
pub struct ConsoleSettings {
    /// `CHATKIT_ADMIN_EMAIL` and `CHATKIT_ADMIN_PASSWORD`: the admin created at start when
    /// there is no operator yet. Both or neither.
    pub first_admin: Option<(String, String)>,
    /// `CHATKIT_ADMIN_SESSION_IDLE_MINS` (30): a session unused this long ends.
    pub session_idle: Duration,
    /// `CHATKIT_ADMIN_SESSION_MAX_HOURS` (12): a session ends this long after sign-in, however
    /// active.
    pub session_max: Duration,
    /// Session cookies carry `Secure` (when `CHATKIT_PUBLIC_URL` is https).
    pub secure_cookies: bool,
}

/// Never prints the first admin's password.
impl std::fmt::Debug for ConsoleSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSettings")
            .field(
                "first_admin",
                &self
                    .first_admin
                    .as_ref()
                    .map(|(email, _)| (email, "[redacted]")),
            )
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .field("secure_cookies", &self.secure_cookies)
            .finish()
    }
}

/// Attachment storage and limits.
#[derive(Debug, Clone)]
pub struct AttachmentSettings {
    /// `CHATKIT_STORAGE_DIR`: where the bytes are kept.
    pub storage_dir: PathBuf,
    /// `CHATKIT_UPLOAD_MAX_BYTES`: largest accepted file.
    pub max_bytes: u64,
    /// `CHATKIT_ALLOWED_MIME_TYPES`: `type/subtype` or `type/*` patterns, lower case.
    pub allowed_mime_types: Vec<String>,
    /// `CHATKIT_SIGNED_URL_TTL_SECS`: lifetime of upload and preview URLs.
    pub signed_url_ttl: Duration,
    /// `CHATKIT_ATTACHMENT_ORPHAN_HOURS`: age at which an upload never used in a message is
    /// purged.
    pub orphan_age: Duration,
    /// `CHATKIT_ATTACHMENT_SWEEP_SECS`: how often the purge runs.
    pub sweep_interval: Duration,
}

/// What a default server accepts: the images the model reads, PDFs, and text and code files.
pub const DEFAULT_ALLOWED_MIME_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
    "text/markdown",
    "text/csv",
    "application/json",
    "text/html",
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/typescript",
    "text/x-python",
    "text/x-rust",
    "text/x-go",
    "text/x-java",
    "text/x-c",
    "text/x-c++",
    "text/x-shellscript",
    "application/x-sh",
    "application/sql",
    "application/xml",
    "text/xml",
    "application/yaml",
    "application/toml",
];

/// An OpenAI-compatible Chat Completions endpoint and how the default agent uses it.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// `OPENAI_BASE_URL` without a trailing slash, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub api_key: Option<String>,
    /// `CHATKIT_MODEL`: the default model.
    pub model: String,
    /// `CHATKIT_MODELS`: models a client may pick with `inference_options.model` (the default
    /// model is always allowed).
    pub allowed_models: Vec<String>,
    pub instructions: Option<String>,
    pub connect_timeout: Duration,
    /// Longest silence of the upstream stream before the turn fails.
    pub idle_timeout: Duration,
    /// Retries of a 429/5xx/connect failure before the first token.
    pub max_retries: u32,
    pub retry_backoff: Duration,
    /// Model calls in one turn before the loop gives up (each tool round is one).
    pub max_steps: u32,
    /// Whether threads get an automatic title after their first exchange.
    pub auto_titles: bool,
}

/// An MCP server reached over streamable HTTP.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServerSettings {
    /// Names the server in logs, in tool-name clashes, and to operators.
    pub name: String,
    pub url: String,
    /// Extra HTTP headers, e.g. `{"Authorization": "Bearer …"}`.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
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

/// A setting that cannot be used, named by its variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            var,
            problem: problem.into(),
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads settings through `var`, so tests can supply their own variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://chatkit.db".into());
        if database_url.starts_with("mysql:") {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "only sqlite:// and postgres:// are supported",
            ));
        }
        let database_max_connections =
            parse_number(&get, "CHATKIT_DB_MAX_CONNECTIONS", 8u32, 1, 1000)?;

        let bind = match get("CHATKIT_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
            Some(raw) => parse_bind(&raw).ok_or_else(|| {
                ConfigError::new(
                    "CHATKIT_BIND",
                    format!("'{raw}' is not an address like 127.0.0.1:8000"),
                )
            })?,
        };

        let auth = match get("CHATKIT_AUTH").as_deref() {
            None | Some("dev") => AuthMode::Dev,
            Some(other) => {
                return Err(ConfigError::new(
                    "CHATKIT_AUTH",
                    format!("unsupported mode '{other}' (this build supports: dev)"),
                ));
            }
        };
        if auth == AuthMode::Dev && !bind.ip().is_loopback() {
            return Err(ConfigError::new(
                "CHATKIT_AUTH",
                format!(
                    "dev mode trusts the X-ChatKit-User header, so it only serves loopback \
                     addresses, not {bind} (set CHATKIT_BIND=127.0.0.1:PORT)"
                ),
            ));
        }

        let max_request_bytes = parse_number(
            &get,
            "CHATKIT_MAX_REQUEST_BYTES",
            1024 * 1024usize,
            1024,
            64 * 1024 * 1024,
        )?;
        let sse_keep_alive = Duration::from_secs(parse_number(
            &get,
            "CHATKIT_SSE_KEEP_ALIVE_SECS",
            15u64,
            1,
            300,
        )?);

        let llm = llm_settings(&get)?;
        let client_tools: Vec<ClientToolSettings> = match get("CHATKIT_CLIENT_TOOLS") {
            None => Vec::new(),
            Some(raw) => serde_json::from_str(&raw).map_err(|e| {
                ConfigError::new(
                    "CHATKIT_CLIENT_TOOLS",
                    format!("not a JSON list of {{name, description, parameters}}: {e}"),
                )
            })?,
        };
        if let Some(bad) = client_tools.iter().find(|t| !valid_tool_name(&t.name)) {
            return Err(ConfigError::new(
                "CHATKIT_CLIENT_TOOLS",
                format!(
                    "'{}' is not a tool name (letters, digits, _ and -, at most 64)",
                    bad.name
                ),
            ));
        }

        let mcp_servers: Vec<McpServerSettings> = match get("CHATKIT_MCP_SERVERS") {
            None => Vec::new(),
            Some(raw) => serde_json::from_str(&raw).map_err(|e| {
                ConfigError::new(
                    "CHATKIT_MCP_SERVERS",
                    format!("not a JSON list of {{name, url, headers?, allowed_tools?, timeout_ms?}}: {e}"),
                )
            })?,
        };
        for (i, server) in mcp_servers.iter().enumerate() {
            if !(server.url.starts_with("http://") || server.url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "CHATKIT_MCP_SERVERS",
                    format!("'{}' is not an http(s) URL", server.url),
                ));
            }
            if !valid_tool_name(&server.name)
                || mcp_servers[..i].iter().any(|s| s.name == server.name)
            {
                return Err(ConfigError::new(
                    "CHATKIT_MCP_SERVERS",
                    format!(
                        "server names must be unique letters, digits, _ and - ('{}')",
                        server.name
                    ),
                ));
            }
        }
        let attachments = attachment_settings(&get, &database_url)?;
        let secret_key = match get("CHATKIT_SECRET_KEY") {
            None => None,
            Some(key) if key.len() >= 32 => Some(key.into_bytes()),
            Some(_) => {
                return Err(ConfigError::new(
                    "CHATKIT_SECRET_KEY",
                    "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
                ));
            }
        };
        let public_url = match get("CHATKIT_PUBLIC_URL") {
            None => None,
            Some(url) if absolute_http_url(&url) => Some(url.trim_end_matches('/').to_owned()),
            Some(url) => {
                return Err(ConfigError::new(
                    "CHATKIT_PUBLIC_URL",
                    format!(
                        "'{url}' is not an absolute http(s) URL such as https://chat.example.com"
                    ),
                ));
            }
        };

        let human_input = parse_flag(&get, "CHATKIT_HUMAN_INPUT", true)?;
        let human_input_timeout = Duration::from_secs(parse_number(
            &get,
            "CHATKIT_HUMAN_INPUT_TIMEOUT_SECS",
            86_400u64,
            1,
            365 * 86_400,
        )?);

        let approval_tools = get("CHATKIT_APPROVAL_TOOLS")
            .map(|raw| {
                raw.split(',')
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect()
            })
            .unwrap_or_default();

        let console = console_settings(&var, &get, public_url.as_deref())?;

        Ok(Settings {
            console,
            attachments,
            secret_key,
            public_url,
            approval_tools,
            human_input,
            human_input_timeout,
            database_url,
            database_max_connections,
            bind,
            auth,
            max_request_bytes,
            sse_keep_alive,
            llm,
            client_tools,
            mcp_servers,
            script_url: get("CHATKIT_SCRIPT_URL").unwrap_or_else(|| {
                "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js".into()
            }),
            domain_key: get("CHATKIT_DOMAIN_KEY")
                .or_else(|| get("CHATKIT_PK"))
                .unwrap_or_else(|| "local-dev".into()),
            static_dir: get("CHATKIT_STATIC_DIR")
                .unwrap_or_else(|| "static".into())
                .into(),
        })
    }
}

fn console_settings(
    var: &impl Fn(&str) -> Option<String>,
    get: &impl Fn(&str) -> Option<String>,
    public_url: Option<&str>,
) -> Result<ConsoleSettings, ConfigError> {
    // The password is taken as given: spaces at either end may be part of it.
    let password = var("CHATKIT_ADMIN_PASSWORD").filter(|p| !p.is_empty());
    let first_admin = match (get("CHATKIT_ADMIN_EMAIL"), password) {
        (None, None) => None,
        (Some(email), Some(password)) => Some((email, password)),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "CHATKIT_ADMIN_PASSWORD",
                "must be set with CHATKIT_ADMIN_EMAIL",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "CHATKIT_ADMIN_EMAIL",
                "must be set with CHATKIT_ADMIN_PASSWORD",
            ));
        }
    };
    // Fractions are allowed (down to a second), which short-lived test servers use.
    let idle_mins = parse_number(
        get,
        "CHATKIT_ADMIN_SESSION_IDLE_MINS",
        30.0f64,
        1.0 / 60.0,
        7.0 * 24.0 * 60.0,
    )?;
    let max_hours = parse_number(
        get,
        "CHATKIT_ADMIN_SESSION_MAX_HOURS",
        12.0f64,
        1.0 / 3600.0,
        30.0 * 24.0,
    )?;
    Ok(ConsoleSettings {
        first_admin,
        session_idle: Duration::from_secs_f64(idle_mins * 60.0),
        session_max: Duration::from_secs_f64(max_hours * 3600.0),
        secure_cookies: public_url.is_some_and(|url| url.starts_with("https://")),
    })
}

fn attachment_settings(
    get: &impl Fn(&str) -> Option<String>,
    database_url: &str,
) -> Result<AttachmentSettings, ConfigError> {
    let storage_dir = match get("CHATKIT_STORAGE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => default_storage_dir(database_url),
    };
    let max_bytes = parse_number(
        get,
        "CHATKIT_UPLOAD_MAX_BYTES",
        25 * 1024 * 1024u64,
        1,
        1024 * 1024 * 1024 * 1024,
    )?;
    let allowed_mime_types = match get("CHATKIT_ALLOWED_MIME_TYPES") {
        None => DEFAULT_ALLOWED_MIME_TYPES
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
        Some(raw) => {
            let patterns: Vec<String> = raw
                .split(',')
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            if let Some(bad) = patterns.iter().find(|t| !valid_mime_pattern(t)) {
                return Err(ConfigError::new(
                    "CHATKIT_ALLOWED_MIME_TYPES",
                    format!("'{bad}' is not a MIME type such as text/plain or image/*"),
                ));
            }
            if patterns.is_empty() {
                return Err(ConfigError::new(
                    "CHATKIT_ALLOWED_MIME_TYPES",
                    "names no type (leave it unset for the defaults)",
                ));
            }
            patterns
        }
    };
    let signed_url_ttl = Duration::from_secs(parse_number(
        get,
        "CHATKIT_SIGNED_URL_TTL_SECS",
        3600u64,
        10,
        7 * 24 * 3600,
    )?);
    // Hours, fractions allowed (0.5 = 30 minutes), down to one second.
    let orphan_hours = parse_number(
        get,
        "CHATKIT_ATTACHMENT_ORPHAN_HOURS",
        24f64,
        1.0 / 3600.0,
        24.0 * 3650.0,
    )?;
    let sweep_interval = Duration::from_secs(parse_number(
        get,
        "CHATKIT_ATTACHMENT_SWEEP_SECS",
        600u64,
        1,
        7 * 24 * 3600,
    )?);
    Ok(AttachmentSettings {
        storage_dir,
        max_bytes,
        allowed_mime_types,
        signed_url_ttl,
        orphan_age: Duration::from_secs_f64(orphan_hours * 3600.0),
        sweep_interval,
    })
}

/// `attachments` beside the SQLite file, or in the working directory for Postgres.
fn default_storage_dir(database_url: &str) -> PathBuf {
    use crate::store::{Backend, db::sqlite_path};
    if Backend::of_url(database_url) == Backend::Postgres {
        return PathBuf::from("attachments");
    }
    let file = Path::new(sqlite_path(database_url));
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("attachments"),
        _ => PathBuf::from("attachments"),
    }
}

/// `type/subtype` or `type/*`, in the characters MIME allows.
fn valid_mime_pattern(pattern: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
    };
    match pattern.split_once('/') {
        Some((kind, "*")) => token(kind),
        Some((kind, sub)) => token(kind) && token(sub),
        None => false,
    }
}

fn absolute_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(host) if !host.is_empty() && !host.starts_with('/') && !url.contains(char::is_whitespace))
}

/// The model is configured when an API key or a base URL is given (local servers such as
/// Ollama or vLLM need no key).
fn llm_settings(get: &impl Fn(&str) -> Option<String>) -> Result<Option<LlmSettings>, ConfigError> {
    let api_key = get("OPENAI_API_KEY");
    let base_url = get("OPENAI_BASE_URL");
    if api_key.is_none() && base_url.is_none() {
        return Ok(None);
    }
    let base_url = base_url.unwrap_or_else(|| "https://api.openai.com/v1".into());
    if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
        return Err(ConfigError::new(
            "OPENAI_BASE_URL",
            format!("'{base_url}' is not an http(s) URL"),
        ));
    }
    let model = get("CHATKIT_MODEL").unwrap_or_else(|| "gpt-4.1-mini".into());
    let allowed_models = get("CHATKIT_MODELS")
        .map(|raw| {
            raw.split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let secs =
        |var, default, max| parse_number(get, var, default, 1u64, max).map(Duration::from_secs);
    Ok(Some(LlmSettings {
        base_url: base_url.trim_end_matches('/').to_owned(),
        api_key,
        model,
        allowed_models,
        instructions: get("CHATKIT_INSTRUCTIONS"),
        connect_timeout: secs("CHATKIT_LLM_CONNECT_TIMEOUT_SECS", 10, 300)?,
        idle_timeout: secs("CHATKIT_LLM_IDLE_TIMEOUT_SECS", 60, 3600)?,
        max_retries: parse_number(get, "CHATKIT_LLM_MAX_RETRIES", 2u32, 0, 10)?,
        retry_backoff: Duration::from_millis(parse_number(
            get,
            "CHATKIT_LLM_RETRY_BACKOFF_MS",
            500u64,
            0,
            60_000,
        )?),
        max_steps: parse_number(get, "CHATKIT_MAX_TOOL_STEPS", 10u32, 1, 100)?,
        auto_titles: parse_flag(get, "CHATKIT_AUTO_TITLES", true)?,
    }))
}

fn parse_flag(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError::new(
            var,
            format!("'{other}' is not true or false"),
        )),
    }
}

/// What OpenAI accepts as a function name.
fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `host:port` with an IP host, or `localhost:port`.
fn parse_bind(raw: &str) -> Option<SocketAddr> {
    if let Some(port) = raw.strip_prefix("localhost:") {
        return Some(SocketAddr::from(([127, 0, 0, 1], port.parse().ok()?)));
    }
    raw.parse().ok()
}

fn parse_number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = get(var) else {
        return Ok(default);
    };
    match raw.parse::<T>() {
        Ok(value) if value >= min && value <= max => Ok(value),
        _ => Err(ConfigError::new(
            var,
            format!("'{raw}' is not a number from {min} to {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, "sqlite://chatkit.db");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.auth, AuthMode::Dev);
        assert_eq!(s.sse_keep_alive, Duration::from_secs(15));
        assert!(s.human_input);
        assert_eq!(s.human_input_timeout, Duration::from_secs(86_400));
        let s = settings(&[
            ("CHATKIT_HUMAN_INPUT", "false"),
            ("CHATKIT_HUMAN_INPUT_TIMEOUT_SECS", "5"),
        ])
        .unwrap();
        assert!(!s.human_input);
        assert_eq!(s.human_input_timeout, Duration::from_secs(5));
        let s = settings(&[("CHATKIT_APPROVAL_TOOLS", "delete_file, deploy ,")]).unwrap();
        assert_eq!(s.approval_tools, ["delete_file", "deploy"]);
        assert_eq!(
            settings(&[("CHATKIT_HUMAN_INPUT_TIMEOUT_SECS", "0")])
                .unwrap_err()
                .var,
            "CHATKIT_HUMAN_INPUT_TIMEOUT_SECS"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("CHATKIT_BIND", "nonsense")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_BIND");
        let e = settings(&[("CHATKIT_AUTH", "magic")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTH");
        let e = settings(&[("CHATKIT_MAX_REQUEST_BYTES", "-3")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_MAX_REQUEST_BYTES");
        assert!(e.to_string().starts_with("CHATKIT_MAX_REQUEST_BYTES: "));
    }

    #[test]
    fn model_settings() {
        assert!(
            settings(&[]).unwrap().llm.is_none(),
            "no key and no URL: no model"
        );
        let llm = settings(&[
            ("OPENAI_BASE_URL", "http://localhost:11434/v1/"),
            ("CHATKIT_MODELS", "a, b"),
        ])
        .unwrap()
        .llm
        .unwrap();
        assert_eq!(llm.base_url, "http://localhost:11434/v1");
        assert_eq!(llm.allowed_models, ["a", "b"]);
        assert_eq!(
            settings(&[("OPENAI_BASE_URL", "ftp://x")]).unwrap_err().var,
            "OPENAI_BASE_URL"
        );
        let e = settings(&[("OPENAI_API_KEY", "k"), ("CHATKIT_AUTO_TITLES", "maybe")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTO_TITLES");
    }

    #[test]
    fn client_tools() {
        let tools = settings(&[(
            "CHATKIT_CLIENT_TOOLS",
            r#"[{"name": "get_selection", "description": "d"}]"#,
        )])
        .unwrap()
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
        .mcp_servers;
        assert_eq!(servers[0].timeout, Duration::from_millis(1500));
        assert!(servers[0].enabled && !servers[0].structured_widgets);
        assert_eq!(servers[0].elicitation_timeout, Duration::from_secs(900));
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

    #[test]
    fn attachment_settings() {
        let s = settings(&[("DATABASE_URL", "sqlite:///var/lib/ck/chat.db")]).unwrap();
        assert_eq!(
            s.attachments.storage_dir,
            PathBuf::from("/var/lib/ck/attachments")
        );
        assert_eq!(s.attachments.max_bytes, 26_214_400);
        assert!(
            s.attachments
                .allowed_mime_types
                .contains(&"image/png".to_owned())
        );
        assert_eq!(s.attachments.orphan_age, Duration::from_secs(24 * 3600));
        assert!(s.secret_key.is_none() && s.public_url.is_none());
        let s = settings(&[("DATABASE_URL", "sqlite://chatkit.db")]).unwrap();
        assert_eq!(s.attachments.storage_dir, PathBuf::from("attachments"));
        let s = settings(&[("DATABASE_URL", "postgres://db/x")]).unwrap();
        assert_eq!(s.attachments.storage_dir, PathBuf::from("attachments"));

        let s = settings(&[
            ("CHATKIT_ALLOWED_MIME_TYPES", "image/*, Text/Plain"),
            ("CHATKIT_ATTACHMENT_ORPHAN_HOURS", "0.5"),
            ("CHATKIT_PUBLIC_URL", "https://chat.example.com/"),
            ("CHATKIT_SECRET_KEY", &"k".repeat(32)),
        ])
        .unwrap();
        assert_eq!(s.attachments.allowed_mime_types, ["image/*", "text/plain"]);
        assert_eq!(s.attachments.orphan_age, Duration::from_secs(1800));
        assert_eq!(s.public_url.as_deref(), Some("https://chat.example.com"));

        for (var, value) in [
            ("CHATKIT_ALLOWED_MIME_TYPES", "png"),
            ("CHATKIT_ALLOWED_MIME_TYPES", " , "),
            ("CHATKIT_UPLOAD_MAX_BYTES", "0"),
            ("CHATKIT_ATTACHMENT_ORPHAN_HOURS", "0"),
            ("CHATKIT_ATTACHMENT_SWEEP_SECS", "x"),
            ("CHATKIT_PUBLIC_URL", "chat.example.com"),
            ("CHATKIT_SECRET_KEY", "short"),
        ] {
            assert_eq!(settings(&[(var, value)]).unwrap_err().var, var, "{value}");
        }
    }

    #[test]
    fn dev_auth_refuses_public_bind() {
        let e = settings(&[("CHATKIT_BIND", "0.0.0.0:8000")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTH");
        assert!(settings(&[("CHATKIT_BIND", "localhost:9000")]).is_ok());
        assert!(settings(&[("CHATKIT_BIND", "[::1]:9000")]).is_ok());
    }
}
