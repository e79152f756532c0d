//! The request envelope: the 16 request types, the two-phase parse of a body
//! into a typed [`ChatKitRequest`], and why a body is rejected.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    AddClientToolOutputParams, AddStructuredInputParams, AddUserMessageParams,
    AttachmentCreateParams, AttachmentDeleteParams, CustomActionParams, FeedbackParams,
    ItemsListParams, ListParams, RetryAfterItemParams, ThreadCreateParams, ThreadDeleteParams,
    ThreadGetParams, ThreadUpdateParams, TranscribeParams,
};

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
    /// Whether the answer is an SSE stream (a turn) rather than one JSON document.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::ThreadsCreate(_)
                | Self::ThreadsAddUserMessage(_)
                | Self::ThreadsAddClientToolOutput(_)
                | Self::ThreadsAddStructuredInput(_)
                | Self::ThreadsRetryAfterItem(_)
                | Self::ThreadsCustomAction(_)
        )
    }

    /// Whether the request only reads what a client reads again and again (a thread, the
    /// thread list, a page of items): the answers a server may keep while nothing changes.
    pub fn is_repeatable_read(&self) -> bool {
        matches!(
            self,
            Self::ThreadsGetById(_) | Self::ThreadsList(_) | Self::ItemsList(_)
        )
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
