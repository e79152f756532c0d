//! The agent: what produces the assistant's side of a turn. It streams the model, runs the
//! tools the model calls, and loops until a final answer. It sees protocol types and an
//! [`Emit`] sink, never the store or HTTP, so the run machinery decides what is persisted.
//!
//! This module is its face: the sink, what starts a turn ([`TurnInput`]), how one fails
//! ([`AgentError`]), and building an [`Agent`]. Behind it:
//! - `turn`: the loop of one turn ([`Agent::respond`]), streaming each model step;
//! - `tool_calls`: the calls a step makes, and the forms a turn ends on when one needs a
//!   person; also a widget action's tool call ([`Agent::tool_action`]);
//! - `input`: the thread's history, attachments included, as the model's input;
//! - `context`: which oldest turns of a long thread are left out to fit the context budget;
//! - [`llm`]: the model providers; [`tools`]: the tools offered; [`mcp`]: MCP servers;
//! - [`human`]: the forms themselves (asking, validating, summarising), without I/O;
//! - [`widgets`]: widgets that tool results carry;
//! - [`demo`]: the built-in demo model of a first run, with its own widget tool.

pub mod context;
pub mod demo;
#[cfg(test)]
mod fuzz;
pub mod human;
mod input;
pub mod llm;
pub mod mcp;
mod tool_calls;
pub mod tools;
mod turn;
pub mod widgets;

use crate::chatkit::states::InteractionKind;
use std::future::Future;
use std::sync::Arc;

use serde_json::Value;

use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::ToolCallRecord;
use crate::chatkit::types::{ItemBody, ThreadItem, ThreadStreamEvent};
pub use input::{FileContent, ModelFile, ModelFiles, TEXT_INLINE_CAP};
use llm::{Endpoints, LlmError, Provider, ToolCall};
use mcp::{InputAnswers, McpServer};
use tools::ToolRegistry;

/// Where the agent sends what its turn produces.
pub trait Emit: Send {
    /// Sends one event; `Err` means the turn must stop (the client went away or saving failed).
    fn emit(&mut self, event: ThreadStreamEvent) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Keeps a tool call and its result (model-only: never sent to the client).
    fn record_tool_call(
        &mut self,
        record: ToolCallRecord,
    ) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Keeps a question for a person (the interaction row), then shows its form item. The
    /// turn ends after this; an answer resumes the run.
    fn open_interaction(
        &mut self,
        pending: PendingInteraction,
    ) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Sets the thread's title unless it has one, and tells the client.
    fn propose_title(&mut self, title: String) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Adds to the run's accounting.
    fn record_usage(&mut self, model: &str, prompt_tokens: u64, completion_tokens: u64);

    fn thread_id(&self) -> &str;
    fn has_title(&self) -> bool;
}

/// Why the agent must stop producing events.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("the client disconnected")]
    Disconnected,
    #[error("saving the event failed: {0}")]
    Persist(String),
}

/// A question for a person that a tool call raised, before it is stored.
#[derive(Debug, Clone)]
pub struct PendingInteraction {
    pub id: String,
    /// The form's widget item.
    pub item: ThreadItem,
    /// The model's call that asked.
    pub call: ToolCall,
    pub kind: InteractionKind,
    /// What was asked (a [`human::FormSpec`] as JSON).
    pub schema: Value,
    /// Kind-specific data, e.g. an MCP server's input key and `requestState`.
    pub details: Option<Value>,
    /// A deadline shorter than the server's default (a live MCP question's).
    pub expires_in: Option<std::time::Duration>,
    /// Before the form item, so that in the model's history the call precedes the form.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// What started the turn.
#[derive(Debug, Clone)]
pub enum TurnInput {
    /// A new user message (or the message a retry regenerates from).
    UserMessage(ThreadItem),
    /// Continue after a tool output or structured input, with no new message.
    Continue,
    /// A widget action with no built-in handler.
    Action { action_type: String },
    /// A tool call the user approved: run it, then continue the turn.
    Approved {
        call: ToolCall,
        /// When the model asked; the call's record is dated then.
        asked_at: chrono::DateTime<chrono::Utc>,
        /// A note from whoever approved, given to the model with the call's result.
        note: Option<String>,
    },
    /// The user answered an MCP server's question: call the tool again with the answers,
    /// then continue the turn.
    Elicited {
        call: ToolCall,
        asked_at: chrono::DateTime<chrono::Utc>,
        answers: InputAnswers,
    },
    /// A widget action that names one of the agent's tools: call it and show its widgets,
    /// the first in place of the sending widget.
    ToolAction {
        sender: Option<ThreadItem>,
        tool: String,
        arguments: serde_json::Map<String, Value>,
    },
}

/// What a tool action produced: the widget events to stream and the call's record.
#[derive(Debug)]
pub struct ActionOutcome {
    pub events: Vec<ThreadStreamEvent>,
    pub record: ToolCallRecord,
}

/// Failures of a turn, each shown to the user as a ChatKit `error` event.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server has no language model: a real state for a server set up without one.
    #[error(
        "No language model is configured on this server. The operator must set OPENAI_API_KEY \
         (or OPENAI_BASE_URL for a compatible server) and restart it."
    )]
    NoModel,
    #[error("no handler for action type '{0}'")]
    NoActionHandler(String),
    #[error("The model '{0}' is not available here.")]
    ModelNotAllowed(String),
    #[error("The assistant stopped after {0} tool steps without an answer.")]
    TooManySteps(u32),
    #[error("The action failed: {0}")]
    ActionFailed(String),
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Stopped(#[from] Stop),
}

/// What an agent's own settings change in the server's defaults; `None` keeps the default.
#[derive(Debug, Default, Clone, Copy)]
pub struct Overrides<'a> {
    pub model: Option<&'a str>,
    /// Models a client may pick besides `model`.
    pub allowed_models: Option<&'a [String]>,
    pub instructions: Option<&'a str>,
    pub temperature: Option<f64>,
    pub base_url: Option<&'a str>,
    pub api_key: Option<&'a str>,
    /// Tools the client runs, replacing the server's.
    pub client_tools: Option<&'a [llm::ToolSpec]>,
    pub approval_tools: Option<&'a [String]>,
    /// Whether the built-in tools that ask a person are offered.
    pub human_input: Option<bool>,
    /// Tokens of history the model may get.
    pub context_tokens: Option<u64>,
}

/// How an agent uses its model.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub model: String,
    pub allowed_models: Vec<String>,
    pub instructions: Option<String>,
    pub max_steps: u32,
    pub max_retries: u32,
    pub retry_backoff: std::time::Duration,
    pub auto_titles: bool,
    /// Tools (as the model names them) that wait for the user's approval before they run.
    pub approval_tools: Vec<String>,
    /// Sampling temperature; `None` leaves the model's default.
    pub temperature: Option<f64>,
    /// Tokens of history (instructions included) the model may get; `None`: from the model's
    /// known context window.
    pub context_tokens: Option<u64>,
}

/// Produces assistant turns.
#[derive(Clone, Default)]
pub struct Agent {
    model: Option<(Arc<dyn Provider>, AgentSettings)>,
    /// Built-in and client tools.
    tools: ToolRegistry,
    /// Servers whose tools are listed at the start of each run.
    mcp: Vec<Arc<McpServer>>,
    /// Clients of agents' own endpoints.
    endpoints: Option<Arc<Endpoints>>,
}

impl Agent {
    /// An agent that answers with `provider`.
    pub fn new(
        provider: Arc<dyn Provider>,
        settings: AgentSettings,
        tools: ToolRegistry,
        mcp: Vec<Arc<McpServer>>,
    ) -> Self {
        Agent {
            model: Some((provider, settings)),
            tools,
            mcp,
            endpoints: None,
        }
    }

    /// Whether a model answers (without one, turns end with [`AgentError::NoModel`]).
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// Estimated tokens of thread history this agent's model may get besides its
    /// instructions; `None` without a model.
    pub fn history_budget(&self) -> Option<u64> {
        let (_, settings) = self.model.as_ref()?;
        let budget = settings
            .context_tokens
            .unwrap_or_else(|| context::default_budget(&settings.model));
        let instructions = settings
            .instructions
            .as_deref()
            .map_or(0, context::text_tokens);
        Some(budget.saturating_sub(instructions))
    }

    /// This agent with more MCP servers (an agent's own, beside the server's).
    pub fn with_mcp_servers(mut self, servers: &[Arc<McpServer>]) -> Self {
        self.mcp.extend(servers.iter().cloned());
        self
    }

    /// Serves agents that name their own endpoint.
    pub fn with_endpoints(mut self, endpoints: Arc<Endpoints>) -> Self {
        self.endpoints = Some(endpoints);
        self
    }

    /// This agent with what an agent's own settings give: model and the models a client may
    /// pick, instructions, temperature, endpoint, tools. An endpoint that cannot be set up is
    /// logged and the server's is used.
    pub fn overridden(&self, own: &Overrides<'_>) -> Agent {
        let mut agent = self.clone();
        if let Some(client_tools) = own.client_tools {
            agent.tools = agent.tools.with_client_tools(client_tools.to_vec());
        }
        match own.human_input {
            Some(true) => agent.tools = agent.tools.with_human_input(),
            Some(false) => agent.tools = agent.tools.without_human_input(),
            None => {}
        }
        if let Some((provider, settings)) = &mut agent.model {
            if let Some(model) = own.model {
                settings.model = model.to_owned();
            }
            if let Some(models) = own.allowed_models {
                settings.allowed_models = models.to_vec();
            }
            if let Some(instructions) = own.instructions {
                settings.instructions = Some(instructions.to_owned());
            }
            if let Some(tokens) = own.context_tokens {
                settings.context_tokens = Some(tokens);
            }
            if let Some(temperature) = own.temperature {
                settings.temperature = Some(temperature);
            }
            if let Some(approval_tools) = own.approval_tools {
                settings.approval_tools = approval_tools.to_vec();
            }
            if (own.base_url.is_some() || own.api_key.is_some())
                && let Some(endpoints) = &self.endpoints
            {
                match endpoints.provider(own.base_url, own.api_key) {
                    Ok(own_provider) => *provider = own_provider,
                    Err(e) => log::error!("the agent's own model endpoint is unusable: {e}"),
                }
            }
        }
        agent
    }
}

/// A new item of the assistant's in the thread, made now.
fn new_item(thread_id: &str, body: ItemBody) -> ThreadItem {
    ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body,
    }
}
