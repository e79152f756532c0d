//! MCP servers over streamable HTTP, through the official Rust SDK (`rmcp`, pinned). Only this
//! module sees rmcp's types: the rest of the code gets tools, results and resources as plain
//! JSON. One session per server, opened on first use (both protocol eras, detected
//! automatically), shared by every run, and reopened after a failure.
//!
//! Elicitation: in the 2026-07-28 era a call may end `input_required`; the caller shows the
//! question and calls again with the answers. In the handshake era the server asks with a live
//! `elicitation/create` while the call is open: the call is then parked in memory (its task,
//! and where the answer goes) under a token until the answer or its deadline, so a restart
//! loses the question. With several calls to one server in flight, a live question goes to
//! the call that waits first. An answer that reaches another process is carried to the
//! holder ([`parked`]).
//!
//! A server that fails is skipped for a while ([`breaker`]): its last known tools stay
//! offered, so the model's tools do not change under it, and a call to one of them answers at
//! once that the service is unavailable. Every server shares one HTTP client ([`http`]).
//! The model reads what went wrong in plain words ([`McpError::plain`]); the details (the
//! URL, the library's message) go to the log.

mod breaker;
mod error;
mod http;
mod parked;
mod types;

pub use error::McpError;
pub use http::client as http_client;
pub use parked::{ParkedCalls, Relay, Relayed, decode as decode_relayed, encode as encode_relayed};
pub use types::{InputAnswers, InputRequired, McpResponse, McpResult, McpToolInfo};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::{FutureExt, StreamExt};
use rmcp::handler::client::progress::{ProgressDispatcher, ProgressSubscriber};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientCapabilities, ClientConfig, ElicitRequestParams,
    ElicitResult, ElicitationAction, Implementation, ProgressNotificationParam, ProgressToken,
    ProtocolVersion, RequestParamsMeta,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt, NotificationContext, RequestContext, RoleClient,
    RunningService,
};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::config::{DEFAULT_LIST_TIMEOUT, McpProtocol, McpServerSettings};
use breaker::Breaker;
use parked::{CallOutcome, CallTask, LiveAsk, LiveCall, lock_live};

/// How long a server's tool list is trusted without a change notification.
const TOOLS_TTL: Duration = Duration::from_secs(300);

/// An open session, with what ends its transport's requests once no one uses it any more.
struct Session {
    service: RunningService<RoleClient, Handler>,
    _closer: http::Closer,
}

impl std::ops::Deref for Session {
    type Target = RunningService<RoleClient, Handler>;

    fn deref(&self) -> &Self::Target {
        &self.service
    }
}

/// Receives what the server sends on its own: progress and list changes.
#[derive(Clone)]
struct Handler {
    info: ClientConfig,
    progress: ProgressDispatcher,
    tools_changed: Arc<AtomicBool>,
    asks: mpsc::UnboundedSender<LiveAsk>,
}

impl rmcp::ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.progress.handle_notification(params).await;
    }

    async fn on_tool_list_changed(&self, _: NotificationContext<RoleClient>) {
        self.tools_changed.store(true, Ordering::Relaxed);
    }

    /// A live question: handed to the call that is waiting, answered when the user answers.
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        let (answer, answered) = oneshot::channel();
        let params = serde_json::to_value(&request).unwrap_or(Value::Null);
        if self.asks.send(LiveAsk { params, answer }).is_err() {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        }
        Ok(answered
            .await
            .ok()
            .and_then(|answer| serde_json::from_value(answer).ok())
            .unwrap_or_else(|| ElicitResult::new(ElicitationAction::Cancel)))
    }
}

/// What a progress notification says: its message, or how far along it is.
fn progress_text(update: &ProgressNotificationParam) -> String {
    update
        .message
        .clone()
        .unwrap_or_else(|| match update.total {
            Some(total) => format!("{:.0} of {total:.0}", update.progress),
            None => format!("{:.0}", update.progress),
        })
}

/// One configured MCP server.
pub struct McpServer {
    settings: McpServerSettings,
    handler: Handler,
    session: Mutex<Option<Arc<Session>>>,
    tools: Mutex<Option<(Instant, Vec<McpToolInfo>)>>,
    next_token: std::sync::atomic::AtomicU64,
    /// Live questions from the server, taken by the call that waits.
    asks: Mutex<mpsc::UnboundedReceiver<LiveAsk>>,
    /// Calls parked on a live question, by token.
    live: Arc<std::sync::Mutex<HashMap<String, LiveCall>>>,
    /// Whether the server failed lately, and when it is tried again.
    breaker: Breaker,
    /// Every parked call of this process, by token.
    pub(crate) parked: ParkedCalls,
}

/// How a call's wait ended.
enum Step {
    Done(Result<CallOutcome, tokio::task::JoinError>),
    Asked(LiveAsk),
}

impl McpServer {
    pub fn new(settings: McpServerSettings) -> Self {
        // Form elicitation: servers may ask the user through us (shown as ChatKit forms).
        let capabilities: ClientCapabilities =
            serde_json::from_value(serde_json::json!({"elicitation": {"form": {}}}))
                .unwrap_or_default();
        let info = ClientConfig::new(
            capabilities,
            Implementation::new("chatkit-server", env!("CARGO_PKG_VERSION")),
        );
        let (asks, asked) = mpsc::unbounded_channel();
        let handler = Handler {
            info,
            progress: ProgressDispatcher::new(),
            tools_changed: Arc::default(),
            asks,
        };
        McpServer {
            settings,
            handler,
            session: Mutex::new(None),
            tools: Mutex::new(None),
            next_token: std::sync::atomic::AtomicU64::new(1),
            asks: Mutex::new(asked),
            live: Arc::default(),
            breaker: Breaker::default(),
            parked: ParkedCalls::default(),
        }
    }

    /// This server with its calls parked among the process's `parked`.
    pub fn with_parked(mut self, parked: &ParkedCalls) -> Self {
        self.parked = parked.clone();
        self
    }

    /// Whether this server holds a call parked under `token`.
    fn holds(&self, token: &str) -> bool {
        lock_live(&self.live).contains_key(token)
    }

    pub fn settings(&self) -> &McpServerSettings {
        &self.settings
    }

    fn connect_error(&self, message: impl ToString) -> McpError {
        McpError::Connect {
            server: self.settings.name.clone(),
            message: message.to_string(),
        }
    }

    fn call_error(&self, message: impl ToString) -> McpError {
        McpError::Call {
            server: self.settings.name.clone(),
            message: message.to_string(),
        }
    }

    /// A failed request's error: a refusal from the server keeps its words, anything else is
    /// an outage, told by its cause.
    fn request_error(&self, error: rmcp::ServiceError) -> McpError {
        match error {
            rmcp::ServiceError::McpError(data) => self.call_error(data.message),
            rmcp::ServiceError::Timeout { .. } => self.timeout(),
            other => McpError::Transport {
                server: self.settings.name.clone(),
                message: http::root_cause(&other),
            },
        }
    }

    fn unavailable(&self, retry_in: Duration) -> McpError {
        McpError::Unavailable {
            server: self.settings.name.clone(),
            retry_in,
        }
    }

    /// Tells the breaker how a request went. An outage also drops the session, which closes
    /// its transport and its connections once the requests still using it are gone.
    async fn settle<T>(&self, permit: breaker::Permit<'_>, outcome: &Result<T, McpError>) {
        match outcome {
            Err(e) if e.is_outage() => {
                permit.failed();
                self.drop_session().await;
            }
            _ => permit.succeeded(),
        }
    }

    /// The open session, or a new one (probing the modern era first, falling back to the
    /// `initialize` handshake). A connection that times out is dropped with its transport.
    async fn session(&self) -> Result<Arc<Session>, McpError> {
        let mut slot = self.session.lock().await;
        if let Some(session) = slot.as_ref().filter(|s| !s.is_closed()) {
            return Ok(session.clone());
        }
        let (transport, closer) = http::transport(&self.settings)?;
        let lifecycle = match self.settings.protocol {
            McpProtocol::Auto => ClientLifecycleMode::Auto {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                legacy_version: None,
            },
            McpProtocol::Legacy => ClientLifecycleMode::Initialize,
        };
        let connecting = self
            .handler
            .clone()
            .serve_with_lifecycle(transport, lifecycle);
        let session = tokio::time::timeout(self.settings.timeout, connecting)
            .await
            .map_err(|_| self.timeout())?
            .map_err(|e| self.connect_error(http::root_cause(&e)))?;
        let session = Arc::new(Session {
            service: session,
            _closer: closer,
        });
        *slot = Some(session.clone());
        // A new session may see a different tool list.
        *self.tools.lock().await = None;
        Ok(session)
    }

    /// Forgets a session that failed, so the next call opens a new one.
    async fn drop_session(&self) {
        self.session.lock().await.take();
    }

    /// How long a turn waits for the tool list, connecting included.
    fn list_timeout(&self) -> Duration {
        self.settings.list_timeout.unwrap_or(DEFAULT_LIST_TIMEOUT)
    }

    /// Every tool the server lists (all pages), from a cache kept until the server says its
    /// list changed or the cache is a few minutes old. While the server is skipped, or when
    /// listing fails, the last known tools are kept: a call to one says the server is
    /// unavailable, and the model's tools do not change from turn to turn.
    pub async fn list_tools(&self) -> Result<Vec<McpToolInfo>, McpError> {
        let changed = self.handler.tools_changed.swap(false, Ordering::Relaxed);
        let cached = self.tools.lock().await.clone();
        if !changed
            && let Some((at, tools)) = &cached
            && at.elapsed() < TOOLS_TTL
        {
            return Ok(tools.clone());
        }
        let listed = match self.breaker.admit() {
            Err(retry_in) => Err(self.unavailable(retry_in)),
            Ok(permit) => {
                let limit = self.list_timeout();
                let listed = tokio::time::timeout(limit, self.fetch_tools())
                    .await
                    .unwrap_or_else(|_| {
                        Err(McpError::Timeout {
                            server: self.settings.name.clone(),
                            timeout: limit,
                        })
                    });
                self.settle(permit, &listed).await;
                listed
            }
        };
        match (listed, cached) {
            (Ok(tools), _) => {
                *self.tools.lock().await = Some((Instant::now(), tools.clone()));
                Ok(tools)
            }
            (Err(e), Some((_, last_known))) => {
                log::warn!("{e}; its last known tools stay offered");
                if changed {
                    self.handler.tools_changed.store(true, Ordering::Relaxed);
                }
                Ok(last_known)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// The tool list from the server.
    async fn fetch_tools(&self) -> Result<Vec<McpToolInfo>, McpError> {
        let session = self.session().await?;
        let listed = tokio::time::timeout(self.settings.timeout, session.list_all_tools())
            .await
            .map_err(|_| self.timeout())?
            .map_err(|e| self.request_error(e))?;
        Ok(listed
            .into_iter()
            .map(|tool| McpToolInfo {
                name: tool.name.to_string(),
                description: tool.description.map(|d| d.to_string()).unwrap_or_default(),
                input_schema: Value::Object((*tool.input_schema).clone()),
            })
            .collect())
    }

    /// Connects afresh and lists the server's tools, for a connection test: the tools and the
    /// protocol version the session agreed on. Nothing is cached; the session is closed after.
    pub async fn probe(&self) -> Result<(Vec<McpToolInfo>, Option<String>), McpError> {
        let session = match self.session().await {
            Ok(session) => session,
            Err(e) => return Err(http::diagnose(&self.settings, e).await),
        };
        let protocol = session
            .peer_info()
            .map(|info| info.protocol_version.as_str().to_owned());
        let listed = self.fetch_tools().await;
        self.drop_session().await;
        Ok((listed?, protocol))
    }

    fn timeout(&self) -> McpError {
        McpError::Timeout {
            server: self.settings.name.clone(),
            timeout: self.settings.timeout,
        }
    }

    /// Calls a tool within the server's timeout (with the answers to an earlier
    /// `input_required`, when given); progress messages go to `progress`. Dropping the future
    /// cancels the call on the server.
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        answers: Option<&InputAnswers>,
        progress: &mpsc::UnboundedSender<String>,
    ) -> Result<McpResponse, McpError> {
        let permit = self
            .breaker
            .admit()
            .map_err(|retry_in| self.unavailable(retry_in))?;
        let outcome = self.start_call(name, arguments, answers, progress).await;
        self.settle(permit, &outcome).await;
        outcome
    }

    async fn start_call(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        answers: Option<&InputAnswers>,
        progress: &mpsc::UnboundedSender<String>,
    ) -> Result<McpResponse, McpError> {
        let session = self.session().await?;
        let token = ProgressToken(rmcp::model::NumberOrString::Number(
            self.next_token
                .fetch_add(1, Ordering::Relaxed)
                .try_into()
                .unwrap_or(i64::MAX),
        ));
        let updates = self.handler.progress.subscribe(token.clone()).await;
        let mut params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
        params.set_progress_token(token);
        if let Some(answers) = answers {
            params = params.with_input_responses(answers.responses.clone().into_iter().collect());
            params.request_state = answers.request_state.clone();
        }
        let task = {
            let session = session.clone();
            CallTask(Some(tokio::spawn(async move {
                session.call_tool_once(params).await
            })))
        };
        self.await_call(session, task, updates, progress).await
    }

    /// Answers the live question a parked call waits on, and waits for the call again.
    pub async fn resume_live(
        &self,
        token: &str,
        answer: Value,
        progress: &mpsc::UnboundedSender<String>,
    ) -> Result<McpResponse, McpError> {
        let Some(call) = lock_live(&self.live).remove(token) else {
            return Err(self.call_error(
                "the tool's question is no longer open (the server restarted or the answer came \
                 after its deadline); call the tool again if it is still needed",
            ));
        };
        let _ = call.answer.send(answer);
        self.await_call(call.session, call.task, call.updates, progress)
            .await
    }

    /// The next live question whose asker still waits.
    async fn next_ask(&self) -> LiveAsk {
        let mut asks = self.asks.lock().await;
        loop {
            match asks.recv().await {
                Some(ask) if !ask.answer.is_closed() => return ask,
                Some(_) => continue,
                None => std::future::pending::<()>().await,
            }
        }
    }

    /// Waits for a running call within the server's timeout, forwarding its progress; a live
    /// question parks the call and comes back as `input_required`.
    async fn await_call(
        &self,
        session: Arc<Session>,
        mut task: CallTask,
        mut updates: ProgressSubscriber,
        progress: &mpsc::UnboundedSender<String>,
    ) -> Result<McpResponse, McpError> {
        let deadline = tokio::time::sleep(self.settings.timeout);
        tokio::pin!(deadline);
        let step = loop {
            let Some(handle) = task.0.as_mut() else {
                return Err(self.call_error("the call was lost"));
            };
            tokio::select! {
                joined = handle => break Step::Done(joined),
                Some(update) = updates.next() => {
                    let _ = progress.send(progress_text(&update));
                }
                ask = self.next_ask() => break Step::Asked(ask),
                () = &mut deadline => return Err(self.timeout()),
            }
        };
        let response = match step {
            Step::Asked(ask) => return Ok(self.park(session, task, updates, ask)),
            Step::Done(Err(e)) => return Err(self.call_error(e)),
            Step::Done(Ok(response)) => {
                task.0 = None;
                response
            }
        };
        // Notes that arrived with the result still count.
        while let Some(Some(update)) = updates.next().now_or_never() {
            let _ = progress.send(progress_text(&update));
        }
        match response {
            Ok(CallToolResponse::Complete(result)) => {
                let content = result
                    .content
                    .iter()
                    .filter_map(|block| serde_json::to_value(block).ok())
                    .collect();
                Ok(McpResponse::Complete(McpResult {
                    content,
                    structured: result.structured_content,
                    is_error: result.is_error.unwrap_or(false),
                }))
            }
            Ok(CallToolResponse::InputRequired(required)) => {
                let requests = required
                    .input_requests
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(key, request)| {
                        (key, serde_json::to_value(&request).unwrap_or(Value::Null))
                    })
                    .collect();
                Ok(McpResponse::InputRequired(InputRequired {
                    requests,
                    request_state: required.request_state,
                    live: None,
                }))
            }
            Ok(_) => Err(self.call_error("the tool answered with a task, which is not supported")),
            Err(e) => Err(self.request_error(e)),
        }
    }

    /// Keeps a call that waits on a live question, answering `cancel` if nobody answers
    /// before the deadline.
    fn park(
        &self,
        session: Arc<Session>,
        task: CallTask,
        updates: ProgressSubscriber,
        ask: LiveAsk,
    ) -> McpResponse {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let request = serde_json::json!({"method": "elicitation/create", "params": ask.params});
        lock_live(&self.live).insert(
            token.clone(),
            LiveCall {
                session,
                task,
                updates,
                answer: ask.answer,
            },
        );
        let (live, key, timeout) = (
            self.live.clone(),
            token.clone(),
            self.settings.elicitation_timeout,
        );
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            let expired = lock_live(&live).remove(&key);
            if let Some(mut call) = expired {
                let _ = call.answer.send(serde_json::json!({"action": "cancel"}));
                // Let the server finish after the cancel instead of cutting the call.
                drop(call.task.0.take());
            }
        });
        McpResponse::InputRequired(InputRequired {
            requests: vec![("live".into(), request)],
            request_state: None,
            live: Some((token, self.settings.elicitation_timeout)),
        })
    }

    /// The contents of a resource, as JSON objects (`{uri, mimeType?, text | blob}`).
    pub async fn read_resource(&self, uri: &str) -> Result<Vec<Value>, McpError> {
        let permit = self
            .breaker
            .admit()
            .map_err(|retry_in| self.unavailable(retry_in))?;
        let outcome = self.fetch_resource(uri).await;
        self.settle(permit, &outcome).await;
        outcome
    }

    async fn fetch_resource(&self, uri: &str) -> Result<Vec<Value>, McpError> {
        let session = self.session().await?;
        let params = serde_json::from_value(serde_json::json!({ "uri": uri }))
            .map_err(|e| self.call_error(e))?;
        let result = tokio::time::timeout(self.settings.timeout, session.read_resource(params))
            .await
            .map_err(|_| self.timeout())?
            .map_err(|e| self.request_error(e))?;
        Ok(result
            .contents
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect())
    }
}
