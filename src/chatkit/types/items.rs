//! Thread items: the `type`-tagged bodies of everything a thread shows (messages,
//! tool calls, widgets, images, structured inputs, workflows, tasks) or hides.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Attachment, StructuredInputSubmission, SubmissionStatus, timestamp};
use crate::chatkit::widgets::WidgetRoot;

/// One entry of a thread: common header plus a `type`-tagged body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadItem {
    pub id: String,
    pub thread_id: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: ItemBody,
}

/// The type-specific part of a [`ThreadItem`], tagged by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ItemBody {
    UserMessage(UserMessageItem),
    AssistantMessage(AssistantMessageItem),
    ClientToolCall(ClientToolCallItem),
    Widget(WidgetItem),
    GeneratedImage(GeneratedImageItem),
    StructuredInput(StructuredInputItem),
    Workflow(WorkflowItem),
    Task(TaskItem),
    /// UI hint that the assistant finished its turn.
    EndOfTurn,
    HiddenContextItem(HiddenContextItem),
    SdkHiddenContext(SdkHiddenContextItem),
}

impl ItemBody {
    /// Hidden items are stored for the model but never streamed or listed.
    pub fn is_hidden(&self) -> bool {
        matches!(self, Self::HiddenContextItem(_) | Self::SdkHiddenContext(_))
    }

    /// The wire `type` of this body, e.g. for storage columns and logs.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::UserMessage(_) => "user_message",
            Self::AssistantMessage(_) => "assistant_message",
            Self::ClientToolCall(_) => "client_tool_call",
            Self::Widget(_) => "widget",
            Self::GeneratedImage(_) => "generated_image",
            Self::StructuredInput(_) => "structured_input",
            Self::Workflow(_) => "workflow",
            Self::Task(_) => "task",
            Self::EndOfTurn => "end_of_turn",
            Self::HiddenContextItem(_) => "hidden_context_item",
            Self::SdkHiddenContext(_) => "sdk_hidden_context",
        }
    }
}

/// A message typed by the user; attachments are full objects here (ids in the input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessageItem {
    pub content: Vec<UserMessageContent>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_text: Option<String>,
    pub inference_options: InferenceOptions,
}

/// A part of the user's message: plain text or an entity tag (`@mention`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum UserMessageContent {
    InputText {
        text: String,
    },
    InputTag {
        id: String,
        text: String,
        data: Map<String, Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
        #[serde(default)]
        interactive: bool,
    },
}

/// Composer choices (tool menu, model picker) sent with a message; `{}` is valid.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InferenceOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// A tool the user explicitly selected in the composer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolChoice {
    pub id: String,
}

/// A reply from the assistant, streamed part by part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessageItem {
    pub content: Vec<AssistantMessageContent>,
}

/// One text part of an assistant message with its citations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessageContent {
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    pub text: String,
    /// Always `"output_text"`; kept as a field so it is always serialized.
    #[serde(rename = "type", default)]
    pub type_: OutputTextType,
}

impl AssistantMessageContent {
    /// A text part without annotations.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            annotations: Vec::new(),
            text: text.into(),
            type_: OutputTextType::OutputText,
        }
    }
}

/// The only `type` an assistant content part can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum OutputTextType {
    #[default]
    #[serde(rename = "output_text")]
    OutputText,
}

/// A citation attached to assistant text, optionally at a character `index`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// Always `"annotation"`; kept as a field so it is always serialized.
    #[serde(rename = "type", default)]
    pub type_: AnnotationType,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

/// The only `type` an annotation can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AnnotationType {
    #[default]
    #[serde(rename = "annotation")]
    Annotation,
}

/// Where cited information comes from; fields common to all kinds plus the kind.
///
/// Task source lists (`web_search` → url, `file` → file) use this type too;
/// the kind is not restricted there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(flatten)]
    pub kind: SourceKind,
}

/// The `type`-tagged part of a [`Source`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceKind {
    Url {
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attribution: Option<String>,
    },
    File {
        filename: String,
    },
    /// An application entity; `data` is handed to the client's entity callbacks.
    Entity {
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        icon: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inline_label: Option<String>,
        #[serde(default)]
        interactive: bool,
        #[serde(default)]
        data: Map<String, Value>,
    },
}

/// A call the client must execute (`onClientTool`); completed by `add_client_tool_output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientToolCallItem {
    #[serde(default)]
    pub status: ClientToolCallStatus,
    pub call_id: String,
    pub name: String,
    pub arguments: Map<String, Value>,
    /// The client's result once completed; a JSON `null` result is omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

/// Whether the client has returned the tool result yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientToolCallStatus {
    #[default]
    Pending,
    Completed,
}

/// A rendered widget; `copy_text` is what the copy button puts on the clipboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WidgetItem {
    pub widget: WidgetRoot,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_text: Option<String>,
}

/// An image produced by the model; `image` is absent until the first partial arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedImageItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<GeneratedImage>,
}

/// Image reference; `url` may be a `data:` URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratedImage {
    pub id: String,
    pub url: String,
}

/// Questions that replace the composer until answered via `add_structured_input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructuredInputItem {
    #[serde(default)]
    pub status: StructuredInputStatus,
    pub inputs: Vec<StructuredInput>,
}

impl StructuredInputItem {
    /// Records a submission the way the SDK does: a question is skipped when the whole
    /// submission is, when it has no entry, or when its entry is skipped or empty; a
    /// single-choice answer keeps only its first value; unknown answer ids are ignored.
    pub fn apply_submission(&mut self, submission: &StructuredInputSubmission) {
        let skipped_all = submission.status == SubmissionStatus::Skipped;
        for input in &mut self.inputs {
            let given = submission
                .answers
                .get(&input.id)
                .filter(|a| !a.skipped && !a.values.is_empty());
            input.answer = Some(match given {
                Some(answer) if !skipped_all => {
                    let mut values = answer.values.clone();
                    if matches!(
                        input.kind,
                        StructuredInputKind::MultipleChoice {
                            multiple: false,
                            ..
                        }
                    ) {
                        values.truncate(1);
                    }
                    StructuredInputAnswer {
                        values,
                        skipped: false,
                    }
                }
                _ => StructuredInputAnswer {
                    values: Vec::new(),
                    skipped: true,
                },
            });
        }
        self.status = submission.status.into();
    }
}

/// Progress of a structured input item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredInputStatus {
    #[default]
    Pending,
    Answered,
    Skipped,
}

/// One question of a structured input item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructuredInput {
    pub id: String,
    pub question: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<StructuredInputAnswer>,
    #[serde(flatten)]
    pub kind: StructuredInputKind,
}

/// The `type`-tagged part of a [`StructuredInput`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StructuredInputKind {
    MultipleChoice {
        options: Vec<ChoiceOption>,
        /// Whether more than one value may be submitted.
        #[serde(default)]
        multiple: bool,
    },
    Freeform {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
}

/// A suggested answer of a multiple-choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChoiceOption {
    pub value: String,
}

/// An answer, both as recorded on the item and as submitted by the client.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StructuredInputAnswer {
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub skipped: bool,
}

/// A group of tasks shown as one collapsible block (e.g. model reasoning).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowItem {
    pub workflow: Workflow,
}

/// Workflow contents; `expanded` controls whether the block starts open.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    #[serde(rename = "type")]
    pub type_: WorkflowType,
    pub tasks: Vec<Task>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<WorkflowSummary>,
    #[serde(default)]
    pub expanded: bool,
}

/// Kind of workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowType {
    Custom,
    Reasoning,
}

/// Collapsed-header summary; untagged on the wire, told apart by its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkflowSummary {
    Custom {
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        icon: Option<String>,
    },
    /// Total duration in seconds.
    Duration { duration: u64 },
}

/// A stand-alone task item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskItem {
    pub task: Task,
}

/// A unit of visible work (inside a workflow or alone); common fields plus the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Only rendered inside workflows.
    #[serde(default)]
    pub status_indicator: StatusIndicator,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(flatten)]
    pub kind: TaskKind,
}

/// Progress marker of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusIndicator {
    #[default]
    None,
    Loading,
    Complete,
}

/// The `type`-tagged part of a [`Task`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskKind {
    Custom {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        icon: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
    WebSearch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title_query: Option<String>,
        #[serde(default)]
        queries: Vec<String>,
        #[serde(default)]
        sources: Vec<Source>,
    },
    Thought {
        content: String,
    },
    File {
        #[serde(default)]
        sources: Vec<Source>,
    },
    Image,
}

/// Context for the model that the client never sees (any JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HiddenContextItem {
    /// A JSON `null` is omitted, as the SDK does.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub content: Value,
}

/// Hidden context written by the server itself (e.g. the "user cancelled" marker).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SdkHiddenContextItem {
    pub content: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::chatkit::types::test_support::{item, roundtrip};

    #[test]
    fn hidden_items_and_type_names() {
        let base = json!({"id": "x", "thread_id": "t", "created_at": "2026-01-01T00:00:00Z"});
        let with = |extra: Value| {
            let mut v = base.clone();
            if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            item(v)
        };
        let hidden = with(json!({"type": "hidden_context_item", "content": {"clicked": true}}));
        let sdk = with(
            json!({"type": "sdk_hidden_context", "content": "The user cancelled the stream."}),
        );
        let eot = with(json!({"type": "end_of_turn"}));
        assert!(hidden.body.is_hidden() && sdk.body.is_hidden() && !eot.body.is_hidden());
        let samples = [
            json!({"type": "user_message", "content": [], "attachments": [], "inference_options": {}}),
            json!({"type": "assistant_message", "content": []}),
            json!({"type": "client_tool_call", "status": "pending", "call_id": "c", "name": "n", "arguments": {}}),
            json!({"type": "widget", "widget": {"type": "Basic"}}),
            json!({"type": "generated_image", "image": {"id": "i", "url": "data:image/png;base64,AA"}}),
            json!({"type": "structured_input", "status": "answered", "inputs": [
                {"id": "q", "question": "Q?", "answer": {"values": [], "skipped": true}, "type": "freeform"}
            ]}),
            json!({"type": "workflow", "workflow": {"type": "custom", "tasks": [], "summary": {"title": "Done", "icon": "check"}, "expanded": true}}),
            json!({"type": "task", "task": {"type": "custom", "title": "t", "status_indicator": "complete"}}),
            json!({"type": "end_of_turn"}),
            json!({"type": "hidden_context_item", "content": [1]}),
            json!({"type": "sdk_hidden_context", "content": "c"}),
        ];
        for sample in samples {
            let name = sample["type"].as_str().map(str::to_owned);
            let parsed = with(sample.clone());
            assert_eq!(Some(parsed.body.type_name().to_owned()), name);
            let mut expected = base.clone();
            if let (Some(o), Value::Object(e)) = (expected.as_object_mut(), sample) {
                o.extend(e);
            }
            roundtrip::<ThreadItem>(
                &expected
                    .to_string()
                    .replace("2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000000Z"),
            );
        }
        let err = serde_json::from_value::<ThreadItem>(json!({"id": "x", "thread_id": "t", "created_at": "2026-01-01T00:00:00Z", "type": "bogus"}))
            .expect_err("unknown item type");
        assert!(err.to_string().contains("unknown variant `bogus`"), "{err}");
    }
}
