//! Group commit on SQLite: the writes of turns (a user message with its run's claim, an item,
//! a run's end) queue for one writer thread, which commits all that are waiting in one
//! transaction.
//!
//! SQLite has one writer at a time anyway. A commit costs about the same for one write as for
//! twenty: the WAL frames of the pages every turn touches (its thread's row, the activity
//! indexes, the search index) are written once per commit, and the checkpoint copies them
//! once. A burst of new threads no longer queues one transaction per write behind the lock.
//! A caller hears back only after the commit, so nothing is acknowledged that a crash could
//! lose.
//!
//! The writes of a batch run side by side, without a savepoint each: savepoints cost the
//! `SAVEPOINT`/`RELEASE` statements, a copy of every page a write touches, and a flush of the
//! search index's pending terms each (a new index segment per write, merged later), about
//! two fifths of the writer's time. Failures are rare, so a batch in which a write fails (or
//! panics) is rolled back whole and each of its writes then runs again in a transaction of
//! its own: the failing one fails alone, the others stand.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tokio::sync::oneshot;

use super::StoreError;
use super::checkpoint::Checkpoints;
use super::db::{self, AnyConnection, Pool};
use super::freshness::Freshness;

/// The most writes one transaction takes: enough for any burst to share commits, few enough
/// that the first in a batch does not wait long for the last.
const MOST_PER_COMMIT: usize = 64;

/// The queue to the writer thread; the thread ends when the last store holding it is dropped,
/// and the checkpoint thread with it.
pub(super) struct Writer {
    queue: mpsc::Sender<Box<dyn Write>>,
}

/// One queued write, as the writer thread sees it.
trait Write: Send {
    /// Runs the write inside the batch's transaction, or, `alone`, in a transaction of its
    /// own; whether it succeeded. It may run twice: once in a batch that then failed, and
    /// once alone; only the last run's result counts.
    fn run(&mut self, conn: &mut AnyConnection, alone: bool) -> bool;
    /// Hands the caller its result, or the batch's error when the batch did not commit.
    fn finish(self: Box<Self>, batch: Result<(), &StoreError>);
}

/// A write and the caller waiting for it.
struct Queued<T, F> {
    write: F,
    request: Option<Arc<str>>,
    result: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Write for Queued<T, F>
where
    F: FnMut(&mut AnyConnection) -> Result<T, StoreError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &mut AnyConnection, alone: bool) -> bool {
        let write = &mut self.write;
        let request = self.request.clone();
        let ran = catch_unwind(AssertUnwindSafe(|| {
            crate::observe::context::blocking(request, || match alone {
                true => db::write_transaction(conn, write),
                false => write(conn),
            })
        }));
        let result = ran.unwrap_or_else(|_| {
            // A panic is one write's bug: diesel left its transaction open (the batch's, or
            // the lone write's own), which must not take the next writes in.
            roll_back_all(conn);
            Err(StoreError::Failed("the write panicked".to_owned()))
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, batch: Result<(), &StoreError>) {
        let result = match (batch, self.result) {
            (Ok(()), Some(result)) => result,
            // A write that failed on its own says why, even if the batch failed after it.
            (_, Some(Err(e))) => Err(e),
            (Err(e), _) => Err(again(e)),
            (Ok(()), None) => Err(StoreError::Failed("the write was not run".to_owned())),
        };
        // The caller may have stopped waiting; the write stands all the same.
        let _ = self.reply.send(result);
    }
}

impl Writer {
    /// Starts the writer thread of a SQLite store.
    pub(super) fn start(pool: Pool, freshness: Arc<Freshness>) -> Result<Writer, StoreError> {
        let checkpoints = Checkpoints::start(pool.clone())?;
        let (queue, writes) = mpsc::channel();
        std::thread::Builder::new()
            .name("chatkit-writer".into())
            .spawn(move || write_batches(&pool, &freshness, &checkpoints, &writes))
            .map_err(|e| StoreError::Failed(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { queue })
    }

    /// Queues `write` for the next commit and waits for that commit.
    pub(super) async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        F: FnMut(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let queued = Queued {
            write,
            request: crate::observe::request_id(),
            result: None,
            reply,
        };
        self.queue
            .send(Box::new(queued))
            .map_err(|_| StoreError::Failed("the writer thread has stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| StoreError::Failed("the writer thread has stopped".to_owned()))?
    }
}

/// The writer thread: takes what is waiting (at least one write), runs it in one transaction,
/// and answers each caller once the commit is known; between batches, starts the WAL over
/// when the checkpoint thread asks.
fn write_batches(
    pool: &Pool,
    freshness: &Freshness,
    checkpoints: &Checkpoints,
    writes: &mpsc::Receiver<Box<dyn Write>>,
) {
    // The writer's own connection, outside the pool: SQLite drops a connection's page cache
    // whenever another connection has committed, so a writer borrowing pooled connections
    // read back the pages of the indexes it writes on almost every commit; and a write no
    // longer waits for readers to give a connection back. Opened at the first write, and
    // again after one that found it dead.
    let mut own: Option<db::PooledConn> = None;
    while let Ok(first) = writes.recv() {
        let mut batch = vec![first];
        while batch.len() < MOST_PER_COMMIT {
            match writes.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        let committed = pool.on_own(
            &mut own,
            || writer_connection(pool),
            |conn| commit(conn, &mut batch),
        );
        // Before anyone hears back, as `Store::with_conn` does: a read that follows an
        // acknowledged write must not be answered from before it.
        freshness.bump();
        for write in batch {
            write.finish(committed.as_ref().map(|_| ()));
        }
        if let Some(conn) = own.as_mut() {
            checkpoints.restart_if_asked(conn);
        }
    }
}

/// The writer's connection, with its statement journals in memory. An insert that fires
/// triggers (the counters, the search bookkeeping) journals every page it touches, so that
/// it can be undone alone; SQLite keeps that journal in memory up to 64 KiB and then in a
/// temporary file, which the inserts of a batch passed at once: nearly half of the writer's
/// time went to `pwrite` calls into a file that is never read unless a statement fails.
/// In memory, the journal of one statement is a few pages, dropped when the statement ends.
/// Its commits never checkpoint the WAL: the checkpoint thread does, and asks the writer to
/// start the WAL over between batches when it has grown (`store::checkpoint`).
fn writer_connection(pool: &Pool) -> Result<db::PooledConn, StoreError> {
    let mut conn = pool.own_connection()?;
    if let AnyConnection::Sqlite(sqlite) = &mut *conn {
        diesel::connection::SimpleConnection::batch_execute(
            sqlite,
            "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0",
        )?;
    }
    Ok(conn)
}

/// `BEGIN IMMEDIATE`, every write of the batch, `COMMIT`. A lone write has its own
/// transaction and result; a batch in which a write fails is rolled back and each of its
/// writes runs again alone.
fn commit(conn: &mut AnyConnection, batch: &mut [Box<dyn Write>]) -> Result<(), StoreError> {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    if let [alone] = batch {
        alone.run(conn, true);
        return Ok(());
    }
    let AnyConnection::Sqlite(sqlite) = &mut *conn else {
        return Err(StoreError::Failed("group commit is for SQLite".to_owned()));
    };
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    if !batch.iter_mut().all(|write| write.run(conn, false)) {
        roll_back_all(conn);
        for write in batch.iter_mut() {
            write.run(conn, true);
        }
        return Ok(());
    }
    if let Err(e) = Manager::commit_transaction(conn) {
        // diesel rolls back a commit that failed; make sure no transaction stays open.
        roll_back_all(conn);
        return Err(e.into());
    }
    Ok(())
}

/// Rolls back every open level of the connection's transaction, down to none (a write that
/// failed or panicked may have left a savepoint of its own open inside the batch's).
fn roll_back_all(conn: &mut AnyConnection) {
    type Manager = <AnyConnection as Connection>::TransactionManager;
    loop {
        let AnyConnection::Sqlite(sqlite) = &mut *conn else {
            return;
        };
        let depth =
            AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth();
        if !matches!(depth, Ok(Some(_))) || Manager::rollback_transaction(conn).is_err() {
            return;
        }
    }
}

/// The batch's error again, for each of its writes: what it says and how it classifies (a
/// full disk, a read-only file, no connection) is kept, which is what callers act on.
fn again(error: &StoreError) -> StoreError {
    let (kind, message) = match error {
        StoreError::Db(DieselError::DatabaseError(kind, info)) => {
            let kind = match kind {
                DatabaseErrorKind::ClosedConnection => DatabaseErrorKind::ClosedConnection,
                DatabaseErrorKind::ReadOnlyTransaction => DatabaseErrorKind::ReadOnlyTransaction,
                _ => DatabaseErrorKind::Unknown,
            };
            (kind, info.message().to_owned())
        }
        StoreError::Pool(e) => (
            DatabaseErrorKind::ClosedConnection,
            format!("no database connection: {e}"),
        ),
        other => (DatabaseErrorKind::Unknown, other.to_string()),
    };
    StoreError::Db(DieselError::DatabaseError(kind, Box::new(message)))
}

#[cfg(test)]
mod tests {
    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;

    use super::super::test_db::each_backend;
    use super::super::{Store, StoreError};

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        x: i64,
    }

    /// Writes that wait together commit together: one that fails (or panics) after writing
    /// leaves nothing behind and fails alone; the others stand, and each caller gets its own
    /// result.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_in_a_group_fails_alone() {
        let db = each_backend().into_iter().next().unwrap();
        let store = Store::connect(&db.url, 4).unwrap();
        store
            .with_conn(|conn| Ok(conn.batch_execute("CREATE TABLE scratch (x BIGINT)")?))
            .await
            .unwrap();
        let insert = |x: i64| {
            move |conn: &mut super::AnyConnection| -> Result<i64, StoreError> {
                diesel::sql_query(format!("INSERT INTO scratch VALUES ({x})")).execute(conn)?;
                match x {
                    7 => Err(StoreError::Conflict("seven".into())),
                    8 => panic!("eight"),
                    _ => Ok(x),
                }
            }
        };
        // The first write holds the writer, so the others queue behind it as one group.
        let first = store.write_conn(move |conn| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            insert(0)(conn)
        });
        let rest = futures_util::future::join_all((1..20).map(|x| store.write_conn(insert(x))));
        let (first, rest) = tokio::join!(first, rest);
        assert_eq!(first.unwrap(), 0);
        for (x, result) in (1..20).zip(rest) {
            match x {
                7 => assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}"),
                8 => assert!(matches!(result, Err(StoreError::Failed(_))), "{result:?}"),
                _ => assert_eq!(result.unwrap(), x),
            }
        }
        let stored = store
            .with_conn(|conn| {
                Ok(diesel::sql_query("SELECT x FROM scratch ORDER BY x").load::<Row>(conn)?)
            })
            .await
            .unwrap();
        let stored: Vec<i64> = stored.into_iter().map(|row| row.x).collect();
        let expected: Vec<i64> = (0..20).filter(|x| *x != 7 && *x != 8).collect();
        assert_eq!(stored, expected);
    }

    /// The writer's statement journals stay in memory (`temp_store` 2): the inserts of a
    /// batch that fire triggers do not write every page they touch to a temporary file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_keeps_statement_journals_in_memory() {
        let db = each_backend().into_iter().next().unwrap();
        let store = Store::connect(&db.url, 2).unwrap();
        let read = |conn: &mut super::AnyConnection| {
            Ok(
                diesel::sql_query("SELECT temp_store AS x FROM pragma_temp_store")
                    .get_result::<Row>(conn)?,
            )
        };
        assert_eq!(store.write_conn(read).await.unwrap().x, 2);
        assert_eq!(
            store.with_conn(read).await.unwrap().x,
            0,
            "the pool's connections keep SQLite's default"
        );
    }

    /// The writer keeps a connection of its own: writes commit while readers hold every
    /// pooled connection.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_needs_no_pooled_connection() {
        let db = each_backend().into_iter().next().unwrap();
        let store = Store::connect(&db.url, 2).unwrap();
        let lent: Vec<_> = (0..2).map(|_| store.pool.checkout().unwrap()).collect();
        let write = store
            .write_conn(|conn| Ok(diesel::sql_query("SELECT 7 AS x").get_result::<Row>(conn)?));
        let row = tokio::time::timeout(std::time::Duration::from_secs(3), write)
            .await
            .expect("the write waited for a pooled connection")
            .unwrap();
        assert_eq!(row.x, 7);
        drop(lent);
    }
}
