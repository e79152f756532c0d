//! The JSON body of a Chat Completions call, as typed values borrowing from the request:
//! serialised straight into the request's bytes. Built as `serde_json::Value`s it cost a
//! copy of every string, a tree of maps, and a deep copy of every tool's schema per call.

use std::borrow::Cow;

use serde::Serialize;

use super::super::{InputItem, ModelRequest, Schema, UserPart};

#[derive(Serialize)]
pub(super) struct Body<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Tool<'a>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
enum Message<'a> {
    System {
        content: &'a str,
    },
    User {
        content: UserContent<'a>,
    },
    /// Text, tool calls or both (`content` null then).
    Assistant {
        content: Option<&'a str>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<Call<'a>>,
    },
    Tool {
        tool_call_id: &'a str,
        content: &'a str,
    },
}

/// Plain text when there is only text (what every compatible server accepts), else parts.
#[derive(Serialize)]
#[serde(untagged)]
enum UserContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: Url<'a> },
}

#[derive(Serialize)]
struct Url<'a> {
    url: &'a str,
}

#[derive(Serialize)]
struct Call<'a> {
    id: &'a str,
    r#type: &'static str,
    function: CallFunction<'a>,
}

#[derive(Serialize)]
struct CallFunction<'a> {
    name: &'a str,
    arguments: &'a str,
}

/// A tool offered (with its description and schema), or the one the model must call (its
/// name only).
#[derive(Serialize)]
struct Tool<'a> {
    r#type: &'static str,
    function: Function<'a>,
}

#[derive(Serialize)]
struct Function<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a Schema>,
}

impl<'a> Body<'a> {
    /// The body of a call, without the streaming options.
    pub(super) fn of(request: &'a ModelRequest) -> Self {
        let tools: Vec<Tool<'a>> = request
            .tools
            .iter()
            .map(|t| Tool {
                r#type: "function",
                function: Function {
                    name: &t.name,
                    description: Some(&t.description),
                    parameters: Some(&t.parameters),
                },
            })
            .collect();
        let tool_choice = match &request.forced_tool {
            Some(name) if !tools.is_empty() => Some(Tool {
                r#type: "function",
                function: Function {
                    name,
                    description: None,
                    parameters: None,
                },
            }),
            _ => None,
        };
        Body {
            model: &request.model,
            messages: messages(request),
            temperature: request.temperature,
            tools,
            tool_choice,
            stream: false,
            stream_options: None,
        }
    }

    /// The body of a streamed call, with usage reported at its end.
    pub(super) fn streamed(request: &'a ModelRequest) -> Self {
        Body {
            stream: true,
            stream_options: Some(StreamOptions {
                include_usage: true,
            }),
            ..Body::of(request)
        }
    }
}

/// The conversation as messages. Results wait until the calls of their step are all out: the
/// API wants each step's calls in one assistant message (after the step's text), followed by
/// all of their results.
fn messages(request: &ModelRequest) -> Vec<Message<'_>> {
    let mut messages = Vec::with_capacity(request.input.len() + 1);
    if let Some(instructions) = &request.instructions {
        messages.push(Message::System {
            content: instructions,
        });
    }
    let mut results = Vec::new();
    for item in &request.input {
        if !matches!(item, InputItem::ToolCall(_) | InputItem::ToolResult { .. }) {
            messages.append(&mut results);
        }
        match item {
            InputItem::User(parts) => messages.push(Message::User {
                content: user_content(parts),
            }),
            InputItem::Assistant(text) => messages.push(Message::Assistant {
                content: Some(text),
                tool_calls: Vec::new(),
            }),
            InputItem::ToolCall(call) => {
                let call = Call {
                    id: &call.call_id,
                    r#type: "function",
                    function: CallFunction {
                        name: &call.name,
                        arguments: &call.arguments,
                    },
                };
                // A call after results starts the next step's assistant message.
                messages.append(&mut results);
                match messages.last_mut() {
                    Some(Message::Assistant { tool_calls, .. }) => tool_calls.push(call),
                    _ => messages.push(Message::Assistant {
                        content: None,
                        tool_calls: vec![call],
                    }),
                }
            }
            InputItem::ToolResult { call_id, output } => results.push(Message::Tool {
                tool_call_id: call_id,
                content: output,
            }),
        }
    }
    messages.append(&mut results);
    messages
}

fn user_content(parts: &[UserPart]) -> UserContent<'_> {
    match parts {
        [UserPart::Text(text)] => UserContent::Text(Cow::Borrowed(text)),
        _ if parts.iter().all(|p| matches!(p, UserPart::Text(_))) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| match p {
                    UserPart::Text(t) => Some(t.as_str()),
                    UserPart::Image { .. } => None,
                })
                .collect();
            UserContent::Text(Cow::Owned(texts.join("\n\n")))
        }
        _ => UserContent::Parts(
            parts
                .iter()
                .map(|part| match part {
                    UserPart::Text(text) => Part::Text { text },
                    UserPart::Image { url } => Part::ImageUrl {
                        image_url: Url { url },
                    },
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::agent::llm::{ToolCall, ToolSpec};

    fn call(id: &str) -> InputItem {
        InputItem::ToolCall(ToolCall {
            call_id: id.into(),
            name: "f".into(),
            arguments: "{}".into(),
        })
    }

    fn result(id: &str) -> InputItem {
        InputItem::ToolResult {
            call_id: id.into(),
            output: id.into(),
        }
    }

    fn text(t: &str) -> UserPart {
        UserPart::Text(t.into())
    }

    fn request(input: Vec<InputItem>) -> ModelRequest {
        ModelRequest {
            model: "m".into(),
            instructions: Some("be brief".into()),
            input,
            tools: vec![],
            forced_tool: None,
            temperature: None,
        }
    }

    #[test]
    fn tool_calls_follow_their_text_in_one_assistant_message() {
        let request = request(vec![
            InputItem::User(vec![text("hi")]),
            InputItem::Assistant("checking".into()),
            call("c1"),
            call("c2"),
            result("c1"),
            result("c2"),
            call("c3"),
            result("c3"),
            InputItem::User(vec![text("thanks"), text("a lot")]),
        ]);
        let calls = |ids: &[&str]| -> Value {
            ids.iter()
                .map(|id| json!({"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}}))
                .collect()
        };
        assert_eq!(
            serde_json::to_value(Body::of(&request)).unwrap(),
            json!({
                "model": "m",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "checking", "tool_calls": calls(&["c1", "c2"])},
                    {"role": "tool", "tool_call_id": "c1", "content": "c1"},
                    {"role": "tool", "tool_call_id": "c2", "content": "c2"},
                    // A call after results starts an assistant message of its own.
                    {"role": "assistant", "content": null, "tool_calls": calls(&["c3"])},
                    {"role": "tool", "tool_call_id": "c3", "content": "c3"},
                    {"role": "user", "content": "thanks\n\na lot"},
                ],
            })
        );
    }

    #[test]
    fn tools_a_forced_tool_temperature_and_streaming_are_in_the_body() {
        let mut request = request(vec![InputItem::User(vec![text("hi")])]);
        request.instructions = None;
        request.tools = vec![ToolSpec {
            name: "lookup".into(),
            description: "Looks up".into(),
            parameters: json!({"type": "object", "properties": {}}).into(),
        }];
        request.forced_tool = Some("lookup".into());
        request.temperature = Some(0.5);
        assert_eq!(
            serde_json::to_value(Body::streamed(&request)).unwrap(),
            json!({
                "model": "m",
                "messages": [{"role": "user", "content": "hi"}],
                "temperature": 0.5,
                "tools": [{"type": "function", "function": {"name": "lookup",
                    "description": "Looks up", "parameters": {"type": "object", "properties": {}}}}],
                "tool_choice": {"type": "function", "function": {"name": "lookup"}},
                "stream": true,
                "stream_options": {"include_usage": true},
            })
        );
        // A forced tool the agent does not have is not asked for.
        request.tools.clear();
        let body = serde_json::to_value(Body::of(&request)).unwrap();
        assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
    }

    #[test]
    fn images_switch_to_content_parts() {
        let parts = [
            text("look"),
            UserPart::Image {
                url: "data:image/png;base64,AA==".into(),
            },
        ];
        assert_eq!(
            serde_json::to_value(user_content(&parts)).unwrap(),
            json!([{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}])
        );
    }
}
