//! Feedback as the operator console reviews it: every thumbs-up and -down of every account,
//! agent and user, negative first and then newest, keyset-paged on `(kind, created_at,
//! item_id, user_id)` (never OFFSET), each with the rated item and the user message that
//! prompted it.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use super::db::AnyConnection;
use super::models::{ItemRow, wire_name};
use super::paging::{page_of, window};
use super::schema::{agents, feedback, items, threads};
use super::{Store, StoreError, from_db_time, to_db_time};
use crate::chatkit::types::{FeedbackKind, Page, ThreadItem};

/// Which feedback a list shows; every field that is set narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedbackFilter {
    pub kind: Option<FeedbackKind>,
    /// The agent of the rated item's thread.
    pub agent_id: Option<String>,
    /// Who gave the feedback.
    pub user_id: Option<String>,
    /// Given at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Given strictly before this instant.
    pub until: Option<DateTime<Utc>>,
}

/// One verdict with what it rates.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackEntry {
    pub item_id: String,
    pub thread_id: String,
    pub user_id: String,
    pub kind: FeedbackKind,
    pub created_at: DateTime<Utc>,
    pub thread_title: Option<String>,
    pub agent_slug: String,
    pub agent_name: String,
    /// The rated item (an assistant message, usually).
    pub rated: ThreadItem,
    /// The last user message before the rated item: what the rated answer answered.
    pub prompt: Option<ThreadItem>,
}

/// A feedback row's key, `<item id>.<user id>`: item ids are ours and have no `.`, user ids
/// may have anything.
fn cursor(item_id: &str, user_id: &str) -> String {
    format!("{item_id}.{user_id}")
}

fn parse_cursor(text: &str) -> Option<(&str, &str)> {
    text.split_once('.')
        .filter(|(item, user)| !item.is_empty() && !user.is_empty())
}

type Listed = (
    (String, String, String, String, NaiveDateTime),
    Option<String>,
    String,
    String,
    ItemRow,
);

/// The last user message of `thread_id` before the item at `(at, item_id)`.
fn prompt_of(
    conn: &mut AnyConnection,
    thread_id: &str,
    at: NaiveDateTime,
    item_id: &str,
) -> Result<Option<ThreadItem>, StoreError> {
    items::table
        .filter(items::thread_id.eq(thread_id))
        .filter(items::kind.eq("user_message"))
        .filter(
            items::created_at
                .lt(at)
                .or(items::created_at.eq(at).and(items::id.lt(item_id))),
        )
        .order((items::created_at.desc(), items::id.desc()))
        .select(ItemRow::as_select())
        .first(conn)
        .optional()?
        .map(ItemRow::into_item)
        .transpose()
}

impl Store {
    /// Up to `limit` verdicts matching `filter`, negative first and then newest, strictly
    /// after the verdict `after` names (the previous page's `after`); an `after` that names
    /// no verdict is [`StoreError::InvalidCursor`].
    pub async fn console_feedback(
        &self,
        filter: &FeedbackFilter,
        limit: usize,
        after: Option<String>,
    ) -> Result<Page<FeedbackEntry>, StoreError> {
        let filter = filter.clone();
        self.with_conn(move |conn| {
            let mut query = feedback::table
                .inner_join(threads::table.on(threads::id.eq(feedback::thread_id)))
                .inner_join(agents::table.on(agents::id.eq(threads::agent_id)))
                .inner_join(items::table.on(items::id.eq(feedback::item_id)))
                .select((
                    (
                        feedback::item_id,
                        feedback::thread_id,
                        feedback::user_id,
                        feedback::kind,
                        feedback::created_at,
                    ),
                    threads::title,
                    agents::slug,
                    agents::name,
                    ItemRow::as_select(),
                ))
                .into_boxed();
            if let Some(kind) = &filter.kind {
                query = query.filter(feedback::kind.eq(wire_name(kind)));
            }
            if let Some(agent_id) = &filter.agent_id {
                query = query.filter(threads::agent_id.eq(agent_id.clone()));
            }
            if let Some(user_id) = &filter.user_id {
                query = query.filter(feedback::user_id.eq(user_id.clone()));
            }
            if let Some(from) = filter.from {
                query = query.filter(feedback::created_at.ge(to_db_time(from)));
            }
            if let Some(until) = filter.until {
                query = query.filter(feedback::created_at.lt(to_db_time(until)));
            }
            if let Some(after) = &after {
                let invalid = || StoreError::InvalidCursor(after.clone());
                let (item_id, user_id) = parse_cursor(after).ok_or_else(invalid)?;
                let (kind, at): (String, NaiveDateTime) = feedback::table
                    .find((item_id, user_id))
                    .select((feedback::kind, feedback::created_at))
                    .first(conn)
                    .optional()?
                    .ok_or_else(invalid)?;
                let (item_id, user_id) = (item_id.to_owned(), user_id.to_owned());
                // After the cursor in list order: a later kind, or the same kind and an
                // older (created_at, item_id, user_id).
                query = query.filter(
                    feedback::kind
                        .gt(kind.clone())
                        .or(feedback::kind
                            .eq(kind.clone())
                            .and(feedback::created_at.lt(at)))
                        .or(feedback::kind
                            .eq(kind.clone())
                            .and(feedback::created_at.eq(at))
                            .and(feedback::item_id.lt(item_id.clone())))
                        .or(feedback::kind
                            .eq(kind)
                            .and(feedback::created_at.eq(at))
                            .and(feedback::item_id.eq(item_id))
                            .and(feedback::user_id.lt(user_id))),
                );
            }
            // "negative" sorts before "positive", so ascending puts thumbs-down first.
            let rows: Vec<Listed> = query
                .order((
                    feedback::kind.asc(),
                    feedback::created_at.desc(),
                    feedback::item_id.desc(),
                    feedback::user_id.desc(),
                ))
                .limit(window(limit))
                .load(conn)?;
            let page = page_of(rows, limit, |((item_id, _, user_id, _, _), ..)| {
                cursor(item_id, user_id)
            });
            let mut entries = Vec::with_capacity(page.data.len());
            for ((item_id, thread_id, user_id, kind, at), title, slug, name, item) in page.data {
                let prompt = prompt_of(conn, &thread_id, item.created_at, &item.id)?;
                entries.push(FeedbackEntry {
                    kind: serde_json::from_value(Value::String(kind))?,
                    created_at: from_db_time(at),
                    rated: item.into_item()?,
                    prompt,
                    item_id,
                    thread_id,
                    user_id,
                    thread_title: title,
                    agent_slug: slug,
                    agent_name: name,
                });
            }
            Ok(Page {
                data: entries,
                has_more: page.has_more,
                after: page.after,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_split_at_the_first_dot() {
        let text = cursor("msg_1f", "ana.b@example.com");
        assert_eq!(parse_cursor(&text), Some(("msg_1f", "ana.b@example.com")));
        assert_eq!(parse_cursor("msg_1f"), None);
        assert_eq!(parse_cursor(".user"), None);
        assert_eq!(parse_cursor("msg_1f."), None);
    }
}
