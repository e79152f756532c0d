//! Runs: each assistant turn is a task owned here, not by the HTTP handler. The manager keeps one
//! active run per thread, feeds the run's events to its subscriber (the SSE response), and runs
//! the cancel path when that subscriber goes away. A run without a subscriber finishes and
//! persists on its own.

mod files;
mod sink;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc;

pub use sink::{CANCELLED_CONTEXT, EventSink, encode};

use crate::agent::llm::LlmError;
use crate::agent::mcp::McpServer;
use crate::agent::{Agent, AgentError, Emit, Overrides, Stop, TurnInput};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::states::RunStatus;
use crate::chatkit::types::{StreamOptions, Thread, ThreadStreamEvent};
use crate::config::McpServerSettings;
use crate::store::{AgentRow, BlobStore, RunOutcome, Scope, Store};

type AgentMcpServers = HashMap<String, (String, Vec<Arc<McpServer>>)>;

/// Frames buffered between a run and a slow client before the run waits for it.
const SUBSCRIBER_BUFFER: usize = 256;

/// The thread already has a turn in progress.
#[derive(Debug, thiserror::Error)]
#[error("a response is already being generated in this thread")]
pub struct Busy;

/// Starts runs and keeps one per thread.
#[derive(Clone)]
pub struct RunManager {
    store: Store,
    /// Attachment bytes, which runs read for the model.
    blobs: BlobStore,
    agent: Arc<Agent>,
    active: Arc<Mutex<HashMap<String, ()>>>,
    /// Agents' own MCP servers by agent id, with the list they were made from.
    agent_mcp: Arc<Mutex<AgentMcpServers>>,
    /// How long a question to a person stays answerable.
    human_timeout: std::time::Duration,
}

/// A thread reserved for one run. Dropping it without starting frees the thread again.
pub struct RunSlot {
    active: Arc<Mutex<HashMap<String, ()>>>,
    thread_id: String,
}

impl Drop for RunSlot {
    fn drop(&mut self) {
        self.active
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.thread_id);
    }
}

/// How a run starts, beyond its agent input.
pub struct RunStart {
    pub scope: Scope,
    /// The agent's own model and instructions, which override the server's defaults.
    pub agent: AgentRow,
    pub thread: Thread,
    pub input: TurnInput,
    /// Events emitted (and persisted) right after `stream_options`, before the agent runs,
    /// such as the `thread.item.replaced` of an answered structured input.
    pub leading: Vec<ThreadStreamEvent>,
}

impl RunManager {
    pub fn new(
        store: Store,
        blobs: BlobStore,
        agent: Arc<Agent>,
        human_timeout: std::time::Duration,
    ) -> Self {
        RunManager {
            store,
            blobs,
            agent,
            active: Arc::default(),
            agent_mcp: Arc::default(),
            human_timeout,
        }
    }

    /// The agent with an agent row's overrides (model, instructions, endpoint) and its own MCP
    /// servers.
    pub fn agent_for(&self, row: &AgentRow) -> Agent {
        self.agent
            .overridden(&Overrides {
                model: row.model.as_deref(),
                instructions: row.instructions.as_deref(),
                base_url: row.llm_base_url.as_deref(),
                api_key: row.llm_api_key.as_deref(),
            })
            .with_mcp_servers(&self.own_mcp_servers(row))
    }

    /// An agent's own MCP servers, kept across runs (their sessions and tool lists with them)
    /// until the agent's list changes. A list that does not parse is logged and ignored.
    fn own_mcp_servers(&self, row: &AgentRow) -> Vec<Arc<McpServer>> {
        let Some(raw) = row.mcp_servers.as_deref().filter(|r| !r.trim().is_empty()) else {
            return Vec::new();
        };
        let mut known = self
            .agent_mcp
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((seen, servers)) = known.get(&row.id)
            && seen == raw
        {
            return servers.clone();
        }
        let servers: Vec<Arc<McpServer>> = match serde_json::from_str::<Vec<McpServerSettings>>(raw)
        {
            Ok(list) => list
                .into_iter()
                .map(|s| Arc::new(McpServer::new(s)))
                .collect(),
            Err(e) => {
                log::error!(
                    "agent {}: its mcp_servers are not a list of MCP servers: {e}",
                    row.slug
                );
                Vec::new()
            }
        };
        known.insert(row.id.clone(), (raw.to_owned(), servers.clone()));
        servers
    }

    /// Reserves the thread for a run, or says it is busy.
    pub fn reserve(&self, thread_id: &str) -> Result<RunSlot, Busy> {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if active.contains_key(thread_id) {
            return Err(Busy);
        }
        active.insert(thread_id.to_owned(), ());
        Ok(RunSlot {
            active: self.active.clone(),
            thread_id: thread_id.to_owned(),
        })
    }

    /// Starts the run in the background and returns the receiving end of its event frames.
    pub fn start(&self, slot: RunSlot, start: RunStart) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_BUFFER);
        self.spawn(slot, start, Some(tx));
        rx
    }

    /// Starts the run with no subscriber (e.g. resumed by an operator): it finishes and
    /// persists on its own, and the chat shows it on its next load.
    pub fn start_detached(&self, slot: RunSlot, start: RunStart) {
        self.spawn(slot, start, None);
    }

    fn spawn(&self, slot: RunSlot, start: RunStart, subscriber: Option<mpsc::Sender<Bytes>>) {
        let mut sink = EventSink::new(self.store.clone(), start.scope, start.thread, subscriber);
        sink.human_timeout = self.human_timeout;
        let agent = self.agent_for(&start.agent);
        let (store, blobs) = (self.store.clone(), self.blobs.clone());
        tokio::spawn(async move {
            drive(&store, &blobs, &agent, sink, start.input, start.leading).await;
            drop(slot);
        });
    }
}

/// The body of a run: `stream_options`, the leading events, the agent's turn, and then either
/// nothing more, the cancel path, or one `error` event; finally the run's record.
async fn drive(
    store: &Store,
    blobs: &BlobStore,
    agent: &Agent,
    mut sink: EventSink,
    input: TurnInput,
    leading: Vec<ThreadStreamEvent>,
) {
    let run_id = ids::new_id(IdKind::Run);
    let thread_id = sink.thread().id.clone();
    if let Err(e) = store.start_run(&run_id, &thread_id).await {
        log::error!("thread {thread_id}: cannot record the run: {e}");
    }
    sink.run_id = Some(run_id.clone());
    let scope = sink.scope().clone();
    let result = async {
        sink.emit(ThreadStreamEvent::StreamOptions {
            stream_options: StreamOptions { allow_cancel: true },
        })
        .await?;
        for event in leading {
            sink.emit(event).await?;
        }
        let history = store
            .load_model_history(&scope, &thread_id)
            .await
            .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?;
        let files = if agent.has_model() {
            files::load_model_files(store, blobs, &scope, &history)
                .await
                .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?
        } else {
            Default::default()
        };
        let closed = sink.closed();
        tokio::select! {
            result = agent.respond(&mut sink, &history, &files, &input) => result,
            // Covers the moments the agent waits on something other than the sink.
            () = closed => Err(AgentError::Stopped(Stop::Disconnected)),
        }
    }
    .await;
    let mut outcome = RunOutcome {
        status: RunStatus::Completed,
        model: sink.usage.model.clone(),
        prompt_tokens: sink.usage.prompt_tokens,
        completion_tokens: sink.usage.completion_tokens,
        error: None,
        partial_text: None,
    };
    match result {
        Ok(()) => {}
        Err(AgentError::Stopped(Stop::Disconnected)) => {
            outcome.status = RunStatus::Cancelled;
            if let Err(e) = sink.save_cancelled().await {
                log::error!("thread {thread_id}: saving the cancelled turn failed: {e}");
            }
        }
        Err(error) => {
            log::warn!("thread {thread_id}: turn failed: {error}");
            outcome.status = RunStatus::Failed;
            outcome.error = Some(error.to_string());
            outcome.partial_text = sink.drop_pending();
            // The client may be gone too; nothing more to do then.
            let _ = sink.emit(error_event(&error)).await;
        }
    }
    if let Err(e) = store.finish_run(&run_id, outcome).await {
        log::error!("thread {thread_id}: cannot record the end of the run: {e}");
    }
}

/// The one mapping from a failed turn to what the user sees: a message the operator or user
/// can act on (`custom`), or the client's generic error with a retry button.
fn error_event(error: &AgentError) -> ThreadStreamEvent {
    match error {
        AgentError::ActionFailed(_) => ThreadStreamEvent::error_custom(error.to_string(), true),
        AgentError::NoModel
        | AgentError::ModelNotAllowed(_)
        | AgentError::TooManySteps(_)
        | AgentError::Llm(LlmError::Unauthorized { .. } | LlmError::Rejected { .. }) => {
            ThreadStreamEvent::error_custom(error.to_string(), false)
        }
        AgentError::NoActionHandler(_) | AgentError::Llm(_) | AgentError::Stopped(_) => {
            ThreadStreamEvent::stream_error(true)
        }
    }
}
