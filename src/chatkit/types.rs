//! Wire types of the ChatKit protocol: requests, threads, items, stream events.
//!
//! These mirror the Python SDK (`openai-chatkit` 1.6.5, `chatkit/types.py`)
//! as it serializes with `model_dump_json(by_alias=True, exclude_none=True)`:
//! `None` fields are omitted, non-null defaults (`attachments: []`,
//! `status_indicator: "none"`, `allow_retry`, …) are always written, and
//! unknown keys on input are ignored. See `shared/reference/chatkit-protocol.md`.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::widgets::{ActionConfig, WidgetComponent, WidgetRoot};

/// Timestamp (de)serialization used for every `created_at`.
///
/// Writes `YYYY-MM-DDTHH:MM:SS.ffffffZ` (always six fraction digits and `Z`),
/// reads RFC 3339 as well as the naive ISO strings the SDK emits (local time
/// without offset), which are taken as UTC.
pub mod timestamp {
    use chrono::{DateTime, NaiveDateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de};

    /// Serializes in the fixed microsecond `Z` form.
    pub fn serialize<S: Serializer>(
        value: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&value.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
    }

    /// Deserializes RFC 3339 or a naive ISO 8601 date-time (treated as UTC).
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| de::Error::custom(format!("invalid timestamp `{text}`")))
    }

    /// Parses one timestamp string as accepted on the wire.
    pub fn parse(text: &str) -> Option<DateTime<Utc>> {
        if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
            return Some(dt.with_timezone(&Utc));
        }
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|fmt| NaiveDateTime::parse_from_str(text, fmt).ok())
            .map(|naive| naive.and_utc())
    }
}

// ---------------------------------------------------------------------------
// Pages and threads
// ---------------------------------------------------------------------------

/// One page of a cursor-paginated list; `after` is the cursor for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(default)]
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

impl<T> Default for Page<T> {
    /// The empty page (`{"data":[],"has_more":false}`) every non-`get_by_id` thread carries.
    fn default() -> Self {
        Self {
            data: Vec::new(),
            has_more: false,
            after: None,
        }
    }
}

/// A thread as sent to the client (always with an `items` page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub id: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub status: ThreadStatus,
    /// Extra domains the client may load images from; omitted when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_image_domains: Option<Vec<String>>,
    /// Integration metadata; the SDK always sends `{}` here.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    pub items: Page<ThreadItem>,
}

impl Thread {
    /// A new, untitled, active thread with no items.
    pub fn new(id: String, created_at: DateTime<Utc>) -> Self {
        Thread {
            title: None,
            id,
            created_at,
            status: ThreadStatus::Active,
            allowed_image_domains: None,
            metadata: Map::new(),
            items: Page::default(),
        }
    }
}

/// Lifecycle state; the client disables (locked) or replaces (closed) the composer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ThreadStatus {
    #[default]
    Active,
    Locked {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Closed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

// ---------------------------------------------------------------------------
// Thread items
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------

/// An uploaded (or to-be-uploaded) file. Its integration `metadata` is never
/// serialized; it is not modelled and ignored on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Attachment {
    File(FileAttachment),
    Image(ImageAttachment),
}

impl Attachment {
    /// The attachment id, whatever its kind.
    pub fn id(&self) -> &str {
        match self {
            Self::File(a) => &a.id,
            Self::Image(a) => &a.id,
        }
    }

    /// The thread it was sent in, if any.
    pub fn thread_id(&self) -> Option<&str> {
        match self {
            Self::File(a) => a.thread_id.as_deref(),
            Self::Image(a) => a.thread_id.as_deref(),
        }
    }

    /// Records the thread when the attachment is used in a message.
    pub fn set_thread_id(&mut self, thread_id: impl Into<String>) {
        let slot = match self {
            Self::File(a) => &mut a.thread_id,
            Self::Image(a) => &mut a.thread_id,
        };
        *slot = Some(thread_id.into());
    }
}

/// A non-image attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileAttachment {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    /// Present only while a two-phase upload is outstanding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_descriptor: Option<UploadDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
}

/// An image attachment; `preview_url` is what the client renders as thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageAttachment {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_descriptor: Option<UploadDescriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    pub preview_url: String,
}

/// Where and how the client uploads the bytes in the two-phase strategy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadDescriptor {
    pub url: String,
    pub method: UploadMethod,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// HTTP method of an upload (upper case on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadMethod {
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
}

// ---------------------------------------------------------------------------
// Stream events
// ---------------------------------------------------------------------------

/// One SSE frame of a streamed response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ThreadStreamEvent {
    #[serde(rename = "thread.created")]
    ThreadCreated { thread: Thread },
    #[serde(rename = "thread.updated")]
    ThreadUpdated { thread: Thread },
    #[serde(rename = "thread.item.added")]
    ItemAdded { item: ThreadItem },
    #[serde(rename = "thread.item.updated")]
    ItemUpdated {
        item_id: String,
        update: ThreadItemUpdate,
    },
    #[serde(rename = "thread.item.done")]
    ItemDone { item: ThreadItem },
    #[serde(rename = "thread.item.removed")]
    ItemRemoved { item_id: String },
    #[serde(rename = "thread.item.replaced")]
    ItemReplaced { item: ThreadItem },
    #[serde(rename = "stream_options")]
    StreamOptions { stream_options: StreamOptions },
    /// Transient status line while work is in flight.
    #[serde(rename = "progress_update")]
    ProgressUpdate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        icon: Option<String>,
        text: String,
    },
    /// Fire-and-forget signal surfaced as the client's `chatkit.effect` event.
    #[serde(rename = "client_effect")]
    ClientEffect {
        name: String,
        #[serde(default)]
        data: Map<String, Value>,
    },
    /// Ends the stream; `allow_retry` controls the retry button.
    #[serde(rename = "error")]
    Error {
        #[serde(default)]
        code: ErrorCode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(default)]
        allow_retry: bool,
    },
    /// User-facing banner (Markdown) that does not end the stream.
    #[serde(rename = "notice")]
    Notice {
        level: NoticeLevel,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
}

impl ThreadStreamEvent {
    /// An error whose message the client shows as is (`code: "custom"`).
    pub fn error_custom(message: impl Into<String>, allow_retry: bool) -> Self {
        Self::Error {
            code: ErrorCode::Custom,
            message: Some(message.into()),
            allow_retry,
        }
    }

    /// A generic error the client shows with its own localized text.
    pub fn stream_error(allow_retry: bool) -> Self {
        Self::Error {
            code: ErrorCode::StreamError,
            message: None,
            allow_retry,
        }
    }
}

/// Per-stream options, sent first in every pipeline run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Whether the client offers a stop button.
    pub allow_cancel: bool,
}

/// Error event codes: generic localized error, or a custom message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ErrorCode {
    #[serde(rename = "stream.error")]
    StreamError,
    #[default]
    #[serde(rename = "custom")]
    Custom,
}

/// Severity of a notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeLevel {
    Info,
    Warning,
    Danger,
}

/// Incremental change to an item that was announced with `thread.item.added`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ThreadItemUpdate {
    #[serde(rename = "assistant_message.content_part.added")]
    ContentPartAdded {
        content_index: usize,
        content: AssistantMessageContent,
    },
    #[serde(rename = "assistant_message.content_part.text_delta")]
    ContentPartTextDelta { content_index: usize, delta: String },
    #[serde(rename = "assistant_message.content_part.annotation_added")]
    ContentPartAnnotationAdded {
        content_index: usize,
        annotation_index: usize,
        annotation: Annotation,
    },
    #[serde(rename = "assistant_message.content_part.done")]
    ContentPartDone {
        content_index: usize,
        content: AssistantMessageContent,
    },
    /// Appends to the `value` of a `Text`/`Markdown` component with that `id`.
    #[serde(rename = "widget.streaming_text.value_delta")]
    WidgetStreamingTextValueDelta {
        component_id: String,
        delta: String,
        done: bool,
    },
    #[serde(rename = "widget.component.updated")]
    WidgetComponentUpdated {
        component_id: String,
        component: WidgetComponent,
    },
    #[serde(rename = "widget.root.updated")]
    WidgetRootUpdated { widget: WidgetRoot },
    #[serde(rename = "workflow.task.added")]
    WorkflowTaskAdded { task_index: usize, task: Task },
    #[serde(rename = "workflow.task.updated")]
    WorkflowTaskUpdated { task_index: usize, task: Task },
    /// Partial image; `progress` in 0..=1.
    #[serde(rename = "generated_image.updated")]
    GeneratedImageUpdated {
        image: GeneratedImage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        progress: Option<f64>,
    },
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// The 16 request `type`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestType {
    #[serde(rename = "threads.create")]
    ThreadsCreate,
    #[serde(rename = "threads.add_user_message")]
    ThreadsAddUserMessage,
    #[serde(rename = "threads.add_client_tool_output")]
    ThreadsAddClientToolOutput,
    #[serde(rename = "threads.add_structured_input")]
    ThreadsAddStructuredInput,
    #[serde(rename = "threads.retry_after_item")]
    ThreadsRetryAfterItem,
    #[serde(rename = "threads.custom_action")]
    ThreadsCustomAction,
    #[serde(rename = "threads.sync_custom_action")]
    ThreadsSyncCustomAction,
    #[serde(rename = "threads.get_by_id")]
    ThreadsGetById,
    #[serde(rename = "threads.list")]
    ThreadsList,
    #[serde(rename = "threads.update")]
    ThreadsUpdate,
    #[serde(rename = "threads.delete")]
    ThreadsDelete,
    #[serde(rename = "items.list")]
    ItemsList,
    #[serde(rename = "items.feedback")]
    ItemsFeedback,
    #[serde(rename = "attachments.create")]
    AttachmentsCreate,
    #[serde(rename = "attachments.delete")]
    AttachmentsDelete,
    #[serde(rename = "input.transcribe")]
    InputTranscribe,
}

impl RequestType {
    /// Every request type, in the order of the spec's catalogue.
    pub const ALL: [RequestType; 16] = [
        Self::ThreadsCreate,
        Self::ThreadsAddUserMessage,
        Self::ThreadsAddClientToolOutput,
        Self::ThreadsAddStructuredInput,
        Self::ThreadsRetryAfterItem,
        Self::ThreadsCustomAction,
        Self::ThreadsSyncCustomAction,
        Self::ThreadsGetById,
        Self::ThreadsList,
        Self::ThreadsUpdate,
        Self::ThreadsDelete,
        Self::ItemsList,
        Self::ItemsFeedback,
        Self::AttachmentsCreate,
        Self::AttachmentsDelete,
        Self::InputTranscribe,
    ];

    /// The wire name (same as the serde rename).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThreadsCreate => "threads.create",
            Self::ThreadsAddUserMessage => "threads.add_user_message",
            Self::ThreadsAddClientToolOutput => "threads.add_client_tool_output",
            Self::ThreadsAddStructuredInput => "threads.add_structured_input",
            Self::ThreadsRetryAfterItem => "threads.retry_after_item",
            Self::ThreadsCustomAction => "threads.custom_action",
            Self::ThreadsSyncCustomAction => "threads.sync_custom_action",
            Self::ThreadsGetById => "threads.get_by_id",
            Self::ThreadsList => "threads.list",
            Self::ThreadsUpdate => "threads.update",
            Self::ThreadsDelete => "threads.delete",
            Self::ItemsList => "items.list",
            Self::ItemsFeedback => "items.feedback",
            Self::AttachmentsCreate => "attachments.create",
            Self::AttachmentsDelete => "attachments.delete",
            Self::InputTranscribe => "input.transcribe",
        }
    }

    /// Looks a wire name up.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether the answer is an SSE stream rather than one JSON document.
    pub fn is_streaming(self) -> bool {
        matches!(
            self,
            Self::ThreadsCreate
                | Self::ThreadsAddUserMessage
                | Self::ThreadsAddClientToolOutput
                | Self::ThreadsAddStructuredInput
                | Self::ThreadsRetryAfterItem
                | Self::ThreadsCustomAction
        )
    }
}

impl fmt::Display for RequestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed request body. Build with [`ChatKitRequest::parse`]; serializes back
/// to `{"type": …, "params": …}` (handy for building test bodies).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", content = "params")]
pub enum ChatKitRequest {
    #[serde(rename = "threads.create")]
    ThreadsCreate(ThreadCreateParams),
    #[serde(rename = "threads.add_user_message")]
    ThreadsAddUserMessage(AddUserMessageParams),
    #[serde(rename = "threads.add_client_tool_output")]
    ThreadsAddClientToolOutput(AddClientToolOutputParams),
    #[serde(rename = "threads.add_structured_input")]
    ThreadsAddStructuredInput(AddStructuredInputParams),
    #[serde(rename = "threads.retry_after_item")]
    ThreadsRetryAfterItem(RetryAfterItemParams),
    #[serde(rename = "threads.custom_action")]
    ThreadsCustomAction(CustomActionParams),
    #[serde(rename = "threads.sync_custom_action")]
    ThreadsSyncCustomAction(CustomActionParams),
    #[serde(rename = "threads.get_by_id")]
    ThreadsGetById(ThreadGetParams),
    #[serde(rename = "threads.list")]
    ThreadsList(ListParams),
    #[serde(rename = "threads.update")]
    ThreadsUpdate(ThreadUpdateParams),
    #[serde(rename = "threads.delete")]
    ThreadsDelete(ThreadDeleteParams),
    #[serde(rename = "items.list")]
    ItemsList(ItemsListParams),
    #[serde(rename = "items.feedback")]
    ItemsFeedback(FeedbackParams),
    #[serde(rename = "attachments.create")]
    AttachmentsCreate(AttachmentCreateParams),
    #[serde(rename = "attachments.delete")]
    AttachmentsDelete(AttachmentDeleteParams),
    #[serde(rename = "input.transcribe")]
    InputTranscribe(TranscribeParams),
}

impl ChatKitRequest {
    /// Parses a request body in two phases, so that each failure gets its own
    /// [`RequestError`]: envelope first (JSON, object, `type`, `params`), then
    /// the params of that type. Unknown keys and `metadata` are ignored.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
        let Value::Object(mut envelope) = value else {
            return Err(RequestError::NotAnObject);
        };
        let request_type = match envelope.get("type") {
            Some(Value::String(name)) => RequestType::from_name(name)
                .ok_or_else(|| RequestError::UnknownType(name.clone()))?,
            _ => return Err(RequestError::MissingType),
        };
        let params = match envelope.remove("params") {
            Some(params @ Value::Object(_)) => params,
            _ => {
                return Err(RequestError::MissingParams(
                    request_type.as_str().to_owned(),
                ));
            }
        };
        Self::from_params(request_type, params)
    }

    /// Phase two of [`ChatKitRequest::parse`]: types `params` (an object).
    fn from_params(request_type: RequestType, params: Value) -> Result<Self, RequestError> {
        fn typed<T: DeserializeOwned>(
            request_type: RequestType,
            params: Value,
        ) -> Result<T, RequestError> {
            serde_json::from_value(params).map_err(|e| RequestError::InvalidParams {
                request_type: request_type.as_str().to_owned(),
                message: e.to_string(),
            })
        }
        let t = request_type;
        Ok(match t {
            RequestType::ThreadsCreate => Self::ThreadsCreate(typed(t, params)?),
            RequestType::ThreadsAddUserMessage => Self::ThreadsAddUserMessage(typed(t, params)?),
            RequestType::ThreadsAddClientToolOutput => {
                Self::ThreadsAddClientToolOutput(typed(t, params)?)
            }
            RequestType::ThreadsAddStructuredInput => {
                Self::ThreadsAddStructuredInput(typed(t, params)?)
            }
            RequestType::ThreadsRetryAfterItem => Self::ThreadsRetryAfterItem(typed(t, params)?),
            RequestType::ThreadsCustomAction => Self::ThreadsCustomAction(typed(t, params)?),
            RequestType::ThreadsSyncCustomAction => {
                Self::ThreadsSyncCustomAction(typed(t, params)?)
            }
            RequestType::ThreadsGetById => Self::ThreadsGetById(typed(t, params)?),
            RequestType::ThreadsList => Self::ThreadsList(typed(t, params)?),
            RequestType::ThreadsUpdate => Self::ThreadsUpdate(typed(t, params)?),
            RequestType::ThreadsDelete => Self::ThreadsDelete(typed(t, params)?),
            RequestType::ItemsList => Self::ItemsList(typed(t, params)?),
            RequestType::ItemsFeedback => Self::ItemsFeedback(typed(t, params)?),
            RequestType::AttachmentsCreate => Self::AttachmentsCreate(typed(t, params)?),
            RequestType::AttachmentsDelete => Self::AttachmentsDelete(typed(t, params)?),
            RequestType::InputTranscribe => Self::InputTranscribe(typed(t, params)?),
        })
    }

    /// The `type` of this request.
    pub fn request_type(&self) -> RequestType {
        match self {
            Self::ThreadsCreate(_) => RequestType::ThreadsCreate,
            Self::ThreadsAddUserMessage(_) => RequestType::ThreadsAddUserMessage,
            Self::ThreadsAddClientToolOutput(_) => RequestType::ThreadsAddClientToolOutput,
            Self::ThreadsAddStructuredInput(_) => RequestType::ThreadsAddStructuredInput,
            Self::ThreadsRetryAfterItem(_) => RequestType::ThreadsRetryAfterItem,
            Self::ThreadsCustomAction(_) => RequestType::ThreadsCustomAction,
            Self::ThreadsSyncCustomAction(_) => RequestType::ThreadsSyncCustomAction,
            Self::ThreadsGetById(_) => RequestType::ThreadsGetById,
            Self::ThreadsList(_) => RequestType::ThreadsList,
            Self::ThreadsUpdate(_) => RequestType::ThreadsUpdate,
            Self::ThreadsDelete(_) => RequestType::ThreadsDelete,
            Self::ItemsList(_) => RequestType::ItemsList,
            Self::ItemsFeedback(_) => RequestType::ItemsFeedback,
            Self::AttachmentsCreate(_) => RequestType::AttachmentsCreate,
            Self::AttachmentsDelete(_) => RequestType::AttachmentsDelete,
            Self::InputTranscribe(_) => RequestType::InputTranscribe,
        }
    }
}

/// Why a request body was rejected (all map to a 4xx answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The body is not valid JSON.
    InvalidJson(String),
    /// The body is JSON but not an object.
    NotAnObject,
    /// `type` is absent or not a string.
    MissingType,
    /// `type` is not one of the 16 request types.
    UnknownType(String),
    /// `params` is absent or not an object (holds the request type).
    MissingParams(String),
    /// `params` does not fit the request type; `message` is serde's.
    InvalidParams {
        request_type: String,
        message: String,
    },
}

impl RequestError {
    /// Stable machine-readable code for error bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::NotAnObject | Self::MissingType => "invalid_request",
            Self::UnknownType(_) => "unknown_type",
            Self::MissingParams(_) => "missing_params",
            Self::InvalidParams { .. } => "invalid_params",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidJson(e) => write!(f, "request body is not valid JSON: {e}"),
            Self::NotAnObject => f.write_str("request body must be a JSON object"),
            Self::MissingType => f.write_str("request field `type` is missing or not a string"),
            Self::UnknownType(t) => write!(f, "unknown request type `{t}`"),
            Self::MissingParams(t) => {
                write!(f, "`params` must be a JSON object for request type `{t}`")
            }
            Self::InvalidParams {
                request_type,
                message,
            } => {
                write!(f, "invalid params for `{request_type}`: {message}")
            }
        }
    }
}

impl std::error::Error for RequestError {}

/// A new message from the composer; `content`, `attachments` (ids) and
/// `inference_options` are required, as in the SDK.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserMessageInput {
    pub content: Vec<UserMessageContent>,
    pub attachments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quoted_text: Option<String>,
    pub inference_options: InferenceOptions,
}

/// `threads.create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadCreateParams {
    pub input: UserMessageInput,
}

/// `threads.add_user_message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddUserMessageParams {
    pub thread_id: String,
    pub input: UserMessageInput,
}

/// `threads.add_client_tool_output`; `result` is any JSON (required, may be null).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddClientToolOutputParams {
    pub thread_id: String,
    pub result: Value,
}

/// `threads.add_structured_input`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddStructuredInputParams {
    pub thread_id: String,
    pub item_id: String,
    pub input: StructuredInputSubmission,
}

/// The client's answers, keyed by question id.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StructuredInputSubmission {
    #[serde(default)]
    pub status: SubmissionStatus,
    #[serde(default)]
    pub answers: BTreeMap<String, StructuredInputAnswer>,
}

/// Whether the user answered or skipped the whole structured input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionStatus {
    #[default]
    Answered,
    Skipped,
}

impl From<SubmissionStatus> for StructuredInputStatus {
    /// The item takes the submission's status.
    fn from(status: SubmissionStatus) -> Self {
        match status {
            SubmissionStatus::Answered => Self::Answered,
            SubmissionStatus::Skipped => Self::Skipped,
        }
    }
}

/// `threads.retry_after_item`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryAfterItemParams {
    pub thread_id: String,
    pub item_id: String,
}

/// `threads.custom_action` and `threads.sync_custom_action`; `item_id` is the
/// sending widget, absent for client-initiated actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomActionParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub action: Action,
}

/// Params that only name a thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadIdParams {
    pub thread_id: String,
}

/// `threads.get_by_id`.
pub type ThreadGetParams = ThreadIdParams;
/// `threads.delete`.
pub type ThreadDeleteParams = ThreadIdParams;

/// `threads.list`; `limit` `None` or 0 means the default page size.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default)]
    pub order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// `items.list`; same paging rules as [`ListParams`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemsListParams {
    pub thread_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default)]
    pub order: Order,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Sort order by creation time; lists default to newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// `threads.update`; the title is the only mutable field and cannot be cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadUpdateParams {
    pub thread_id: String,
    pub title: String,
}

/// `items.feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackParams {
    pub thread_id: String,
    pub item_ids: Vec<String>,
    pub kind: FeedbackKind,
}

/// Thumbs up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    Positive,
    Negative,
}

/// `attachments.create` (two-phase upload, step 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentCreateParams {
    pub name: String,
    pub size: u64,
    pub mime_type: String,
}

/// `attachments.delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentDeleteParams {
    pub attachment_id: String,
}

/// `input.transcribe`; `mime_type` is the raw recorder type (may carry `;codecs=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscribeParams {
    pub audio_base64: String,
    pub mime_type: String,
}

/// An action as the client sends it back (`{type, payload}`); any other keys
/// (`handler`, `loadingBehavior`, …) are ignored. The payload is untrusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    #[serde(rename = "type")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub payload: Value,
}

impl From<ActionConfig> for Action {
    /// What the client sends when a widget action with this config fires.
    fn from(config: ActionConfig) -> Self {
        Self {
            type_: config.type_,
            payload: config.payload,
        }
    }
}

/// Answer of `threads.sync_custom_action`: `{}` or `{"updated_item": …}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncCustomActionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_item: Option<ThreadItem>,
}

/// Answer of `input.transcribe`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptionResult {
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Deserializes `json` as `T`, serializes it back and compares as JSON values.
    fn roundtrip<T: DeserializeOwned + Serialize>(json: &str) -> T {
        let expected: Value = serde_json::from_str(json).expect("sample is valid JSON");
        let typed: T = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let back = serde_json::to_value(&typed).expect("serializes");
        assert_eq!(back, expected, "round trip changed {json}");
        typed
    }

    fn item(json: Value) -> ThreadItem {
        serde_json::from_value(json).expect("valid item")
    }

    const WIDGET_BUTTON: &str = r#"{"key":"peer_button","type":"Button","label":"Click me","onClickAction":{"type":"peer.widget_click","payload":{"count":0},"handler":"server","loadingBehavior":"auto"}}"#;

    #[test]
    fn appendix_a_threads_create_stream() {
        let frames = [
            r#"{"type":"thread.created","thread":{"id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.852670Z","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}}"#,
            r#"{"type":"thread.item.done","item":{"id":"msg_924032d5","thread_id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.881888Z","type":"user_message","content":[{"type":"input_text","text":"hello widget"}],"attachments":[],"inference_options":{}}}"#,
            r#"{"type":"stream_options","stream_options":{"allow_cancel":true}}"#,
            r#"{"type":"thread.item.added","item":{"id":"msg_57036e41","thread_id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.895074Z","type":"assistant_message","content":[]}}"#,
            r#"{"type":"thread.updated","thread":{"title":"hello widget","id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.852670Z","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}}"#,
            r#"{"type":"thread.item.updated","item_id":"msg_57036e41","update":{"type":"assistant_message.content_part.added","content_index":0,"content":{"annotations":[],"text":"","type":"output_text"}}}"#,
            r#"{"type":"thread.item.updated","item_id":"msg_57036e41","update":{"type":"assistant_message.content_part.text_delta","content_index":0,"delta":"alpha "}}"#,
            r#"{"type":"thread.item.updated","item_id":"msg_57036e41","update":{"type":"assistant_message.content_part.done","content_index":0,"content":{"annotations":[],"text":"alpha bravo charlie xray","type":"output_text"}}}"#,
            r#"{"type":"thread.item.done","item":{"id":"msg_57036e41","thread_id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.895074Z","type":"assistant_message","content":[{"annotations":[],"text":"alpha bravo charlie xray","type":"output_text"}]}}"#,
            &format!(
                r#"{{"type":"thread.item.added","item":{{"id":"msg_b9c71fc3","thread_id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.912345Z","type":"widget","widget":{{"type":"Card","children":[{{"id":"peer_text","type":"Text","value":""}},{WIDGET_BUTTON}],"size":"sm"}},"copy_text":"Peer widget: count 0"}}}}"#
            ),
            r#"{"type":"thread.item.updated","item_id":"msg_b9c71fc3","update":{"type":"widget.streaming_text.value_delta","component_id":"peer_text","delta":"Peer","done":true}}"#,
            &format!(
                r#"{{"type":"thread.item.done","item":{{"id":"msg_b9c71fc3","thread_id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.912345Z","type":"widget","widget":{{"type":"Card","children":[{{"id":"peer_text","type":"Text","value":"Peer widget: count 0"}},{WIDGET_BUTTON}],"size":"sm"}},"copy_text":"Peer widget: count 0"}}}}"#
            ),
        ];
        for frame in frames {
            roundtrip::<ThreadStreamEvent>(frame);
        }
    }

    #[test]
    fn appendix_a_custom_action_stream() {
        roundtrip::<ThreadStreamEvent>(
            r#"{"type":"stream_options","stream_options":{"allow_cancel":true}}"#,
        );
        let event = roundtrip::<ThreadStreamEvent>(
            r#"{"type":"thread.item.replaced","item":{"id":"msg_0b1e4628","thread_id":"thr_567d8e88","created_at":"2026-11-23T23:05:01.000000Z","type":"widget","widget":{"type":"Card","children":[{"id":"peer_text","type":"Text","value":"Clicked 6 time(s)"},{"key":"peer_button","type":"Button","label":"Click me","onClickAction":{"type":"peer.widget_click","payload":{"count":6},"handler":"server","loadingBehavior":"auto"}}],"size":"sm"},"copy_text":"Peer widget: count 0"}}"#,
        );
        let ThreadStreamEvent::ItemReplaced { item } = event else {
            panic!("not replaced")
        };
        let ItemBody::Widget(widget) = item.body else {
            panic!("not a widget")
        };
        assert_eq!(
            widget.widget.child_nodes()[1].key.as_deref(),
            Some("peer_button")
        );
    }

    #[test]
    fn appendix_a_error_and_other_events() {
        let frames = [
            r#"{"type":"error","code":"stream.error","allow_retry":true}"#,
            r#"{"type":"error","code":"custom","message":"The peer failed on purpose.","allow_retry":false}"#,
            r#"{"type":"progress_update","icon":"sparkle","text":"Working on it"}"#,
            r#"{"type":"notice","level":"info","message":"A **notice** from the peer.","title":"Peer"}"#,
            r#"{"type":"client_effect","name":"peer.effect","data":{"hello":"world"}}"#,
            r#"{"type":"thread.item.done","item":{"id":"tc_b77cb806","thread_id":"thr_9f0285f0","created_at":"2026-11-23T23:06:00.123456Z","type":"client_tool_call","status":"pending","call_id":"tc_c2026433","name":"peer_get_client_state","arguments":{"what":"selection","verbose":false}}}"#,
            r#"{"type":"thread.item.done","item":{"id":"msg_4210384c","thread_id":"thr_911c0e4a","created_at":"2026-11-23T23:07:00.000001Z","type":"structured_input","status":"pending","inputs":[{"id":"priority","question":"Which priority?","type":"multiple_choice","options":[{"value":"Low"},{"value":"Medium"},{"value":"High"}],"multiple":false},{"id":"notes","question":"Any notes?","type":"freeform","description":"Optional"}]}}"#,
        ];
        for frame in frames {
            roundtrip::<ThreadStreamEvent>(frame);
        }
        assert_eq!(
            serde_json::to_string(&ThreadStreamEvent::stream_error(true))
                .ok()
                .as_deref(),
            Some(frames[0])
        );
        assert_eq!(
            serde_json::to_string(&ThreadStreamEvent::error_custom(
                "The peer failed on purpose.",
                false
            ))
            .ok()
            .as_deref(),
            Some(frames[1])
        );
    }

    #[test]
    fn appendix_a_json_answers() {
        roundtrip::<Page<Thread>>(
            r#"{"data":[{"title":"hello widget","id":"thr_c69d7c4f","created_at":"2026-11-23T23:04:25.852670Z","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}},{"id":"thr_567d8e88","created_at":"2026-11-23T23:03:00.000000Z","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}],"has_more":false}"#,
        );
        roundtrip::<Page<ThreadItem>>(
            r#"{"data":[{"id":"msg_80a2233f","thread_id":"thr_567d8e88","created_at":"2026-11-23T23:03:00.500000Z","type":"user_message","content":[{"type":"input_text","text":"doc sample widget"}],"attachments":[],"inference_options":{}}],"has_more":true,"after":"msg_80a2233f"}"#,
        );
        roundtrip::<Thread>(
            r#"{"title":"T","id":"thr_567d8e88","created_at":"2026-11-23T23:03:00.000000Z","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}"#,
        );
        let attachment = roundtrip::<Attachment>(
            r#"{"id":"atc_65d33a1f","name":"a.png","mime_type":"image/png","upload_descriptor":{"url":"http://127.0.0.1:8801/chatkit/attachments/atc_65d33a1f/upload","method":"POST","headers":{"X-Peer-Upload":"1"}},"type":"image","preview_url":"http://127.0.0.1:8801/chatkit/attachments/atc_65d33a1f/content"}"#,
        );
        assert_eq!(attachment.id(), "atc_65d33a1f");
        roundtrip::<SyncCustomActionResponse>(&format!(
            r#"{{"updated_item":{{"id":"msg_0b1e4628","thread_id":"thr_567d8e88","created_at":"2026-11-23T23:05:01.000000Z","type":"widget","widget":{{"type":"Card","children":[{{"id":"peer_text","type":"Text","value":"Clicked 7 time(s)"}},{WIDGET_BUTTON}],"size":"sm"}},"copy_text":"Peer widget: count 0"}}}}"#
        ));
        roundtrip::<TranscriptionResult>(r#"{"text":"transcribed 5 bytes of audio/ogg"}"#);
        roundtrip::<SyncCustomActionResponse>("{}");
    }

    #[test]
    fn sdk_naive_timestamps_parse_as_utc() {
        let sample = r#"{"id":"thr_ceeaedc1","created_at":"2026-11-23T23:04:25.852670","status":{"type":"active"},"metadata":{},"items":{"data":[],"has_more":false}}"#;
        let thread: Thread = serde_json::from_str(sample).expect("naive timestamp accepted");
        let json = serde_json::to_value(&thread).expect("serializes");
        assert_eq!(json["created_at"], "2026-11-23T23:04:25.852670Z");

        let parse = |s| timestamp::parse(s).map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
        // The SDK drops the fraction when it is zero.
        assert_eq!(
            parse("2026-11-23T23:04:25").as_deref(),
            Some("2026-11-23T23:04:25.000000Z")
        );
        assert_eq!(
            parse("2026-11-23T23:04:25.5+02:00").as_deref(),
            Some("2026-11-23T21:04:25.500000Z")
        );
        assert_eq!(
            parse("2026-11-23T23:04:25.123456789Z").as_deref(),
            Some("2026-11-23T23:04:25.123456Z")
        );
        assert_eq!(parse("yesterday"), None);
        let err =
            serde_json::from_str::<Thread>(&sample.replace("2026-11-23T23:04:25.852670", "soon"))
                .expect_err("bad timestamp rejected");
        assert!(
            err.to_string().contains("invalid timestamp `soon`"),
            "{err}"
        );
    }

    fn minimal_bodies() -> Vec<(RequestType, Value)> {
        let input = json!({"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}});
        vec![
            (RequestType::ThreadsCreate, json!({"input": input})),
            (
                RequestType::ThreadsAddUserMessage,
                json!({"thread_id": "thr_1", "input": input}),
            ),
            (
                RequestType::ThreadsAddClientToolOutput,
                json!({"thread_id": "thr_1", "result": {"ok": true}}),
            ),
            (
                RequestType::ThreadsAddStructuredInput,
                json!({"thread_id": "thr_1", "item_id": "msg_1", "input": {}}),
            ),
            (
                RequestType::ThreadsRetryAfterItem,
                json!({"thread_id": "thr_1", "item_id": "msg_1"}),
            ),
            (
                RequestType::ThreadsCustomAction,
                json!({"thread_id": "thr_1", "action": {"type": "go"}}),
            ),
            (
                RequestType::ThreadsSyncCustomAction,
                json!({"thread_id": "thr_1", "item_id": "msg_1", "action": {"type": "go", "payload": {"n": 1}}}),
            ),
            (RequestType::ThreadsGetById, json!({"thread_id": "thr_1"})),
            (RequestType::ThreadsList, json!({})),
            (
                RequestType::ThreadsUpdate,
                json!({"thread_id": "thr_1", "title": "T"}),
            ),
            (RequestType::ThreadsDelete, json!({"thread_id": "thr_1"})),
            (RequestType::ItemsList, json!({"thread_id": "thr_1"})),
            (
                RequestType::ItemsFeedback,
                json!({"thread_id": "thr_1", "item_ids": ["msg_1"], "kind": "positive"}),
            ),
            (
                RequestType::AttachmentsCreate,
                json!({"name": "a.png", "size": 10, "mime_type": "image/png"}),
            ),
            (
                RequestType::AttachmentsDelete,
                json!({"attachment_id": "atc_1"}),
            ),
            (
                RequestType::InputTranscribe,
                json!({"audio_base64": "AAAA", "mime_type": "audio/webm;codecs=opus"}),
            ),
        ]
    }

    #[test]
    fn every_request_type_parses_from_a_minimal_body() {
        let bodies = minimal_bodies();
        assert_eq!(bodies.len(), RequestType::ALL.len());
        for (request_type, params) in bodies {
            let body = json!({"type": request_type.as_str(), "params": params, "metadata": {"any": 1}, "extra": true});
            let request = ChatKitRequest::parse(body.to_string().as_bytes())
                .unwrap_or_else(|e| panic!("{request_type}: {e}"));
            assert_eq!(request.request_type(), request_type);
            // The adjacently tagged Serialize gives a body that parses to the same value.
            let rebuilt = serde_json::to_vec(&request).expect("serializes");
            assert_eq!(ChatKitRequest::parse(&rebuilt), Ok(request));
        }
    }

    #[test]
    fn request_types_names_and_streaming() {
        for t in RequestType::ALL {
            assert_eq!(serde_json::to_value(t).ok(), Some(json!(t.as_str())));
            assert_eq!(RequestType::from_name(t.as_str()), Some(t));
        }
        let streaming: Vec<_> = RequestType::ALL
            .into_iter()
            .filter(|t| t.is_streaming())
            .map(RequestType::as_str)
            .collect();
        assert_eq!(
            streaming,
            [
                "threads.create",
                "threads.add_user_message",
                "threads.add_client_tool_output",
                "threads.add_structured_input",
                "threads.retry_after_item",
                "threads.custom_action"
            ]
        );
    }

    #[test]
    fn parsed_params_carry_defaults() {
        let parse = |body: Value| ChatKitRequest::parse(body.to_string().as_bytes());
        assert_eq!(
            parse(json!({"type": "threads.list", "params": {}})),
            Ok(ChatKitRequest::ThreadsList(ListParams {
                limit: None,
                order: Order::Desc,
                after: None
            }))
        );
        let Ok(ChatKitRequest::ThreadsCustomAction(params)) = parse(
            json!({"type": "threads.custom_action", "params": {"thread_id": "t", "action": {"type": "go", "handler": "client"}}}),
        ) else {
            panic!("custom action expected")
        };
        assert_eq!(params.item_id, None);
        assert_eq!(
            params.action,
            Action {
                type_: "go".into(),
                payload: Value::Null
            }
        );
        let Ok(ChatKitRequest::ThreadsAddStructuredInput(params)) = parse(json!({
            "type": "threads.add_structured_input",
            "params": {"thread_id": "t", "item_id": "i", "input": {"answers": {"q": {"values": ["a"]}}}}
        })) else {
            panic!("structured input expected")
        };
        assert_eq!(params.input.status, SubmissionStatus::Answered);
        assert_eq!(
            params.input.answers["q"],
            StructuredInputAnswer {
                values: vec!["a".into()],
                skipped: false
            }
        );
        assert_eq!(
            StructuredInputStatus::from(SubmissionStatus::Skipped),
            StructuredInputStatus::Skipped
        );
        // A null tool result is a valid result.
        assert!(parse(json!({"type": "threads.add_client_tool_output", "params": {"thread_id": "t", "result": null}})).is_ok());
    }

    #[test]
    fn request_errors_are_precise() {
        let parse = |body: &str| ChatKitRequest::parse(body.as_bytes());
        let cases: [(&str, RequestError, &str); 9] = [
            (
                "{",
                RequestError::InvalidJson(String::new()),
                "invalid_json",
            ),
            ("[1]", RequestError::NotAnObject, "invalid_request"),
            (
                r#"{"params":{}}"#,
                RequestError::MissingType,
                "invalid_request",
            ),
            (
                r#"{"type":7,"params":{}}"#,
                RequestError::MissingType,
                "invalid_request",
            ),
            (
                r#"{"type":"threads.cancel","params":{}}"#,
                RequestError::UnknownType("threads.cancel".into()),
                "unknown_type",
            ),
            (
                r#"{"type":"threads.list"}"#,
                RequestError::MissingParams("threads.list".into()),
                "missing_params",
            ),
            (
                r#"{"type":"threads.list","params":[]}"#,
                RequestError::MissingParams("threads.list".into()),
                "missing_params",
            ),
            (
                r#"{"type":"threads.get_by_id","params":{}}"#,
                RequestError::InvalidParams {
                    request_type: "threads.get_by_id".into(),
                    message: "missing field `thread_id`".into(),
                },
                "invalid_params",
            ),
            (
                r#"{"type":"items.feedback","params":{"thread_id":"t","item_ids":[],"kind":"meh"}}"#,
                RequestError::InvalidParams {
                    request_type: "items.feedback".into(),
                    message: "unknown variant `meh`, expected `positive` or `negative`".into(),
                },
                "invalid_params",
            ),
        ];
        for (body, expected, code) in cases {
            let err = parse(body).expect_err(body);
            assert_eq!(err.code(), code, "{body}");
            match (&err, &expected) {
                (RequestError::InvalidJson(msg), RequestError::InvalidJson(_)) => {
                    assert!(!msg.is_empty())
                }
                _ => assert_eq!(err, expected, "{body}"),
            }
            assert!(!err.to_string().is_empty());
        }
        // UserMessageInput fields are required, as in the SDK.
        let err = parse(
            r#"{"type":"threads.create","params":{"input":{"content":[],"inference_options":{}}}}"#,
        )
        .expect_err("attachments required");
        assert!(
            err.to_string().contains("missing field `attachments`"),
            "{err}"
        );
        let err = parse(r#"{"type":"threads.add_client_tool_output","params":{"thread_id":"t"}}"#)
            .expect_err("result required");
        assert!(err.to_string().contains("missing field `result`"), "{err}");
        let err = parse(r#"{"type":"threads.get_by_id","params":{"thread_id":123}}"#)
            .expect_err("wrong type");
        assert_eq!(err.code(), "invalid_params");
        let _: &dyn std::error::Error = &err;
    }

    #[test]
    fn null_fields_are_omitted() {
        let thread = Thread {
            title: None,
            id: "thr_1".into(),
            created_at: DateTime::UNIX_EPOCH,
            status: ThreadStatus::Locked { reason: None },
            allowed_image_domains: None,
            metadata: Map::new(),
            items: Page::default(),
        };
        assert_eq!(
            serde_json::to_value(&thread).ok(),
            Some(
                json!({"id": "thr_1", "created_at": "1970-01-01T00:00:00.000000Z", "status": {"type": "locked"}, "metadata": {}, "items": {"data": [], "has_more": false}})
            )
        );
        let call = ItemBody::ClientToolCall(ClientToolCallItem {
            status: ClientToolCallStatus::Completed,
            call_id: "c".into(),
            name: "n".into(),
            arguments: Map::new(),
            output: None,
        });
        assert_eq!(
            serde_json::to_value(&call).ok(),
            Some(
                json!({"type": "client_tool_call", "status": "completed", "call_id": "c", "name": "n", "arguments": {}})
            )
        );
        let hidden = ItemBody::HiddenContextItem(HiddenContextItem {
            content: Value::Null,
        });
        assert_eq!(
            serde_json::to_value(&hidden).ok(),
            Some(json!({"type": "hidden_context_item"}))
        );
        let file = Attachment::File(FileAttachment {
            id: "atc_1".into(),
            name: "a.txt".into(),
            mime_type: "text/plain".into(),
            upload_descriptor: None,
            thread_id: None,
        });
        assert_eq!(
            serde_json::to_value(&file).ok(),
            Some(
                json!({"type": "file", "id": "atc_1", "name": "a.txt", "mime_type": "text/plain"})
            )
        );
    }

    #[test]
    fn non_null_defaults_are_emitted() {
        let user = item(json!({
            "id": "m", "thread_id": "t", "created_at": "2026-01-01T00:00:00Z", "type": "user_message",
            "content": [{"type": "input_tag", "id": "e", "text": "Harry", "data": {}}], "inference_options": {}
        }));
        assert_eq!(
            serde_json::to_value(&user).ok(),
            Some(json!({
                "id": "m", "thread_id": "t", "created_at": "2026-01-01T00:00:00.000000Z", "type": "user_message",
                "content": [{"type": "input_tag", "id": "e", "text": "Harry", "data": {}, "interactive": false}],
                "attachments": [], "inference_options": {}
            }))
        );
        let workflow = item(json!({
            "id": "w", "thread_id": "t", "created_at": "2026-01-01T00:00:00Z", "type": "workflow",
            "workflow": {"type": "reasoning", "tasks": [
                {"type": "web_search"}, {"type": "thought", "content": "x"}, {"type": "file"}, {"type": "image"}, {"type": "custom"}
            ], "summary": {"duration": 3}}
        }));
        assert_eq!(
            serde_json::to_value(&workflow.body).ok(),
            Some(
                json!({"type": "workflow", "workflow": {"type": "reasoning", "tasks": [
                {"status_indicator": "none", "type": "web_search", "queries": [], "sources": []},
                {"status_indicator": "none", "type": "thought", "content": "x"},
                {"status_indicator": "none", "type": "file", "sources": []},
                {"status_indicator": "none", "type": "image"},
                {"status_indicator": "none", "type": "custom"}
            ], "summary": {"duration": 3}, "expanded": false}})
            )
        );
        let message = item(json!({
            "id": "a", "thread_id": "t", "created_at": "2026-01-01T00:00:00Z", "type": "assistant_message",
            "content": [{"text": "x", "annotations": [{"source": {"type": "entity", "id": "e", "title": "T", "preview": "lazy"}, "index": 1}]}]
        }));
        assert_eq!(
            serde_json::to_value(&message.body).ok(),
            Some(
                json!({"type": "assistant_message", "content": [{"annotations": [{"type": "annotation",
                "source": {"title": "T", "type": "entity", "id": "e", "interactive": false, "data": {}}, "index": 1}],
                "text": "x", "type": "output_text"}]})
            )
        );
        let events: Vec<ThreadStreamEvent> = serde_json::from_value(json!([
            {"type": "error"}, {"type": "client_effect", "name": "x"}
        ]))
        .expect("events");
        assert_eq!(
            serde_json::to_value(&events).ok(),
            Some(
                json!([{"type": "error", "code": "custom", "allow_retry": false}, {"type": "client_effect", "name": "x", "data": {}}])
            )
        );
        let upload: UploadDescriptor =
            serde_json::from_value(json!({"url": "https://u", "method": "PUT"}))
                .expect("descriptor");
        assert_eq!(
            serde_json::to_value(&upload).ok(),
            Some(json!({"url": "https://u", "method": "PUT", "headers": {}}))
        );
        let page: Page<Thread> = serde_json::from_value(json!({})).expect("page");
        assert_eq!(
            serde_json::to_value(&page).ok(),
            Some(json!({"data": [], "has_more": false}))
        );
        assert_eq!(
            serde_json::to_value(AssistantMessageContent::new("hi")).ok(),
            Some(json!({"annotations": [], "text": "hi", "type": "output_text"}))
        );
    }

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

    #[test]
    fn attachments_ignore_metadata_and_track_threads() {
        let mut attachment: Attachment = serde_json::from_value(json!({
            "type": "file", "id": "atc_1", "name": "n.txt", "mime_type": "text/plain", "metadata": {"secret": 1}
        }))
        .expect("attachment");
        assert_eq!(attachment.thread_id(), None);
        attachment.set_thread_id("thr_1");
        assert_eq!(attachment.thread_id(), Some("thr_1"));
        assert_eq!(
            serde_json::to_value(&attachment).ok(),
            Some(
                json!({"type": "file", "id": "atc_1", "name": "n.txt", "mime_type": "text/plain", "thread_id": "thr_1"})
            )
        );
        let err = serde_json::from_value::<Attachment>(
            json!({"type": "image", "id": "a", "name": "n", "mime_type": "image/png"}),
        )
        .expect_err("preview_url required");
        assert!(err.to_string().contains("preview_url"), "{err}");
    }

    #[test]
    fn item_updates_roundtrip() {
        let updates = [
            r#"{"type":"assistant_message.content_part.annotation_added","content_index":0,"annotation_index":2,"annotation":{"type":"annotation","source":{"title":"Docs","type":"url","url":"https://example.com","attribution":"ex"}}}"#,
            r#"{"type":"widget.component.updated","component_id":"c","component":{"type":"Text","id":"c","value":"v"}}"#,
            r#"{"type":"widget.root.updated","widget":{"type":"ListView","children":[{"type":"ListViewItem","children":[]}],"limit":"auto"}}"#,
            r#"{"type":"workflow.task.added","task_index":0,"task":{"status_indicator":"loading","type":"web_search","title":"Searching","title_query":"q","queries":["q"],"sources":[{"title":"S","group":"g","type":"url","url":"https://s"}]}}"#,
            r#"{"type":"workflow.task.updated","task_index":0,"task":{"status_indicator":"complete","type":"file","sources":[{"title":"F","description":"d","timestamp":"yesterday","type":"file","filename":"f.pdf"}]}}"#,
            r#"{"type":"generated_image.updated","image":{"id":"img","url":"data:image/png;base64,AA"},"progress":0.5}"#,
        ];
        for update in updates {
            roundtrip::<ThreadItemUpdate>(update);
        }
        roundtrip::<ThreadStreamEvent>(r#"{"type":"thread.item.removed","item_id":"msg_1"}"#);
        roundtrip::<ThreadStatus>(r#"{"type":"closed","reason":"Archived"}"#);
        roundtrip::<Thread>(
            r#"{"id":"t","created_at":"2026-01-01T00:00:00.000000Z","status":{"type":"locked","reason":"r"},"allowed_image_domains":["img.example.com"],"metadata":{},"items":{"data":[],"has_more":true,"after":"x"}}"#,
        );
    }

    #[test]
    fn action_from_config() {
        let config = ActionConfig::new("save").with_payload(json!({"id": 1}));
        assert_eq!(
            Action::from(config),
            Action {
                type_: "save".into(),
                payload: json!({"id": 1})
            }
        );
        assert_eq!(
            serde_json::to_value(Action::from(ActionConfig::new("x"))).ok(),
            Some(json!({"type": "x"}))
        );
    }
}
