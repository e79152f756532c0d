//! The transcript page and the deletion confirmation: every stored item turned into what a
//! person reads (message bubbles, sanitised Markdown, read-only widgets, tool calls with
//! formatted JSON, hidden context marked as such, forms with who answered), runs where they
//! ended, feedback per item, and the raw JSON of each item behind a toggle.
//!
//! User and model text reaches the templates as plain strings, which askama escapes. The only
//! HTML built here comes from `render` (sanitised Markdown, escaped widgets and JSON) and is
//! held in `*_html` fields, the only ones the templates mark safe.

mod bodies;

use crate::routes::admin::session::Chrome;
use serde_json::Value;

use super::{iso, readable, user_link};
use crate::routes::admin::render::markdown::{is_image_url, is_link_url};
use crate::routes::admin::render::widgets::widget_to_html;
use crate::routes::admin::render::{duration_text, markdown::markdown_to_html, pretty_json};
use crate::service::console::transcript::{
    AttachmentInfo, Entry, FeedbackMark, InteractionInfo, RunInfo, TOOL_CALL_KIND, Transcript,
    TranscriptItem,
};
use bodies::{
    client_tool_body, hidden_body, questions_body, task_view, tool_body, workflow_body,
    workflow_role,
};

pub(in crate::routes::admin) struct ItemView {
    pub(in crate::routes::admin) id: String,
    /// `item item-user` …: the stylesheet's item classes.
    pub(in crate::routes::admin) class: &'static str,
    pub(in crate::routes::admin) role: String,
    /// "hidden context" or "model only", for items the user never saw.
    pub(in crate::routes::admin) visibility: Option<&'static str>,
    pub(in crate::routes::admin) at_iso: String,
    pub(in crate::routes::admin) at_text: String,
    pub(in crate::routes::admin) body: Body,
    pub(in crate::routes::admin) feedback: Vec<FeedbackMark>,
    pub(in crate::routes::admin) raw_html: String,
}

pub(in crate::routes::admin) enum Body {
    User {
        texts: Vec<String>,
        tags: Vec<String>,
        quoted: Option<String>,
        attachments: Vec<AttachmentView>,
        model: Option<String>,
        tool: Option<String>,
    },
    Assistant {
        html: String,
        sources: Vec<SourceView>,
    },
    Widget {
        html: String,
        copy_text: Option<String>,
        form: Option<FormView>,
    },
    Tool {
        server: Option<String>,
        name: String,
        failed: bool,
        duration_ms: Option<u64>,
        call_id: String,
        arguments_html: String,
        output_html: String,
        content_html: Option<String>,
    },
    ClientTool {
        name: String,
        status: String,
        call_id: String,
        arguments_html: String,
        output_html: Option<String>,
    },
    Hidden {
        text: Option<String>,
        json_html: Option<String>,
    },
    Questions {
        status: String,
        questions: Vec<QuestionView>,
    },
    Tasks {
        summary: Option<String>,
        tasks: Vec<TaskView>,
    },
    Image {
        url: Option<String>,
    },
    EndOfTurn,
    Unknown,
}

pub(in crate::routes::admin) struct AttachmentView {
    pub(in crate::routes::admin) name: String,
    pub(in crate::routes::admin) mime_type: String,
    pub(in crate::routes::admin) size: String,
    pub(in crate::routes::admin) url: Option<String>,
    pub(in crate::routes::admin) is_image: bool,
    pub(in crate::routes::admin) state: String,
}

pub(in crate::routes::admin) struct SourceView {
    pub(in crate::routes::admin) title: String,
    pub(in crate::routes::admin) url: Option<String>,
}

pub(in crate::routes::admin) struct FormView {
    pub(in crate::routes::admin) kind: String,
    pub(in crate::routes::admin) status: String,
    pub(in crate::routes::admin) status_class: &'static str,
    pub(in crate::routes::admin) tool_name: String,
    pub(in crate::routes::admin) answered_by: Option<String>,
    pub(in crate::routes::admin) answered_at: Option<String>,
    pub(in crate::routes::admin) answer_html: Option<String>,
    pub(in crate::routes::admin) expires: String,
}

pub(in crate::routes::admin) struct QuestionView {
    pub(in crate::routes::admin) question: String,
    pub(in crate::routes::admin) answer: String,
}

pub(in crate::routes::admin) struct TaskView {
    pub(in crate::routes::admin) title: String,
    pub(in crate::routes::admin) detail: Option<String>,
    pub(in crate::routes::admin) state: String,
}

pub(super) struct RunView {
    id: String,
    status: String,
    status_class: &'static str,
    model: String,
    tokens_in: i64,
    tokens_out: i64,
    duration: Option<String>,
    at_iso: String,
    at_text: String,
    error: Option<String>,
    partial_text: Option<String>,
    context_dropped: Option<i64>,
}

pub(super) enum EntryView {
    Item(ItemView),
    Run(RunView),
}

/// The thread's header and side panel.
pub(super) struct ThreadHead {
    id: String,
    title: Option<String>,
    user: String,
    user_link: String,
    agent_name: String,
    agent_slug: String,
    agent_link: String,
    created_iso: String,
    created_text: String,
    activity_iso: String,
    activity_text: String,
    status: String,
    items: i64,
    runs: usize,
    failed_runs: usize,
    tokens_in: i64,
    tokens_out: i64,
    pending: i64,
    negative: i64,
    attachments: Vec<AttachmentView>,
}

#[derive(askama::Template)]
#[template(path = "admin/thread.html")]
pub(super) struct TranscriptPage {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    head: ThreadHead,
    entries: Vec<EntryView>,
}

#[derive(askama::Template)]
#[template(path = "admin/thread_delete.html")]
pub(super) struct DeletePage {
    /// The layout's frame: section, operator, badge, admin links.
    chrome: Chrome,
    head: ThreadHead,
    /// Feedback marks and forms that go with it.
    feedback: usize,
    forms: usize,
}

impl TranscriptPage {
    pub(super) fn new(chrome: Chrome, transcript: &Transcript) -> Self {
        TranscriptPage {
            chrome,
            head: head(transcript),
            entries: transcript.entries.iter().map(entry).collect(),
        }
    }
}

impl DeletePage {
    pub(super) fn new(chrome: Chrome, transcript: &Transcript) -> Self {
        let items = || {
            transcript.entries.iter().filter_map(|e| match e {
                Entry::Item(item) => Some(item),
                Entry::Run(_) => None,
            })
        };
        DeletePage {
            chrome,
            head: head(transcript),
            feedback: items().map(|i| i.feedback.len()).sum(),
            forms: items().filter(|i| i.interaction.is_some()).count(),
        }
    }
}

fn head(t: &Transcript) -> ThreadHead {
    let thread = &t.thread;
    ThreadHead {
        id: thread.id.clone(),
        title: thread.title.clone(),
        user: thread.user_id.clone(),
        user_link: user_link(&thread.user_id),
        agent_name: thread.agent_name.clone(),
        agent_slug: thread.agent_slug.clone(),
        agent_link: format!(
            "/admin/threads?agent={}",
            super::encode_component(&thread.agent_id)
        ),
        created_iso: iso(thread.created_at),
        created_text: readable(thread.created_at),
        activity_iso: iso(thread.updated_at),
        activity_text: readable(thread.updated_at),
        status: t
            .status
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("active")
            .to_owned(),
        items: thread.item_count,
        runs: t.runs,
        failed_runs: t.failed_runs,
        tokens_in: t.prompt_tokens,
        tokens_out: t.completion_tokens,
        pending: thread.pending_interactions,
        negative: thread.negative_feedback,
        attachments: t.attachments.iter().map(attachment).collect(),
    }
}

fn entry(entry: &Entry) -> EntryView {
    match entry {
        Entry::Item(item) => EntryView::Item(item_view(item)),
        Entry::Run(run) => EntryView::Run(run_view(run)),
    }
}

fn text_of(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

pub(in crate::routes::admin) fn item_view(item: &TranscriptItem) -> ItemView {
    let data = &item.data;
    let (class, role, body) = match item.kind.as_str() {
        "user_message" => (
            "item item-user",
            "User".to_owned(),
            user_body(data, &item.attachments),
        ),
        "assistant_message" => (
            "item item-assistant",
            "Assistant".to_owned(),
            assistant_body(data),
        ),
        "widget" => (
            if item.interaction.is_some() {
                "item item-widget item-form"
            } else {
                "item item-widget"
            },
            match &item.interaction {
                Some(i) if i.kind == "approval" => "Approval".to_owned(),
                Some(_) => "Form".to_owned(),
                None => "Widget".to_owned(),
            },
            Body::Widget {
                html: widget_to_html(data.get("widget").unwrap_or(&Value::Null)),
                copy_text: text_of(data, "copy_text"),
                form: item.interaction.as_ref().map(form_view),
            },
        ),
        TOOL_CALL_KIND => ("item item-tool", "Tool call".to_owned(), tool_body(data)),
        "client_tool_call" => (
            "item item-tool",
            "Client tool call".to_owned(),
            client_tool_body(data),
        ),
        "hidden_context_item" | "sdk_hidden_context" => (
            "item item-hidden",
            if item.kind == "sdk_hidden_context" {
                "Server context"
            } else {
                "Hidden context"
            }
            .to_owned(),
            hidden_body(data.get("content")),
        ),
        "structured_input" => (
            "item item-form",
            "Questions".to_owned(),
            questions_body(data),
        ),
        "workflow" => (
            "item item-assistant",
            workflow_role(data),
            workflow_body(data),
        ),
        "task" => (
            "item item-assistant",
            "Task".to_owned(),
            Body::Tasks {
                summary: None,
                tasks: data.get("task").map(task_view).into_iter().collect(),
            },
        ),
        "generated_image" => (
            "item item-assistant",
            "Generated image".to_owned(),
            Body::Image {
                url: data
                    .pointer("/image/url")
                    .and_then(Value::as_str)
                    .filter(|u| is_image_url(u))
                    .map(str::to_owned),
            },
        ),
        "end_of_turn" => (
            "item item-notice",
            "End of turn".to_owned(),
            Body::EndOfTurn,
        ),
        other => ("item item-notice", other.replace('_', " "), Body::Unknown),
    };
    let visibility = match item.visibility.as_str() {
        "hidden" => Some("hidden context"),
        "model_only" => Some("model only"),
        _ => None,
    };
    let class = if visibility.is_some() && class != "item item-hidden" {
        match class {
            "item item-tool" => "item item-tool item-hidden",
            _ => "item item-hidden",
        }
    } else {
        class
    };
    ItemView {
        id: item.id.clone(),
        class,
        role,
        visibility,
        at_iso: iso(item.created_at),
        at_text: item.created_at.format("%H:%M:%S").to_string(),
        body,
        feedback: item.feedback.clone(),
        raw_html: pretty_json(data),
    }
}

fn user_body(data: &Value, attachments: &[AttachmentInfo]) -> Body {
    let parts = data
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut texts = Vec::new();
    let mut tags = Vec::new();
    for part in &parts {
        match part.get("type").and_then(Value::as_str) {
            Some("input_tag") => tags.extend(text_of(part, "text")),
            _ => texts.extend(text_of(part, "text")),
        }
    }
    Body::User {
        texts,
        tags,
        quoted: text_of(data, "quoted_text"),
        attachments: attachments.iter().map(attachment).collect(),
        model: data
            .pointer("/inference_options/model")
            .and_then(Value::as_str)
            .map(str::to_owned),
        tool: data
            .pointer("/inference_options/tool_choice/id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

fn assistant_body(data: &Value) -> Body {
    let parts = data
        .get("content")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut html = String::new();
    let mut sources = Vec::new();
    for part in &parts {
        if let Some(text) = part.get("text").and_then(Value::as_str) {
            html.push_str(&markdown_to_html(text));
        }
        for annotation in part
            .get("annotations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(source) = annotation.get("source") else {
                continue;
            };
            let url = source
                .get("url")
                .and_then(Value::as_str)
                .filter(|u| is_link_url(u))
                .map(str::to_owned);
            let title = text_of(source, "title")
                .or_else(|| text_of(source, "filename"))
                .or_else(|| url.clone())
                .unwrap_or_else(|| "source".to_owned());
            sources.push(SourceView { title, url });
        }
    }
    Body::Assistant { html, sources }
}

fn form_view(i: &InteractionInfo) -> FormView {
    FormView {
        kind: i.kind.clone(),
        status: i.status.replace('_', " "),
        status_class: match i.status.as_str() {
            "pending" => "badge badge-pending badge-dot",
            "answered" | "best_judgement" => "badge badge-ok",
            "denied" | "cancelled" | "expired" => "badge badge-muted",
            _ => "badge badge-info",
        },
        tool_name: i.tool_name.clone(),
        answered_by: i.answered_by.clone(),
        answered_at: i.answered_at.map(readable),
        answer_html: i.answer.as_ref().map(pretty_json),
        expires: readable(i.expires_at),
    }
}

fn attachment(a: &AttachmentInfo) -> AttachmentView {
    AttachmentView {
        name: a.name.clone(),
        mime_type: a.mime_type.clone(),
        size: human_size(a.size),
        url: a.url.clone(),
        is_image: a.is_image,
        state: a.state.clone(),
    }
}

fn human_size(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{:.1} KB", b as f64 / 1024.0),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    }
}

fn run_view(run: &RunInfo) -> RunView {
    let at = run.finished_at.unwrap_or(run.started_at);
    RunView {
        id: run.id.clone(),
        status_class: match run.status.as_str() {
            "completed" => "badge badge-ok",
            "failed" => "badge badge-error",
            "running" => "badge badge-info badge-dot",
            "interrupted" => "badge badge-warn",
            _ => "badge badge-muted",
        },
        status: run.status.clone(),
        model: run
            .model
            .clone()
            .unwrap_or_else(|| "default model".to_owned()),
        tokens_in: run.prompt_tokens,
        tokens_out: run.completion_tokens,
        duration: run.duration_ms.map(duration_text),
        at_iso: iso(at),
        at_text: at.format("%H:%M:%S").to_string(),
        error: run.error.clone(),
        partial_text: run.partial_text.clone(),
        context_dropped: run.context_dropped,
    }
}
