//! Stream events: the SSE frames of a streamed response and the item updates they carry.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Annotation, AssistantMessageContent, GeneratedImage, Task, Thread, ThreadItem};
use crate::chatkit::widgets::{WidgetComponent, WidgetRoot};

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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::chatkit::types::test_support::{WIDGET_BUTTON, roundtrip};
    use crate::chatkit::types::{ItemBody, ThreadStatus};

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
}
