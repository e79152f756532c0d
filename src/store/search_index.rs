//! Search indexing in batches, on SQLite. FTS5 writes a new index segment, and merges older
//! ones, at every commit that indexed something; with the one or two messages a turn commits
//! at a time that was about a third of the work of the turn's writes. So the items triggers
//! only note a new or replaced message in `search_pending` (see the migration
//! `deferred_search_index`), and [`Store::index_pending_search`] indexes every noted message in
//! one statement: about once a second (started with the server), and before every search, so
//! that a search still finds everything committed before it. What waits is in the database, so
//! a restart loses none of it. Postgres indexes each message as it is written (a generated
//! `tsvector` column under a GIN index) and has nothing waiting.

use diesel::sql_types::Bool;
use diesel::{QueryableByName, RunQueryDsl};

use super::db::{self, Backend};
use super::{Store, StoreError};

/// How often the server indexes what waits (a search first indexes whatever waits then).
pub const INDEX_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Every waiting message, under the document number its trigger gave it, with the text of its
/// content parts (as the triggers indexed them one by one before).
const INDEX_WAITING: &str = "INSERT INTO search_fts (rowid, body) \
     SELECT s.doc, (SELECT group_concat(json_extract(part.value, '$.text'), ' ') \
                    FROM json_each(i.data, '$.content') AS part) \
     FROM search_pending p \
     JOIN search_items s ON s.item_id = p.item_id \
     JOIN items i ON i.id = p.item_id \
     WHERE json_valid(i.data)";

const CLEAR_WAITING: &str = "DELETE FROM search_pending";

const ANY_WAITING: &str = "SELECT EXISTS (SELECT 1 FROM search_pending) AS waiting";

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = Bool)]
    waiting: bool,
}

impl Store {
    /// Indexes the messages that wait for the search index, in one write; how many there
    /// were. Nothing waits on Postgres.
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
        self.write_conn(|conn| {
            db::write_transaction(conn, |conn| {
                let indexed = diesel::sql_query(INDEX_WAITING).execute(conn)?;
                // Also drops what no longer holds JSON to index (a later write made it so).
                diesel::sql_query(CLEAR_WAITING).execute(conn)?;
                Ok(indexed)
            })
        })
        .await
    }
}
