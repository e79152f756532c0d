//! The rows the console bench writes, as the tables have them, and the loader's connection:
//! one transaction per batch, one multi-row INSERT per 1,000 rows of a table.

use chatkit_server::store::schema::{
    attachments, feedback, human_interactions, items, runs, threads,
};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use crate::words::{COMMON_WORD, TWO_WORDS, has_word};

/// Rows per INSERT (Postgres allows 65,535 bound values, SQLite 32,766).
const ROWS_PER_INSERT: usize = 1_000;

#[derive(Insertable)]
#[diesel(table_name = threads, treat_none_as_default_value = false)]
pub struct NewThread {
    pub id: String,
    pub account_id: String,
    pub agent_id: String,
    pub user_id: String,
    pub title: Option<String>,
    pub status: String,
    pub allowed_image_domains: Option<String>,
    pub metadata: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = items, treat_none_as_default_value = false)]
pub struct NewItem {
    pub id: String,
    pub thread_id: String,
    pub kind: String,
    pub visibility: String,
    pub status: Option<String>,
    pub created_at: NaiveDateTime,
    pub data: String,
}

#[derive(Insertable)]
#[diesel(table_name = runs, treat_none_as_default_value = false)]
pub struct NewRun {
    pub id: String,
    pub thread_id: String,
    pub status: String,
    pub model: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub started_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub error: Option<String>,
    pub partial_text: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = feedback, treat_none_as_default_value = false)]
pub struct NewFeedback {
    pub item_id: String,
    pub thread_id: String,
    pub user_id: String,
    pub kind: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = human_interactions, treat_none_as_default_value = false)]
pub struct NewInteraction {
    pub id: String,
    pub thread_id: String,
    pub run_id: Option<String>,
    pub item_id: String,
    pub call_id: String,
    pub tool_name: String,
    pub arguments: String,
    pub kind: String,
    pub schema: String,
    pub status: String,
    pub answer: Option<String>,
    pub answered_by: Option<String>,
    pub details: Option<String>,
    pub created_at: NaiveDateTime,
    pub answered_at: Option<NaiveDateTime>,
    pub expires_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = attachments, treat_none_as_default_value = false)]
pub struct NewAttachment {
    pub id: String,
    pub account_id: String,
    pub agent_id: String,
    pub user_id: String,
    pub thread_id: Option<String>,
    pub name: String,
    pub mime_type: String,
    pub size: i64,
    pub sha256: Option<String>,
    pub storage_key: Option<String>,
    pub state: String,
    pub created_at: NaiveDateTime,
}

/// The rows of a group of threads, written in one transaction.
#[derive(Default)]
pub struct Batch {
    pub threads: Vec<NewThread>,
    pub items: Vec<NewItem>,
    pub runs: Vec<NewRun>,
    pub feedback: Vec<NewFeedback>,
    pub interactions: Vec<NewInteraction>,
    pub attachments: Vec<NewAttachment>,
    /// Messages with [`COMMON_WORD`], and with both of [`TWO_WORDS`].
    pub common: usize,
    pub both: usize,
}

impl Batch {
    pub fn tally(&mut self, text: &str) {
        self.common += usize::from(has_word(text, COMMON_WORD));
        self.both += usize::from(TWO_WORDS.split(' ').all(|w| has_word(text, w)));
    }
}

/// A connection of its own for seeding.
pub enum Conn {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection (Diesel's batch inserts are
/// typed per backend).
macro_rules! on {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            Conn::Sqlite($c) => $body,
            Conn::Postgres($c) => $body,
        }
    };
}

impl Conn {
    pub fn open(db_url: &str) -> Conn {
        use chatkit_server::config::database::sqlite_path;
        use diesel::connection::SimpleConnection;
        match chatkit_server::store::Backend::of_url(db_url) {
            chatkit_server::store::Backend::Postgres => {
                Conn::Postgres(PgConnection::establish(db_url).expect("connect"))
            }
            chatkit_server::store::Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(sqlite_path(db_url)).expect("connect");
                // A larger page cache for the loader only; the file's own settings (WAL) are
                // the server's.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; \
                     PRAGMA cache_size = -262144; PRAGMA foreign_keys = ON;",
                )
                .expect("pragmas");
                Conn::Sqlite(conn)
            }
        }
    }

    pub fn execute(&mut self, sql: &str) {
        on!(self, c => diesel::sql_query(sql).execute(c)).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn write(&mut self, batch: &Batch) {
        on!(self, c => c.transaction::<_, diesel::result::Error, _>(|c| {
            for rows in batch.threads.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(threads::table).values(rows).execute(c)?;
            }
            for rows in batch.items.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(items::table).values(rows).execute(c)?;
            }
            for rows in batch.runs.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(runs::table).values(rows).execute(c)?;
            }
            for rows in batch.feedback.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(feedback::table).values(rows).execute(c)?;
            }
            for rows in batch.interactions.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(human_interactions::table).values(rows).execute(c)?;
            }
            for rows in batch.attachments.chunks(ROWS_PER_INSERT) {
                diesel::insert_into(attachments::table).values(rows).execute(c)?;
            }
            Ok(())
        }))
        .expect("batch written");
    }
}
