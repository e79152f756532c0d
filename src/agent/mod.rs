//! The agent: what produces the assistant's side of a turn. It streams the model, runs the
//! tools the model calls, and loops until a final answer. It sees protocol types and an
//! [`Emit`] sink, never the store or HTTP, so the run machinery decides what is persisted.

pub mod human;
mod input;
pub mod llm;
pub mod mcp;
pub mod tools;
pub mod widgets;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;

use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::{HistoryEntry, ToolCallRecord};
use crate::chatkit::types::WidgetItem;
use crate::chatkit::types::{
    AssistantMessageContent, AssistantMessageItem, ClientToolCallItem, ClientToolCallStatus,
    ItemBody, ThreadItem, ThreadItemUpdate, ThreadStreamEvent, UserMessageItem,
};
use crate::chatkit::widgets::{WidgetComponent, WidgetRoot};
use human::FormSpec;
pub use input::{FileContent, ModelFile, ModelFiles, TEXT_INLINE_CAP};
use llm::{Endpoints, InputItem, LlmError, ModelEvent, ModelRequest, Provider, ToolCall, UserPart};
use mcp::{InputAnswers, McpServer};
use tokio::sync::mpsc;
use tools::{Resolved, ToolOutput, ToolRegistry};
use widgets::Ui;

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
    /// `form`, `approval` or `elicitation`.
    pub kind: &'static str,
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
    pub instructions: Option<&'a str>,
    pub base_url: Option<&'a str>,
    pub api_key: Option<&'a str>,
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

    /// The tools of this run: ours, and those of every MCP server that answers. A server that
    /// is down costs only its own tools; the returned notes tell the model which are missing.
    async fn run_tools_registry(&self) -> (ToolRegistry, Vec<String>) {
        let listings = futures_util::future::join_all(
            self.mcp
                .iter()
                .filter(|s| s.settings().enabled)
                .map(|server| async move { (server.clone(), server.list_tools().await) }),
        )
        .await;
        let mut registry = self.tools.clone();
        let mut listed = Vec::new();
        let mut notes = Vec::new();
        for (server, tools) in listings {
            match tools {
                Ok(tools) => listed.push((server, tools)),
                Err(e) => {
                    log::warn!("{e}");
                    notes.push(format!(
                        "The tools of the '{}' service are unavailable right now ({e}); tell the \
                         user if they need them.",
                        server.settings().name
                    ));
                }
            }
        }
        registry.add_mcp_tools(listed);
        (registry, notes)
    }

    /// Whether a model answers (without one, turns end with [`AgentError::NoModel`]).
    pub fn has_model(&self) -> bool {
        self.model.is_some()
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

    /// This agent with what an agent's own settings give: model, instructions, endpoint.
    /// An endpoint that cannot be set up is logged and the server's is used.
    pub fn overridden(&self, own: &Overrides<'_>) -> Agent {
        let mut agent = self.clone();
        if let Some((provider, settings)) = &mut agent.model {
            if let Some(model) = own.model {
                settings.model = model.to_owned();
            }
            if let Some(instructions) = own.instructions {
                settings.instructions = Some(instructions.to_owned());
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

    /// Calls the tool a widget action names, outside any model turn. Its first widget replaces
    /// the sender (same id and place); further widgets are new items.
    pub async fn tool_action(
        &self,
        thread_id: &str,
        sender: Option<&ThreadItem>,
        tool: &str,
        arguments: serde_json::Map<String, Value>,
    ) -> Result<ActionOutcome, AgentError> {
        let (tools, _) = self.run_tools_registry().await;
        let Resolved::Server(_) = tools.resolve(tool) else {
            return Err(AgentError::ActionFailed(format!(
                "there is no tool named '{tool}'"
            )));
        };
        let call = ToolCall {
            call_id: ids::new_id(IdKind::ToolCall),
            name: tool.to_owned(),
            arguments: Value::Object(arguments).to_string(),
        };
        let (progress, _) = mpsc::unbounded_channel();
        let (output, duration_ms) = call_tool(&tools, &call, None, progress).await;
        if output.input_required.is_some() {
            return Err(AgentError::ActionFailed(
                "the tool asks for the user's input, which a widget action cannot give".into(),
            ));
        }
        if output.is_error && output.ui.is_empty() {
            return Err(AgentError::ActionFailed(output.text));
        }
        let mut events = Vec::new();
        for (n, ui) in output.ui.iter().enumerate() {
            let mut item = widget_item(thread_id, ui, &output.text);
            match sender {
                Some(sender) if n == 0 => {
                    item.id = sender.id.clone();
                    item.created_at = sender.created_at;
                    events.push(ThreadStreamEvent::ItemReplaced { item });
                }
                _ => events.push(ThreadStreamEvent::ItemDone { item }),
            }
        }
        let record = call_record(thread_id, call, output, duration_ms);
        Ok(ActionOutcome { events, record })
    }

    /// Runs one turn over `history` (which already holds the turn's user message).
    /// Runs one turn over `history` (which already holds the turn's user message), whose
    /// attachments the caller loaded into `files`.
    pub async fn respond<S: Emit>(
        &self,
        sink: &mut S,
        history: &[HistoryEntry],
        files: &ModelFiles,
        input: &TurnInput,
    ) -> Result<(), AgentError> {
        match input {
            TurnInput::Action { action_type } => {
                return Err(AgentError::NoActionHandler(action_type.clone()));
            }
            TurnInput::ToolAction {
                sender,
                tool,
                arguments,
            } => {
                let outcome = self
                    .tool_action(sink.thread_id(), sender.as_ref(), tool, arguments.clone())
                    .await?;
                for event in outcome.events {
                    sink.emit(event).await?;
                }
                return Ok(sink.record_tool_call(outcome.record).await?);
            }
            TurnInput::UserMessage(_)
            | TurnInput::Continue
            | TurnInput::Approved { .. }
            | TurnInput::Elicited { .. } => {}
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
        // Known before any token: a failed run still says which model it used.
        sink.record_usage(&model, 0, 0);
        let (tools, notes) = self.run_tools_registry().await;
        let instructions = match (&settings.instructions, notes.is_empty()) {
            (base, true) => base.clone(),
            (base, false) => Some(
                base.iter()
                    .cloned()
                    .chain(notes)
                    .collect::<Vec<_>>()
                    .join("\n\n"),
            ),
        };
        let mut request = ModelRequest {
            model,
            instructions,
            input: input::model_input(history, files),
            tools: tools.specs(),
            forced_tool: options
                .tool_choice
                .map(|c| c.id)
                .filter(|id| tools.contains(id)),
        };

        let resumed = match input {
            TurnInput::Approved { call, asked_at } => Some((call, *asked_at, None)),
            TurnInput::Elicited {
                call,
                asked_at,
                answers,
            } => Some((call, *asked_at, Some(answers.clone()))),
            _ => None,
        };
        if let Some((call, asked_at, answers)) = resumed
            && !run_resumed(&tools, call, asked_at, answers, &mut request.input, sink).await?
        {
            return Ok(()); // the tool asked again
        }
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
            if !run_tools(
                &tools,
                &settings.approval_tools,
                calls,
                &mut request.input,
                sink,
            )
            .await?
            {
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

/// Runs the calls of one step: server tools in parallel, each announced with a progress update
/// (and the tool's own progress reports), recorded, and shown as widgets where the result has
/// some; a client tool becomes a pending item that ends the turn. Returns whether the loop
/// goes on.
async fn run_tools<S: Emit>(
    tools: &ToolRegistry,
    approval_tools: &[String],
    calls: Vec<ToolCall>,
    input: &mut Vec<InputItem>,
    sink: &mut S,
) -> Result<bool, AgentError> {
    let mut client_call = None;
    let mut human_call = None;
    let mut approval_call = None;
    let mut refused = Vec::new();
    let mut server_calls = Vec::new();
    for call in calls {
        let paused = client_call.is_some() || human_call.is_some() || approval_call.is_some();
        match tools.resolve(&call.name) {
            Resolved::Server(tool)
                if !tool.asks_human() && !paused && approval_tools.contains(&call.name) =>
            {
                approval_call = Some(call)
            }
            // Only one pause per step: a further call that needs approval is refused.
            Resolved::Server(_) if approval_tools.contains(&call.name) => refused.push(call),
            Resolved::Client(_) if !paused => client_call = Some(call),
            Resolved::Server(tool)
                if tool.asks_human()
                    && !paused
                    && FormSpec::parse(&parse_arguments(&call.arguments)).is_ok() =>
            {
                human_call = Some(call)
            }
            _ => server_calls.push(call),
        }
    }
    for call in &server_calls {
        if let Resolved::Server(tool) = tools.resolve(&call.name) {
            let progress = tool.progress(&parse_arguments(&call.arguments));
            sink.emit(ThreadStreamEvent::ProgressUpdate {
                icon: Some(progress.icon.into()),
                text: progress.text,
            })
            .await?;
        }
    }
    let (progress_tx, mut progress_rx) = mpsc::unbounded_channel();
    let outputs = {
        let calls = futures_util::future::join_all(
            server_calls
                .iter()
                .map(|call| call_tool(tools, call, None, progress_tx.clone())),
        );
        drop(progress_tx);
        tokio::pin!(calls);
        loop {
            tokio::select! {
                outputs = &mut calls => break outputs,
                Some(text) = progress_rx.recv() => {
                    sink.emit(ThreadStreamEvent::ProgressUpdate { icon: Some("bolt".into()), text }).await?;
                }
            }
        }
    };
    let paused = human_call.is_some() || approval_call.is_some() || client_call.is_some();
    let mut elicited = None;
    input.extend(server_calls.iter().cloned().map(InputItem::ToolCall));
    for (call, (mut output, duration_ms)) in server_calls.into_iter().zip(outputs) {
        if let Some(required) = output.input_required.take() {
            let live = required.live.clone();
            match human::elicitation_of(&call.name, &required.requests, required.request_state)
                .map(|e| human::Elicitation { live, ..e })
            {
                Ok(elicitation) if !paused && elicited.is_none() => {
                    // Recorded once the user answered and the tool was called again.
                    elicited = Some((call, elicitation));
                    continue;
                }
                Ok(_) => {
                    output = ToolOutput::error(
                        "The tool asked for the user's input while another question was open; \
                         call it again after that one is answered.",
                    )
                }
                Err(problem) => output = ToolOutput::error(problem),
            }
        }
        input.push(InputItem::ToolResult {
            call_id: call.call_id.clone(),
            output: output.text.clone(),
        });
        for ui in &output.ui {
            let item = widget_item(sink.thread_id(), ui, &output.text);
            sink.emit(ThreadStreamEvent::ItemDone { item }).await?;
        }
        let record = call_record(sink.thread_id(), call, output, duration_ms);
        sink.record_tool_call(record).await?;
    }
    for call in refused {
        let output = ToolOutput::error(
            "This tool needs the user's approval, one call at a time; call it again after the \
             pending approval is answered.",
        );
        input.push(InputItem::ToolCall(call.clone()));
        input.push(InputItem::ToolResult {
            call_id: call.call_id.clone(),
            output: output.text.clone(),
        });
        let record = call_record(sink.thread_id(), call, output, 0);
        sink.record_tool_call(record).await?;
    }
    if let Some((call, elicitation)) = elicited {
        ask_elicitation(call, elicitation, sink).await?;
        return Ok(false);
    }
    if let Some(call) = human_call {
        ask_human(call, sink).await?;
        return Ok(false);
    }
    if let Some(call) = approval_call {
        ask_approval(call, sink).await?;
        return Ok(false);
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

/// Shows the form a `request_human_input` call asks for and keeps the question; its record
/// is written when the answer comes, so the model never sees a call without a result.
async fn ask_human<S: Emit>(call: ToolCall, sink: &mut S) -> Result<(), AgentError> {
    let arguments = parse_arguments(&call.arguments);
    let spec = FormSpec::parse(&arguments).map_err(AgentError::ActionFailed)?;
    let id = ids::new_id(IdKind::Interaction);
    let created_at = ids::now();
    let widget = human::form_widget(&id, "form", &spec, &Value::Null, &Default::default());
    let item = ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: sink.thread_id().to_owned(),
        created_at: ids::now(),
        body: ItemBody::Widget(WidgetItem {
            widget,
            copy_text: Some(human::copy_text(&spec, None)),
        }),
    };
    let schema = serde_json::to_value(&spec)
        .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?;
    sink.open_interaction(PendingInteraction {
        id,
        item,
        call,
        kind: "form",
        schema,
        details: None,
        expires_in: None,
        created_at,
    })
    .await?;
    Ok(())
}

/// Shows the Approve / Deny form of a call that needs the user's approval, and keeps it.
async fn ask_approval<S: Emit>(call: ToolCall, sink: &mut S) -> Result<(), AgentError> {
    let id = ids::new_id(IdKind::Interaction);
    let created_at = ids::now();
    let arguments = parse_arguments(&call.arguments);
    let spec = human::approval_spec(&call.name, &arguments);
    let item = ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: sink.thread_id().to_owned(),
        created_at: ids::now(),
        body: ItemBody::Widget(WidgetItem {
            widget: human::approval_widget(&id, &call.name, &arguments),
            copy_text: Some(human::copy_text(&spec, None)),
        }),
    };
    let schema = serde_json::to_value(&spec)
        .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?;
    sink.open_interaction(PendingInteraction {
        id,
        item,
        call,
        kind: "approval",
        schema,
        details: None,
        expires_in: None,
        created_at,
    })
    .await?;
    Ok(())
}

/// Shows an MCP server's question as a form and keeps it with what the re-call needs.
async fn ask_elicitation<S: Emit>(
    call: ToolCall,
    elicitation: human::Elicitation,
    sink: &mut S,
) -> Result<(), AgentError> {
    let id = ids::new_id(IdKind::Interaction);
    let created_at = ids::now();
    let spec = &elicitation.spec;
    let item = ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: sink.thread_id().to_owned(),
        created_at: ids::now(),
        body: ItemBody::Widget(WidgetItem {
            widget: human::form_widget(&id, "elicitation", spec, &Value::Null, &Default::default()),
            copy_text: Some(human::copy_text(spec, None)),
        }),
    };
    let schema = serde_json::to_value(spec)
        .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?;
    sink.open_interaction(PendingInteraction {
        id,
        item,
        call,
        kind: "elicitation",
        schema,
        details: Some(elicitation.details()),
        expires_in: elicitation.live.as_ref().map(|(_, deadline)| *deadline),
        created_at,
    })
    .await?;
    Ok(())
}

/// Runs a call the user approved (or calls again one whose question they answered), shows
/// its widgets, records it (dated when the model asked) and adds it to the model's input.
/// Returns `false` when the tool asked another question (shown; the turn ends).
async fn run_resumed<S: Emit>(
    tools: &ToolRegistry,
    call: &ToolCall,
    asked_at: chrono::DateTime<chrono::Utc>,
    answers: Option<InputAnswers>,
    input: &mut Vec<InputItem>,
    sink: &mut S,
) -> Result<bool, AgentError> {
    if let Resolved::Server(tool) = tools.resolve(&call.name) {
        let progress = tool.progress(&parse_arguments(&call.arguments));
        sink.emit(ThreadStreamEvent::ProgressUpdate {
            icon: Some(progress.icon.into()),
            text: progress.text,
        })
        .await?;
    }
    let (progress, _) = mpsc::unbounded_channel();
    let (mut output, duration_ms) = call_tool(tools, call, answers, progress).await;
    if let Some(required) = output.input_required.take() {
        let live = required.live.clone();
        match human::elicitation_of(&call.name, &required.requests, required.request_state)
            .map(|e| human::Elicitation { live, ..e })
        {
            Ok(elicitation) => {
                ask_elicitation(call.clone(), elicitation, sink).await?;
                return Ok(false);
            }
            Err(problem) => output = ToolOutput::error(problem),
        }
    }
    input.push(InputItem::ToolCall(call.clone()));
    input.push(InputItem::ToolResult {
        call_id: call.call_id.clone(),
        output: output.text.clone(),
    });
    for ui in &output.ui {
        let item = widget_item(sink.thread_id(), ui, &output.text);
        sink.emit(ThreadStreamEvent::ItemDone { item }).await?;
    }
    let record = call_record(sink.thread_id(), call.clone(), output, duration_ms);
    sink.record_tool_call(ToolCallRecord {
        created_at: asked_at,
        ..record
    })
    .await?;
    Ok(true)
}

/// The record of a finished call, made now.
fn call_record(
    thread_id: &str,
    call: ToolCall,
    output: ToolOutput,
    duration_ms: u64,
) -> ToolCallRecord {
    ToolCallRecord {
        id: ids::new_id(IdKind::ToolCall),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        call_id: call.call_id,
        name: call.name,
        arguments: call.arguments,
        output: output.text,
        is_error: output.is_error,
        content: output.content,
        duration_ms,
    }
}

/// Runs one call and times it; every failure is a result the model reads.
async fn call_tool(
    tools: &ToolRegistry,
    call: &ToolCall,
    answers: Option<InputAnswers>,
    progress: mpsc::UnboundedSender<String>,
) -> (ToolOutput, u64) {
    let started = Instant::now();
    let output = match tools.resolve(&call.name) {
        Resolved::Server(tool) => {
            let raw = if call.arguments.trim().is_empty() {
                "{}"
            } else {
                &call.arguments
            };
            match serde_json::from_str::<Value>(raw) {
                Ok(arguments) => match answers {
                    Some(answers) => tool.call_with_answers(arguments, answers, progress).await,
                    None => tool.call(arguments, progress).await,
                },
                Err(e) => ToolOutput::error(format!("The arguments are not valid JSON: {e}")),
            }
        }
        Resolved::Client(_) => {
            ToolOutput::error("Only one client tool can run at a time; call it again later.")
        }
        Resolved::Unknown => ToolOutput::error(format!("There is no tool named '{}'.", call.name)),
    };
    (
        output,
        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    )
}

/// The widget item of a tool result's UI. An HTML view is not rendered: the item says it
/// exists and carries the tool's text to copy.
fn widget_item(thread_id: &str, ui: &Ui, tool_text: &str) -> ThreadItem {
    let (widget, copy_text) = match ui {
        Ui::Widget(w) => (w.widget.clone(), w.copy_text.clone()),
        Ui::HtmlView { uri } => (
            WidgetRoot::card(vec![
                WidgetComponent::new("Title").with_prop("value", "Interactive view available"),
                WidgetComponent::new("Text").with_prop(
                    "value",
                    format!("The tool offered an interactive view ({uri}) that this chat cannot display."),
                ),
            ]),
            Some(tool_text.to_owned()),
        ),
    };
    ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body: ItemBody::Widget(WidgetItem { widget, copy_text }),
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
