//! The tools an agent offers the model: tools the server runs (built-in now, MCP tools later)
//! behind one trait, and client tools the ChatKit page runs.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::llm::ToolSpec;
use super::mcp::{InputAnswers, InputRequired, McpResponse, McpResult, McpServer, McpToolInfo};
use super::widgets::{self, Ui};

/// What a tool call gave back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    /// What the model is given.
    pub text: String,
    pub is_error: bool,
    /// The raw result (e.g. an MCP content array) kept for operators.
    pub content: Option<Value>,
    /// What the result shows the user (widgets, or HTML views that stay unrendered).
    pub ui: Vec<Ui>,
    /// The tool cannot finish without the user's input (MCP `input_required`).
    pub input_required: Option<InputRequired>,
}

impl ToolOutput {
    pub fn ok(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            is_error: false,
            content: None,
            ui: Vec::new(),
            input_required: None,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            is_error: true,
            content: None,
            ui: Vec::new(),
            input_required: None,
        }
    }
}

/// The status line shown while a tool runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub icon: &'static str,
    pub text: String,
}

/// A tool the server runs.
pub trait Tool: Send + Sync {
    fn spec(&self) -> &ToolSpec;

    /// What the user sees while the call runs, e.g. `Searching for "x"…`.
    fn progress(&self, _arguments: &Value) -> Progress {
        Progress {
            icon: "bolt",
            text: format!("Running {}…", self.spec().name),
        }
    }

    /// Whether a call asks a person (`request_human_input`): the loop then shows a form and
    /// ends the turn instead of calling [`Tool::call`].
    fn asks_human(&self) -> bool {
        false
    }

    /// Runs the call; failures are results with `is_error`, never a dead run. Progress
    /// messages the tool reports go to `progress`.
    fn call<'a>(
        &'a self,
        arguments: Value,
        progress: mpsc::UnboundedSender<String>,
    ) -> BoxFuture<'a, ToolOutput>;

    /// Calls again with the user's answers to the input the last call required.
    fn call_with_answers<'a>(
        &'a self,
        _arguments: Value,
        _answers: InputAnswers,
        _progress: mpsc::UnboundedSender<String>,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async { ToolOutput::error("This tool does not take answers.") })
    }
}

/// What a model's tool name refers to.
pub enum Resolved<'a> {
    Server(&'a Arc<dyn Tool>),
    Client(&'a ToolSpec),
    Unknown,
}

/// The tools of one agent, with names unique across kinds.
#[derive(Default, Clone)]
pub struct ToolRegistry {
    server: Vec<Arc<dyn Tool>>,
    client: Vec<ToolSpec>,
}

impl ToolRegistry {
    pub fn new(server: Vec<Arc<dyn Tool>>, client: Vec<ToolSpec>) -> Self {
        ToolRegistry { server, client }
    }

    /// Every tool, as the model is told of them.
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.server
            .iter()
            .map(|t| t.spec().clone())
            .chain(self.client.iter().cloned())
            .collect()
    }

    pub fn resolve(&self, name: &str) -> Resolved<'_> {
        if let Some(tool) = self.server.iter().find(|t| t.spec().name == name) {
            return Resolved::Server(tool);
        }
        match self.client.iter().find(|t| t.name == name) {
            Some(spec) => Resolved::Client(spec),
            None => Resolved::Unknown,
        }
    }

    /// These tools with `client` as the client's tools instead of the present ones.
    pub fn with_client_tools(mut self, client: Vec<ToolSpec>) -> Self {
        self.client = client;
        self
    }

    /// These tools with the built-in form tool (`request_human_input`) added if missing.
    pub fn with_human_input(mut self) -> Self {
        if !self
            .server
            .iter()
            .any(|t| t.spec().name == super::human::TOOL_NAME)
        {
            self.server.push(Arc::new(AskHuman::form()));
        }
        self
    }

    /// These tools without the built-in ones that ask a person (forms and questions); tools
    /// that need approval still ask, since that is the operator's rule, not the model's wish.
    pub fn without_human_input(mut self) -> Self {
        self.server.retain(|t| !t.asks_human());
        self
    }

    pub fn contains(&self, name: &str) -> bool {
        !matches!(self.resolve(name), Resolved::Unknown)
    }

    /// Adds MCP tools, naming each so that names stay unique: a tool keeps its own name unless
    /// another tool has it too, then it becomes `<server>__<tool>`.
    pub fn add_mcp_tools(&mut self, listed: Vec<(Arc<McpServer>, Vec<McpToolInfo>)>) {
        let offered: Vec<(Arc<McpServer>, Vec<McpToolInfo>)> = listed
            .into_iter()
            .map(|(server, tools)| {
                let allowed = server.settings().allowed_tools.clone();
                let tools = tools
                    .into_iter()
                    .filter(|t| {
                        allowed
                            .as_ref()
                            .is_none_or(|allowed| allowed.contains(&t.name))
                    })
                    .collect();
                (server, tools)
            })
            .collect();
        let mut seen: HashMap<String, usize> = HashMap::new();
        let ours = self
            .server
            .iter()
            .map(|t| t.spec().name.clone())
            .chain(self.client.iter().map(|t| t.name.clone()));
        let theirs = offered
            .iter()
            .flat_map(|(_, tools)| tools.iter().map(|t| model_name(&t.name)));
        for name in ours.chain(theirs) {
            *seen.entry(name).or_default() += 1;
        }
        for (server, tools) in offered {
            for tool in tools {
                let plain = model_name(&tool.name);
                let name = if seen.get(&plain).copied().unwrap_or(0) > 1 {
                    model_name(&format!("{}__{}", server.settings().name, tool.name))
                } else {
                    plain
                };
                let spec = ToolSpec {
                    name,
                    description: tool.description.clone(),
                    parameters: tool.input_schema.clone().into(),
                };
                self.server.push(Arc::new(McpTool {
                    server: server.clone(),
                    tool: tool.name,
                    spec,
                }));
            }
        }
    }
}

/// A name the model accepts: letters, digits, `_` and `-`, at most 64.
fn model_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect()
}

/// A tool of an MCP server.
struct McpTool {
    server: Arc<McpServer>,
    /// The server's name for it.
    tool: String,
    spec: ToolSpec,
}

/// Most resource links of one result that are followed to find widgets.
const MAX_LINK_READS: usize = 4;

impl Tool for McpTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call<'a>(
        &'a self,
        arguments: Value,
        progress: mpsc::UnboundedSender<String>,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(self.run(arguments, None, progress))
    }

    fn call_with_answers<'a>(
        &'a self,
        arguments: Value,
        answers: InputAnswers,
        progress: mpsc::UnboundedSender<String>,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move { self.run(arguments, Some(answers), progress).await })
    }
}

impl McpTool {
    async fn run(
        &self,
        arguments: Value,
        answers: Option<InputAnswers>,
        progress: mpsc::UnboundedSender<String>,
    ) -> ToolOutput {
        {
            let arguments = match arguments {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                other => {
                    return ToolOutput::error(format!(
                        "The arguments must be a JSON object, not {other}"
                    ));
                }
            };
            let started = std::time::Instant::now();
            let response = match answers {
                Some(InputAnswers {
                    live: Some(token),
                    responses,
                    ..
                }) => {
                    let answer = responses.into_iter().next().map(|(_, a)| a);
                    let answer = answer.unwrap_or_else(|| serde_json::json!({"action": "cancel"}));
                    let parked = &self.server.parked;
                    parked.resume(&self.server, &token, answer, &progress).await
                }
                answers => {
                    let response = self
                        .server
                        .call_tool(&self.tool, arguments, answers.as_ref(), &progress)
                        .await;
                    if let Ok(response) = &response {
                        self.server.parked.note(&self.server, response).await;
                    }
                    response
                }
            };
            let outcome = match &response {
                Ok(McpResponse::Complete(result)) if result.is_error => "tool_error",
                Ok(McpResponse::Complete(_)) => "ok",
                Ok(McpResponse::InputRequired(_)) => "input_required",
                Err(_) => "error",
            };
            let server = &self.server.settings().name;
            crate::observe::metrics::mcp_call(server, &self.tool, outcome, started.elapsed());
            match response {
                Ok(McpResponse::Complete(result)) => self.output(result).await,
                Ok(McpResponse::InputRequired(required)) => ToolOutput {
                    input_required: Some(required),
                    ..ToolOutput::ok("The tool needs the user's input.")
                },
                Err(e) => {
                    log::warn!("{e}");
                    ToolOutput::error(format!("The tool could not run: {}.", e.plain()))
                }
            }
        }
    }

    /// What the model and the user get from a result: the model reads text (never widget
    /// JSON), the user sees the widgets.
    async fn output(&self, result: McpResult) -> ToolOutput {
        let first_text = result
            .content
            .iter()
            .find_map(|b| (b["type"] == "text").then(|| b["text"].as_str()).flatten());
        let mut ui = widgets::from_content(&result.content, first_text);
        let mut read = 0;
        for block in &result.content {
            let is_widget_link = block["type"] == "resource_link"
                && widgets::is_widget_mime(block["mimeType"].as_str().unwrap_or_default());
            if !is_widget_link || read >= MAX_LINK_READS {
                continue;
            }
            read += 1;
            let uri = block["uri"].as_str().unwrap_or_default();
            match self.server.read_resource(uri).await {
                Ok(contents) => ui.extend(
                    contents
                        .iter()
                        .filter_map(|c| widgets::from_resource_contents(c, first_text))
                        .map(Ui::Widget),
                ),
                Err(e) => log::warn!("widget link {uri}: {e}"),
            }
        }
        if self.server.settings().structured_widgets
            && ui.is_empty()
            && let Some(widget) = result
                .structured
                .as_ref()
                .and_then(|s| widgets::from_structured(s, None))
        {
            ui.push(Ui::Widget(widget));
        }
        let text = model_text(&result, &ui);
        let mut content = Value::Array(result.content);
        if let Some(structured) = result.structured {
            content = serde_json::json!({"content": content, "structuredContent": structured});
        }
        ToolOutput {
            text,
            is_error: result.is_error,
            content: Some(content),
            ui,
            input_required: None,
        }
    }
}

/// The result as text for the model: text blocks, structured content as JSON, resource texts,
/// a line per image, and for each widget its copy text instead of its JSON.
fn model_text(result: &McpResult, ui: &[Ui]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for block in &result.content {
        match block["type"].as_str() {
            Some("text") => {
                let text = block["text"].as_str().unwrap_or_default();
                // A widget's own JSON (mcp-chatkit-widget style) is for the user, not the model.
                let widget_json = !ui.is_empty()
                    && result.structured.as_ref().is_some_and(|s| {
                        serde_json::from_str::<Value>(text).is_ok_and(|v| &v == s)
                    });
                if !widget_json {
                    parts.push(text.to_owned());
                }
            }
            Some("image") | Some("audio") => parts.push(format!(
                "[{} {}]",
                block["type"].as_str().unwrap_or_default(),
                block["mimeType"].as_str().unwrap_or("of unknown type")
            )),
            Some("resource") => {
                let resource = &block["resource"];
                let uri = resource["uri"].as_str().unwrap_or_default();
                if !uri.starts_with("ui://")
                    && let Some(text) = resource["text"].as_str()
                {
                    parts.push(format!("[resource {uri}]\n{text}"));
                }
            }
            Some("resource_link")
                if !widgets::is_widget_mime(block["mimeType"].as_str().unwrap_or_default()) =>
            {
                parts.push(format!(
                    "[resource link {}]",
                    block["uri"].as_str().unwrap_or_default()
                ));
            }
            _ => {}
        }
    }
    if let Some(structured) = &result.structured
        && ui.is_empty()
        && !parts
            .iter()
            .any(|p| serde_json::from_str::<Value>(p).is_ok_and(|v| &v == structured))
    {
        parts.push(structured.to_string());
    }
    for item in ui {
        match item {
            Ui::Widget(w) => parts.push(format!(
                "[Shown to the user as a widget: {}]",
                w.copy_text.as_deref().unwrap_or("(no description)")
            )),
            Ui::HtmlView { .. } => parts.push(
                "[The tool offered an interactive view, which this chat cannot show.]".into(),
            ),
        }
    }
    if parts.is_empty() {
        "(no output)".into()
    } else {
        parts.join("\n")
    }
}

/// Built-in: the current date and time, which a model cannot know on its own.
pub struct CurrentTime {
    spec: ToolSpec,
}

impl Default for CurrentTime {
    fn default() -> Self {
        CurrentTime {
            spec: ToolSpec {
                name: "get_current_time".into(),
                description: "The current date and time in UTC (ISO 8601).".into(),
                parameters: serde_json::json!({"type": "object", "properties": {}}).into(),
            },
        }
    }
}

impl Tool for CurrentTime {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn progress(&self, _arguments: &Value) -> Progress {
        Progress {
            icon: "clock",
            text: "Checking the time…".into(),
        }
    }

    fn call<'a>(
        &'a self,
        _arguments: Value,
        _progress: mpsc::UnboundedSender<String>,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async {
            ToolOutput::ok(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string())
        })
    }
}

/// A built-in tool that pauses the turn for the user's answer: a form
/// ([`AskHuman::form`]) or clarifying questions shown as ChatKit's `structured_input`
/// ([`AskHuman::questions`]). The loop handles a valid call itself (see [`Tool::asks_human`]);
/// `call` only runs for calls it could not take, and says why (invalid arguments go back to
/// the model this way).
pub struct AskHuman {
    spec: ToolSpec,
    /// Why the arguments cannot be used, if they cannot.
    check: fn(&Value) -> Result<(), String>,
    /// What the model is told when valid arguments arrive while another request is open.
    busy: &'static str,
}

impl AskHuman {
    pub fn form() -> Self {
        AskHuman {
            spec: ToolSpec {
                name: super::human::TOOL_NAME.into(),
                description: "Ask the user to fill in a form when you need information or a \
                              decision only they can give. The conversation pauses until they \
                              answer; the answer (or that they want you to use your best \
                              judgement, or cancelled) comes back as this tool's result."
                    .into(),
                parameters: super::human::FormSpec::tool_parameters().into(),
            },
            check: |arguments| super::human::FormSpec::parse(arguments).map(drop),
            busy: "Only one request for human input can be open at a time; ask again after \
                   the answer.",
        }
    }

    pub fn questions() -> Self {
        AskHuman {
            spec: ToolSpec {
                name: super::human::QUESTIONS_TOOL.into(),
                description: "Ask the user one or more short clarifying questions, each with \
                              options to choose from or a free answer. The conversation pauses \
                              until they answer or skip; the answers come back as this tool's \
                              result, by question id."
                    .into(),
                parameters: super::human::Questions::tool_parameters().into(),
            },
            check: |arguments| super::human::Questions::parse(arguments).map(drop),
            busy: "Only one question for the user can be open at a time; ask again after the \
                   answer.",
        }
    }
}

impl Tool for AskHuman {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn asks_human(&self) -> bool {
        true
    }

    fn call<'a>(
        &'a self,
        arguments: Value,
        _progress: mpsc::UnboundedSender<String>,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            match (self.check)(&arguments) {
                Err(problem) => ToolOutput::error(problem),
                Ok(()) => ToolOutput::error(self.busy),
            }
        })
    }
}
