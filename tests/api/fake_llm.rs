//! An in-process fake of OpenAI's Chat Completions API (`POST {base}/chat/completions`).
//!
//! It speaks the real wire format, so the server's LLM client can be driven without a paid
//! API: `data: {json}\n\n` chunk frames ended by `data: [DONE]\n\n` when the request streams,
//! a `chat.completion` object when it does not, and OpenAI's `{"error": {...}}` body on errors.
//! Tests script the answers with [`FakeLlm::push`] and read back what the client sent with
//! [`FakeLlm::requests`] and [`FakeLlm::request_headers`].

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::{Extensions, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::stream;
use serde_json::{Value, json};

/// How long a [`Reply::HangAfter`] stream stays open at most when the client never leaves.
const HANG_CAP: Duration = Duration::from_secs(60);

/// How often a hanging stream looks whether its client has left.
const HANG_POLL: Duration = Duration::from_millis(20);

/// How long an idle client connection is kept open.
const KEEP_ALIVE: Duration = Duration::from_secs(120);

/// How long [`FakeLlm::wait_for_requests`] waits before failing the test.
const WAIT_DEADLINE: Duration = Duration::from_secs(10);

/// The largest request body accepted (long conversations are sent whole).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// The frame that ends every finished stream.
const DONE: &[u8] = b"data: [DONE]\n\n";

/// A fake OpenAI endpoint on a loopback port, serving until it is dropped.
pub struct FakeLlm {
    base_url: String,
    shared: Arc<Shared>,
    handle: ServerHandle,
}

/// One scripted answer, consumed by the next request (FIFO).
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Streams these text pieces as content deltas, then finish_reason "stop" (+ usage if asked).
    Text(Vec<String>),
    /// Streams text pieces (may be empty) then these tool calls (name, arguments JSON value),
    /// finish_reason "tool_calls".
    ToolCalls {
        text: Vec<String>,
        calls: Vec<(String, Value)>,
    },
    /// HTTP error with OpenAI's error body.
    Error { status: u16, message: String },
    /// Streams the text pieces, then closes the connection abruptly (no finish_reason, no
    /// `[DONE]`, no end of the chunked body).
    BreakAfter(Vec<String>),
    /// Streams the text pieces, then one frame whose data is not valid JSON, then ends the body.
    MalformedAfter(Vec<String>),
    /// Sends 200 + SSE headers and the text pieces, then nothing more until the client leaves
    /// (or 60 s pass, when the connection is cut): for idle-timeout tests.
    HangAfter(Vec<String>),
    /// Streams text pieces with this delay before each piece (cancel/disconnect tests and
    /// slow-model benchmarks).
    SlowText { pieces: Vec<String>, delay_ms: u64 },
    /// Non-streaming completion with this content (titles).
    Completion(String),
}

impl FakeLlm {
    /// Binds 127.0.0.1:0 and serves in a spawned task (one actix worker).
    pub async fn start() -> FakeLlm {
        let shared = Arc::new(Shared::default());
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .route("/v1/chat/completions", web::post().to(chat_completions))
                .default_service(web::to(unknown_url))
        })
        .on_connect(remember_socket)
        // Longer than reqwest's pool idle timeout, so a pooled connection is never closed
        // under a request that is being sent.
        .keep_alive(KEEP_ALIVE)
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("FakeLlm: cannot bind 127.0.0.1:0: {e}"));
        let port = server
            .addrs()
            .first()
            .map(|addr| addr.port())
            .unwrap_or_else(|| panic!("FakeLlm: bound to no address"));
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        FakeLlm {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            shared,
            handle,
        }
    }

    /// The API base, e.g. `http://127.0.0.1:PORT/v1`; the client appends `/chat/completions`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Queues the answer to the next request (FIFO).
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.replies).push_back(reply);
    }

    /// Every request body received, in order (unscripted ones too; a body that is not JSON is
    /// kept as a JSON string).
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.received)
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    /// The headers of each request, in the order of [`FakeLlm::requests`], with lower-case names.
    pub fn request_headers(&self) -> Vec<Vec<(String, String)>> {
        lock(&self.shared.received)
            .iter()
            .map(|r| r.headers.clone())
            .collect()
    }

    /// Waits until at least `n` requests have arrived and returns them all; panics after 10 s.
    pub async fn wait_for_requests(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + WAIT_DEADLINE;
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            if Instant::now() >= deadline {
                panic!(
                    "FakeLlm: expected {n} request(s) within {WAIT_DEADLINE:?}, got {}: {requests:#?}",
                    requests.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        // The stop command is sent at once; waiting for the workers to finish is not needed.
        drop(self.handle.stop(false));
    }
}

/// What the fake shares between the test and its worker.
#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    received: Mutex<Vec<Received>>,
    completions: AtomicU64,
    calls: AtomicU64,
}

/// One request as received.
struct Received {
    body: Value,
    headers: Vec<(String, String)>,
}

/// Locks a mutex, ignoring poisoning: a panicking test must not hide the first failure.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `POST /v1/chat/completions`: records the request and plays the next scripted reply.
async fn chat_completions(
    req: HttpRequest,
    body: Bytes,
    shared: web::Data<Shared>,
) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_ascii_lowercase(), value)
        })
        .collect();
    let parsed = serde_json::from_slice::<Value>(&body);
    let recorded = match &parsed {
        Ok(value) => value.clone(),
        Err(_) => Value::String(String::from_utf8_lossy(&body).into_owned()),
    };
    lock(&shared.received).push(Received {
        body: recorded,
        headers,
    });
    let Ok(request) = parsed else {
        return error_response(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly.)",
        );
    };

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
        Err((status, message)) => return error_response(status, &message),
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
    let client = req.conn_data::<Rc<ClientSocket>>().cloned();
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
        respond("text/event-stream", streamed(&meta, script, calls), client)
    } else {
        respond("application/json", completed(&meta, script, calls), client)
    }
}

/// Any other path: OpenAI's 404 answer.
async fn unknown_url(req: HttpRequest) -> HttpResponse {
    let message = format!("Invalid URL ({} {})", req.method(), req.path());
    HttpResponse::NotFound()
        .content_type("application/json")
        .body(error_body(&message, "invalid_request_error", None).to_string())
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
}

impl Script {
    /// The script of a reply, or the status and message of an error reply.
    fn from_reply(reply: Reply) -> Result<Script, (u16, String)> {
        let script = |pieces, calls, end| Script {
            pieces,
            delay: Duration::ZERO,
            calls,
            end,
        };
        Ok(match reply {
            Reply::Text(pieces) => script(pieces, Vec::new(), End::Finish),
            Reply::ToolCalls { text, calls } => script(text, calls, End::Finish),
            Reply::Error { status, message } => return Err((status, message)),
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

/// A 200 answer whose body plays these steps as it is read; `client` is the connection's
/// socket, watched while the body hangs.
fn respond(content_type: &str, steps: Vec<Step>, client: Option<Rc<ClientSocket>>) -> HttpResponse {
    let body = stream::unfold(VecDeque::from(steps), move |mut steps| {
        let client = client.clone();
        async move {
            loop {
                match steps.pop_front()? {
                    Step::Send(bytes) => return Some((Ok(bytes), steps)),
                    Step::Sleep(delay) => tokio::time::sleep(delay).await,
                    Step::Hang => {
                        let deadline = Instant::now() + HANG_CAP;
                        while Instant::now() < deadline
                            && !client.as_ref().is_some_and(|c| c.gone())
                        {
                            tokio::time::sleep(HANG_POLL).await;
                        }
                        let cut = io::Error::new(io::ErrorKind::TimedOut, "FakeLlm: hang ended");
                        return Some((Err(cut), VecDeque::new()));
                    }
                    Step::Abort => {
                        // Hand what was written to the client first: actix drops its unsent
                        // buffer when the body fails.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        let cut =
                            io::Error::new(io::ErrorKind::ConnectionAborted, "FakeLlm: break");
                        return Some((Err(cut), VecDeque::new()));
                    }
                }
            }
        }
    });
    HttpResponse::Ok()
        .content_type(content_type)
        .streaming(body)
}

/// A second handle on a connection's socket: actix notices a client that left only when a
/// write fails, and a hanging body writes nothing.
struct ClientSocket(std::net::TcpStream);

impl ClientSocket {
    /// Whether the client has closed its side (or the connection is broken).
    fn gone(&self) -> bool {
        match self.0.peek(&mut [0; 1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        }
    }
}

/// Keeps a [`ClientSocket`] in each connection's data (Unix only; elsewhere a hanging body
/// just ends after [`HANG_CAP`]).
fn remember_socket(conn: &dyn Any, data: &mut Extensions) {
    #[cfg(unix)]
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Ok(fd) = std::os::fd::AsFd::as_fd(tcp).try_clone_to_owned()
    {
        let socket = std::net::TcpStream::from(fd);
        // Shares the file description, which tokio already made non-blocking.
        if socket.set_nonblocking(true).is_ok() {
            data.insert(Rc::new(ClientSocket(socket)));
        }
    }
    #[cfg(not(unix))]
    let _ = (conn, data);
}

/// OpenAI's error answer for this status.
fn error_response(status: u16, message: &str) -> HttpResponse {
    let (kind, code) = match status {
        400 => ("invalid_request_error", "invalid_request_error"),
        401 => ("invalid_request_error", "invalid_api_key"),
        403 => ("request_forbidden", "unsupported_country_region_territory"),
        404 => ("invalid_request_error", "model_not_found"),
        429 => ("requests", "rate_limit_exceeded"),
        503 => ("server_error", "service_unavailable"),
        _ => ("server_error", "server_error"),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("application/json")
        .body(error_body(message, kind, Some(code)).to_string())
}

/// `{"error": {...}}` as OpenAI sends it.
fn error_body(message: &str, kind: &str, code: Option<&str>) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}
