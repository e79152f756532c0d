//! Database plumbing: one connection type for SQLite and Postgres, an r2d2 pool that picks the
//! backend from the URL scheme and retires dead connections, per-connection SQLite settings,
//! and the embedded migrations.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::StoreError;
use super::fault::{DbFault, is_connection_lost};
use crate::config::database::{is_postgres_url, sqlite_path};

/// SQLite and Postgres behind one type, so queries are written once (vaultwarden's approach).
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// A connection as the pool lends it: the connection, and what the pool knows of its health.
/// It derefs to the connection, so queries take `&mut *pooled` like any connection.
pub struct PooledConn {
    conn: AnyConnection,
    /// A call found the connection dead: the pool closes it instead of lending it again.
    lost: bool,
    /// The pool's count of lost connections when this one was last known to be alive.
    seen_losses: u64,
}

impl Deref for PooledConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.conn
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.conn
    }
}

/// The pool. Postgres connections die without telling (`pg_terminate_backend`, a failover, a
/// restart), and Diesel counts a connection broken only for a failed transaction, so a dead
/// connection used by plain reads would go back to the pool and fail every borrower. Here a
/// call that finds its connection gone retires it, and makes every connection that sat idle
/// since then prove itself with a ping before its next use: an outage fails only the calls
/// under way when it was noticed, instead of one call per pooled connection, and reads among
/// them run again.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<ConnectionManager>,
    /// How many connections were found dead so far.
    losses: Arc<AtomicU64>,
    /// The database's URL, for connections outside the pool.
    url: Arc<str>,
}

impl Pool {
    /// Runs `f` with a connection; retires the connection if `f` found it dead.
    pub fn run<T>(
        &self,
        f: impl FnOnce(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.checkout()?;
        let result = f(&mut conn.conn);
        self.note(&mut conn, &result);
        result
    }

    /// [`Pool::run`] for a call that changes nothing, so that a connection found dead is
    /// retried once on a sound one and the caller sees no error.
    pub fn read<T>(
        &self,
        f: impl Fn(&mut AnyConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.checkout()?;
        let result = f(&mut conn.conn);
        if self.note(&mut conn, &result) {
            drop(conn);
            return self.run(f);
        }
        result
    }

    /// A connection of the pool's database and settings that the pool does not lend, for the
    /// one caller that keeps a connection to itself (SQLite's writer thread).
    pub fn own_connection(&self) -> Result<PooledConn, StoreError> {
        let manager = ConnectionManager::new(&self.url);
        r2d2::ManageConnection::connect(&manager).map_err(|e| match e {
            diesel::r2d2::Error::QueryError(e) => StoreError::Db(e),
            e => StoreError::Failed(format!("cannot open a database connection: {e}")),
        })
    }

    /// Runs `f` on a thread's own connection kept in `own` (opened by `open` when there is
    /// none), and keeps it there unless `f`'s result says it died.
    pub(super) fn on_own<T>(
        &self,
        own: &mut Option<PooledConn>,
        open: impl FnOnce() -> Result<PooledConn, StoreError>,
        f: impl FnOnce(&mut PooledConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = match own.take() {
            Some(conn) => conn,
            None => open()?,
        };
        let result = f(&mut conn);
        if !self.note(&mut conn, &result) {
            *own = Some(conn);
        }
        result
    }

    /// Whether `result` says the connection is gone; if so it is marked to be closed.
    pub(super) fn note<T>(&self, conn: &mut PooledConn, result: &Result<T, StoreError>) -> bool {
        let Err(StoreError::Db(e)) = result else {
            return false;
        };
        if !is_connection_lost(e) {
            return false;
        }
        log::warn!("a pooled database connection was lost: {e}");
        conn.lost = true;
        self.losses.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A pooled connection that is alive as far as anyone knows: one idle since a loss was
    /// noticed is pinged first, and closed if it does not answer.
    pub fn checkout(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, StoreError> {
        let waiting = std::time::Instant::now();
        let conn = self.checkout_sound();
        crate::observe::metrics::db_pool_wait(waiting.elapsed());
        conn
    }

    /// The pool's connections now (open, idle).
    pub fn state(&self) -> r2d2::State {
        self.inner.state()
    }

    fn checkout_sound(&self) -> Result<r2d2::PooledConnection<ConnectionManager>, StoreError> {
        // Each failed ping closes one connection; the pool never holds more than its size.
        for _ in 0..=self.inner.max_size() {
            let mut conn = self.inner.get()?;
            let losses = self.losses.load(Ordering::Relaxed);
            if conn.seen_losses == losses {
                return Ok(conn);
            }
            if conn.conn.ping().is_ok() {
                conn.seen_losses = losses;
                return Ok(conn);
            }
            conn.lost = true;
        }
        Ok(self.inner.get()?)
    }
}

/// How long a SQLite connection waits for a lock before it gives up: what a statement waits
/// behind the one writer at most.
pub(super) const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 5000";

pub(super) const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub(super) const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Which database a URL names. `AnyConnection::establish` would try each backend in turn and
/// SQLite accepts almost any string, so the scheme decides instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if is_postgres_url(url) {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

/// r2d2 manager opening the backend the URL names, with our per-connection settings.
#[derive(Debug)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
    /// The pool's count of lost connections; a new connection starts out as seen alive now.
    losses: Arc<AtomicU64>,
}

impl ConnectionManager {
    pub fn new(url: &str) -> Self {
        ConnectionManager {
            url: sqlite_path(url).to_owned(),
            backend: Backend::of_url(url),
            losses: Arc::default(),
        }
    }

    /// A connection of the backend with our settings, outside any pool (the pool's
    /// `ManageConnection::connect` wraps it).
    pub fn connect(&self) -> Result<AnyConnection, diesel::r2d2::Error> {
        match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.url)
                .map(AnyConnection::Postgresql)
                .map_err(diesel::r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                super::stable_plans::enable();
                let mut conn = diesel::SqliteConnection::establish(&self.url)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // busy_timeout first: switching to WAL takes a lock, and the pool opens several
                // connections at once. WAL lets readers run beside the one writer; foreign keys
                // are off by default in SQLite.
                conn.batch_execute(BUSY_TIMEOUT)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                     PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 10000;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<PooledConn, Self::Error> {
        let seen_losses = self.losses.load(Ordering::Relaxed);
        Ok(PooledConn {
            conn: ConnectionManager::connect(self)?,
            lost: false,
            seen_losses,
        })
    }

    fn is_valid(&self, conn: &mut PooledConn) -> Result<(), Self::Error> {
        conn.conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut PooledConn) -> bool {
        conn.lost || conn.conn.is_broken()
    }
}

/// Runs `f` in a transaction that may read before it writes. On SQLite it starts with
/// `BEGIN IMMEDIATE`, taking the write lock up front: a deferred transaction that read first
/// and then finds that another connection committed meanwhile fails at once with "database is
/// locked" (SQLite cannot invoke the busy handler there), whereas waiting for the lock up front
/// goes through `busy_timeout`. On Postgres it is an ordinary transaction.
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    type Manager = <AnyConnection as Connection>::TransactionManager;

    let AnyConnection::Sqlite(sqlite) = &mut *conn else {
        return conn.transaction(f);
    };
    // Within a write of a group commit, which runs inside the group's transaction: that is
    // rolled back whole if `f` fails, so `f` needs no other.
    let depth = AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth();
    if depth?.is_some() {
        return f(conn);
    }
    // `SqliteConnection::immediate_transaction`, with `f` given the connection as the store's
    // queries take it; the outer manager hands commit and rollback to the SQLite one.
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match f(&mut *conn) {
        Ok(value) => {
            Manager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            Manager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Builds the pool and applies pending migrations for the URL's backend.
pub fn connect(url: &str, max_size: u32) -> Result<Pool, StoreError> {
    let manager = ConnectionManager::new(url);
    let losses = manager.losses.clone();
    let inner = r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        // No `SELECT 1` before every checkout (r2d2's default): it doubled the round trips of
        // each store call. A connection that broke is noticed by `has_broken` when returned,
        // and after a loss `Pool::checkout` tests the idle ones.
        .test_on_check_out(false)
        .build(manager)?;
    let pool = Pool {
        inner,
        losses,
        url: url.into(),
    };
    pool.run(run_migrations)?;
    Ok(pool)
}

/// Applies the migrations of the connection's dialect that the database has not seen yet.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let applied = match conn {
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    // A database that refuses the migrations' bookkeeping (read-only, full) is told as such.
    .map_err(|e| match e.downcast::<diesel::result::Error>() {
        Ok(e) if DbFault::of(&e).is_some() => StoreError::Db(*e),
        Ok(e) => StoreError::Migration(e.to_string()),
        Err(e) => StoreError::Migration(e.to_string()),
    })?;
    for version in applied {
        log::info!("applied migration {version}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
        diesel::sql_query("SELECT COUNT(*) AS n FROM counter")
            .get_result::<Count>(conn)
            .map(|c| c.n)
    }

    /// Concurrent read-then-write transactions on one SQLite file all commit: none fails with
    /// "database is locked" (deferred transactions did, as soon as two overlapped).
    #[test]
    fn concurrent_write_transactions_wait_for_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = connect(&url, 8).unwrap();
        pool.checkout()
            .unwrap()
            .batch_execute("CREATE TABLE counter (n INTEGER NOT NULL)")
            .unwrap();
        let (threads, rounds) = (8, 100);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut conn = pool.checkout().unwrap();
                    for _ in 0..rounds {
                        write_transaction(&mut conn, |conn| {
                            let n = count(conn)?;
                            diesel::sql_query(format!("INSERT INTO counter (n) VALUES ({n})"))
                                .execute(conn)
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(
            count(&mut pool.checkout().unwrap()).unwrap(),
            threads * rounds
        );
    }
}
