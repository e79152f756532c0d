//! The `params` of each request type, the action a widget sends back, and the
//! JSON answers of the non-streaming requests that are not threads or pages.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    InferenceOptions, StructuredInputAnswer, StructuredInputStatus, ThreadItem, UserMessageContent,
};
use crate::chatkit::actions::ActionConfig;

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

    use crate::chatkit::types::test_support::{WIDGET_BUTTON, roundtrip};
    use crate::chatkit::types::{Attachment, ChatKitRequest, Page, Thread, ThreadItem};

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
