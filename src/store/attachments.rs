//! Attachment rows: who owns a file, where its bytes are, and how far its upload got
//! (`pending` -> `uploading` -> `uploaded` | `failed`). Methods that remove rows return the
//! storage keys nothing refers to any more; the caller removes those bytes.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::db::{self, AnyConnection};
use super::schema::attachments;
use super::{Found, Scope, Store, StoreError, to_db_time, touched};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = attachments)]
pub struct AttachmentRow {
    pub id: String,
    pub account_id: String,
    pub agent_id: String,
    pub user_id: String,
    pub thread_id: Option<String>,
    /// Sanitised display name.
    pub name: String,
    pub mime_type: String,
    /// Declared size while pending; the stored size once uploaded.
    pub size: i64,
    pub sha256: Option<String>,
    pub storage_key: Option<String>,
    pub state: String,
    pub created_at: NaiveDateTime,
}

impl AttachmentRow {
    pub fn is_uploaded(&self) -> bool {
        self.state == UploadState::Uploaded.as_str()
    }
}

/// How far an upload got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Created by `attachments.create`; the upload URL is unused.
    Pending,
    /// The upload URL was used (it is single-use) and the bytes are arriving.
    Uploading,
    Uploaded,
    /// The upload was refused; the attachment cannot be used.
    Failed,
}

impl UploadState {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Pending => "pending",
            UploadState::Uploading => "uploading",
            UploadState::Uploaded => "uploaded",
            UploadState::Failed => "failed",
        }
    }
}

/// Why attachments cannot go into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// Unknown, or someone else's (which must read the same).
    #[error("attachment {0} not found")]
    NotFound(String),
    #[error("attachment {0} has not been uploaded")]
    NotUploaded(String),
    #[error("attachment {0} belongs to another thread")]
    OtherThread(String),
}

/// The caller's attachment `id`; `None` also when it is someone else's.
fn find_owned_attachment(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &str,
) -> Result<Option<AttachmentRow>, StoreError> {
    Ok(attachments::table
        .filter(attachments::id.eq(id))
        .filter(attachments::account_id.eq(&scope.account_id))
        .filter(attachments::agent_id.eq(&scope.agent_id))
        .filter(attachments::user_id.eq(&scope.user_id))
        .select(AttachmentRow::as_select())
        .first(conn)
        .optional()?)
}

/// Of `keys`, those no remaining row refers to.
fn unreferenced(conn: &mut AnyConnection, keys: Vec<String>) -> Result<Vec<String>, StoreError> {
    let mut free = Vec::new();
    for key in keys {
        let users: i64 = attachments::table
            .filter(attachments::storage_key.eq(&key))
            .count()
            .get_result(conn)?;
        if users == 0 {
            free.push(key);
        }
    }
    Ok(free)
}

/// Deletes the rows and returns their storage keys that nothing else refers to.
fn delete_rows(
    conn: &mut AnyConnection,
    rows: Vec<AttachmentRow>,
) -> Result<Vec<String>, StoreError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    for chunk in ids.chunks(500) {
        diesel::delete(attachments::table.filter(attachments::id.eq_any(chunk))).execute(conn)?;
    }
    let mut keys: Vec<String> = rows.into_iter().filter_map(|r| r.storage_key).collect();
    keys.sort();
    keys.dedup();
    unreferenced(conn, keys)
}

/// The caller's attachments `ids`, each uploaded and unused or used in `thread_id` only.
fn attachable(
    conn: &mut AnyConnection,
    scope: &Scope,
    thread_id: &str,
    ids: &[String],
) -> Result<Vec<AttachmentRow>, StoreError> {
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let row = find_owned_attachment(conn, scope, id)?
            .ok_or_else(|| AttachError::NotFound(id.clone()))?;
        if !row.is_uploaded() {
            return Err(AttachError::NotUploaded(id.clone()).into());
        }
        if row.thread_id.as_deref().is_some_and(|t| t != thread_id) {
            return Err(AttachError::OtherThread(id.clone()).into());
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Checks the attachments of a new message and stamps the thread on them. Runs inside the
/// caller's transaction, so a refusal stores nothing.
pub(super) fn attach_to_thread(
    conn: &mut AnyConnection,
    scope: &Scope,
    thread_id: &str,
    ids: &[String],
) -> Result<(), StoreError> {
    attachable(conn, scope, thread_id, ids)?;
    for chunk in ids.chunks(500) {
        diesel::update(attachments::table.filter(attachments::id.eq_any(chunk)))
            .set(attachments::thread_id.eq(thread_id))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes the attachments of a thread (inside the thread's deletion) and returns the keys
/// to remove.
pub(super) fn delete_thread_attachments(
    conn: &mut AnyConnection,
    thread_id: &str,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<AttachmentRow> = attachments::table
        .filter(attachments::thread_id.eq(thread_id))
        .select(AttachmentRow::as_select())
        .load(conn)?;
    delete_rows(conn, rows)
}

impl Store {
    pub async fn save_new_attachment(&self, row: &AttachmentRow) -> Result<(), StoreError> {
        let row = row.clone();
        self.with_conn(move |conn| {
            diesel::insert_into(attachments::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// The caller's attachment, or `NotFound`.
    pub async fn load_attachment(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<AttachmentRow, StoreError> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.with_conn(move |conn| {
            find_owned_attachment(conn, &scope, &id)?.ok_or(StoreError::NotFound("attachment"))
        })
        .await
    }

    /// The caller's uploaded attachments among `ids` (others are left out), for model input.
    pub async fn load_uploaded_attachments(
        &self,
        scope: &Scope,
        ids: Vec<String>,
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        let scope = scope.clone();
        self.with_conn(move |conn| {
            let mut rows = Vec::new();
            for chunk in ids.chunks(500) {
                rows.extend(
                    attachments::table
                        .filter(attachments::id.eq_any(chunk))
                        .filter(attachments::account_id.eq(&scope.account_id))
                        .filter(attachments::agent_id.eq(&scope.agent_id))
                        .filter(attachments::user_id.eq(&scope.user_id))
                        .filter(attachments::state.eq(UploadState::Uploaded.as_str()))
                        .select(AttachmentRow::as_select())
                        .load(conn)?,
                );
            }
            Ok(rows)
        })
        .await
    }

    /// An attachment by id alone, for requests a signed token authorises.
    pub async fn load_attachment_by_id(&self, id: &str) -> Result<AttachmentRow, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            attachments::table
                .find(&id)
                .select(AttachmentRow::as_select())
                .first(conn)
                .found("attachment")
        })
        .await
    }

    /// The rows of attachments `ids` for a new message of `thread_id` (which may not exist
    /// yet), in the order given; refused with [`StoreError::Attach`] as
    /// [`Store::add_user_message`] would refuse them.
    pub async fn load_attachable(
        &self,
        scope: &Scope,
        thread_id: &str,
        ids: &[String],
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        // Most messages have none: no trip to the blocking pool for them.
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (scope, thread_id, ids) = (scope.clone(), thread_id.to_owned(), ids.to_vec());
        self.read_conn(move |conn| attachable(conn, &scope, &thread_id, &ids))
            .await
    }

    /// Claims the single-use upload of a pending attachment: `Ok(None)` when it is not pending
    /// (the URL was used already), `NotFound` when there is no such attachment.
    pub async fn claim_upload(&self, id: &str) -> Result<Option<AttachmentRow>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let claimed = diesel::update(
                    attachments::table
                        .find(&id)
                        .filter(attachments::state.eq(UploadState::Pending.as_str())),
                )
                .set(attachments::state.eq(UploadState::Uploading.as_str()))
                .execute(conn)?;
                let row = attachments::table
                    .find(&id)
                    .select(AttachmentRow::as_select())
                    .first(conn)
                    .found("attachment")?;
                Ok((claimed == 1).then_some(row))
            })
        })
        .await
    }

    /// Records the stored bytes of a claimed upload; `NotFound` when the attachment was
    /// deleted meanwhile.
    pub async fn finish_upload(
        &self,
        id: &str,
        size: u64,
        sha256: &str,
        storage_key: &str,
    ) -> Result<AttachmentRow, StoreError> {
        let (id, sha256, key) = (id.to_owned(), sha256.to_owned(), storage_key.to_owned());
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let updated = diesel::update(
                    attachments::table
                        .find(&id)
                        .filter(attachments::state.eq(UploadState::Uploading.as_str())),
                )
                .set((
                    attachments::state.eq(UploadState::Uploaded.as_str()),
                    attachments::size.eq(size),
                    attachments::sha256.eq(sha256),
                    attachments::storage_key.eq(key),
                ))
                .execute(conn)?;
                touched(updated, "attachment")?;
                Ok(attachments::table
                    .find(&id)
                    .select(AttachmentRow::as_select())
                    .first(conn)?)
            })
        })
        .await
    }

    /// Marks a claimed upload as refused.
    pub async fn fail_upload(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            diesel::update(
                attachments::table
                    .find(&id)
                    .filter(attachments::state.eq(UploadState::Uploading.as_str())),
            )
            .set(attachments::state.eq(UploadState::Failed.as_str()))
            .execute(conn)?;
            Ok(())
        })
        .await
    }

    /// Deletes the caller's attachment; `NotFound` when there is none. Returns the storage
    /// keys to remove.
    pub async fn delete_attachment(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let (scope, id) = (scope.clone(), id.to_owned());
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let row = find_owned_attachment(conn, &scope, &id)?
                    .ok_or(StoreError::NotFound("attachment"))?;
                delete_rows(conn, vec![row])
            })
        })
        .await
    }

    /// Deletes attachments never used in a message and created before `cutoff`; returns the
    /// storage keys to remove.
    pub async fn delete_unused_attachments(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<Vec<String>, StoreError> {
        let cutoff = to_db_time(cutoff);
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let rows: Vec<AttachmentRow> = attachments::table
                    .filter(attachments::thread_id.is_null())
                    .filter(attachments::created_at.lt(cutoff))
                    .select(AttachmentRow::as_select())
                    .load(conn)?;
                delete_rows(conn, rows)
            })
        })
        .await
    }

    // --- admin ---

    /// Every attachment row of a thread (for tests and operators).
    pub async fn thread_attachments(
        &self,
        thread_id: &str,
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            Ok(attachments::table
                .filter(attachments::thread_id.eq(thread_id))
                .order(attachments::id.asc())
                .select(AttachmentRow::as_select())
                .load(conn)?)
        })
        .await
    }
}
