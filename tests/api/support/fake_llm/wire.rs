//! The fake's answers on the wire: a scripted [`Reply`] becomes the steps of a response body,
//! streamed chunk by chunk or as one `chat.completion`, and ends as the reply says (finished,
//! cut, malformed or hanging).

use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};
use bytes::Bytes;
use futures_util::stream;
use serde_json::{Value, json};

use super::{ClientSocket, Reply, Shared, error_response, lock};

/// How long a [`Reply::HangAfter`] stream stays open at most when the client never leaves.
const HANG_CAP: Duration = Duration::from_secs(60);

/// How often a hanging stream looks whether its client has left.
const HANG_POLL: Duration = Duration::from_millis(20);

/// The frame that ends every finished stream.
const DONE: &[u8] = b"data: [DONE]\n\n";

/// The answer to one parsed request: the next scripted reply (or a default one) in the form
/// the request asked for; `client` is the connection's socket, watched while a body hangs.
pub(super) fn reply_to(
    request: &Value,
    shared: &Shared,
    client: Option<Rc<ClientSocket>>,
) -> HttpResponse {
    let streaming = request["stream"].as_bool().unwrap_or(false);
    let scripted = lock(&shared.replies).pop_front();
    let reply = scripted.unwrap_or_else(|| {
        if streaming {
            Reply::Text(vec!["(no reply scripted)".into()])
        } else {
            Reply::Completion("Untitled".into())
        }
    });
    let script = match Script::from_reply(reply) {
        Ok(script) => script,
        Err(refusal) => return *refusal,
    };
    let calls = script
        .calls
        .iter()
        .map(|(name, arguments)| ToolCall {
            id: format!("call_{}", shared.calls.fetch_add(1, Ordering::Relaxed) + 1),
            name: name.clone(),
            arguments: arguments.to_string(),
        })
        .collect();
    let meta = Meta {
        id: format!(
            "chatcmpl-{}",
            shared.completions.fetch_add(1, Ordering::Relaxed) + 1
        ),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: request["model"].as_str().unwrap_or("unknown").to_owned(),
        include_usage: request["stream_options"]["include_usage"]
            .as_bool()
            .unwrap_or(false),
        prompt_tokens: request
            .get("messages")
            .map_or(0, |messages| messages.to_string().len() / 4),
    };
    if streaming {
        let steps = streamed(&meta, script, calls);
        respond("text/event-stream", steps, client, &shared.abandoned)
    } else {
        let steps = completed(&meta, script, calls);
        respond("application/json", steps, client, &shared.abandoned)
    }
}

/// A reply reduced to what both answer forms need.
struct Script {
    pieces: Vec<String>,
    delay: Duration,
    calls: Vec<(String, Value)>,
    end: End,
}

/// How an answer ends.
enum End {
    Finish,
    Break,
    Malformed,
    Hang,
    /// An error object with this message, then the end of the body.
    Error(String),
}

/// The error object a failing stream sends in place of a chunk.
fn stream_error(message: &str) -> Value {
    json!({"error": {"message": message, "type": "server_error", "param": null, "code": null}})
}

impl Script {
    /// The script of a reply, or the answer to an error reply.
    fn from_reply(reply: Reply) -> Result<Script, Box<HttpResponse>> {
        let script = |pieces, calls, end| Script {
            pieces,
            delay: Duration::ZERO,
            calls,
            end,
        };
        Ok(match reply {
            Reply::Text(pieces) => script(pieces, Vec::new(), End::Finish),
            Reply::ToolCalls { text, calls } => script(text, calls, End::Finish),
            Reply::Error { status, message } => {
                return Err(Box::new(error_response(status, &message)));
            }
            Reply::RateLimited { retry_after } => {
                let mut refusal = error_response(429, "Rate limit reached for requests");
                if let Ok(value) = HeaderValue::from_str(&retry_after) {
                    refusal.headers_mut().insert(header::RETRY_AFTER, value);
                }
                return Err(Box::new(refusal));
            }
            Reply::ErrorAfter { pieces, message } => {
                script(pieces, Vec::new(), End::Error(message))
            }
            Reply::BreakAfter(pieces) => script(pieces, Vec::new(), End::Break),
            Reply::MalformedAfter(pieces) => script(pieces, Vec::new(), End::Malformed),
            Reply::HangAfter(pieces) => script(pieces, Vec::new(), End::Hang),
            Reply::SlowText { pieces, delay_ms } => Script {
                delay: Duration::from_millis(delay_ms),
                ..script(pieces, Vec::new(), End::Finish)
            },
            Reply::Completion(content) => script(vec![content], Vec::new(), End::Finish),
        })
    }

    fn finish_reason(&self) -> &'static str {
        if self.calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
    }
}

/// A tool call with its id given and its arguments serialized.
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

/// What every chunk or completion of one answer repeats.
struct Meta {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    prompt_tokens: usize,
}

impl Meta {
    /// One `chat.completion.chunk` frame with this delta.
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Step {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        if self.include_usage {
            // As OpenAI does: every chunk but the last carries `"usage": null`.
            chunk["usage"] = Value::Null;
        }
        Step::frame(&chunk)
    }

    /// The usage object for `completion_tokens` generated tokens.
    fn usage(&self, completion_tokens: usize) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": self.prompt_tokens + completion_tokens,
        })
    }
}

/// The pieces a tool call's arguments string is streamed in: about three, split on characters.
fn argument_pieces(arguments: &str) -> Vec<String> {
    let chars: Vec<char> = arguments.chars().collect();
    let size = chars.len().div_ceil(3).max(1);
    chars
        .chunks(size)
        .map(|piece| piece.iter().collect())
        .collect()
}

/// The completion tokens of an answer: one per delta that carries content.
fn completion_tokens(script: &Script, calls: &[ToolCall]) -> usize {
    script.pieces.len()
        + calls
            .iter()
            .map(|call| 1 + argument_pieces(&call.arguments).len())
            .sum::<usize>()
}

/// The steps of a streamed answer.
fn streamed(meta: &Meta, script: Script, calls: Vec<ToolCall>) -> Vec<Step> {
    let tokens = completion_tokens(&script, &calls);
    let mut steps = vec![meta.chunk(
        json!({"role": "assistant", "content": "", "refusal": null}),
        None,
    )];
    for piece in &script.pieces {
        if !script.delay.is_zero() {
            steps.push(Step::Sleep(script.delay));
        }
        steps.push(meta.chunk(json!({ "content": piece }), None));
    }
    for (index, call) in calls.iter().enumerate() {
        steps.push(meta.chunk(
            json!({"tool_calls": [{
                "index": index,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }]}),
            None,
        ));
        for piece in argument_pieces(&call.arguments) {
            steps.push(meta.chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                None,
            ));
        }
    }
    match script.end {
        End::Finish => {
            steps.push(meta.chunk(json!({}), Some(script.finish_reason())));
            if meta.include_usage {
                steps.push(Step::frame(&json!({
                    "id": meta.id,
                    "object": "chat.completion.chunk",
                    "created": meta.created,
                    "model": meta.model,
                    "system_fingerprint": null,
                    "choices": [],
                    "usage": meta.usage(tokens),
                })));
            }
            steps.push(Step::Send(Bytes::from_static(DONE)));
        }
        End::Break => steps.push(Step::Abort),
        // A whole SSE frame whose data is JSON cut short.
        End::Malformed => steps.push(Step::Send(Bytes::from_static(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"\n\n",
        ))),
        End::Hang => steps.push(Step::Hang),
        End::Error(message) => steps.push(Step::frame(&stream_error(&message))),
    }
    steps
}

/// The steps of a non-streamed answer: one `chat.completion` object, or its failure.
fn completed(meta: &Meta, script: Script, calls: Vec<ToolCall>) -> Vec<Step> {
    let tokens = completion_tokens(&script, &calls);
    let text = script.pieces.concat();
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) },
        "refusal": null,
    });
    if !calls.is_empty() {
        message["tool_calls"] = calls
            .iter()
            .map(|call| {
                json!({
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                })
            })
            .collect();
    }
    let completion = json!({
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "system_fingerprint": null,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": script.finish_reason(),
        }],
        "usage": meta.usage(tokens),
    })
    .to_string();
    let pieces = u32::try_from(script.pieces.len()).unwrap_or(u32::MAX);
    let delay = script.delay.saturating_mul(pieces);
    let mut steps = Vec::new();
    if !delay.is_zero() {
        steps.push(Step::Sleep(delay));
    }
    match script.end {
        End::Finish => steps.push(Step::Send(Bytes::from(completion))),
        End::Break => {
            let half = completion.len() / 2;
            steps.push(Step::Send(Bytes::copy_from_slice(
                &completion.as_bytes()[..half],
            )));
            steps.push(Step::Abort);
        }
        End::Malformed => steps.push(Step::Send(Bytes::from_static(
            br#"{"choices":[{"message":{"content":"x""#,
        ))),
        End::Hang => steps.push(Step::Hang),
        End::Error(message) => {
            steps.push(Step::Send(Bytes::from(stream_error(&message).to_string())))
        }
    }
    steps
}

/// One step of writing a response body.
enum Step {
    /// Writes these bytes (flushed before the body waits again).
    Send(Bytes),
    /// Waits this long.
    Sleep(Duration),
    /// Sends nothing more until the client leaves, or cuts the connection after [`HANG_CAP`].
    Hang,
    /// Cuts the connection without ending the body.
    Abort,
}

impl Step {
    /// An SSE frame carrying this JSON value.
    fn frame(data: &Value) -> Step {
        Step::Send(Bytes::from(format!("data: {data}\n\n")))
    }
}

/// Counts a response body dropped before it played its last step (the client left), unless
/// it is marked finished.
struct Unfinished(Option<Arc<AtomicU64>>);

impl Unfinished {
    fn finish(&mut self) {
        self.0 = None;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(abandoned) = self.0.take() {
            abandoned.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// A 200 answer whose body plays these steps as it is read; `client` is the connection's
/// socket, watched while the body hangs; a body dropped before its end counts in `abandoned`.
fn respond(
    content_type: &str,
    steps: Vec<Step>,
    client: Option<Rc<ClientSocket>>,
    abandoned: &Arc<AtomicU64>,
) -> HttpResponse {
    let state = (VecDeque::from(steps), Unfinished(Some(abandoned.clone())));
    let body = stream::unfold(state, move |(mut steps, mut unfinished)| {
        let client = client.clone();
        async move {
            loop {
                let Some(step) = steps.pop_front() else {
                    unfinished.finish();
                    return None;
                };
                match step {
                    Step::Send(bytes) => return Some((Ok(bytes), (steps, unfinished))),
                    Step::Sleep(delay) => tokio::time::sleep(delay).await,
                    Step::Hang => {
                        let deadline = Instant::now() + HANG_CAP;
                        while Instant::now() < deadline
                            && !client.as_ref().is_some_and(|c| c.gone())
                        {
                            tokio::time::sleep(HANG_POLL).await;
                        }
                        let cut = io::Error::new(io::ErrorKind::TimedOut, "FakeLlm: hang ended");
                        unfinished.finish();
                        return Some((Err(cut), (VecDeque::new(), unfinished)));
                    }
                    Step::Abort => {
                        // Hand what was written to the client first: actix drops its unsent
                        // buffer when the body fails.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        let cut =
                            io::Error::new(io::ErrorKind::ConnectionAborted, "FakeLlm: break");
                        unfinished.finish();
                        return Some((Err(cut), (VecDeque::new(), unfinished)));
                    }
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type(content_type)
        .streaming(body)
}
