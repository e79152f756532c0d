//! The tool calls a model step makes: server tools run in parallel with their progress shown,
//! a client tool handed to the page, and the questions a turn ends on (a form the model asks
//! for, an approval, an MCP server's question) opened as forms. Also the tools a widget action
//! calls outside any turn.

use crate::chatkit::states::InteractionKind;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;

use super::human::{self, FormSpec, Questions};
use super::llm::{InputItem, ToolCall};
use super::mcp::{InputAnswers, InputRequired};
use super::tools::{Resolved, ToolOutput, ToolRegistry};
use super::widgets::Ui;
use super::{ActionOutcome, Agent, AgentError, Emit, PendingInteraction, Stop, new_item};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::ToolCallRecord;
use crate::chatkit::types::{
    ClientToolCallItem, ClientToolCallStatus, ItemBody, ThreadItem, ThreadStreamEvent, WidgetItem,
};
use crate::chatkit::widgets::{WidgetComponent, WidgetRoot};

impl Agent {
    /// The tools of this run: ours, and those of every MCP server that answers. A server that
    /// is down costs only its own tools; the returned notes tell the model which are missing.
    pub(super) async fn run_tools_registry(&self) -> (ToolRegistry, Vec<String>) {
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
                        "The tools of the '{}' service are unavailable right now (it {}); tell \
                         the user if they need them.",
                        server.settings().name,
                        e.what_happened()
                    ));
                }
            }
        }
        registry.add_mcp_tools(listed);
        (registry, notes)
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
}

/// Runs the calls of one step: server tools in parallel, each announced with a progress update
/// (and the tool's own progress reports), recorded, and shown as widgets where the result has
/// some; a client tool becomes a pending item that ends the turn. Returns whether the loop
/// goes on.
pub(super) async fn run_tools<S: Emit>(
    tools: &ToolRegistry,
    approval_tools: &[String],
    calls: Vec<ToolCall>,
    input: &mut Vec<InputItem>,
    sink: &mut S,
) -> Result<bool, AgentError> {
    let mut client_call = None;
    let mut human_call = None;
    let mut questions_call = None;
    let mut approval_call = None;
    let mut refused = Vec::new();
    let mut server_calls = Vec::new();
    for call in calls {
        let paused = client_call.is_some()
            || human_call.is_some()
            || approval_call.is_some()
            || questions_call.is_some();
        match tools.resolve(&call.name) {
            Resolved::Server(tool)
                if tool.asks_human()
                    && !paused
                    && call.name == human::QUESTIONS_TOOL
                    && Questions::parse(&parse_arguments(&call.arguments)).is_ok() =>
            {
                questions_call = Some(call)
            }
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
        announce(tools, call, sink).await?;
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
    let paused = human_call.is_some()
        || approval_call.is_some()
        || client_call.is_some()
        || questions_call.is_some();
    let mut elicited = None;
    input.extend(server_calls.iter().cloned().map(InputItem::ToolCall));
    for (call, (mut output, duration_ms)) in server_calls.into_iter().zip(outputs) {
        if let Some(required) = output.input_required.take() {
            match elicitation(&call, required) {
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
        finish_call(call, output, duration_ms, None, input, sink).await?;
    }
    for call in refused {
        let output = ToolOutput::error(
            "This tool needs the user's approval, one call at a time; call it again after the \
             pending approval is answered.",
        );
        input.push(InputItem::ToolCall(call.clone()));
        finish_call(call, output, 0, None, input, sink).await?;
    }
    if let Some((call, elicitation)) = elicited {
        ask_elicitation(call, elicitation, sink).await?;
        return Ok(false);
    }
    if let Some(call) = human_call {
        ask_human(call, sink).await?;
        return Ok(false);
    }
    if let Some(call) = questions_call {
        ask_questions(call, sink).await?;
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

/// Runs a call the user approved (or calls again one whose question they answered), shows
/// its widgets, records it (dated when the model asked) and adds it to the model's input.
/// Returns `false` when the tool asked another question (shown; the turn ends).
pub(super) async fn run_resumed<S: Emit>(
    tools: &ToolRegistry,
    call: &ToolCall,
    asked_at: chrono::DateTime<chrono::Utc>,
    answers: Option<InputAnswers>,
    note: Option<&str>,
    input: &mut Vec<InputItem>,
    sink: &mut S,
) -> Result<bool, AgentError> {
    announce(tools, call, sink).await?;
    let (progress, _) = mpsc::unbounded_channel();
    let (mut output, duration_ms) = call_tool(tools, call, answers, progress).await;
    if let Some(required) = output.input_required.take() {
        match elicitation(call, required) {
            Ok(elicitation) => {
                ask_elicitation(call.clone(), elicitation, sink).await?;
                return Ok(false);
            }
            Err(problem) => output = ToolOutput::error(problem),
        }
    }
    if let Some(note) = note {
        output.text = format!("{}\n\n{}{note}", output.text, human::APPROVER_NOTE);
    }
    input.push(InputItem::ToolCall(call.clone()));
    finish_call(
        call.clone(),
        output,
        duration_ms,
        Some(asked_at),
        input,
        sink,
    )
    .await?;
    Ok(true)
}

/// Shows the progress line of a server tool's call before it runs.
async fn announce<S: Emit>(
    tools: &ToolRegistry,
    call: &ToolCall,
    sink: &mut S,
) -> Result<(), Stop> {
    if let Resolved::Server(tool) = tools.resolve(&call.name) {
        let progress = tool.progress(&parse_arguments(&call.arguments));
        sink.emit(ThreadStreamEvent::ProgressUpdate {
            icon: Some(progress.icon.into()),
            text: progress.text,
        })
        .await?;
    }
    Ok(())
}

/// The question a call's `input_required` result asks, as a form; the error is what the model
/// is told instead.
fn elicitation(call: &ToolCall, required: InputRequired) -> Result<human::Elicitation, String> {
    let live = required.live;
    human::elicitation_of(&call.name, &required.requests, required.request_state)
        .map(|e| human::Elicitation { live, ..e })
}

/// Gives the model a finished call's result (after its call, which the caller added), shows
/// the result's widgets and keeps the call's record, dated `asked_at` or else now.
async fn finish_call<S: Emit>(
    call: ToolCall,
    output: ToolOutput,
    duration_ms: u64,
    asked_at: Option<chrono::DateTime<chrono::Utc>>,
    input: &mut Vec<InputItem>,
    sink: &mut S,
) -> Result<(), Stop> {
    input.push(InputItem::ToolResult {
        call_id: call.call_id.clone(),
        output: output.text.clone(),
    });
    for ui in &output.ui {
        let item = widget_item(sink.thread_id(), ui, &output.text);
        sink.emit(ThreadStreamEvent::ItemDone { item }).await?;
    }
    let record = call_record(sink.thread_id(), call, output, duration_ms);
    sink.record_tool_call(ToolCallRecord {
        created_at: asked_at.unwrap_or(record.created_at),
        ..record
    })
    .await
}

/// Shows the form a `request_human_input` call asks for and keeps the question.
async fn ask_human<S: Emit>(call: ToolCall, sink: &mut S) -> Result<(), AgentError> {
    let spec =
        FormSpec::parse(&parse_arguments(&call.arguments)).map_err(AgentError::ActionFailed)?;
    let widget = |id: &str| {
        human::form_widget(
            id,
            InteractionKind::Form,
            &spec,
            &Value::Null,
            &Default::default(),
        )
    };
    open_form(
        call,
        Question::new(InteractionKind::Form, &spec),
        widget,
        sink,
    )
    .await
}

/// Shows an `ask_user_questions` call's questions as a pending `structured_input` item and
/// keeps them as an interaction (with the questions as a form), so the answer can resume the
/// run with the call's result.
async fn ask_questions<S: Emit>(call: ToolCall, sink: &mut S) -> Result<(), AgentError> {
    let questions =
        Questions::parse(&parse_arguments(&call.arguments)).map_err(AgentError::ActionFailed)?;
    let created_at = ids::now();
    let item = new_item(
        sink.thread_id(),
        ItemBody::StructuredInput(questions.item()),
    );
    let schema = serde_json::to_value(questions.form_spec())
        .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?;
    sink.open_interaction(PendingInteraction {
        id: ids::new_id(IdKind::Interaction),
        item,
        call,
        kind: InteractionKind::Form,
        schema,
        details: Some(human::questions_details()),
        expires_in: None,
        created_at,
    })
    .await?;
    Ok(())
}

/// Shows the Approve / Deny form of a call that needs the user's approval, and keeps it.
async fn ask_approval<S: Emit>(call: ToolCall, sink: &mut S) -> Result<(), AgentError> {
    let arguments = parse_arguments(&call.arguments);
    let spec = human::approval_spec(&call.name, &arguments);
    let tool = call.name.clone();
    let widget = |id: &str| human::approval_widget(id, &tool, &arguments);
    open_form(
        call,
        Question::new(InteractionKind::Approval, &spec),
        widget,
        sink,
    )
    .await
}

/// Shows an MCP server's question as a form and keeps it with what the re-call needs.
async fn ask_elicitation<S: Emit>(
    call: ToolCall,
    elicitation: human::Elicitation,
    sink: &mut S,
) -> Result<(), AgentError> {
    let spec = &elicitation.spec;
    let question = Question {
        details: Some(elicitation.details()),
        expires_in: elicitation.live.as_ref().map(|(_, deadline)| *deadline),
        ..Question::new(InteractionKind::Elicitation, spec)
    };
    let widget = |id: &str| {
        human::form_widget(
            id,
            InteractionKind::Elicitation,
            spec,
            &Value::Null,
            &Default::default(),
        )
    };
    open_form(call, question, widget, sink).await
}

/// What sets the questions a turn can end on apart (see [`PendingInteraction`]).
struct Question<'a> {
    kind: InteractionKind,
    /// What is asked; the interaction keeps it as its schema.
    spec: &'a FormSpec,
    details: Option<Value>,
    expires_in: Option<Duration>,
}

impl<'a> Question<'a> {
    /// A question with no details that waits the server's default time.
    fn new(kind: InteractionKind, spec: &'a FormSpec) -> Self {
        Question {
            kind,
            spec,
            details: None,
            expires_in: None,
        }
    }
}

/// Shows a question's form (`widget` builds it around the interaction's id, which its actions
/// carry) and keeps the question; the turn ends after it. The call's record is written when
/// the answer comes, so the model never sees a call without a result.
async fn open_form<S: Emit>(
    call: ToolCall,
    question: Question<'_>,
    widget: impl FnOnce(&str) -> WidgetRoot,
    sink: &mut S,
) -> Result<(), AgentError> {
    let id = ids::new_id(IdKind::Interaction);
    let created_at = ids::now();
    let copy_text = human::copy_text(question.spec, None);
    let item = new_item(
        sink.thread_id(),
        ItemBody::Widget(WidgetItem {
            widget: widget(&id),
            copy_text: Some(copy_text),
        }),
    );
    let schema = serde_json::to_value(question.spec)
        .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?;
    sink.open_interaction(PendingInteraction {
        id,
        item,
        call,
        kind: question.kind,
        schema,
        details: question.details,
        expires_in: question.expires_in,
        created_at,
    })
    .await?;
    Ok(())
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
    new_item(
        thread_id,
        ItemBody::Widget(WidgetItem { widget, copy_text }),
    )
}

/// A call's arguments as JSON; `null` when they are not JSON.
fn parse_arguments(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or(Value::Null)
}
