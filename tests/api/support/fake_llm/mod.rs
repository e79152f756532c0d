//! An in-process fake of OpenAI's Chat Completions API (`POST {base}/chat/completions`).
//!
//! It speaks the real wire format, so the server's LLM client can be driven without a paid
//! API: `data: {json}\n\n` chunk frames ended by `data: [DONE]\n\n` when the request streams,
//! a `chat.completion` object when it does not, and OpenAI's `{"error": {...}}` body on errors;
//! `GET /v1/models` lists its one model, as local model servers do; and
//! `POST /v1/audio/transcriptions` takes recordings (see `transcriptions`), scripted with
//! [`FakeLlm::push_heard`] and read back with [`FakeLlm::uploads`].
//! Tests script the answers with [`FakeLlm::push`] and read back what the client sent with
//! [`FakeLlm::requests`] and [`FakeLlm::request_headers`]; [`FakeLlm::abandoned`] counts the
//! answers whose client left before their end.

mod transcriptions;
mod wire;

pub use transcriptions::{Heard, Upload};

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::dev::{Extensions, ServerHandle};
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use bytes::Bytes;
use serde_json::{Value, json};

/// How long an idle client connection is kept open.
const KEEP_ALIVE: Duration = Duration::from_secs(120);

/// How long [`FakeLlm::wait_for_requests`] waits before failing the test.
const WAIT_DEADLINE: Duration = Duration::from_secs(10);

/// The largest request body accepted (long conversations are sent whole).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// `GET /v1/models`: the one model it plays, as a local model server lists its models.
async fn models() -> HttpResponse {
    HttpResponse::Ok().json(json!({"object": "list", "data": [
        {"id": "fake-model", "object": "model", "owned_by": "tests"}
    ]}))
}

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
    /// 429 with OpenAI's error body and this `Retry-After` value (seconds or an HTTP date).
    RateLimited { retry_after: String },
    /// Streams the text pieces, then an `{"error": {...}}` object with this message in place
    /// of a chunk, and ends the body, as OpenAI does when it fails mid-answer.
    ErrorAfter {
        pieces: Vec<String>,
        message: String,
    },
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
                .route("/v1/models", web::get().to(models))
                .route(
                    "/v1/audio/transcriptions",
                    web::post().to(transcriptions::transcriptions),
                )
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

    /// Queues the answer to the next transcription request (FIFO).
    pub fn push_heard(&self, heard: Heard) {
        lock(&self.shared.heard).push_back(heard);
    }

    /// Every transcription request received, in order.
    pub fn uploads(&self) -> Vec<Upload> {
        lock(&self.shared.uploads).clone()
    }

    /// How many answers were abandoned by their client (the connection dropped) before their
    /// end.
    pub fn abandoned(&self) -> u64 {
        self.shared
            .abandoned
            .load(std::sync::atomic::Ordering::SeqCst)
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
    heard: Mutex<VecDeque<Heard>>,
    uploads: Mutex<Vec<Upload>>,
    /// Response bodies dropped before their last step: the client left mid-answer.
    abandoned: Arc<AtomicU64>,
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
    let client = req.conn_data::<Rc<ClientSocket>>().cloned();
    wire::reply_to(&request, &shared, client)
}

/// Any other path: OpenAI's 404 answer.
async fn unknown_url(req: HttpRequest) -> HttpResponse {
    let message = format!("Invalid URL ({} {})", req.method(), req.path());
    HttpResponse::NotFound()
        .content_type("application/json")
        .body(error_body(&message, "invalid_request_error", None).to_string())
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
/// just ends after a minute).
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
