//! The agent: what produces the assistant's side of a turn. It sees protocol types and an
//! [`Emit`] sink, never the store or HTTP, so the run machinery decides what is persisted.

use std::future::Future;

use crate::chatkit::types::{ThreadItem, ThreadStreamEvent};

/// Where the agent sends the events of its turn.
pub trait Emit: Send {
    /// Sends one event; `Err` means the turn must stop (the client went away or saving failed).
    fn emit(&mut self, event: ThreadStreamEvent) -> impl Future<Output = Result<(), Stop>> + Send;
}

/// Why the agent must stop producing events.
#[derive(Debug, thiserror::Error)]
pub enum Stop {
    #[error("the client disconnected")]
    Disconnected,
    #[error("saving the event failed: {0}")]
    Persist(String),
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
}

/// Failures of a turn, each shown to the user as a ChatKit `error` event.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server has no language model: a real state for a server set up without one.
    #[error(
        "No language model is configured on this server. The operator must set the model \
         settings (see the README) and restart it."
    )]
    NoModel,
    #[error("no handler for action type '{0}'")]
    NoActionHandler(String),
    #[error(transparent)]
    Stopped(#[from] Stop),
}

/// Produces assistant turns.
#[derive(Debug, Default)]
pub struct Agent {}

impl Agent {
    /// Runs one turn, emitting its events into `sink`.
    pub async fn respond<S: Emit>(
        &self,
        _sink: &mut S,
        input: &TurnInput,
    ) -> Result<(), AgentError> {
        match input {
            TurnInput::Action { action_type } => {
                Err(AgentError::NoActionHandler(action_type.clone()))
            }
            TurnInput::UserMessage(_) | TurnInput::Continue => Err(AgentError::NoModel),
        }
    }
}
