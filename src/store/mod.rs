//! Persistence: the only module that speaks SQL. Every public method is async, moves its whole
//! unit of work (pool checkout included) onto the blocking pool once, and never holds a
//! connection across an `.await`. Method names follow the ChatKit SDK's `Store` so readers of the
//! protocol can map them one to one.

mod accounts;
mod agents;
mod attachments;
mod audit;
pub mod blobs;
mod checkpoint;
mod console_attachments;
mod console_feedback;
mod console_threads;
pub mod db;
mod fault;
mod feedback;
mod freshness;
mod group_commit;
mod history;
mod human;
mod human_queue;
mod items;
mod kept;
mod mcp_servers;
mod models;
mod operators;
mod paging;
mod parked_calls;
mod run_ownership;
mod runs;
pub mod schema;
pub mod search;
mod search_index;
mod signals;
mod stable_plans;
#[cfg(test)]
mod test_db;
mod threads;
mod usage;
mod webhooks;

use chrono::{DateTime, NaiveDateTime, Utc};

pub use accounts::{AccountRow, AgentRow, DEFAULT_SLUG};
pub use agents::{
    AgentChanges, AgentFields, AgentImport, AgentOverview, AgentRows, ImportSummary,
    McpServerImport, SecretChange,
};
pub use attachments::{AttachError, AttachmentRow, UploadState};
pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use blobs::{Blob, BlobError, BlobStore, BlobWriter, StoredBlob};
pub use console_attachments::{AttachmentFilter, AttachmentTotals, ConsoleAttachment, MimeFilter};
pub use console_feedback::{FeedbackEntry, FeedbackFilter};
pub use console_threads::{
    ActivityCursor, FeedbackRow, PageAt, StoredItem, ThreadFilter, ThreadListPage, ThreadSummary,
    TranscriptData,
};
pub use db::Backend;
pub use fault::DbFault;
pub use history::{HistoryWalk, RecentHistory};
pub use human::InteractionRow;
pub use human_queue::{Claim, QueueEntry, QueueFilter};
pub use items::SavedMessage;
pub use mcp_servers::{McpServerFields, McpServerRow};
pub use operators::{
    ChangeOutcome, NewOperator, NewSession, Operator, OperatorChange, Role, SessionRecord,
    UnknownRole,
};
pub use paging::PageRequest;
pub use parked_calls::ParkedAnswer;
pub use run_ownership::{RunClaim, StaleRun};
pub use runs::{RunOutcome, RunRow};
pub use search_index::INDEX_EVERY as SEARCH_INDEX_EVERY;
pub use signals::{Signal, Signals, Subscription};
pub use usage::{ModelPrice, RefusalCount, UsageFilter, UsageLine, UsageReport, UsageTotals};
pub use webhooks::{Attempt, Delivery, DeliveryFilter, Outbox};

/// What can go wrong below the service layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A row with the same unique key exists (e.g. an operator's email).
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// Attachments that cannot go into a message.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// A write that would repeat what must be unique, e.g. a server name within an agent.
    #[error("{0} already exists")]
    Conflict(String),
    #[error("invalid pagination cursor: {0}")]
    InvalidCursor(String),
    #[error("database error: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored state is invalid: {0}")]
    State(#[from] crate::chatkit::states::UnknownState),
    #[error("stored JSON is invalid: {0}")]
    Json(#[from] serde_json::Error),
    /// A secret could not be sealed while rewriting stored values.
    #[error("a secret could not be sealed: {0}")]
    Seal(String),
    #[error("database task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// The writer thread could not run a write (see `group_commit`).
    #[error("database task failed: {0}")]
    Failed(String),
}

impl StoreError {
    /// The state of the database this error shows, when it is not a bug: unreachable,
    /// read-only, full. Callers answer those with "try later" or an operator's task.
    pub fn fault(&self) -> Option<DbFault> {
        match self {
            StoreError::Db(e) => DbFault::of(e),
            StoreError::Pool(_) => Some(DbFault::Unavailable),
            _ => None,
        }
    }
}

/// Who owns a piece of data. Every query on user data is filtered by all three, so a user never
/// sees another user's threads, and a guessed id reads as "not found".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account_id: String,
    pub agent_id: String,
    pub user_id: String,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: db::Pool,
    /// One permit per pooled connection: calls wait for a connection here, as tasks, before
    /// they take a blocking thread. Waiting in the pool instead would park a blocking thread
    /// per waiting call, up to hundreds of threads (each with its stack and malloc arena) under
    /// a burst of thousands of turns.
    gate: std::sync::Arc<tokio::sync::Semaphore>,
    backend: Backend,
    /// Human-input webhooks, when on: interaction changes queue deliveries in their own
    /// transaction.
    outbox: Option<std::sync::Arc<Outbox>>,
    /// Signals to and from the other processes on this database.
    signals: Signals,
    /// SQLite's group committer of the writes of turns; none on Postgres.
    writer: Option<std::sync::Arc<group_commit::Writer>>,
}

impl Store {
    /// Connects, applies pending migrations, and returns the store.
    pub fn connect(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let pool = db::connect(url, max_connections)?;
        let backend = Backend::of_url(url);
        let signals = Signals::new(url, backend);
        let writer = match backend {
            Backend::Sqlite => Some(std::sync::Arc::new(group_commit::Writer::start(
                pool.clone(),
                signals.freshness().clone(),
            )?)),
            Backend::Postgres => None,
        };
        Ok(Store {
            pool,
            gate: std::sync::Arc::new(tokio::sync::Semaphore::new(max_connections as usize)),
            backend,
            outbox: None,
            signals,
            writer,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Runs `f` with a pooled connection on the blocking pool. The checkout happens there too,
    /// since waiting for a connection blocks. `f` may write, so cached reads are stale after it.
    async fn with_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&mut db::AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let request = crate::observe::request_id();
        let freshness = self.signals.freshness().clone();
        let permit = self.connection_turn().await;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let result = crate::observe::context::blocking(request, || pool.run(f));
            // Here, not after the await: a caller that stops waiting must not skip it.
            freshness.bump();
            result
        })
        .await?
    }

    /// [`Store::with_conn`] for the writes every turn makes: on SQLite they commit in groups
    /// (see `group_commit`), inside a transaction shared with other writes, so `f` takes a
    /// transaction only through [`db::write_transaction`], which nests there. `f` may run
    /// twice (the second time alone, after its group failed), so it only writes.
    async fn write_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnMut(&mut db::AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(f).await,
            None => self.with_conn(f).await,
        }
    }

    /// [`Store::with_conn`] for a call that only reads: if its connection turns out dead (the
    /// database restarted, failed over or ended the session), it runs again on a sound one.
    /// Writes are not repeated, since a write cut off mid-way may have been applied.
    async fn read_conn<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: Fn(&mut db::AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let request = crate::observe::request_id();
        let permit = self.connection_turn().await;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            crate::observe::context::blocking(request, || pool.read(f))
        })
        .await?
    }

    /// A turn at a pooled connection, waited for as a task; it goes with the blocking call
    /// (kept even if the caller stops waiting for the call). The gate is never closed, so
    /// there always is one; without it the call would still be bounded by the pool.
    async fn connection_turn(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.gate.clone().acquire_owned().await.ok()
    }

    /// A mark to file cached reads under, taken before reading: `None` when the answer must
    /// come from the database and not be kept (see `freshness`).
    pub async fn read_mark(&self) -> Option<u64> {
        self.signals.listen();
        self.signals.freshness().mark().await
    }

    /// Whether reads filed under `mark` are still current: nothing has changed since.
    pub fn is_current(&self, mark: u64) -> bool {
        self.signals.freshness().current(mark)
    }

    /// The pool's connections now, open and idle, for the metrics.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// Cheap round trip for the readiness probe.
    pub async fn ping(&self) -> Result<(), StoreError> {
        use diesel::connection::SimpleConnection;
        self.read_conn(|conn| Ok(conn.batch_execute("SELECT 1")?))
            .await
    }

    /// Whether a write would succeed now, without changing anything: an update of no row in a
    /// transaction that is rolled back. A read-only database or transaction refuses it (SQLite
    /// already when the write lock is taken), where a plain `SELECT 1` would pass. Space is not
    /// checked: only a real write can tell that.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        use diesel::connection::SimpleConnection;
        self.with_conn(|conn| {
            let probed = db::write_transaction(conn, |conn| {
                conn.batch_execute("UPDATE accounts SET id = id WHERE 1 = 0")?;
                Err::<(), _>(diesel::result::Error::RollbackTransaction)
            });
            match probed {
                Err(diesel::result::Error::RollbackTransaction) => Ok(()),
                Err(e) => Err(e.into()),
                Ok(()) => Ok(()),
            }
        })
        .await
    }
}

/// Turns diesel's "no row" into [`StoreError::NotFound`] naming what was looked for.
trait Found<T> {
    fn found(self, what: &'static str) -> Result<T, StoreError>;
}

impl<T> Found<T> for diesel::QueryResult<T> {
    fn found(self, what: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| match e {
            diesel::result::Error::NotFound => StoreError::NotFound(what),
            other => other.into(),
        })
    }
}

/// `NotFound(what)` for a write that touched no row.
fn touched(rows: usize, what: &'static str) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::NotFound(what));
    }
    Ok(())
}

/// Timestamps are stored as naive UTC with microsecond precision, what both backends keep.
fn to_db_time(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc()
}

fn from_db_time(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}
