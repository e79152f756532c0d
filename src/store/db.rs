//! Database plumbing: one connection type for SQLite and Postgres, an r2d2 pool that picks the
//! backend from the URL scheme, per-connection SQLite settings, and the embedded migrations.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::StoreError;
use crate::config::database::{is_postgres_url, sqlite_path};

/// SQLite and Postgres behind one type, so queries are written once (vaultwarden's approach).
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type Pool = r2d2::Pool<ConnectionManager>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

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
}

impl ConnectionManager {
    pub fn new(url: &str) -> Self {
        ConnectionManager {
            url: sqlite_path(url).to_owned(),
            backend: Backend::of_url(url),
        }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        match self.backend {
            Backend::Postgres => diesel::PgConnection::establish(&self.url)
                .map(AnyConnection::Postgresql)
                .map_err(diesel::r2d2::Error::ConnectionError),
            Backend::Sqlite => {
                let mut conn = diesel::SqliteConnection::establish(&self.url)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // busy_timeout first: switching to WAL takes a lock, and the pool opens several
                // connections at once. WAL lets readers run beside the one writer; foreign keys
                // are off by default in SQLite.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        conn.is_broken()
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
    let pool = r2d2::Pool::builder()
        .max_size(max_size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(5))
        // No `SELECT 1` before every checkout (r2d2's default): it doubled the round trips of
        // each store call. A connection that broke is noticed by `has_broken` when returned.
        .test_on_check_out(false)
        .build(ConnectionManager::new(url))?;
    run_migrations(&mut *pool.get()?)?;
    Ok(pool)
}

/// Applies the migrations of the connection's dialect that the database has not seen yet.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<(), StoreError> {
    let applied = match conn {
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        AnyConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
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
        pool.get()
            .unwrap()
            .batch_execute("CREATE TABLE counter (n INTEGER NOT NULL)")
            .unwrap();
        let (threads, rounds) = (8, 100);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut conn = pool.get().unwrap();
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
        assert_eq!(count(&mut pool.get().unwrap()).unwrap(), threads * rounds);
    }
}
