//! A thread's recent history for a run, read newest first a page at a time and only as far
//! back as the caller wants: a turn on a long thread reads about what its model is given,
//! not the whole thread. Pages follow the items index `(thread_id, created_at, id)` by keyset.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::db::AnyConnection;
use super::models::ItemRow;
use super::schema::items;
use super::threads::find_owned;
use super::{Scope, Store, StoreError};
use crate::chatkit::records::HistoryEntry;

/// Rows of the first page; each further page is twice the one before, up to [`LAST_PAGE`], so
/// a short walk reads few rows and a long one few pages.
const FIRST_PAGE: i64 = 32;
const LAST_PAGE: i64 = 512;

/// Decides, entry by entry from the newest, how far back a walk through a history goes.
///
/// Cloned for each attempt: a read whose connection turned out dead runs again from the start.
pub trait HistoryWalk: Clone + Send + 'static {
    /// Takes the next older entry; `false` when no older entry is wanted.
    fn take(&mut self, entry: &HistoryEntry) -> bool;
}

/// What a walk read: the entries it took (oldest first), and what was left unread.
#[derive(Debug)]
pub struct RecentHistory<W> {
    /// Every entry walked, oldest first; the oldest is the one the walk stopped at when it
    /// stopped.
    pub entries: Vec<HistoryEntry>,
    /// Whether the walk reached the thread's first entry.
    pub complete: bool,
    /// Entries older than `entries`, not read (zero when `complete`).
    pub older: u64,
    /// The walk, with what it learned.
    pub walk: W,
}

impl Store {
    /// The newest entries of one of the caller's threads as the model sees them (hidden and
    /// model-only items included), for as long as `walk` takes them, in one unit of work.
    pub async fn load_recent_history<W: HistoryWalk>(
        &self,
        scope: &Scope,
        thread_id: &str,
        walk: W,
    ) -> Result<RecentHistory<W>, StoreError> {
        let (scope, thread_id) = (scope.clone(), thread_id.to_owned());
        self.read_conn(move |conn| {
            let mut walk = walk.clone();
            find_owned(conn, &scope, &thread_id)?;
            let mut entries = Vec::new();
            let mut limit = FIRST_PAGE;
            let mut last: Option<(NaiveDateTime, String)> = None;
            loop {
                let rows = page(conn, &thread_id, last.as_ref(), limit)?;
                let short = i64::try_from(rows.len()).unwrap_or(i64::MAX) < limit;
                for row in rows {
                    let key = (row.created_at, row.id.clone());
                    entries.push(row.into_entry()?);
                    let more = entries.last().is_some_and(|entry| walk.take(entry));
                    if !more {
                        let older = count_before(conn, &thread_id, &key)?;
                        entries.reverse();
                        return Ok(RecentHistory {
                            entries,
                            complete: older == 0,
                            older,
                            walk,
                        });
                    }
                    last = Some(key);
                }
                if short {
                    entries.reverse();
                    return Ok(RecentHistory {
                        entries,
                        complete: true,
                        older: 0,
                        walk,
                    });
                }
                limit = (limit * 2).min(LAST_PAGE);
            }
        })
        .await
    }
}

/// Up to `limit` rows of the thread, newest first, strictly before the key `before`.
fn page(
    conn: &mut AnyConnection,
    thread_id: &str,
    before: Option<&(NaiveDateTime, String)>,
    limit: i64,
) -> Result<Vec<ItemRow>, StoreError> {
    let newest = items::table
        .filter(items::thread_id.eq(thread_id))
        .order((items::created_at.desc(), items::id.desc()))
        .select(ItemRow::as_select())
        .limit(limit);
    Ok(match before {
        None => newest.load(conn)?,
        Some((at, id)) => newest
            .filter(
                items::created_at
                    .lt(at)
                    .or(items::created_at.eq(at).and(items::id.lt(id))),
            )
            .load(conn)?,
    })
}

/// How many rows of the thread come before the key: counted on the index, never read.
fn count_before(
    conn: &mut AnyConnection,
    thread_id: &str,
    (at, id): &(NaiveDateTime, String),
) -> Result<u64, StoreError> {
    let count: i64 = items::table
        .filter(items::thread_id.eq(thread_id))
        .filter(
            items::created_at
                .lt(at)
                .or(items::created_at.eq(at).and(items::id.lt(id))),
        )
        .count()
        .get_result(conn)?;
    Ok(u64::try_from(count).unwrap_or_default())
}
