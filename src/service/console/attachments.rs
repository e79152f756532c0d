//! The attachments browser: every attachment of every account, agent and user, filtered and
//! paged, with totals; an operator's download (audited) and image preview; and deletion by an
//! admin, through the same store method and blob removal the chat's `attachments.delete` uses,
//! audited here so no caller can forget to.

use serde_json::json;

use super::audit::AuditService;
use super::{Actor, ConsoleError};
use crate::chatkit::files::ImageKind;
use crate::chatkit::types::Page;
use crate::service::attachments::AttachmentService;
use crate::store::{
    AgentRow, AttachmentFilter, AttachmentTotals, Blob, BlobError, ConsoleAttachment, MimeFilter,
    Scope, Store, StoreError, UploadState,
};

/// Largest page of the list.
pub const MAX_PAGE: usize = 200;

/// Substrings of a MIME type that a browser may render as active content (markup, vector
/// images, scripts, stylesheets with XSL): such files are served as
/// `application/octet-stream`.
const ACTIVE_TYPE_MARKS: [&str; 5] = ["html", "xml", "svg", "script", "xsl"];

/// The upload states, in the order the list's filter offers them.
pub const UPLOAD_STATES: [UploadState; 4] = [
    UploadState::Pending,
    UploadState::Uploading,
    UploadState::Uploaded,
    UploadState::Failed,
];

/// A page of the list and the totals of everything the filter matches.
#[derive(Debug, Clone)]
pub struct AttachmentListing {
    pub page: Page<ConsoleAttachment>,
    pub totals: AttachmentTotals,
}

/// One attachment, and the user message that carries it (when it was sent in one).
#[derive(Debug, Clone)]
pub struct AttachmentDetail {
    pub attachment: ConsoleAttachment,
    pub message_id: Option<String>,
}

/// An attachment's bytes, opened for an operator.
#[derive(Debug)]
pub struct OpenedFile {
    pub blob: Blob,
    /// Sanitised display name.
    pub name: String,
    /// What to send as `Content-Type`: the stored type, or `application/octet-stream` for
    /// anything that could render as active content.
    pub content_type: String,
}

#[derive(Clone)]
pub struct AttachmentBrowser {
    store: Store,
    attachments: AttachmentService,
    audit: AuditService,
}

impl AttachmentBrowser {
    pub fn new(store: Store, attachments: AttachmentService, audit: AuditService) -> Self {
        AttachmentBrowser {
            store,
            attachments,
            audit,
        }
    }

    /// One page of matching attachments, newest first, and the totals of all that match;
    /// `after` is the previous page's `after`.
    pub async fn page(
        &self,
        filter: &AttachmentFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<AttachmentListing, ConsoleError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let page = match self.store.console_attachments(filter, limit, after).await {
            Err(StoreError::InvalidCursor(_)) => {
                return Err(ConsoleError::InvalidInput(
                    "after",
                    "that page no longer exists; start from the first page".to_owned(),
                ));
            }
            other => other?,
        };
        let totals = self.store.console_attachment_totals(filter).await?;
        Ok(AttachmentListing { page, totals })
    }

    /// Every agent, for the agent filter.
    pub async fn agents(&self) -> Result<Vec<AgentRow>, ConsoleError> {
        Ok(self.store.console_agents().await?)
    }

    /// One attachment and the message that carries it.
    pub async fn detail(&self, id: &str) -> Result<AttachmentDetail, ConsoleError> {
        let (attachment, message_id) = self.store.console_attachment(id).await?;
        Ok(AttachmentDetail {
            attachment,
            message_id,
        })
    }

    /// The bytes of an uploaded attachment, recorded in the audit log as downloaded.
    pub async fn download(&self, actor: &Actor, id: &str) -> Result<OpenedFile, ConsoleError> {
        let (attachment, _) = self.store.console_attachment(id).await?;
        let opened = self.open(&attachment).await?;
        let row = &attachment.row;
        self.audit
            .record(
                actor,
                "attachment.download",
                Some("attachment"),
                Some(&row.id),
                json!({ "name": row.name, "user_id": row.user_id, "size": row.size }),
            )
            .await?;
        Ok(opened)
    }

    /// The bytes of an uploaded image attachment, to show as a thumbnail; anything else is
    /// not found.
    pub async fn preview(&self, id: &str) -> Result<OpenedFile, ConsoleError> {
        let (attachment, _) = self.store.console_attachment(id).await?;
        if ImageKind::of_mime(&attachment.row.mime_type).is_none() {
            return Err(ConsoleError::NotFound("preview"));
        }
        self.open(&attachment).await
    }

    /// Deletes an attachment (admins only): its row and, when nothing else refers to them,
    /// its bytes. Returns what was deleted.
    pub async fn delete(&self, actor: &Actor, id: &str) -> Result<AttachmentDetail, ConsoleError> {
        actor.require_admin()?;
        let detail = self.detail(id).await?;
        let row = &detail.attachment.row;
        let owner = Scope {
            account_id: row.account_id.clone(),
            agent_id: row.agent_id.clone(),
            user_id: row.user_id.clone(),
        };
        let keys = self.store.delete_attachment(&owner, id).await?;
        self.attachments.remove_blobs(keys).await;
        self.audit
            .record(
                actor,
                "attachment.delete",
                Some("attachment"),
                Some(&row.id),
                json!({
                    "name": row.name,
                    "mime_type": row.mime_type,
                    "size": row.size,
                    "sha256": row.sha256,
                    "state": row.state,
                    "user_id": row.user_id,
                    "agent": detail.attachment.agent_slug,
                    "thread_id": row.thread_id,
                    "message_id": detail.message_id,
                }),
            )
            .await?;
        Ok(detail)
    }

    async fn open(&self, attachment: &ConsoleAttachment) -> Result<OpenedFile, ConsoleError> {
        let row = &attachment.row;
        let key = match (&row.storage_key, row.is_uploaded()) {
            (Some(key), true) => key,
            _ => return Err(ConsoleError::NotFound("file")),
        };
        let blob = self
            .attachments
            .blobs()
            .fetch(key)
            .await
            .map_err(|e| match e {
                BlobError::NotFound => ConsoleError::NotFound("file"),
                other => ConsoleError::Storage(other),
            })?;
        Ok(OpenedFile {
            blob,
            name: row.name.clone(),
            content_type: download_type(&row.mime_type).to_owned(),
        })
    }
}

/// The `Content-Type` to serve a stored type as: itself, unless a browser could render it as
/// active content (HTML, SVG, XML, scripts) or it is not a plain `type/subtype`.
pub fn download_type(mime: &str) -> &str {
    const OCTET_STREAM: &str = "application/octet-stream";
    let lower = mime.to_ascii_lowercase();
    let plain = match lower.split_once('/') {
        Some((kind, subtype)) => {
            let token = |s: &str| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "!#$&-^_.+".contains(c))
            };
            token(kind) && token(subtype)
        }
        None => false,
    };
    if !plain || ACTIVE_TYPE_MARKS.iter().any(|mark| lower.contains(mark)) {
        OCTET_STREAM
    } else {
        mime
    }
}

/// The list's type filter from what an operator typed: `image/` (or `image/*`, or `image`)
/// is a prefix, `application/pdf` an exact type; `None` when empty.
pub fn mime_filter(raw: &str) -> Option<MimeFilter> {
    let raw = raw.trim().to_ascii_lowercase();
    let raw = raw.strip_suffix('*').unwrap_or(&raw);
    if raw.is_empty() {
        return None;
    }
    Some(match raw.split_once('/') {
        Some((_, "")) => MimeFilter::Prefix(raw.to_owned()),
        Some(_) => MimeFilter::Exact(raw.to_owned()),
        None => MimeFilter::Prefix(format!("{raw}/")),
    })
}

/// The upload state named `raw`, if any.
pub fn upload_state(raw: &str) -> Option<UploadState> {
    UPLOAD_STATES.into_iter().find(|s| s.as_str() == raw.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_content_is_served_as_octet_stream() {
        for active in [
            "text/html",
            "TEXT/HTML",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "text/javascript",
            "application/javascript",
            "application/ecmascript",
            "text/xsl",
            "",
            "html",
            "text/plain; charset=utf-8",
        ] {
            assert_eq!(
                download_type(active),
                "application/octet-stream",
                "{active}"
            );
        }
        for passive in ["image/png", "application/pdf", "text/plain", "text/csv"] {
            assert_eq!(download_type(passive), passive);
        }
    }

    #[test]
    fn type_filters_are_prefixes_or_exact_types() {
        assert_eq!(mime_filter(""), None);
        assert_eq!(mime_filter(" *"), None);
        let image = Some(MimeFilter::Prefix("image/".into()));
        assert_eq!(mime_filter("image/"), image);
        assert_eq!(mime_filter("image/*"), image);
        assert_eq!(mime_filter("Image"), image);
        assert_eq!(
            mime_filter("application/PDF"),
            Some(MimeFilter::Exact("application/pdf".into()))
        );
    }

    #[test]
    fn upload_states_parse_by_name() {
        assert_eq!(upload_state("failed"), Some(UploadState::Failed));
        assert_eq!(upload_state("done"), None);
    }
}
