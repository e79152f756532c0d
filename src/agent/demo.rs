//! The built-in demo model: what answers when no model is configured and none was found on
//! loopback, so a first run shows every part of the chat without a key or a download. It is a
//! [`Provider`] like any other, so the turn loop, tools, forms and titles run for real; only the
//! words are canned. Each answer says it comes from the demo model and what to set instead.
//!
//! It picks its move from the user's words: "widget" calls [`DemoWidget`] (a tool only the
//! demo offers, whose button replaces the widget in place), "form" asks with
//! `request_human_input`, "question" with `ask_user_questions`, "time" or "tool" calls
//! `get_current_time`; anything else gets the introduction. After a tool result it says what
//! came back.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::human;
use super::llm::{
    InputItem, LlmError, ModelEvent, ModelRequest, ModelStream, Provider, ToolCall, ToolSpec,
    UserPart,
};
use super::tools::{Progress, Tool, ToolOutput};
use super::widgets::{Ui, Widget};
use crate::chatkit::actions::ActionConfig;
use crate::chatkit::widgets::{WidgetComponent, WidgetRoot};

/// The model name runs record.
pub const DEMO_MODEL: &str = "demo";

/// The line every demo answer starts with.
pub const DEMO_LABEL: &str =
    "*Demo model: set OPENAI_API_KEY or OPENAI_BASE_URL for a real assistant.*";

/// The pause between streamed words, so the answer visibly streams.
const PACE: Duration = Duration::from_millis(15);

/// The tool name of [`DemoWidget`].
pub const WIDGET_TOOL: &str = "show_demo_widget";

/// The demo model (see the module documentation).
#[derive(Debug, Default)]
pub struct DemoModel;

impl Provider for DemoModel {
    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelStream, LlmError>> {
        let events = reply(request);
        Box::pin(async move {
            let stream = futures_util::stream::iter(events).then(|event| async move {
                tokio::time::sleep(PACE).await;
                Ok(event)
            });
            Ok(Box::pin(stream) as ModelStream)
        })
    }

    fn complete<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<String, LlmError>> {
        Box::pin(async move { Ok(title(request)) })
    }
}

/// What the demo says or does next.
fn reply(request: &ModelRequest) -> Vec<ModelEvent> {
    let offered = |name: &str| request.tools.iter().any(|t| t.name == name);
    // What the user or a tool said last; a shown form or widget comes after its call's
    // result in the history, as an assistant line, and is skipped.
    let latest = request
        .input
        .iter()
        .rev()
        .find(|item| matches!(item, InputItem::User(_) | InputItem::ToolResult { .. }));
    match latest {
        Some(InputItem::ToolResult { call_id, output }) => {
            let name = request.input.iter().find_map(|item| match item {
                InputItem::ToolCall(call) if &call.call_id == call_id => Some(call.name.as_str()),
                _ => None,
            });
            words(&after_tool(name.unwrap_or_default(), output))
        }
        Some(InputItem::User(parts)) => {
            let said = parts
                .iter()
                .filter_map(|p| match p {
                    UserPart::Text(t) => Some(t.to_lowercase()),
                    UserPart::Image { .. } => None,
                })
                .collect::<Vec<_>>()
                .join(" ");
            let wants = |word: &str| said.contains(word);
            let call = if wants("widget") && offered(WIDGET_TOOL) {
                Some((WIDGET_TOOL, json!({"presses": 0})))
            } else if wants("form") && offered(human::TOOL_NAME) {
                Some((human::TOOL_NAME, form_arguments()))
            } else if wants("question") && offered(human::QUESTIONS_TOOL) {
                Some((human::QUESTIONS_TOOL, question_arguments()))
            } else if (wants("time") || wants("tool")) && offered("get_current_time") {
                Some(("get_current_time", json!({})))
            } else {
                None
            };
            match call {
                Some((name, arguments)) => vec![ModelEvent::ToolCall(ToolCall {
                    call_id: format!("call_demo_{}", uuid::Uuid::new_v4().simple()),
                    name: name.to_owned(),
                    arguments: arguments.to_string(),
                })],
                None => words(INTRODUCTION),
            }
        }
        _ => words(INTRODUCTION),
    }
}

const INTRODUCTION: &str = "Hello! I am the built-in demo model of this server. I cannot \
    really understand you, but I can show what the chat does. Ask me for a **widget**, a \
    **form**, a few **questions**, or the **time** (a tool call).";

/// The answer once a tool call the demo made has its result.
fn after_tool(name: &str, output: &str) -> String {
    match name {
        WIDGET_TOOL => "Above is a widget, returned by a tool. Press its button: the tool runs \
            again and the widget is replaced in place."
            .into(),
        human::TOOL_NAME => format!(
            "The form came back with: `{output}`. A real model would go on from your answers."
        ),
        human::QUESTIONS_TOOL => format!("Thanks! Your answers reached me as: `{output}`."),
        "get_current_time" => format!("The `get_current_time` tool says it is {output} (UTC)."),
        _ => format!("The tool `{name}` answered: `{output}`."),
    }
}

/// The labelled answer as streamed pieces, a word at a time.
fn words(text: &str) -> Vec<ModelEvent> {
    let full = format!("{DEMO_LABEL}\n\n{text}");
    full.split_inclusive(' ')
        .map(|piece| ModelEvent::TextDelta(piece.to_owned()))
        .collect()
}

fn form_arguments() -> Value {
    json!({
        "title": "Plan a trip",
        "description": "A form the demo model asks with. Required fields are marked.",
        "fields": [
            {"name": "destination", "label": "Destination", "type": "string", "required": true},
            {"name": "nights", "label": "Nights", "type": "number"},
            {"name": "transport", "label": "Transport", "type": "select",
             "options": ["Train", "Plane", "Car"]},
            {"name": "start", "label": "Start", "type": "date"},
            {"name": "agree", "label": "I know this is a demo", "type": "boolean", "required": true}
        ]
    })
}

fn question_arguments() -> Value {
    json!({"questions": [
        {"id": "colour", "question": "Which colour do you like?", "options": ["Red", "Green", "Blue"]},
        {"id": "why", "question": "Why that one?"}
    ]})
}

/// A title from the first words the user wrote (the title call gets the conversation with a
/// speaker label on each line).
fn title(request: &ModelRequest) -> String {
    let text = request
        .input
        .iter()
        .find_map(|item| match item {
            InputItem::User(parts) => parts.iter().find_map(|p| match p {
                UserPart::Text(t) => Some(t.as_str()),
                UserPart::Image { .. } => None,
            }),
            _ => None,
        })
        .unwrap_or_default();
    let said = text
        .lines()
        .find_map(|line| line.strip_prefix("User:"))
        .unwrap_or("Demo chat");
    let words: Vec<&str> = said.split_whitespace().take(6).collect();
    let phrase = words.join(" ").trim_end_matches(['.', '!', '?']).to_owned();
    if phrase.is_empty() {
        "Demo chat".into()
    } else {
        phrase
    }
}

/// A tool only the demo model offers: a card whose button calls the tool again, so the
/// widget is replaced in place with the press counted.
pub struct DemoWidget {
    spec: ToolSpec,
}

impl Default for DemoWidget {
    fn default() -> Self {
        DemoWidget {
            spec: ToolSpec {
                name: WIDGET_TOOL.into(),
                description: "Shows a demonstration widget.".into(),
                parameters: json!({"type": "object", "properties": {
                    "presses": {"type": "integer", "description": "How often its button was pressed."}
                }})
                .into(),
            },
        }
    }
}

impl Tool for DemoWidget {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn progress(&self, _arguments: &Value) -> Progress {
        Progress {
            icon: "sparkle",
            text: "Building a widget…".into(),
        }
    }

    fn call<'a>(
        &'a self,
        arguments: Value,
        _progress: mpsc::UnboundedSender<String>,
    ) -> BoxFuture<'a, ToolOutput> {
        let presses = arguments["presses"].as_u64().unwrap_or(0);
        let said = match presses {
            0 => "The button has not been pressed yet.".to_owned(),
            1 => "The button was pressed once.".to_owned(),
            n => format!("The button was pressed {n} times."),
        };
        let press = ActionConfig::new("demo.press").with_payload(json!({
            "tool": WIDGET_TOOL,
            "arguments": {"presses": presses + 1}
        }));
        let widget = WidgetRoot::card(vec![
            WidgetComponent::new("Title").with_prop("value", "A widget from a tool"),
            WidgetComponent::new("Text").with_prop(
                "value",
                "Tools return ChatKit widgets; their buttons send actions back to the server.",
            ),
            WidgetComponent::new("Badge")
                .with_prop("label", format!("{presses}"))
                .with_prop("color", "info"),
            WidgetComponent::new("Text").with_prop("value", said.clone()),
            WidgetComponent::new("Button")
                .with_prop("label", "Press me")
                .with_prop("onClickAction", press),
        ]);
        let output = ToolOutput {
            ui: vec![Ui::Widget(Widget {
                widget,
                copy_text: Some(said.clone()),
            })],
            ..ToolOutput::ok(format!("[Shown to the user as a widget: {said}]"))
        };
        Box::pin(async move { output })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(text: &str) -> ModelRequest {
        ModelRequest {
            input: vec![InputItem::User(vec![UserPart::Text(text.into())])],
            tools: [WIDGET_TOOL, human::TOOL_NAME, "get_current_time"]
                .iter()
                .map(|name| ToolSpec {
                    name: (*name).into(),
                    description: String::new(),
                    parameters: json!({}).into(),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn called(events: &[ModelEvent]) -> Option<&str> {
        match events {
            [ModelEvent::ToolCall(call)] => Some(&call.name),
            _ => None,
        }
    }

    #[test]
    fn words_pick_the_move() {
        assert_eq!(
            called(&reply(&asked("Show me a widget"))),
            Some(WIDGET_TOOL)
        );
        assert_eq!(
            called(&reply(&asked("a FORM please"))),
            Some(human::TOOL_NAME)
        );
        assert_eq!(
            called(&reply(&asked("what time is it"))),
            Some("get_current_time")
        );
        // Not offered: the introduction instead.
        assert_eq!(called(&reply(&asked("ask me a question"))), None);
        let intro: String = reply(&asked("hi"))
            .into_iter()
            .map(|e| match e {
                ModelEvent::TextDelta(t) => t,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(intro.starts_with(DEMO_LABEL), "{intro}");
    }

    #[test]
    fn titles_come_from_the_users_words() {
        assert_eq!(
            title(&asked(
                "<conversation>\nUser: Plan my trip to Oslo please, in May!\nAssistant: x"
            )),
            "Plan my trip to Oslo please,"
        );
        assert_eq!(title(&asked("")), "Demo chat");
    }
}
