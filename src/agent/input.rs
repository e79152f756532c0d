//! Turns a thread's history into model input: what the user said (text, tags, quoted text),
//! what the assistant said, tool calls and results, hidden context, and widgets as their copy
//! text.

use super::llm::{InputItem, ToolCall, UserPart};
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::types::{
    ClientToolCallStatus, ItemBody, StructuredInputKind, UserMessageContent, UserMessageItem,
};

pub fn model_input(history: &[HistoryEntry]) -> Vec<InputItem> {
    let mut input = Vec::new();
    // Consecutive records are taken as one step: their calls first, then their results.
    let mut results = Vec::new();
    for entry in history {
        match entry {
            HistoryEntry::ToolCall(record) => {
                input.push(InputItem::ToolCall(ToolCall {
                    call_id: record.call_id.clone(),
                    name: record.name.clone(),
                    arguments: record.arguments.clone(),
                }));
                results.push(InputItem::ToolResult {
                    call_id: record.call_id.clone(),
                    output: record.output.clone(),
                });
            }
            HistoryEntry::Item(item) => {
                input.append(&mut results);
                push_item(&mut input, &item.body);
            }
        }
    }
    input.append(&mut results);
    input
}

fn push_item(input: &mut Vec<InputItem>, body: &ItemBody) {
    match body {
        ItemBody::UserMessage(message) => input.push(InputItem::User(user_parts(message))),
        ItemBody::AssistantMessage(message) => {
            let text: String = message.content.iter().map(|c| c.text.as_str()).collect();
            if !text.is_empty() {
                input.push(InputItem::Assistant(text));
            }
        }
        ItemBody::ClientToolCall(call) if call.status == ClientToolCallStatus::Completed => {
            input.push(InputItem::ToolCall(ToolCall {
                call_id: call.call_id.clone(),
                name: call.name.clone(),
                arguments: serde_json::Value::Object(call.arguments.clone()).to_string(),
            }));
            let output = call
                .output
                .as_ref()
                .map(|o| o.to_string())
                .unwrap_or_else(|| "null".into());
            input.push(InputItem::ToolResult {
                call_id: call.call_id.clone(),
                output,
            });
        }
        ItemBody::Widget(widget) => {
            let shown = widget
                .copy_text
                .clone()
                .unwrap_or_else(|| "(an interactive widget)".into());
            input.push(InputItem::Assistant(format!(
                "[Shown to the user as a widget] {shown}"
            )));
        }
        ItemBody::HiddenContextItem(hidden) => {
            let content = hidden
                .content
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| hidden.content.to_string());
            input.push(context(&content));
        }
        ItemBody::SdkHiddenContext(hidden) => input.push(context(&hidden.content)),
        ItemBody::StructuredInput(structured) => {
            let mut lines = Vec::new();
            for question in &structured.inputs {
                let answer = match &question.answer {
                    Some(a) if a.skipped => "(skipped)".to_owned(),
                    Some(a) => a.values.join(", "),
                    None => "(unanswered)".to_owned(),
                };
                let kind = match question.kind {
                    StructuredInputKind::MultipleChoice { .. } => "choice",
                    StructuredInputKind::Freeform { .. } => "text",
                };
                lines.push(format!("- {} [{kind}]: {answer}", question.question));
            }
            input.push(InputItem::User(vec![UserPart::Text(format!(
                "Answers to the questions:\n{}",
                lines.join("\n")
            ))]));
        }
        // Pending client calls wait for their output; the rest is presentation only.
        _ => {}
    }
}

fn context(content: &str) -> InputItem {
    InputItem::User(vec![UserPart::Text(format!(
        "<HiddenContext>\n{content}\n</HiddenContext>"
    ))])
}

/// The user's words with tags as `@name`, each tag's data as context, and the quoted text.
fn user_parts(message: &UserMessageItem) -> Vec<UserPart> {
    let mut text = String::new();
    let mut tags = Vec::new();
    for part in &message.content {
        match part {
            UserMessageContent::InputText { text: t } => text.push_str(t),
            UserMessageContent::InputTag {
                id,
                text: name,
                data,
                group,
                ..
            } => {
                text.push('@');
                text.push_str(name);
                let group = group
                    .as_ref()
                    .map(|g| format!(" group=\"{g}\""))
                    .unwrap_or_default();
                tags.push(format!(
                    "<Tag name=\"{name}\" id=\"{id}\"{group}>{}</Tag>",
                    serde_json::Value::Object(data.clone())
                ));
            }
        }
    }
    let mut parts = Vec::new();
    if let Some(quoted) = &message.quoted_text {
        parts.push(UserPart::Text(format!(
            "The user is replying to this text:\n> {quoted}"
        )));
    }
    parts.push(UserPart::Text(text));
    if !tags.is_empty() {
        parts.push(UserPart::Text(format!(
            "Tagged entities:\n{}",
            tags.join("\n")
        )));
    }
    parts
}
