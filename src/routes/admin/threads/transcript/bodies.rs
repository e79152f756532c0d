//! The bodies of the items that are not messages: tool calls (ours and the browser's),
//! hidden context, questions, and workflows and tasks.

use serde_json::Value;

use super::{Body, QuestionView, TaskView, text_of};
use crate::routes::admin::render::pretty_json;

/// JSON text pretty-printed (escaped), or the text itself escaped when it is not JSON.
fn json_text_html(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => pretty_json(&value),
        Err(_) => crate::routes::admin::render::escape_html(text),
    }
}

pub(super) fn tool_body(data: &Value) -> Body {
    let full = text_of(data, "name").unwrap_or_default();
    // Tools of two servers with the same name are offered as `server__tool`.
    let (server, name) = match full.split_once("__") {
        Some((server, tool)) if !server.is_empty() && !tool.is_empty() => {
            (Some(server.to_owned()), tool.to_owned())
        }
        _ => (None, full),
    };
    Body::Tool {
        server,
        name,
        failed: data
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        duration_ms: data.get("duration_ms").and_then(Value::as_u64),
        call_id: text_of(data, "call_id").unwrap_or_default(),
        arguments_html: json_text_html(
            data.get("arguments")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        output_html: json_text_html(
            data.get("output")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        ),
        content_html: data
            .get("content")
            .filter(|c| !c.is_null())
            .map(pretty_json),
    }
}

pub(super) fn client_tool_body(data: &Value) -> Body {
    Body::ClientTool {
        name: text_of(data, "name").unwrap_or_default(),
        status: text_of(data, "status").unwrap_or_else(|| "pending".to_owned()),
        call_id: text_of(data, "call_id").unwrap_or_default(),
        arguments_html: pretty_json(data.get("arguments").unwrap_or(&Value::Null)),
        output_html: data.get("output").map(pretty_json),
    }
}

pub(super) fn hidden_body(content: Option<&Value>) -> Body {
    match content {
        Some(Value::String(text)) => Body::Hidden {
            text: Some(text.clone()),
            json_html: None,
        },
        Some(other) => Body::Hidden {
            text: None,
            json_html: Some(pretty_json(other)),
        },
        None => Body::Hidden {
            text: None,
            json_html: None,
        },
    }
}

pub(super) fn questions_body(data: &Value) -> Body {
    let questions = data
        .get("inputs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|input| {
            let answer = match input.get("answer") {
                Some(a) if a.get("skipped").and_then(Value::as_bool) == Some(true) => {
                    "skipped".to_owned()
                }
                Some(a) => a
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default(),
                None => "not answered".to_owned(),
            };
            QuestionView {
                question: text_of(input, "question").unwrap_or_default(),
                answer,
            }
        })
        .collect();
    Body::Questions {
        status: text_of(data, "status").unwrap_or_else(|| "pending".to_owned()),
        questions,
    }
}

pub(super) fn workflow_role(data: &Value) -> String {
    match data.pointer("/workflow/type").and_then(Value::as_str) {
        Some("reasoning") => "Reasoning".to_owned(),
        _ => "Workflow".to_owned(),
    }
}

pub(super) fn workflow_body(data: &Value) -> Body {
    let summary = data.pointer("/workflow/summary").and_then(|s| {
        text_of(s, "title").or_else(|| {
            s.get("duration")
                .and_then(Value::as_i64)
                .map(|d| format!("Took {d} s"))
        })
    });
    Body::Tasks {
        summary,
        tasks: data
            .pointer("/workflow/tasks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(task_view)
            .collect(),
    }
}

pub(super) fn task_view(task: &Value) -> TaskView {
    let kind = text_of(task, "type").unwrap_or_default();
    let detail = match kind.as_str() {
        "web_search" => task
            .get("queries")
            .and_then(Value::as_array)
            .map(|q| {
                q.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .filter(|q| !q.is_empty()),
        _ => text_of(task, "content"),
    };
    TaskView {
        title: text_of(task, "title").unwrap_or_else(|| kind.replace('_', " ")),
        detail,
        state: text_of(task, "status_indicator").unwrap_or_else(|| "none".to_owned()),
    }
}
