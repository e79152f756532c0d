//! Turns a thread's history into model input: what the user said (text, tags, quoted text,
//! attached files), what the assistant said, tool calls and results, hidden context, and
//! widgets as their copy text.

use std::collections::HashMap;

use super::human::QUESTIONS_TOOL;
use super::llm::{InputItem, ToolCall, UserPart};
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::types::{
    Attachment, ClientToolCallStatus, ItemBody, StructuredInputKind, UserMessageContent,
    UserMessageItem,
};

/// Most bytes of a text file given to the model.
pub const TEXT_INLINE_CAP: u64 = 32 * 1024;

/// What the run loaded of the attachments in a history, by attachment id. The agent never
/// reads storage itself: whoever runs it loads this first.
pub type ModelFiles = HashMap<String, ModelFile>;

#[derive(Debug, Clone, PartialEq)]
pub struct ModelFile {
    pub name: String,
    pub mime_type: String,
    pub size: u64,
    pub content: FileContent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileContent {
    /// An image the model sees, as a `data:` URL.
    Image { data_url: String },
    /// The start of a text file, at most [`TEXT_INLINE_CAP`] bytes.
    Text { text: String, truncated: bool },
    /// Only the name, type and size are given (binary, or unreadable).
    Described,
}

pub fn model_input(history: &[HistoryEntry], files: &ModelFiles) -> Vec<InputItem> {
    let mut input = Vec::new();
    // Consecutive records are taken as one step: their calls first, then their results.
    let mut results = Vec::new();
    // Questions the `ask_user_questions` call before them asked: its result carries the
    // answers, so the item itself is not repeated.
    let mut asked = false;
    for entry in history {
        match entry {
            HistoryEntry::Item(item)
                if asked && matches!(item.body, ItemBody::StructuredInput(_)) =>
            {
                asked = false;
                input.append(&mut results);
            }
            HistoryEntry::ToolCall(record) => {
                asked = record.name == QUESTIONS_TOOL;
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
                asked = false;
                input.append(&mut results);
                push_item(&mut input, &item.body, files);
            }
        }
    }
    input.append(&mut results);
    input
}

fn push_item(input: &mut Vec<InputItem>, body: &ItemBody, files: &ModelFiles) {
    match body {
        ItemBody::UserMessage(message) => input.push(InputItem::User(user_parts(message, files))),
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

/// The user's words with tags as `@name`, each tag's data as context, the quoted text, and
/// the attached files.
fn user_parts(message: &UserMessageItem, files: &ModelFiles) -> Vec<UserPart> {
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
    for attachment in &message.attachments {
        parts.push(file_part(attachment, files.get(attachment.id())));
    }
    parts
}

/// One attached file as the model gets it.
fn file_part(attachment: &Attachment, file: Option<&ModelFile>) -> UserPart {
    let Some(file) = file else {
        let (name, mime) = match attachment {
            Attachment::File(f) => (&f.name, &f.mime_type),
            Attachment::Image(i) => (&i.name, &i.mime_type),
        };
        return UserPart::Text(format!(
            "[The user attached the file \"{name}\" ({mime}); it is no longer available.]"
        ));
    };
    let (name, mime, size) = (&file.name, &file.mime_type, file.size);
    match &file.content {
        FileContent::Image { data_url } => UserPart::Image {
            url: data_url.clone(),
        },
        FileContent::Text { text, truncated } => {
            let note = if *truncated {
                format!(
                    "\n[Truncated: only the first {TEXT_INLINE_CAP} of {size} bytes are shown.]"
                )
            } else {
                String::new()
            };
            UserPart::Text(format!(
                "<File name=\"{name}\" type=\"{mime}\" size=\"{size} bytes\">\n{text}{note}\n</File>"
            ))
        }
        FileContent::Described => UserPart::Text(format!(
            "[The user attached the file \"{name}\" ({mime}, {size} bytes); its content cannot be shown to you.]"
        )),
    }
}
