//! Runs: each assistant turn is a task owned here, not by the HTTP handler. The manager keeps one
//! active run per thread (claimed in the database, so across processes too), feeds the run's
//! events to its subscriber (the SSE response), and runs the cancel path when that subscriber
//! goes away. A run without a subscriber finishes and persists on its own. `live` holds this
//! process's runs and stops them from outside (a deleted thread, a shutdown); `recovery` ends
//! the runs of processes that died; `signals` takes stops and answers from other processes.

mod built;
mod drive;
mod files;
mod frames;
mod live;
mod recovery;
mod signals;
mod sink;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

pub use frames::encode;
pub use live::{Interrupt, RunSlot};
pub use recovery::{INTERRUPTED_CONTEXT, INTERRUPTED_TITLE};
pub use sink::{CANCELLED_CONTEXT, EventSink};

use built::Built;
use live::LiveRuns;

use crate::agent::llm::ToolSpec;
use crate::agent::mcp::{McpServer, ParkedCalls};
use crate::agent::{Agent, Overrides, TurnInput};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::types::{Thread, ThreadStreamEvent};
use crate::config::{
    ClientToolSettings, LimitOverrides, McpProtocol, McpServerSettings, RunSettings, Sealer, Secret,
};
use crate::store::{
    AgentChanges, AgentRow, AgentRows, BlobStore, McpServerRow, Scope, Signal, Store, StoreError,
};

/// A stored MCP server row with the server made from it; `None` for a row that cannot be
/// used, remembered so that it is reported once rather than on every run.
type BuiltServer = (McpServerRow, Option<Arc<McpServer>>);

/// Agents' own MCP servers by agent id.
type AgentMcpServers = HashMap<String, Vec<BuiltServer>>;

/// Frames buffered between a run and a slow client before the run waits for it.
const SUBSCRIBER_BUFFER: usize = 256;

/// The thread already has a turn in progress.
#[derive(Debug, thiserror::Error)]
#[error("a response is already being generated in this thread")]
pub struct Busy;

/// Why a thread cannot be reserved for a run.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("cannot claim the thread for a run: {0}")]
    Store(#[from] StoreError),
}

/// How long a shutdown waits for interrupted runs to save what they had, after the grace.
const SAVE_PATIENCE: Duration = Duration::from_secs(10);

/// How long deleting a thread waits for its run to stop before deleting.
const STOP_PATIENCE: Duration = Duration::from_secs(5);

/// Starts runs and keeps one per thread.
#[derive(Clone)]
pub struct RunManager {
    store: Store,
    /// Attachment bytes, which runs read for the model.
    blobs: BlobStore,
    agent: Arc<Agent>,
    live: LiveRuns,
    /// This process's name on the runs it owns: random per start.
    instance: Arc<str>,
    /// Agents' own MCP servers, with the rows they were made from.
    agent_mcp: Arc<Mutex<AgentMcpServers>>,
    /// Agents built for runs, with their rows, while no agent has changed.
    built: Arc<Built<(AgentRow, Arc<Agent>)>>,
    /// How long a question to a person stays answerable, unless the agent says otherwise.
    human_timeout: std::time::Duration,
    /// Opens the secrets agents keep sealed (API keys, MCP header values).
    sealer: Option<Sealer>,
    /// MCP calls parked on a person's question, which answers reach from any process.
    parked: ParkedCalls,
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
    /// What the starter already read, which the run does not read again.
    pub known: AlreadyRead,
}

/// What the starter of a run has read already.
#[derive(Default)]
pub struct AlreadyRead {
    /// The thread's whole history, when the starter has it (a new thread's first message).
    pub history: Option<Vec<HistoryEntry>>,
    /// The count of agent changes in the transaction that saved the turn's input: an agent
    /// built from rows read at that count or later is used as it is.
    pub agent_changes: Option<AgentChanges>,
}

impl RunManager {
    pub fn new(
        store: Store,
        blobs: BlobStore,
        agent: Arc<Agent>,
        human_timeout: std::time::Duration,
        sealer: Option<Sealer>,
        parked: ParkedCalls,
    ) -> Self {
        RunManager {
            store,
            blobs,
            agent,
            live: LiveRuns::default(),
            instance: ids::new_id(IdKind::Run).replacen("run_", "proc_", 1).into(),
            agent_mcp: Arc::default(),
            built: Arc::new(Built::new()),
            human_timeout,
            sealer,
            parked,
        }
    }

    /// The agent with an agent row's own settings (model, models, instructions, temperature,
    /// endpoint and key, tools, human input) and its own MCP servers. A setting that cannot
    /// be used (a key that does not open, a list that does not parse) refuses the run with a
    /// message for the operator, rather than quietly falling back to the server's.
    pub async fn agent_for(&self, row: &AgentRow) -> Result<Agent, UnusableAgent> {
        let rows = match self.store.list_mcp_servers(&row.id).await {
            Ok(rows) => rows,
            Err(e) => {
                log::error!("agent {}: cannot load its MCP servers: {e}", row.slug);
                Vec::new()
            }
        };
        self.agent_with(row, rows)
    }

    /// [`RunManager::agent_for`] with the agent's MCP server rows already loaded.
    fn agent_with(
        &self,
        row: &AgentRow,
        servers: Vec<McpServerRow>,
    ) -> Result<Agent, UnusableAgent> {
        let settings = AgentOwn::of(row, self.sealer.as_ref())?;
        let own = self.own_mcp_servers(row, servers);
        Ok(self
            .agent
            .overridden(&Overrides {
                model: row.model.as_deref(),
                allowed_models: settings.models.as_deref(),
                instructions: row.instructions.as_deref(),
                temperature: row.temperature,
                base_url: row.llm_base_url.as_deref(),
                api_key: settings.api_key.as_ref().map(Secret::expose),
                client_tools: settings.client_tools.as_deref(),
                approval_tools: settings.approval_tools.as_deref(),
                human_input: row.human_input,
                context_tokens: own_context_tokens(row),
            })
            .with_mcp_servers(&own))
    }

    /// An agent's enabled MCP servers, each kept across runs (its session and tool list with
    /// it) until its row changes. A row that cannot make a server is reported once and
    /// skipped; the agent keeps its other servers.
    fn own_mcp_servers(&self, agent: &AgentRow, rows: Vec<McpServerRow>) -> Vec<Arc<McpServer>> {
        let mut known = self
            .agent_mcp
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let before = known.remove(&agent.id).unwrap_or_default();
        let built: Vec<BuiltServer> = rows
            .into_iter()
            .filter(|row| row.enabled)
            .map(|row| {
                let server = match before.iter().find(|(seen, _)| *seen == row) {
                    Some((_, server)) => server.clone(),
                    None => match server_settings(&row, self.sealer.as_ref()) {
                        Ok(settings) => {
                            Some(Arc::new(McpServer::new(settings).with_parked(&self.parked)))
                        }
                        Err(problem) => {
                            log::warn!(
                                "agent {}: MCP server '{}' is skipped: {problem}",
                                agent.slug,
                                row.name
                            );
                            None
                        }
                    },
                };
                (row, server)
            })
            .collect();
        let servers = built.iter().filter_map(|(_, s)| s.clone()).collect();
        if !built.is_empty() {
            known.insert(agent.id.clone(), built);
        }
        servers
    }

    /// The agent a run starts with: the one built at the count of agent changes its input was
    /// saved at, or else one built from the rows as they are now (an operator's change
    /// applies from the next run on), kept for the runs after it.
    async fn run_agent(
        &self,
        stored: &AgentRow,
        changes: Option<AgentChanges>,
    ) -> (AgentRow, Result<Arc<Agent>, UnusableAgent>) {
        if let Some((row, agent)) = changes.and_then(|changes| self.built.get(&stored.id, changes))
        {
            return (row, Ok(agent));
        }
        match self.store.agent_rows(&stored.id).await {
            Ok(AgentRows {
                changes,
                row,
                servers,
            }) => {
                let agent = self.agent_with(&row, servers).map(Arc::new);
                if let (Some(changes), Ok(agent)) = (changes, &agent) {
                    self.built
                        .keep(changes, &row.id, (row.clone(), agent.clone()));
                }
                (row, agent)
            }
            Err(e) => {
                log::warn!("agent {}: cannot reload its settings: {e}", stored.slug);
                let agent = self.agent_for(stored).await.map(Arc::new);
                (stored.clone(), agent)
            }
        }
    }

    /// Reserves a stored thread for a run, or says it is busy: here, or in the database, where
    /// the run is claimed at once, so that a turn sent to another process is refused too.
    pub async fn reserve(&self, thread_id: &str) -> Result<RunSlot, ReserveError> {
        let mut slot = self.reserve_here(thread_id)?;
        if !self.store.claim_run(slot.claim(), thread_id).await? {
            return Err(Busy.into());
        }
        slot.claimed = true;
        Ok(slot)
    }

    /// Reserves the thread in this process only: the caller records the claim in the
    /// database with its own first write ([`RunSlot::claim`]), or the run cannot start.
    pub fn reserve_here(&self, thread_id: &str) -> Result<RunSlot, Busy> {
        let run_id = ids::new_id(IdKind::Run);
        let stopped = self.live.insert(thread_id, &run_id).ok_or(Busy)?;
        Ok(RunSlot {
            live: self.live.clone(),
            store: self.store.clone(),
            thread_id: thread_id.to_owned(),
            run_id,
            instance: self.instance.clone(),
            claimed: false,
            started: false,
            stopped,
        })
    }

    /// Ends the runs a dead process left (all of them on SQLite, the stale ones on Postgres),
    /// then keeps this process's runs and parked calls refreshed and its runs' streamed text
    /// on their rows, ends stale runs as they appear, and takes signals from the other
    /// processes.
    pub async fn recover(&self, settings: &RunSettings) {
        recovery::recover_at_start(&self.store, settings.stale_after).await;
        self.parked.set_relay(Arc::new(signals::DbRelay {
            store: self.store.clone(),
            instance: self.instance.clone(),
            stale_after: settings.stale_after,
        }));
        signals::spawn_listener(
            self.store.clone(),
            self.live.clone(),
            self.parked.clone(),
            self.instance.clone(),
        );
        self.live.spawn_text_keeper(self.store.clone());
        recovery::spawn_heartbeat(
            self.store.clone(),
            self.live.clone(),
            self.instance.clone(),
            settings.heartbeat_every(),
            settings.stale_after,
        );
    }

    /// Stops the thread's run at once, before the thread is deleted: the model stops, nothing
    /// more is saved, and its stream ends without offering a retry. Waits (briefly) for the
    /// run to let go of the thread. A run of another process is told through a signal; if
    /// that is missed, the owner's heartbeat finds the run's row gone and stops it then.
    pub async fn stop_for_deletion(&self, thread_id: &str) {
        if self.live.interrupt(thread_id, Interrupt::ThreadDeleted) {
            self.live.wait_gone(thread_id, STOP_PATIENCE).await;
            return;
        }
        match self.store.has_running_run(thread_id).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                log::warn!("thread {thread_id}: cannot tell whether it has a run: {e}");
                return;
            }
        }
        if let Err(e) = self
            .store
            .signal(Signal::StopThread(thread_id.to_owned()))
            .await
        {
            log::warn!("thread {thread_id}: cannot ask its process to stop its run: {e}");
            return;
        }
        let deadline = tokio::time::Instant::now() + STOP_PATIENCE;
        while tokio::time::Instant::now() < deadline
            && matches!(self.store.has_running_run(thread_id).await, Ok(true))
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A shutdown: lets the live runs finish for `grace`, then interrupts the rest (each keeps
    /// its partial answer and tells its client to send again) and waits for them to save.
    /// The calls this process holds on a person's question end with it: the other processes
    /// stop handing their answers here, and tell the model the question is gone at once.
    pub async fn drain(&self, grace: Duration) {
        self.live.wait_empty(grace).await;
        if !self.live.is_empty() {
            log::warn!(
                "interrupting {} run(s) still streaming after the shutdown grace",
                self.live.run_ids().len()
            );
            self.live.interrupt_all(Interrupt::Shutdown);
            self.live.wait_empty(SAVE_PATIENCE).await;
        }
        if let Err(e) = self.store.forget_parked_of(&self.instance).await {
            log::warn!("cannot forget this process's parked calls: {e}");
        }
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

    /// Runs the turn in a task that owns the slot; a run refused before it starts (a disabled
    /// agent) releases its claim when the slot drops.
    fn spawn(&self, mut slot: RunSlot, start: RunStart, subscriber: Option<mpsc::Sender<Bytes>>) {
        let mut sink = EventSink::new(
            self.store.clone(),
            start.scope,
            start.thread,
            subscriber,
            self.live.clone(),
        );
        let manager = self.clone();
        // The run belongs to the request that started it: its log lines name that request.
        // Boxed where it is made: the run's future holds every state of a turn inline, and
        // held by value it was copied whole on each move into the task and when the task ended.
        let work = Box::pin(async move {
            let (row, agent) = manager
                .run_agent(&start.agent, start.known.agent_changes)
                .await;
            sink.human_timeout = row
                .form_timeout_secs
                .and_then(|secs| u64::try_from(secs).ok())
                .map_or(manager.human_timeout, std::time::Duration::from_secs);
            let agent = match agent {
                Ok(agent) if row.enabled => agent,
                Ok(_) => return refuse(sink, UnusableAgent::Disabled).await,
                Err(problem) => {
                    log::error!("agent {}: {problem}", row.slug);
                    return refuse(sink, problem).await;
                }
            };
            let (store, blobs) = (&manager.store, &manager.blobs);
            slot.started = true;
            let run = drive::Run {
                slot: &mut slot,
                sink,
            };
            drive::drive(
                store,
                blobs,
                &agent,
                run,
                start.input,
                start.leading,
                start.known.history,
            )
            .await;
            drop(slot);
        });
        tokio::spawn(crate::observe::carry(work));
    }
}

/// Why an agent's stored settings cannot make a run.
#[derive(Debug, thiserror::Error)]
pub enum UnusableAgent {
    #[error("This assistant is disabled.")]
    Disabled,
    #[error("The assistant's API key cannot be read: {0}")]
    Key(crate::config::SealError),
    #[error("The assistant's {0} are not a valid JSON list: {1}")]
    List(&'static str, String),
}

/// Ends a run that cannot start with one `error` event.
async fn refuse(mut sink: EventSink, problem: UnusableAgent) {
    use crate::agent::Emit;
    let _ = sink
        .emit(ThreadStreamEvent::error_custom(problem.to_string(), false))
        .await;
}

/// An agent row's settings that need parsing or opening.
struct AgentOwn {
    api_key: Option<Secret>,
    models: Option<Vec<String>>,
    client_tools: Option<Vec<ToolSpec>>,
    approval_tools: Option<Vec<String>>,
}

impl AgentOwn {
    fn of(row: &AgentRow, sealer: Option<&Sealer>) -> Result<AgentOwn, UnusableAgent> {
        fn list<T: serde::de::DeserializeOwned>(
            json: Option<&str>,
            what: &'static str,
        ) -> Result<Option<Vec<T>>, UnusableAgent> {
            json.map(serde_json::from_str)
                .transpose()
                .map_err(|e| UnusableAgent::List(what, e.to_string()))
        }
        let client_tools: Option<Vec<ClientToolSettings>> =
            list(row.client_tools.as_deref(), "client tools")?;
        Ok(AgentOwn {
            api_key: row
                .llm_api_key
                .as_deref()
                .map(|stored| open_secret(stored, sealer))
                .transpose()
                .map_err(UnusableAgent::Key)?,
            models: list(row.models.as_deref(), "models")?,
            client_tools: client_tools.map(|tools| {
                tools
                    .into_iter()
                    .map(|t| ToolSpec {
                        name: t.name,
                        description: t.description,
                        parameters: t.parameters.into(),
                    })
                    .collect()
            }),
            approval_tools: list(row.approval_tools.as_deref(), "approval tools")?,
        })
    }
}

/// A stored secret as plain text: sealed values open with the deployment's key; a plain
/// value (stored before a key was configured, and sealed at the next start with one) is used
/// as it is.
fn open_secret(stored: &str, sealer: Option<&Sealer>) -> Result<Secret, crate::config::SealError> {
    if !crate::config::sealed::is_sealed(stored) {
        return Ok(Secret::new(stored));
    }
    sealer.ok_or(crate::config::SealError::NoKey)?.open(stored)
}

/// Why a stored MCP server row cannot make a server.
#[derive(Debug, thiserror::Error)]
pub enum UnusableServer {
    #[error("its URL is not an http(s) URL: {0}")]
    Url(String),
    #[error("its protocol is unknown: {0}")]
    Protocol(String),
    #[error("its headers are not a JSON object of valid HTTP headers: {0}")]
    Headers(String),
    #[error("its allowed tools are not a JSON list of names: {0}")]
    AllowedTools(String),
}

/// What [`McpServer::new`] takes, from an agent's stored server row (header values opened).
pub fn server_settings(
    row: &McpServerRow,
    sealer: Option<&Sealer>,
) -> Result<McpServerSettings, UnusableServer> {
    let url = reqwest::Url::parse(&row.url).map_err(|e| UnusableServer::Url(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UnusableServer::Url(format!(
            "the scheme is {}",
            url.scheme()
        )));
    }
    let protocol: McpProtocol =
        serde_json::from_value(serde_json::Value::String(row.protocol.clone()))
            .map_err(|e| UnusableServer::Protocol(e.to_string()))?;
    let mut headers = row
        .header_map()
        .map_err(|e| UnusableServer::Headers(e.to_string()))?;
    for (name, value) in headers.iter_mut() {
        *value = open_secret(value, sealer)
            .map_err(|e| UnusableServer::Headers(format!("{name}: {e}")))?
            .expose()
            .to_owned();
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| UnusableServer::Headers(format!("{name}: {e}")))?;
        reqwest::header::HeaderValue::from_str(value)
            .map_err(|e| UnusableServer::Headers(format!("{name}: {e}")))?;
    }
    let allowed_tools = row
        .allowed_tool_list()
        .map_err(|e| UnusableServer::AllowedTools(e.to_string()))?;
    Ok(McpServerSettings {
        name: row.name.clone(),
        url: row.url.clone(),
        headers: headers
            .into_iter()
            .map(|(name, value)| (name, Secret::new(value)))
            .collect(),
        allowed_tools,
        timeout: row.timeout(),
        list_timeout: None,
        enabled: row.enabled,
        structured_widgets: row.structured_widgets,
        protocol,
        elicitation_timeout: row.elicitation_timeout(),
    })
}

/// The context budget an agent's `limits` JSON sets, if it sets one (unreadable limits are
/// logged where rate limits are checked).
fn own_context_tokens(row: &AgentRow) -> Option<u64> {
    let own: LimitOverrides = serde_json::from_str(row.limits.as_deref()?).ok()?;
    own.context_tokens.map(|n| u64::from(n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> McpServerRow {
        McpServerRow {
            id: "mcp_1".into(),
            agent_id: "agt_1".into(),
            name: "weather".into(),
            url: "https://w.test/mcp".into(),
            headers: Some(r#"{"Authorization": "Bearer t"}"#.into()),
            allowed_tools: Some(r#"["weather"]"#.into()),
            timeout_ms: 1500,
            protocol: "legacy".into(),
            structured_widgets: true,
            elicitation_timeout_ms: 60_000,
            enabled: true,
            created_at: chrono::NaiveDateTime::default(),
            updated_at: chrono::NaiveDateTime::default(),
        }
    }

    #[test]
    fn a_stored_row_makes_the_settings_of_its_server() {
        let settings = server_settings(&row(), None).unwrap();
        assert_eq!(settings.name, "weather");
        assert_eq!(settings.headers["Authorization"].expose(), "Bearer t");
        assert_eq!(settings.allowed_tools, Some(vec!["weather".to_owned()]));
        assert_eq!(settings.timeout, std::time::Duration::from_millis(1500));
        assert_eq!(settings.protocol, McpProtocol::Legacy);
        assert!(settings.structured_widgets && settings.enabled);
        assert_eq!(
            settings.elicitation_timeout,
            std::time::Duration::from_secs(60)
        );
    }

    #[test]
    fn rows_that_cannot_make_a_server_say_why() {
        type Spoil = fn(&mut McpServerRow);
        let cases: [(Spoil, &str); 6] = [
            (|r| r.url = "w.test/mcp".into(), "URL"),
            (|r| r.url = "file:///etc/passwd".into(), "URL"),
            (|r| r.protocol = "2031".into(), "protocol"),
            (|r| r.headers = Some("{oops".into()), "headers"),
            (
                |r| r.headers = Some(r#"{"Bad Name": "x"}"#.into()),
                "headers",
            ),
            (
                |r| r.allowed_tools = Some(r#""weather""#.into()),
                "allowed tools",
            ),
        ];
        for (spoil, what) in cases {
            let mut bad = row();
            spoil(&mut bad);
            let error = server_settings(&bad, None).unwrap_err().to_string();
            assert!(error.contains(what), "{error}");
        }
    }
}
