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
use serde_json::{Value, json};

mod sse;
mod stream;

use super::{InputItem, LlmError, ModelRequest, ModelStream, Provider, UserPart};

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

    async fn send(&self, body: &Value) -> Result<reqwest::Response, LlmError> {
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
            let mut body = request_body(request);
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
            let response = self.send(&body).await?;
            Ok(stream::chunks(response, self.idle_timeout))
        }
        .boxed()
    }

    fn complete<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<String, LlmError>> {
        async move {
            let response = self.send(&request_body(request)).await?;
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

/// The JSON body of a call, without the streaming options.
fn request_body(request: &ModelRequest) -> Value {
    let mut messages = Vec::new();
    if let Some(instructions) = &request.instructions {
        messages.push(json!({"role": "system", "content": instructions}));
    }
    // Results wait until the calls of their step are all out: the API wants each step's calls
    // in one assistant message (after the step's text), followed by all of their results.
    let mut results: Vec<Value> = Vec::new();
    for item in &request.input {
        if !matches!(item, InputItem::ToolCall(_) | InputItem::ToolResult { .. }) {
            messages.append(&mut results);
        }
        match item {
            InputItem::User(parts) => {
                messages.push(json!({"role": "user", "content": user_content(parts)}))
            }
            InputItem::Assistant(text) => {
                messages.push(json!({"role": "assistant", "content": text}))
            }
            InputItem::ToolCall(call) => {
                let call = json!({"id": call.call_id, "type": "function",
                                  "function": {"name": call.name, "arguments": call.arguments}});
                // A call after results starts the next step's assistant message.
                messages.append(&mut results);
                match messages.last_mut() {
                    Some(last) if last["role"] == "assistant" => {
                        if let Some(calls) = last["tool_calls"].as_array_mut() {
                            calls.push(call);
                        } else {
                            last["tool_calls"] = json!([call]);
                        }
                    }
                    _ => messages
                        .push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
                }
            }
            InputItem::ToolResult { call_id, output } => {
                results.push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
            }
        }
    }
    messages.append(&mut results);
    let mut body = json!({"model": request.model, "messages": messages});
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if !request.tools.is_empty() {
        body["tools"] = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
            .collect();
        if let Some(name) = &request.forced_tool {
            body["tool_choice"] = json!({"type": "function", "function": {"name": name}});
        }
    }
    body
}

/// Plain text when there is only text (what every compatible server accepts), else parts.
fn user_content(parts: &[UserPart]) -> Value {
    if parts.iter().all(|p| matches!(p, UserPart::Text(_))) {
        let texts: Vec<&str> = parts
            .iter()
            .filter_map(|p| {
                if let UserPart::Text(t) = p {
                    Some(t.as_str())
                } else {
                    None
                }
            })
            .collect();
        return json!(texts.join("\n\n"));
    }
    parts
        .iter()
        .map(|part| match part {
            UserPart::Text(text) => json!({"type": "text", "text": text}),
            UserPart::Image { url } => json!({"type": "image_url", "image_url": {"url": url}}),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::llm::ToolCall;

    fn call(id: &str) -> InputItem {
        InputItem::ToolCall(ToolCall {
            call_id: id.into(),
            name: "f".into(),
            arguments: "{}".into(),
        })
    }

    fn result(id: &str) -> InputItem {
        InputItem::ToolResult {
            call_id: id.into(),
            output: id.into(),
        }
    }

    #[test]
    fn tool_calls_follow_their_text_in_one_assistant_message() {
        let request = ModelRequest {
            model: "m".into(),
            instructions: Some("be brief".into()),
            input: vec![
                InputItem::User(vec![UserPart::Text("hi".into())]),
                InputItem::Assistant("checking".into()),
                call("c1"),
                call("c2"),
                result("c1"),
                result("c2"),
                InputItem::User(vec![UserPart::Text("thanks".into())]),
            ],
            tools: vec![],
            forced_tool: None,
            temperature: None,
        };
        let body = request_body(&request);
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 6);
        assert_eq!(
            messages[0],
            json!({"role": "system", "content": "be brief"})
        );
        assert_eq!(messages[1], json!({"role": "user", "content": "hi"}));
        assert_eq!(messages[2]["content"], "checking");
        assert_eq!(messages[2]["tool_calls"].as_array().unwrap().len(), 2);
        assert_eq!(
            messages[3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "c1"})
        );
        assert_eq!(messages[4]["tool_call_id"], "c2");
        assert_eq!(messages[5], json!({"role": "user", "content": "thanks"}));
        assert!(body.get("tools").is_none(), "no tools, no tools key");
    }

    #[test]
    fn images_switch_to_content_parts() {
        let parts = [
            UserPart::Text("look".into()),
            UserPart::Image {
                url: "data:image/png;base64,AA==".into(),
            },
        ];
        assert_eq!(
            user_content(&parts),
            json!([{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}])
        );
    }
}
