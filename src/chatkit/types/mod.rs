//! Wire types of the ChatKit protocol: requests, threads, items, stream events.
//!
//! These mirror the Python SDK (`openai-chatkit` 1.6.5, `chatkit/types.py`)
//! as it serializes with `model_dump_json(by_alias=True, exclude_none=True)`:
//! `None` fields are omitted, non-null defaults (`attachments: []`,
//! `status_indicator: "none"`, `allow_retry`, …) are always written, and
//! unknown keys on input are ignored. See `shared/reference/chatkit-protocol.md`.
//!
//! Where things live (all re-exported here, so `types::Name` is the one path to use):
//!
//! - `threads`: [`Thread`], its [`ThreadStatus`], and the cursor [`Page`].
//! - `items`: [`ThreadItem`] and every [`ItemBody`] kind with its parts
//!   (message content, sources, structured inputs, workflows and tasks).
//! - `attachments`: [`Attachment`] and the [`UploadDescriptor`] of a two-phase upload.
//! - `events`: [`ThreadStreamEvent`] (one SSE frame) and [`ThreadItemUpdate`].
//! - `requests`: [`RequestType`], [`ChatKitRequest`] and its parse, [`RequestError`].
//! - `params`: the params of each request type, [`Action`], and the JSON answers
//!   [`SyncCustomActionResponse`] and [`TranscriptionResult`].
//! - [`timestamp`]: the `created_at` (de)serialization every type uses.
//! - `wire`: [`WireItem`], an item as stored or parsed, and the answers that splice stored
//!   item JSON in unparsed ([`page_json`], [`thread_json`]).

mod attachments;
mod events;
mod items;
mod params;
mod requests;
mod threads;
pub mod timestamp;
mod wire;

#[cfg(test)]
mod test_support;

pub use attachments::*;
pub use events::*;
pub use items::*;
pub use params::*;
pub use requests::*;
pub use threads::*;
pub use wire::*;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use serde_json::{Map, Value, json};

    use super::test_support::item;

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
}
