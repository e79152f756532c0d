//! The OpenAI Chat Completions API with `stream: true`, as OpenAI and compatible servers (vLLM,
//! Ollama, llama.cpp server, LiteLLM) speak it: SSE chunks of deltas, tool-call arguments in
//! fragments, an optional usage chunk, and `[DONE]`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;

mod body;
mod sse;
mod stream;

use super::{LlmError, ModelRequest, ModelStream, Provider};
use body::Body;

/// Most of an error body we keep for the message.
const ERROR_BODY_LIMIT: usize = 2000;

/// Idle HTTP/1.1 connections kept per model server (and calling thread) after a burst of
/// streams. Each stream needs a connection of its own over HTTP/1.1; without a cap, every one
/// of a burst's connections would idle (with its descriptor and buffers) until the idle
/// timeout.
const POOL_IDLE_PER_HOST: usize = 64;
/// The HTTP/2 connection window to a model server. Thousands of streams share one connection,
/// each sending a small DATA frame per token; the HTTP/2 library closes the connection
/// (`ENHANCE_YOUR_CALM`, every stream on it lost) once the small frames buffered before the
/// runs read them exceed half this window. hyper's 5 MiB let a burst of 10,000 streams on
/// busy request threads get there; 64 MiB allows about 200,000 such frames. Memory is spent
/// only on frames actually waiting.
const HTTP2_CONNECTION_WINDOW: u32 = 64 << 20;
/// How long an idle connection to a model server is kept for the next call.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ChatCompletions {
    /// One client, so one connection pool, per thread that calls the model. A pooled
    /// connection is driven by a task on the runtime that opened it; read from another
    /// worker's runtime, every chunk of a stream crossed threads twice (a kernel wake-up each
    /// way), which was most of a turn's own work on the request threads.
    clients: Mutex<HashMap<ThreadId, reqwest::Client>>,
    settings: ClientSettings,
    url: String,
    api_key: Option<String>,
    idle_timeout: Duration,
}

impl ChatCompletions {
    /// The client of one model server. Over https, HTTP/2 is used when the server offers it
    /// (ALPN); over plain http, only when `http2_prior_knowledge` says the server speaks it,
    /// since there is no negotiation there. Over HTTP/2 the streams of a thread share one
    /// connection.
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        connect_timeout: Duration,
        idle_timeout: Duration,
        http2_prior_knowledge: bool,
    ) -> Result<Self, LlmError> {
        let settings = ClientSettings {
            connect_timeout,
            http2_prior_knowledge: http2_prior_knowledge && base_url.starts_with("http://"),
        };
        // Built once here so that settings a client cannot take fail now, not at a turn.
        let client = settings.client()?;
        Ok(ChatCompletions {
            clients: Mutex::new(HashMap::from([(std::thread::current().id(), client)])),
            settings,
            url: format!("{base_url}/chat/completions"),
            api_key,
            idle_timeout,
        })
    }

    /// This thread's client, made on its first call.
    fn client(&self) -> Result<reqwest::Client, LlmError> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        match clients.entry(std::thread::current().id()) {
            Entry::Occupied(client) => Ok(client.get().clone()),
            Entry::Vacant(slot) => Ok(slot.insert(self.settings.client()?).clone()),
        }
    }

    async fn send(&self, body: &Body<'_>) -> Result<reqwest::Response, LlmError> {
        let mut request = self.client()?.post(&self.url).json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = tokio::time::timeout(self.idle_timeout, request.send())
            .await
            .map_err(|_| LlmError::IdleTimeout(self.idle_timeout.as_secs()))?
            .map_err(|e| LlmError::Connect(e.to_string()))?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| super::parse_retry_after(v, chrono::Utc::now()));
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(ERROR_BODY_LIMIT).collect());
        Err(match status {
            401 | 403 => LlmError::Unauthorized { status, message },
            429 | 500..=599 => LlmError::Unavailable {
                status,
                message,
                retry_after,
            },
            _ => LlmError::Rejected { status, message },
        })
    }
}

/// How a model server's clients are built.
struct ClientSettings {
    connect_timeout: Duration,
    /// HTTP/2 without negotiation; only over plain http.
    http2_prior_knowledge: bool,
}

impl ClientSettings {
    fn client(&self) -> Result<reqwest::Client, LlmError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .pool_max_idle_per_host(POOL_IDLE_PER_HOST)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .http2_initial_connection_window_size(HTTP2_CONNECTION_WINDOW);
        if self.http2_prior_knowledge {
            builder = builder.http2_prior_knowledge();
        }
        builder
            .build()
            .map_err(|e| LlmError::Connect(e.to_string()))
    }
}

impl Provider for ChatCompletions {
    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelStream, LlmError>> {
        async move {
            let response = self.send(&Body::streamed(request)).await?;
            Ok(stream::chunks(response, self.idle_timeout))
        }
        .boxed()
    }

    fn complete<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<String, LlmError>> {
        async move {
            let response = self.send(&Body::of(request)).await?;
            let body: Value = tokio::time::timeout(self.idle_timeout, response.json())
                .await
                .map_err(|_| LlmError::IdleTimeout(self.idle_timeout.as_secs()))?
                .map_err(|e| LlmError::Malformed(e.to_string()))?;
            body["choices"][0]["message"]["content"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| LlmError::Malformed("the completion has no message content".into()))
        }
        .boxed()
    }
}
