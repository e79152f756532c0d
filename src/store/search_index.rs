//! Search indexing in batches, on SQLite. FTS5 writes a new index segment, and merges older
//! ones, at every commit that indexed something; with the one or two messages a turn commits
//! at a time that was about a third of the work of the turn's writes. So the items triggers
//! only note a new or replaced message in `search_pending` (see the migration
//! `deferred_search_index`), and [`Store::index_pending_search`] indexes the noted messages
//! together (up to 2,000 per write): about once a second (started with the server), and before
//! every search, so that a search still finds everything committed before it. What waits is in
//! the database, so a restart loses none of it. Postgres indexes each message as it is written
//! (a generated `tsvector` column under a GIN index) and has nothing waiting.

use diesel::sql_types::{BigInt, Bool};
use diesel::{QueryableByName, RunQueryDsl};

use super::db::{self, Backend};
use super::{Store, StoreError};

/// How often the server indexes what waits (a search first indexes whatever waits then).
pub const INDEX_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Messages indexed in one write at most: a backlog (a bulk import, a busy second on a slow
/// disk) is indexed in several writes, so that none holds the write lock for long.
const MOST_PER_WRITE: i64 = 2_000;
/// The pause between two full writes, for other writers waiting for the lock (SQLite's busy
/// handler retries after sleeps of up to 100 ms).
const BETWEEN_WRITES: std::time::Duration = std::time::Duration::from_millis(50);

/// The first `MOST_PER_WRITE` waiting messages (by id), under the document numbers their
/// triggers gave them, with the text of their content parts (as the triggers indexed them one
/// by one before).
const INDEX_WAITING: &str = "INSERT INTO search_fts (rowid, body) \
     SELECT s.doc, (SELECT group_concat(json_extract(part.value, '$.text'), ' ') \
                    FROM json_each(i.data, '$.content') AS part) \
     FROM (SELECT item_id FROM search_pending ORDER BY item_id LIMIT ?) p \
     JOIN search_items s ON s.item_id = p.item_id \
     JOIN items i ON i.id = p.item_id \
     WHERE json_valid(i.data)";

/// The same messages, taken off the list; also those with no JSON left to index (a later
/// write made it so).
const CLEAR_WAITING: &str = "DELETE FROM search_pending WHERE item_id IN \
     (SELECT item_id FROM search_pending ORDER BY item_id LIMIT ?)";

const ANY_WAITING: &str = "SELECT EXISTS (SELECT 1 FROM search_pending) AS waiting";

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = Bool)]
    waiting: bool,
}

impl Store {
    /// Indexes the messages that wait for the search index, at most [`MOST_PER_WRITE`] per
    /// write; how many were indexed. Nothing waits on Postgres.
    pub async fn index_pending_search(&self) -> Result<usize, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(0);
        }
        // Read first, so that a server with nothing to index takes no write lock.
        let waiting = self.read_conn(|conn| {
            Ok(diesel::sql_query(ANY_WAITING)
                .get_result::<Waiting>(conn)?
                .waiting)
        });
        if !waiting.await? {
            return Ok(0);
        }
        let mut indexed = 0;
        loop {
            let (taken, done) = self
                .write_conn(|conn| {
                    db::write_transaction(conn, |conn| {
                        let done = diesel::sql_query(INDEX_WAITING)
                            .bind::<BigInt, _>(MOST_PER_WRITE)
                            .execute(conn)?;
                        let taken = diesel::sql_query(CLEAR_WAITING)
                            .bind::<BigInt, _>(MOST_PER_WRITE)
                            .execute(conn)?;
                        Ok((taken, done))
                    })
                })
                .await?;
            indexed += done;
            if i64::try_from(taken).unwrap_or(i64::MAX) < MOST_PER_WRITE {
                return Ok(indexed);
            }
            tokio::time::sleep(BETWEEN_WRITES).await;
        }
    }
}
