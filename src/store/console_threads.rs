//! Threads as the operator console sees them: every account, agent and user at once, newest
//! activity first, keyset-paged on `(updated_at, id)` (never OFFSET, so a deep page costs what
//! the first does), with filters that combine; and everything a transcript shows.
//!
//! The list reads counters the triggers of the `console_thread_search` migration keep on each
//! thread (items, pending forms, negative feedback, failed runs), so a page needs no counting,
//! and each filter has an index that yields threads already in list order.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use serde_json::Value;

use super::attachments::delete_thread_attachments;
use super::db::{self, AnyConnection, Backend};
use super::human::{self, InteractionRow};
use super::paging::window;
use super::schema::{agents, attachments, feedback, human_interactions, items, runs, threads};
use super::search::{self, Plan, SearchQuery};
use super::{AgentRow, AttachmentRow, RunRow, Store, StoreError, from_db_time, to_db_time};

/// Which threads a list shows; every field that is set narrows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadFilter {
    pub agent_id: Option<String>,
    pub user_id: Option<String>,
    /// Last activity at or after this instant.
    pub active_from: Option<DateTime<Utc>>,
    /// Last activity strictly before this instant.
    pub active_until: Option<DateTime<Utc>>,
    /// Only threads with a form or approval waiting for an answer.
    pub pending_form: bool,
    /// Only threads with at least one thumbs-down.
    pub negative_feedback: bool,
    /// Only threads with at least one failed run.
    pub failed_run: bool,
    /// Only threads whose title or user or assistant text has these words.
    pub search: Option<SearchQuery>,
}

/// A position in the list: the last activity and id of a thread (its sort key), so a page
/// boundary stays put while other threads move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityCursor {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl ActivityCursor {
    /// `<microseconds since the epoch>.<thread id>`, for a URL.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at.timestamp_micros(), self.id)
    }

    pub fn decode(text: &str) -> Option<ActivityCursor> {
        let (micros, id) = text.split_once('.')?;
        let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        (!id.is_empty()).then(|| ActivityCursor {
            at,
            id: id.to_owned(),
        })
    }

    fn of(thread: &ThreadSummary) -> ActivityCursor {
        ActivityCursor {
            at: thread.updated_at,
            id: thread.id.clone(),
        }
    }
}

/// Which page of the list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PageAt {
    /// The newest threads.
    #[default]
    First,
    /// The threads right after this position (older activity).
    Older(ActivityCursor),
    /// The threads right before this position (newer activity).
    Newer(ActivityCursor),
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadSummary {
    pub id: String,
    pub title: Option<String>,
    pub account_id: String,
    pub user_id: String,
    pub agent_id: String,
    pub agent_slug: String,
    pub agent_name: String,
    /// Stored items of every kind (hidden and model-only ones too).
    pub item_count: i64,
    pub created_at: DateTime<Utc>,
    /// Last activity.
    pub updated_at: DateTime<Utc>,
    pub pending_interactions: i64,
    pub negative_feedback: i64,
    pub failed_runs: i64,
}

/// A page of the list, with where the pages beside it start (`None`: there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadListPage {
    pub threads: Vec<ThreadSummary>,
    pub older: Option<ActivityCursor>,
    pub newer: Option<ActivityCursor>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = threads)]
struct SummaryRow {
    id: String,
    title: Option<String>,
    account_id: String,
    user_id: String,
    agent_id: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    item_count: i64,
    pending_interactions: i64,
    negative_feedback: i64,
    failed_runs: i64,
}

impl SummaryRow {
    fn into_summary(self, agent_slug: String, agent_name: String) -> ThreadSummary {
        ThreadSummary {
            id: self.id,
            title: self.title,
            account_id: self.account_id,
            user_id: self.user_id,
            agent_id: self.agent_id,
            agent_slug,
            agent_name,
            item_count: self.item_count,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            pending_interactions: self.pending_interactions,
            negative_feedback: self.negative_feedback,
            failed_runs: self.failed_runs,
        }
    }
}

/// A stored item as it is kept: its JSON, visibility (`visible`, `hidden`, `model_only`)
/// and kind (`tool_call` for our own tool call records).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    pub id: String,
    pub kind: String,
    pub visibility: String,
    pub status: Option<String>,
    pub created_at: DateTime<Utc>,
    pub data: Value,
}

/// One thumbs-up or -down.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = feedback)]
pub struct FeedbackRow {
    pub item_id: String,
    pub user_id: String,
    pub kind: String,
    pub created_at: NaiveDateTime,
}

/// Everything a transcript shows, in order within each kind.
#[derive(Debug, Clone)]
pub struct TranscriptData {
    pub thread: ThreadSummary,
    /// The thread's status JSON (`{"type": "active"}` …).
    pub status: Value,
    pub metadata: Value,
    /// Every item, hidden and model-only ones included, oldest first.
    pub items: Vec<StoredItem>,
    /// Oldest first.
    pub runs: Vec<RunRow>,
    pub feedback: Vec<FeedbackRow>,
    /// Oldest first.
    pub interactions: Vec<InteractionRow>,
    pub attachments: Vec<AttachmentRow>,
}

/// Filters with a literal constant: partial indexes are only used for a predicate the query
/// states in their own words, which a bound parameter is not.
fn flag(column: &'static str) -> diesel::expression::SqlLiteral<Bool> {
    sql::<Bool>(column)
}

fn backend_of(conn: &AnyConnection) -> Backend {
    match conn {
        AnyConnection::Sqlite(_) => Backend::Sqlite,
        AnyConnection::Postgresql(_) => Backend::Postgres,
    }
}

/// Up to `limit + 1` rows of the list from `at`, in list order (newest first); a search
/// runs with `plan`.
fn list_rows(
    conn: &mut AnyConnection,
    filter: &ThreadFilter,
    plan: &Plan,
    at: &PageAt,
    limit: usize,
) -> Result<Vec<ThreadSummary>, StoreError> {
    let backend = backend_of(conn);
    let mut query = threads::table
        .inner_join(agents::table)
        .select((SummaryRow::as_select(), agents::slug, agents::name))
        .into_boxed();
    if let Some(agent_id) = &filter.agent_id {
        query = query.filter(threads::agent_id.eq(agent_id.clone()));
    }
    if let Some(user_id) = &filter.user_id {
        query = query.filter(threads::user_id.eq(user_id.clone()));
    }
    if let Some(from) = filter.active_from {
        query = query.filter(threads::updated_at.ge(to_db_time(from)));
    }
    if let Some(until) = filter.active_until {
        query = query.filter(threads::updated_at.lt(to_db_time(until)));
    }
    if filter.pending_form {
        query = query.filter(flag("threads.pending_interactions > 0"));
    }
    if filter.negative_feedback {
        query = query.filter(flag("threads.negative_feedback > 0"));
    }
    if filter.failed_run {
        query = query.filter(flag("threads.failed_runs > 0"));
    }
    if let Some(words) = &filter.search {
        query = query.filter(search::thread_filter(backend, plan, words));
    }
    // The redundant bound (`<=`, `>=`) lets both databases start the index range at the
    // cursor instead of filtering every newer row.
    query = match at {
        PageAt::First => query.order((threads::updated_at.desc(), threads::id.desc())),
        PageAt::Older(c) => {
            let (t, id) = (to_db_time(c.at), c.id.clone());
            query
                .filter(threads::updated_at.le(t))
                .filter(threads::updated_at.lt(t).or(threads::id.lt(id)))
                .order((threads::updated_at.desc(), threads::id.desc()))
        }
        PageAt::Newer(c) => {
            let (t, id) = (to_db_time(c.at), c.id.clone());
            query
                .filter(threads::updated_at.ge(t))
                .filter(threads::updated_at.gt(t).or(threads::id.gt(id)))
                .order((threads::updated_at.asc(), threads::id.asc()))
        }
    };
    let rows: Vec<(SummaryRow, String, String)> = query.limit(window(limit)).load(conn)?;
    let mut threads: Vec<ThreadSummary> = rows
        .into_iter()
        .map(|(row, slug, name)| row.into_summary(slug, name))
        .collect();
    if matches!(at, PageAt::Newer(_)) {
        // Fetched oldest first from the cursor: in list order, a row beyond the page (if
        // any) comes first.
        threads.reverse();
    }
    Ok(threads)
}

/// A page of the list from `at`, with the positions of the pages beside it.
fn list_page(
    conn: &mut AnyConnection,
    filter: &ThreadFilter,
    plan: &Plan,
    at: PageAt,
    limit: usize,
) -> Result<ThreadListPage, StoreError> {
    let mut rows = list_rows(conn, filter, plan, &at, limit)?;
    let mut at = at;
    if matches!(at, PageAt::Newer(_)) && rows.len() <= limit {
        // Back at the top: show the newest page, full, as the list starts.
        at = PageAt::First;
        rows = list_rows(conn, filter, plan, &at, limit)?;
    }
    let (older, newer) = match &at {
        PageAt::First => {
            let more = rows.len() > limit;
            rows.truncate(limit);
            (
                more.then(|| rows.last().map(ActivityCursor::of)).flatten(),
                None,
            )
        }
        PageAt::Older(cursor) => {
            let more = rows.len() > limit;
            rows.truncate(limit);
            let older = more.then(|| rows.last().map(ActivityCursor::of)).flatten();
            // An empty page (its threads went meanwhile) still leads back.
            let newer = rows
                .first()
                .map(ActivityCursor::of)
                .or(Some(cursor.clone()));
            (older, newer)
        }
        PageAt::Newer(_) => {
            // More than `limit` rows: the first one only says that more follow.
            rows.remove(0);
            let newer = rows.first().map(ActivityCursor::of);
            (rows.last().map(ActivityCursor::of), newer)
        }
    };
    Ok(ThreadListPage {
        threads: rows,
        older,
        newer,
    })
}

/// Every item of a thread, oldest first, as stored.
fn stored_items(conn: &mut AnyConnection, thread_id: &str) -> Result<Vec<StoredItem>, StoreError> {
    let rows: Vec<(
        String,
        String,
        String,
        Option<String>,
        NaiveDateTime,
        String,
    )> = items::table
        .filter(items::thread_id.eq(thread_id))
        .order((items::created_at.asc(), items::id.asc()))
        .select((
            items::id,
            items::kind,
            items::visibility,
            items::status,
            items::created_at,
            items::data,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(id, kind, visibility, status, created_at, data)| {
            Ok(StoredItem {
                id,
                kind,
                visibility,
                status,
                created_at: from_db_time(created_at),
                data: serde_json::from_str(&data)?,
            })
        })
        .collect()
}

impl Store {
    /// A page of threads matching `filter`, `limit` long at most. A search first indexes the
    /// messages that wait for it, so it finds everything committed before it.
    pub async fn console_threads(
        &self,
        filter: &ThreadFilter,
        at: PageAt,
        limit: usize,
    ) -> Result<ThreadListPage, StoreError> {
        if filter.search.is_some() {
            self.index_pending_search().await?;
        }
        let filter = filter.clone();
        self.with_conn(move |conn| {
            let plan = match &filter.search {
                Some(words) => search::choose_plan(conn, words)?,
                None => Plan::Collect,
            };
            list_page(conn, &filter, &plan, at, limit)
        })
        .await
    }

    /// Every agent of every account, by name, for the console's agent filters.
    pub async fn console_agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        self.with_conn(|conn| {
            Ok(agents::table
                .order((agents::name.asc(), agents::slug.asc(), agents::id.asc()))
                .select(AgentRow::as_select())
                .load(conn)?)
        })
        .await
    }

    /// One thread with everything its transcript shows, whoever owns it.
    pub async fn console_transcript(&self, thread_id: &str) -> Result<TranscriptData, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            let (row, slug, name, status, metadata): (SummaryRow, String, String, String, String) =
                threads::table
                    .inner_join(agents::table)
                    .filter(threads::id.eq(&thread_id))
                    .select((
                        SummaryRow::as_select(),
                        agents::slug,
                        agents::name,
                        threads::status,
                        threads::metadata,
                    ))
                    .first(conn)
                    .optional()?
                    .ok_or(StoreError::NotFound("thread"))?;
            let items = stored_items(conn, &thread_id)?;
            let runs = runs::table
                .filter(runs::thread_id.eq(&thread_id))
                .order((runs::started_at.asc(), runs::id.asc()))
                .select(RunRow::as_select())
                .load(conn)?;
            let feedback = feedback::table
                .filter(feedback::thread_id.eq(&thread_id))
                .order((feedback::created_at.asc(), feedback::item_id.asc()))
                .select(FeedbackRow::as_select())
                .load(conn)?;
            let interactions = human_interactions::table
                .filter(human_interactions::thread_id.eq(&thread_id))
                .order((
                    human_interactions::created_at.asc(),
                    human_interactions::id.asc(),
                ))
                .select(human::Record::as_select())
                .load(conn)?
                .into_iter()
                .map(human::Record::typed)
                .collect::<Result<Vec<_>, _>>()?;
            let attachments = attachments::table
                .filter(attachments::thread_id.eq(&thread_id))
                .order((attachments::created_at.asc(), attachments::id.asc()))
                .select(AttachmentRow::as_select())
                .load(conn)?;
            Ok(TranscriptData {
                thread: row.into_summary(slug, name),
                status: serde_json::from_str(&status)?,
                metadata: serde_json::from_str(&metadata)?,
                items,
                runs,
                feedback,
                interactions,
                attachments,
            })
        })
        .await
    }

    /// Deletes a thread of any owner with everything in it, its attachments included;
    /// returns the storage keys to remove. `NotFound` when there is no such thread.
    pub async fn console_delete_thread(&self, thread_id: &str) -> Result<Vec<String>, StoreError> {
        let thread_id = thread_id.to_owned();
        self.with_conn(move |conn| {
            db::write_transaction(conn, |conn| {
                let keys = delete_thread_attachments(conn, &thread_id)?;
                let deleted = diesel::delete(threads::table.find(&thread_id)).execute(conn)?;
                if deleted == 0 {
                    return Err(StoreError::NotFound("thread"));
                }
                Ok(keys)
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests;
