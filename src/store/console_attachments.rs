//! Attachments as the operator console sees them: every account, agent and user at once, newest
//! first, keyset-paged on `(created_at, id)` by the shared `paging::Listing` (never OFFSET), with
//! filters that combine and the count and total size of everything a filter matches.

use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::attachments::{AttachmentRow, UploadState};
use super::db::AnyConnection;
use super::paging::{Listing, PageRequest};
use super::schema::{agents, attachments, items, threads};
use super::{Store, StoreError};
use crate::chatkit::types::{Order, Page};

/// The query backend of [`AnyConnection`].
type Db = <AnyConnection as Connection>::Backend;

/// Which attachments a list shows; every field that is set narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentFilter {
    pub user_id: Option<String>,
    pub agent_id: Option<String>,
    pub mime_type: Option<MimeFilter>,
    pub state: Option<UploadState>,
    /// Only attachments no message uses (they belong to no thread).
    pub orphaned: bool,
}

/// A MIME type to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MimeFilter {
    /// Types starting with this, e.g. `image/`.
    Prefix(String),
    /// This type exactly, e.g. `application/pdf`.
    Exact(String),
}

/// One attachment with the names the list shows beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleAttachment {
    pub row: AttachmentRow,
    pub agent_slug: String,
    pub agent_name: String,
    /// The title of the attachment's thread, when it has both.
    pub thread_title: Option<String>,
}

/// How many attachments a filter matches and their stored bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachmentTotals {
    pub count: i64,
    pub bytes: i64,
}

/// `text` with LIKE's wildcards (and the escape character) escaped by `\`.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `query` narrowed by `filter`; whatever it selects (rows or totals).
fn filtered<'a, ST: 'a>(
    mut query: attachments::BoxedQuery<'a, Db, ST>,
    filter: &AttachmentFilter,
) -> attachments::BoxedQuery<'a, Db, ST> {
    if let Some(user_id) = &filter.user_id {
        query = query.filter(attachments::user_id.eq(user_id.clone()));
    }
    if let Some(agent_id) = &filter.agent_id {
        query = query.filter(attachments::agent_id.eq(agent_id.clone()));
    }
    match &filter.mime_type {
        Some(MimeFilter::Exact(mime)) => {
            query = query.filter(attachments::mime_type.eq(mime.clone()));
        }
        Some(MimeFilter::Prefix(prefix)) => {
            let pattern = format!("{}%", escape_like(prefix));
            query = query.filter(attachments::mime_type.like(pattern).escape('\\'));
        }
        None => {}
    }
    if let Some(state) = filter.state {
        query = query.filter(attachments::state.eq(state.as_str()));
    }
    if filter.orphaned {
        query = query.filter(attachments::thread_id.is_null());
    }
    query
}

/// The agents' slugs and names and the threads' titles of `rows`, beside each row.
fn with_names(
    conn: &mut AnyConnection,
    rows: Vec<AttachmentRow>,
) -> Result<Vec<ConsoleAttachment>, StoreError> {
    let mut agent_ids: Vec<&str> = rows.iter().map(|r| r.agent_id.as_str()).collect();
    agent_ids.sort_unstable();
    agent_ids.dedup();
    let agent_names: Vec<(String, String, String)> = agents::table
        .filter(agents::id.eq_any(&agent_ids))
        .select((agents::id, agents::slug, agents::name))
        .load(conn)?;
    let mut thread_ids: Vec<&str> = rows.iter().filter_map(|r| r.thread_id.as_deref()).collect();
    thread_ids.sort_unstable();
    thread_ids.dedup();
    let titles: Vec<(String, Option<String>)> = threads::table
        .filter(threads::id.eq_any(&thread_ids))
        .select((threads::id, threads::title))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let (agent_slug, agent_name) = agent_names
                .iter()
                .find(|(id, _, _)| *id == row.agent_id)
                .map(|(_, slug, name)| (slug.clone(), name.clone()))
                .unwrap_or_default();
            let thread_title = row.thread_id.as_ref().and_then(|thread_id| {
                titles
                    .iter()
                    .find(|(id, _)| id == thread_id)
                    .and_then(|(_, title)| title.clone())
            });
            ConsoleAttachment {
                row,
                agent_slug,
                agent_name,
                thread_title,
            }
        })
        .collect())
}

/// The id of the user message of `thread_id` that carries attachment `id`, if any.
fn message_with(
    conn: &mut AnyConnection,
    thread_id: &str,
    id: &str,
) -> Result<Option<String>, StoreError> {
    // The quoted id narrows the candidates in SQL; the parsed JSON decides.
    let candidates: Vec<(String, String)> = items::table
        .filter(items::thread_id.eq(thread_id))
        .filter(items::kind.eq("user_message"))
        .filter(
            items::data
                .like(format!("%\"{}\"%", escape_like(id)))
                .escape('\\'),
        )
        .order((items::created_at.asc(), items::id.asc()))
        .select((items::id, items::data))
        .load(conn)?;
    for (item_id, data) in candidates {
        let item: serde_json::Value = serde_json::from_str(&data)?;
        let carries = item["attachments"]
            .as_array()
            .is_some_and(|list| list.iter().any(|a| a["id"] == id));
        if carries {
            return Ok(Some(item_id));
        }
    }
    Ok(None)
}

impl Store {
    /// Up to `limit` attachments matching `filter`, newest first, strictly older than the
    /// attachment `after` (the previous page's `after`); an unknown `after` is
    /// [`StoreError::InvalidCursor`].
    pub async fn console_attachments(
        &self,
        filter: &AttachmentFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<ConsoleAttachment>, StoreError> {
        let filter = filter.clone();
        let request = PageRequest {
            after,
            limit,
            order: Order::Desc,
        };
        self.with_conn(move |conn| {
            let listing = Listing {
                rows: filtered(
                    attachments::table
                        .select(AttachmentRow::as_select())
                        .into_boxed(),
                    &filter,
                ),
                // Operators see every owner's attachments: a cursor may name any of them.
                scope: attachments::id.is_not_null(),
            };
            let page = listing.load(conn, &request, |row: &AttachmentRow| row.id.clone())?;
            Ok(Page {
                data: with_names(conn, page.data)?,
                has_more: page.has_more,
                after: page.after,
            })
        })
        .await
    }

    /// How many attachments match `filter`, and their bytes (declared sizes for uploads
    /// still pending).
    pub async fn console_attachment_totals(
        &self,
        filter: &AttachmentFilter,
    ) -> Result<AttachmentTotals, StoreError> {
        let filter = filter.clone();
        self.with_conn(move |conn| {
            // SUM of a BIGINT is NUMERIC on Postgres; the cast makes it BIGINT on both.
            let bytes = sql::<BigInt>("CAST(COALESCE(SUM(attachments.size), 0) AS BIGINT)");
            let (count, bytes) = filtered(
                attachments::table
                    .select((count_star(), bytes))
                    .into_boxed(),
                &filter,
            )
            .first::<(i64, i64)>(conn)?;
            Ok(AttachmentTotals { count, bytes })
        })
        .await
    }

    /// One attachment of any owner with its names, and the id of the message that carries it
    /// (for saying what deleting it changes); `NotFound` when there is none.
    pub async fn console_attachment(
        &self,
        id: &str,
    ) -> Result<(ConsoleAttachment, Option<String>), StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let row = attachments::table
                .find(&id)
                .select(AttachmentRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(StoreError::NotFound("attachment"))?;
            let message = match &row.thread_id {
                Some(thread_id) => message_with(conn, thread_id, &id)?,
                None => None,
            };
            let mut found = with_names(conn, vec![row])?;
            let attachment = found.pop().ok_or(StoreError::NotFound("attachment"))?;
            Ok((attachment, message))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("image/"), "image/");
        assert_eq!(escape_like("a%b_c\\d"), "a\\%b\\_c\\\\d");
    }
}
