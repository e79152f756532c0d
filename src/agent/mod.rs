//! The agent: what produces the assistant's side of a turn. It streams the model, runs the
//! tools the model calls, and loops until a final answer. It sees protocol types and an
//! [`Emit`] sink, never the store or HTTP, so the run machinery decides what is persisted.

mod input;
pub mod llm;
pub mod tools;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;

use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::{HistoryEntry, ToolCallRecord};
use crate::chatkit::types::{
    AssistantMessageContent, AssistantMessageItem, ClientToolCallItem, ClientToolCallStatus,
    ItemBody, ThreadItem, ThreadItemUpdate, ThreadStreamEvent, UserMessageItem,
};
pub use input::{FileContent, ModelFile, ModelFiles, TEXT_INLINE_CAP};
use llm::{InputItem, LlmError, ModelEvent, ModelRequest, Provider, ToolCall, UserPart};
use tools::{Resolved, ToolOutput, ToolRegistry};

/// Where the agent sends what its turn produces.
pub trait Emit: Send {
    /// Sends one event; `Err` means the turn must stop (the client went away or saving failed).
    fn emit(&mut self, event: ThreadStreamEvent) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Keeps a tool call and its result (model-only: never sent to the client).
    fn record_tool_call(
        &mut self,
        record: ToolCallRecord,
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
    #[error(transparent)]
    Llm(#[from] LlmError),
    #[error(transparent)]
    Stopped(#[from] Stop),
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
}

/// Produces assistant turns.
#[derive(Clone, Default)]
pub struct Agent {
    model: Option<(Arc<dyn Provider>, AgentSettings)>,
    tools: ToolRegistry,
}

impl Agent {
    /// An agent that answers with `provider`.
    pub fn new(provider: Arc<dyn Provider>, settings: AgentSettings, tools: ToolRegistry) -> Self {
        Agent {
            model: Some((provider, settings)),
            tools,
        }
    }

    /// Whether a model answers (without one, turns end with [`AgentError::NoModel`]).
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }

    /// This agent with another model or instructions where an agent's own settings give them.
    pub fn overridden(&self, model: Option<&str>, instructions: Option<&str>) -> Agent {
        let mut agent = self.clone();
        if let Some((_, settings)) = &mut agent.model {
            if let Some(model) = model {
                settings.model = model.to_owned();
            }
            if let Some(instructions) = instructions {
                settings.instructions = Some(instructions.to_owned());
            }
        }
        agent
    }

    /// Runs one turn over `history` (which already holds the turn's user message), whose
    /// attachments the caller loaded into `files`.
    pub async fn respond<S: Emit>(
        &self,
        sink: &mut S,
        history: &[HistoryEntry],
        files: &ModelFiles,
        input: &TurnInput,
    ) -> Result<(), AgentError> {
        if let TurnInput::Action { action_type } = input {
            return Err(AgentError::NoActionHandler(action_type.clone()));
        }
        let Some((provider, settings)) = &self.model else {
            return Err(AgentError::NoModel);
        };
        let options = latest_user_message(history)
            .map(|m| m.inference_options.clone())
            .unwrap_or_default();
        let model = match options.model {
            Some(asked) if asked != settings.model && !settings.allowed_models.contains(&asked) => {
                return Err(AgentError::ModelNotAllowed(asked));
            }
            Some(asked) => asked,
            None => settings.model.clone(),
        };
        let mut request = ModelRequest {
            model,
            instructions: settings.instructions.clone(),
            input: input::model_input(history, files),
            tools: self.tools.specs(),
            forced_tool: options
                .tool_choice
                .map(|c| c.id)
                .filter(|id| self.tools.contains(id)),
        };

        for _step in 0..settings.max_steps {
            let calls = self
                .model_step(provider.as_ref(), settings, &mut request, sink)
                .await?;
            request.forced_tool = None;
            if calls.is_empty() {
                self.maybe_title(provider.as_ref(), settings, &request, sink)
                    .await;
                return Ok(());
            }
            if !self.run_tools(calls, &mut request.input, sink).await? {
                return Ok(()); // a client tool call ends the turn
            }
        }
        Err(AgentError::TooManySteps(settings.max_steps))
    }

    /// One model call: streams its text as an assistant message (added to the request's input
    /// for the next step) and returns its tool calls.
    async fn model_step<S: Emit>(
        &self,
        provider: &dyn Provider,
        settings: &AgentSettings,
        request: &mut ModelRequest,
        sink: &mut S,
    ) -> Result<Vec<ToolCall>, AgentError> {
        let mut stream = start_stream(provider, settings, request).await?;
        let mut message: Option<(String, ThreadItem)> = None;
        let mut calls = Vec::new();
        while let Some(event) = stream.next().await {
            match event? {
                ModelEvent::TextDelta(delta) => {
                    let (text, item) = match &mut message {
                        Some(open) => open,
                        None => {
                            let item = assistant_item(sink.thread_id(), String::new());
                            sink.emit(ThreadStreamEvent::ItemAdded { item: item.clone() })
                                .await?;
                            sink.emit(content_update(
                                &item.id,
                                ThreadItemUpdate::ContentPartAdded {
                                    content_index: 0,
                                    content: AssistantMessageContent::new(""),
                                },
                            ))
                            .await?;
                            message.insert((String::new(), item))
                        }
                    };
                    text.push_str(&delta);
                    let update = ThreadItemUpdate::ContentPartTextDelta {
                        content_index: 0,
                        delta,
                    };
                    sink.emit(content_update(&item.id, update)).await?;
                }
                ModelEvent::ToolCall(call) => calls.push(call),
                ModelEvent::Usage {
                    prompt_tokens,
                    completion_tokens,
                } => {
                    sink.record_usage(&request.model, prompt_tokens, completion_tokens);
                }
            }
        }
        if let Some((text, mut item)) = message {
            request.input.push(InputItem::Assistant(text.clone()));
            let content = AssistantMessageContent::new(text);
            sink.emit(content_update(
                &item.id,
                ThreadItemUpdate::ContentPartDone {
                    content_index: 0,
                    content: content.clone(),
                },
            ))
            .await?;
            item.body = ItemBody::AssistantMessage(AssistantMessageItem {
                content: vec![content],
            });
            sink.emit(ThreadStreamEvent::ItemDone { item }).await?;
        }
        Ok(calls)
    }

    /// Runs the calls of one step: server tools in parallel, each announced with a progress
    /// update and recorded; a client tool becomes a pending item that ends the turn. Returns
    /// whether the loop goes on.
    async fn run_tools<S: Emit>(
        &self,
        calls: Vec<ToolCall>,
        input: &mut Vec<InputItem>,
        sink: &mut S,
    ) -> Result<bool, AgentError> {
        let mut client_call = None;
        let mut server_calls = Vec::new();
        for call in calls {
            match self.tools.resolve(&call.name) {
                Resolved::Client(_) if client_call.is_none() => client_call = Some(call),
                _ => server_calls.push(call),
            }
        }
        for call in &server_calls {
            if let Resolved::Server(tool) = self.tools.resolve(&call.name) {
                let progress = tool.progress(&parse_arguments(&call.arguments));
                sink.emit(ThreadStreamEvent::ProgressUpdate {
                    icon: Some(progress.icon.into()),
                    text: progress.text,
                })
                .await?;
            }
        }
        let outputs =
            futures_util::future::join_all(server_calls.iter().map(|call| self.call_tool(call)))
                .await;
        input.extend(server_calls.iter().cloned().map(InputItem::ToolCall));
        for (call, (output, duration_ms)) in server_calls.into_iter().zip(outputs) {
            input.push(InputItem::ToolResult {
                call_id: call.call_id.clone(),
                output: output.text.clone(),
            });
            sink.record_tool_call(ToolCallRecord {
                id: ids::new_id(IdKind::ToolCall),
                thread_id: sink.thread_id().to_owned(),
                created_at: ids::now(),
                call_id: call.call_id,
                name: call.name,
                arguments: call.arguments,
                output: output.text,
                is_error: output.is_error,
                content: output.content,
                duration_ms,
            })
            .await?;
        }
        let Some(call) = client_call else {
            return Ok(true);
        };
        let arguments = match parse_arguments(&call.arguments) {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let item = ThreadItem {
            id: ids::new_id(IdKind::ToolCall),
            thread_id: sink.thread_id().to_owned(),
            created_at: ids::now(),
            body: ItemBody::ClientToolCall(ClientToolCallItem {
                status: ClientToolCallStatus::Pending,
                call_id: call.call_id,
                name: call.name,
                arguments,
                output: None,
            }),
        };
        sink.emit(ThreadStreamEvent::ItemDone { item }).await?;
        Ok(false)
    }

    async fn call_tool(&self, call: &ToolCall) -> (ToolOutput, u64) {
        let started = Instant::now();
        let output = match self.tools.resolve(&call.name) {
            Resolved::Server(tool) => {
                match serde_json::from_str::<Value>(if call.arguments.trim().is_empty() {
                    "{}"
                } else {
                    &call.arguments
                }) {
                    Ok(arguments) => tool.call(arguments).await,
                    Err(e) => ToolOutput::error(format!("The arguments are not valid JSON: {e}")),
                }
            }
            Resolved::Client(_) => {
                ToolOutput::error("Only one client tool can run at a time; call it again later.")
            }
            Resolved::Unknown => {
                ToolOutput::error(format!("There is no tool named '{}'.", call.name))
            }
        };
        (
            output,
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        )
    }

    /// Names an untitled thread after its first exchange; a failure only costs the title.
    async fn maybe_title<S: Emit>(
        &self,
        provider: &dyn Provider,
        settings: &AgentSettings,
        request: &ModelRequest,
        sink: &mut S,
    ) {
        if !settings.auto_titles || sink.has_title() {
            return;
        }
        let conversation: Vec<String> = request
            .input
            .iter()
            .filter_map(|item| match item {
                InputItem::User(parts) => parts.iter().find_map(|p| match p {
                    UserPart::Text(t) => Some(format!("User: {t}")),
                    UserPart::Image { .. } => None,
                }),
                InputItem::Assistant(text) => Some(format!("Assistant: {text}")),
                _ => None,
            })
            .collect();
        let title_request = ModelRequest {
            model: request.model.clone(),
            instructions: Some(
                "Write a title of at most six words for this conversation. Answer with the title \
                 only, without quotes."
                    .into(),
            ),
            input: vec![InputItem::User(vec![UserPart::Text(
                conversation.join("\n"),
            )])],
            tools: vec![],
            forced_tool: None,
        };
        match provider.complete(&title_request).await {
            Ok(title) => {
                let title = clean_title(&title);
                if !title.is_empty()
                    && let Err(e) = sink.propose_title(title).await
                {
                    log::warn!("thread {}: saving the title failed: {e}", sink.thread_id());
                }
            }
            Err(e) => log::warn!("thread {}: no title: {e}", sink.thread_id()),
        }
    }
}

/// Opens the model stream, retrying 429/5xx/connect failures with backoff: nothing has been
/// shown yet, so a retry is invisible to the user.
async fn start_stream(
    provider: &dyn Provider,
    settings: &AgentSettings,
    request: &ModelRequest,
) -> Result<llm::ModelStream, LlmError> {
    let mut attempt = 0;
    loop {
        match provider.stream(request).await {
            Err(e) if e.is_retryable() && attempt < settings.max_retries => {
                attempt += 1;
                log::warn!(
                    "model call failed ({e}); retry {attempt} of {}",
                    settings.max_retries
                );
                tokio::time::sleep(settings.retry_backoff * 2u32.saturating_pow(attempt - 1)).await;
            }
            other => return other,
        }
    }
}

fn latest_user_message(history: &[HistoryEntry]) -> Option<&UserMessageItem> {
    history.iter().rev().find_map(|entry| match entry {
        HistoryEntry::Item(ThreadItem {
            body: ItemBody::UserMessage(m),
            ..
        }) => Some(m),
        _ => None,
    })
}

fn assistant_item(thread_id: &str, text: String) -> ThreadItem {
    let content = if text.is_empty() {
        vec![]
    } else {
        vec![AssistantMessageContent::new(text)]
    };
    ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body: ItemBody::AssistantMessage(AssistantMessageItem { content }),
    }
}

fn content_update(item_id: &str, update: ThreadItemUpdate) -> ThreadStreamEvent {
    ThreadStreamEvent::ItemUpdated {
        item_id: item_id.to_owned(),
        update,
    }
}

fn parse_arguments(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or(Value::Null)
}

/// A model's title without quotes, a trailing period, or more than 80 characters.
fn clean_title(raw: &str) -> String {
    let line = raw
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    let trimmed = line
        .trim()
        .trim_matches(|c| matches!(c, '"' | '\'' | '*' | '#'))
        .trim()
        .trim_end_matches('.');
    trimmed.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_cleaned() {
        assert_eq!(clean_title("\"Trip to Oslo.\"\nmore"), "Trip to Oslo");
        assert_eq!(clean_title("## Plans"), "Plans");
        assert_eq!(clean_title(&"x".repeat(200)).len(), 80);
    }
}
