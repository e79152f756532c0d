//! Attachment objects and the descriptor of a two-phase upload.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
}
