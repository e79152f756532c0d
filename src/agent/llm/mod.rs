//! Language models behind one small interface, so the run loop does not depend on a provider's
//! wire format: a Responses-API provider can be added beside the Chat Completions one.
//! Dictation's speech-to-text client is in [`transcribe`].

mod openai;
pub mod transcribe;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use futures_util::future::BoxFuture;

pub use openai::ChatCompletions;

/// One model call: the conversation so far, the tools on offer, and how to use them.
#[derive(Debug, Clone, Default)]
pub struct ModelRequest {
    pub model: String,
    pub instructions: Option<String>,
    pub input: Vec<InputItem>,
    pub tools: Vec<ToolSpec>,
    /// Force a call of this tool (ChatKit's composer tool menu).
    pub forced_tool: Option<String>,
    /// Sampling temperature; `None` leaves the model's default.
    pub temperature: Option<f64>,
}

/// Provider-neutral conversation items (they map onto both OpenAI APIs).
#[derive(Debug, Clone, PartialEq)]
pub enum InputItem {
    /// Something the user said, or context given on the user's side.
    User(Vec<UserPart>),
    Assistant(String),
    /// A tool call the model made earlier.
    ToolCall(ToolCall),
    /// The result of the call with this `call_id`.
    ToolResult {
        call_id: String,
        output: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum UserPart {
    Text(String),
    /// An image as a URL (often a `data:` URL).
    Image {
        url: String,
    },
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments.
    pub parameters: Schema,
}

/// A tool's JSON schema as JSON text, shared and written once: every turn's request lists
/// the agent's tools, and their schemas (about 6 KB a turn in the streams bench) are neither
/// copied nor serialised again for it (walking their trees was ~3% of a turn's start).
#[derive(Debug, Clone, serde::Serialize)]
#[serde(transparent)]
pub struct Schema(std::sync::Arc<serde_json::value::RawValue>);

impl From<serde_json::Value> for Schema {
    fn from(value: serde_json::Value) -> Self {
        // A `Value` always writes out as JSON: the fallback is never taken.
        let raw = serde_json::value::to_raw_value(&value)
            .unwrap_or_else(|_| serde_json::value::RawValue::NULL.to_owned());
        Schema(raw.into())
    }
}

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub call_id: String,
    pub name: String,
    /// The arguments as the model wrote them (a JSON object in text).
    pub arguments: String,
}

/// What a streaming model call produces, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelEvent {
    TextDelta(String),
    /// A complete tool call (fragments are assembled by the provider).
    ToolCall(ToolCall),
    Usage {
        prompt_tokens: u64,
        completion_tokens: u64,
    },
}

pub type ModelStream = Pin<Box<dyn Stream<Item = Result<ModelEvent, LlmError>> + Send>>;

/// A language model service.
pub trait Provider: Send + Sync {
    /// Starts a streaming call; `Ok` once the service accepted it.
    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelStream, LlmError>>;

    /// A short non-streaming completion (thread titles).
    fn complete<'a>(&'a self, request: &'a ModelRequest)
    -> BoxFuture<'a, Result<String, LlmError>>;
}

type Endpoint = (String, Option<String>);

/// Clients of the endpoints agents name, made once each: an agent may have its own
/// OpenAI-compatible base URL and key, defaulting to the server's.
pub struct Endpoints {
    base_url: String,
    api_key: Option<String>,
    connect_timeout: std::time::Duration,
    idle_timeout: std::time::Duration,
    /// Whether plain-http model servers speak HTTP/2 (`CHATKIT_LLM_HTTP2_PRIOR_KNOWLEDGE`).
    http2_prior_knowledge: bool,
    /// By base URL and key.
    made: std::sync::Mutex<HashMap<Endpoint, Arc<dyn Provider>>>,
}

impl Endpoints {
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        connect_timeout: std::time::Duration,
        idle_timeout: std::time::Duration,
        http2_prior_knowledge: bool,
    ) -> Self {
        Endpoints {
            base_url: base_url.to_owned(),
            api_key,
            connect_timeout,
            idle_timeout,
            http2_prior_knowledge,
            made: Default::default(),
        }
    }

    /// The client of `base_url` with `api_key`, each defaulting to the server's. The server's
    /// key goes only to the server's endpoint: an agent's own endpoint without its own key
    /// gets none (a local model server needs none), never the server's credential.
    pub fn provider(
        &self,
        base_url: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Arc<dyn Provider>, LlmError> {
        let base = base_url
            .unwrap_or(&self.base_url)
            .trim_end_matches('/')
            .to_owned();
        let same_endpoint = base == self.base_url.trim_end_matches('/');
        let key = api_key
            .map(str::to_owned)
            .or_else(|| self.api_key.clone().filter(|_| same_endpoint));
        let mut made = self
            .made
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(provider) = made.get(&(base.clone(), key.clone())) {
            return Ok(provider.clone());
        }
        let provider: Arc<dyn Provider> = Arc::new(ChatCompletions::new(
            &base,
            key.clone(),
            self.connect_timeout,
            self.idle_timeout,
            self.http2_prior_knowledge,
        )?);
        made.insert((base, key), provider.clone());
        Ok(provider)
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// 401/403: the operator's credentials are wrong; retrying cannot help.
    #[error(
        "The model service refused this server's credentials (HTTP {status}: {message}). The \
         operator must check OPENAI_API_KEY."
    )]
    Unauthorized { status: u16, message: String },
    /// 429 and 5xx: worth retrying after a pause, the one its `Retry-After` asks for if any.
    #[error("the model service is unavailable (HTTP {status}): {message}")]
    Unavailable {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// A 429 or 5xx whose `Retry-After` is longer than a turn waits: the user must come back.
    #[error(
        "The model service is busy and asks to wait {} before trying again (HTTP {status}): \
         {message}",
        wait_text(*retry_after)
    )]
    RetryLater {
        status: u16,
        message: String,
        retry_after: Duration,
    },
    /// Any other refusal (e.g. an unknown model).
    #[error("the model service rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("cannot reach the model service: {0}")]
    Connect(String),
    #[error("the model service sent nothing for {0} s")]
    IdleTimeout(u64),
    #[error("the model's stream broke: {0}")]
    Broken(String),
    #[error("the model service sent an invalid chunk: {0}")]
    Malformed(String),
    /// An error object inside an accepted stream (the service failed mid-answer).
    #[error("The model service failed while answering: {0}")]
    StreamError(String),
}

impl LlmError {
    /// Whether a retry before the first token may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, LlmError::Unavailable { .. } | LlmError::Connect(_))
    }
}

/// A wait as a person reads it: seconds up to two minutes, then minutes, then hours.
fn wait_text(wait: Duration) -> String {
    match wait.as_secs() {
        secs @ 0..120 => format!("{secs} s"),
        secs @ 120..7200 => format!("{} min", secs.div_ceil(60)),
        secs => format!("{} h", secs.div_ceil(3600)),
    }
}

/// The wait a `Retry-After` header asks for: whole seconds, or an HTTP date (a date in the
/// past means no wait). `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-30T05:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Mon, 30 Nov 2026 05:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Mon, 30 Nov 2026 04:00:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past"
        );
        for bad in ["", "soon", "-5", "1.5", "Mon, 99 Nov 2026"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn waits_read_as_a_person_would_say_them() {
        assert_eq!(wait_text(Duration::from_secs(45)), "45 s");
        assert_eq!(wait_text(Duration::from_secs(3600)), "60 min");
        assert_eq!(wait_text(Duration::from_secs(86_400)), "24 h");
    }
}
