//! Settings: the only reader of environment variables. Everything is parsed and checked once at
//! start; a bad value stops the start with one line naming the variable and the problem.
//!
//! One struct per concern, each parsed in its own file:
//! - [`database`]: `DATABASE_URL` and the pool size (and how a database URL is read);
//! - [`http`]: bind address, public URL, request size limit, SSE keep-alive, static folder;
//! - [`auth`]: how ChatKit requests are authenticated and the URL signing key, with the
//!   settings of its production modes in [`jwt`] and [`proxy`];
//! - [`llm`]: the OpenAI-compatible model endpoint and how the default agent uses it;
//! - [`first_run`]: without a model, the loopback ports tried for one and the demo model;
//! - [`tools`]: approval tools and human input, with the client tools and MCP servers of
//!   [`mcp`];
//! - [`attachments`]: upload storage, limits and accepted types;
//! - [`pages`]: which web client the chat page runs, and what ChatKit JS needs;
//! - [`console`]: the operator console's first admin and session lifetimes;
//! - [`limits`]: rate limits and quotas of the chat endpoint;
//! - [`webhooks`]: where human-input webhooks go and how they are retried;
//! - [`transcribe`]: dictation's speech-to-text endpoint and recording limits;
//! - [`observe`]: the log line format and the token of `/metrics`;
//! - [`runs`]: the shutdown grace and when a run whose process died counts as dead.
//!
//! Credentials are held in a [`Secret`], so printing settings never shows one; [`sealed`]
//! encrypts the secrets operators store in the database under a key derived from
//! `CHATKIT_SECRET_KEY`. `parse` holds
//! the small parsers the concerns share. This module imports nothing else of the crate.

pub mod attachments;
pub mod auth;
pub mod console;
pub mod database;
pub mod first_run;
pub mod http;
pub mod jwt;
pub mod limits;
pub mod llm;
pub mod mcp;
pub mod observe;
pub mod pages;
mod parse;
pub mod proxy;
pub mod runs;
pub mod sealed;
pub mod secret;
pub mod tools;
pub mod transcribe;
pub mod webhooks;

pub use attachments::{
    AttachmentSettings, DEFAULT_ALLOWED_MIME_TYPES, S3Settings, StorageSettings,
};
pub use auth::{AuthMode, AuthSettings};
pub use console::ConsoleSettings;
pub use database::DatabaseSettings;
pub use first_run::FirstRunSettings;
pub use http::HttpSettings;
pub use jwt::{JwtKeySource, JwtSettings};
pub use limits::{LimitOverrides, LimitSettings};
pub use llm::LlmSettings;
pub use mcp::{ClientToolSettings, DEFAULT_LIST_TIMEOUT, McpProtocol, McpServerSettings};
pub use observe::{LogFormat, ObserveSettings};
pub use pages::{ChatClient, PageSettings};
pub use proxy::{Cidr, ProxySettings};
pub use runs::RunSettings;
pub use sealed::{SealError, Sealer};
pub use secret::Secret;
pub use tools::ToolSettings;
pub use transcribe::TranscribeSettings;
pub use webhooks::WebhookSettings;

/// Everything the server is configured with, one field per concern.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    /// The language model; `None` runs the server without one (turns end with an error).
    pub llm: Option<LlmSettings>,
    /// Without a model: where to look for one, and the demo model.
    pub first_run: FirstRunSettings,
    /// How a model found on loopback is used: everything of [`LlmSettings`] but the endpoint
    /// (`CHATKIT_MODEL` unset leaves `model` empty: the server's first listed model is used).
    pub local_llm: LlmSettings,
    pub tools: ToolSettings,
    /// File uploads: where they live, what is accepted, how long their URLs live.
    pub attachments: AttachmentSettings,
    pub pages: PageSettings,
    pub console: ConsoleSettings,
    /// Rate limits and quotas of the chat endpoint.
    pub limits: LimitSettings,
    /// Human-input webhooks and their delivery.
    pub webhooks: WebhookSettings,
    /// Dictation (`input.transcribe`); `None` when no transcription model is configured.
    pub transcribe: Option<TranscribeSettings>,
    /// Log format and the metrics endpoint's token.
    pub observe: ObserveSettings,
    /// Shutdown grace and the liveness of runs.
    pub runs: RunSettings,
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

    /// Reads settings through `var`, so tests can supply their own variables. Values are
    /// trimmed and an empty one counts as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let database = DatabaseSettings::from_vars(&get)?;
        let http = HttpSettings::from_vars(&get)?;
        let auth = AuthSettings::from_vars(&get, http.bind)?;
        let llm = LlmSettings::from_vars(&get)?;
        let first_run = FirstRunSettings::from_vars(&get)?;
        let local_llm = LlmSettings::local(&get)?;
        let tools = ToolSettings::from_vars(&get)?;
        let attachments = AttachmentSettings::from_vars(&get, &database.url)?;
        let pages = PageSettings::from_vars(&get)?;
        let console = ConsoleSettings::from_vars(&get, &var, http.public_url.as_deref())?;
        let limits = LimitSettings::from_vars(&get)?;
        let webhooks = WebhookSettings::from_vars(&get, auth.secret_key.is_some())?;
        let transcribe = TranscribeSettings::from_vars(&get)?;
        let observe = ObserveSettings::from_vars(&get)?;
        let runs = RunSettings::from_vars(&get)?;
        Ok(Settings {
            database,
            http,
            auth,
            llm,
            first_run,
            local_llm,
            tools,
            attachments,
            pages,
            console,
            limits,
            webhooks,
            transcribe,
            observe,
            runs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Settings read from `vars` alone, for the tests of every concern.
    pub(super) fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn blank_values_count_as_unset() {
        let s = settings(&[("CHATKIT_BIND", "  "), ("CHATKIT_MODEL", " m ")]).unwrap();
        assert_eq!(s.http.bind.to_string(), "127.0.0.1:8000");
        let s = settings(&[("OPENAI_API_KEY", "k"), ("CHATKIT_MODEL", " m ")]).unwrap();
        assert_eq!(s.llm.unwrap().model, "m");
    }

    #[test]
    fn secrets_never_print() {
        let signing_key = "signing-key-0123456789-0123456789";
        let s = settings(&[
            ("OPENAI_API_KEY", "sk-live-api-key"),
            ("CHATKIT_SECRET_KEY", signing_key),
            (
                "CHATKIT_MCP_SERVERS",
                r#"[{"name": "w", "url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer mcp-token"}}]"#,
            ),
        ])
        .unwrap();
        for shown in [format!("{s:?}"), format!("{s:#?}")] {
            for secret in ["sk-live-api-key", signing_key, "mcp-token"] {
                assert!(!shown.contains(secret), "{secret} printed in {shown}");
            }
            assert!(shown.contains("[redacted]"));
        }
    }
}
