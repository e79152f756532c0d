//! WAL checkpoints of a SQLite store, in a thread of their own. A checkpoint copies the pages
//! the WAL holds back into the database file and syncs it. SQLite runs one in the connection
//! whose commit takes the WAL past `wal_autocheckpoint` pages: that was the writer thread's
//! (every 1.25-1.5 s under 2,000 streams, 25 ms of CPU each before the sync), and every write
//! queued behind it, the first writes of new threads among them. The writer's connection no
//! longer checkpoints; this thread does, every second, as a passive checkpoint, which neither
//! waits for readers and the writer nor holds them up.
//!
//! A passive checkpoint alone let the WAL grow without end under a steady load (900 MB in 20 s
//! of 2,000 streams): SQLite starts the WAL over only when a write transaction begins on a
//! WAL wholly copied back, and the writer always committed more while the checkpoint ran. So
//! once the WAL is past [`RESTART_AT`] frames, this thread asks the writer, which then runs a
//! restarting checkpoint between two batches: it copies the few pages committed since this
//! thread's round, waits briefly for readers of the old pages, and the writer's next
//! transaction writes the WAL from its start again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;

use super::StoreError;
use super::db::{AnyConnection, Pool};

/// How often the WAL is checkpointed: about as often as the writer's commits took it past
/// 10,000 pages under the heaviest load measured.
const EVERY: Duration = Duration::from_secs(1);

/// WAL frames (pages, 4 KiB each by default) past which the WAL is started over by the writer
/// rather than when an idle moment allows.
const RESTART_AT: i32 = 1_000;

/// How long the writer's restarting checkpoint waits for a reader of the old pages: a reader
/// that takes longer (an export, say) has the WAL started over at a later round instead of
/// holding every write up.
const RESTART_WAIT: &str = "PRAGMA busy_timeout = 20";

/// The checkpoint thread, as the writer holds it: the thread ends when this is dropped.
pub(super) struct Checkpoints {
    _stop: mpsc::Sender<()>,
    restart: Arc<AtomicBool>,
}

impl Checkpoints {
    /// Starts the checkpoint thread of the database `pool` opens.
    pub(super) fn start(pool: Pool) -> Result<Checkpoints, StoreError> {
        let (stop, stopped) = mpsc::channel();
        let restart = Arc::new(AtomicBool::new(false));
        let asked = restart.clone();
        std::thread::Builder::new()
            .name("chatkit-checkpoint".into())
            .spawn(move || checkpoints(&pool, &stopped, &asked))
            .map_err(|e| StoreError::Failed(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpoints {
            _stop: stop,
            restart,
        })
    }

    /// Called by the writer between batches, on its own connection: if the checkpoint thread
    /// asked, copies what is left of the WAL back and waits (briefly) until no reader needs
    /// it, so that the writer's next transaction starts the WAL over.
    pub(super) fn restart_if_asked(&self, writer: &mut AnyConnection) {
        if !self.restart.swap(false, Ordering::Relaxed) {
            return;
        }
        match restart(writer) {
            Ok(outcome) if outcome.busy != 0 => {
                log::debug!(
                    "the WAL ({} pages) is still read; started over later",
                    outcome.log
                );
            }
            Ok(_) => {}
            Err(e) => log::warn!("cannot start the WAL over: {e}"),
        }
    }
}

/// What `PRAGMA wal_checkpoint` answers (of its three columns, the two used): whether it
/// could not finish, and how many frames the WAL holds.
#[derive(diesel::QueryableByName)]
struct Outcome {
    #[diesel(sql_type = Integer)]
    busy: i32,
    #[diesel(sql_type = Integer)]
    log: i32,
}

/// A passive checkpoint every [`EVERY`] on a connection of its own (opened again after one
/// that died), until the sender of `stopped` is dropped; `restart` is raised for the writer
/// when the WAL is past [`RESTART_AT`] frames.
fn checkpoints(pool: &Pool, stopped: &mpsc::Receiver<()>, restart: &AtomicBool) {
    let mut own = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        match pool.on_own(&mut own, || pool.own_connection(), |conn| checkpoint(conn)) {
            Ok(outcome) if outcome.log >= RESTART_AT => restart.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => log::warn!("cannot checkpoint the WAL: {e}"),
        }
    }
}

fn checkpoint(conn: &mut AnyConnection) -> Result<Outcome, StoreError> {
    Ok(diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Outcome>(sqlite(conn)?)?)
}

/// A restarting checkpoint with a short wait for readers, the connection's own wait put back
/// after it.
fn restart(conn: &mut AnyConnection) -> Result<Outcome, StoreError> {
    let sqlite = sqlite(conn)?;
    sqlite.batch_execute(RESTART_WAIT)?;
    let outcome = diesel::sql_query("PRAGMA wal_checkpoint(RESTART)").get_result::<Outcome>(sqlite);
    sqlite.batch_execute(super::db::BUSY_TIMEOUT)?;
    Ok(outcome?)
}

/// The SQLite connection checkpoints run on (only a SQLite store has a writer thread).
fn sqlite(conn: &mut AnyConnection) -> Result<&mut diesel::SqliteConnection, StoreError> {
    match conn {
        AnyConnection::Sqlite(sqlite) => Ok(sqlite),
        _ => Err(StoreError::Failed("the WAL is SQLite's".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use diesel::RunQueryDsl;
    use diesel::sql_types::BigInt;

    use super::super::Store;
    use super::super::test_db::each_backend;
    use super::Outcome;

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    /// Writes that never pause long enough for a passive checkpoint to copy the WAL back
    /// whole (four callers, each sending its next write as soon as the last is committed)
    /// still have the WAL started over: at the end it holds far fewer pages than were written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_while_writes_never_stop() {
        let db = each_backend().into_iter().next().unwrap();
        let store = Store::connect(&db.url, 2).unwrap();
        store
            .write_conn(|conn| {
                diesel::sql_query("CREATE TABLE scratch (b BLOB)").execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        let until = Instant::now() + Duration::from_secs(4);
        let writers = (0..4).map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                while Instant::now() < until {
                    store
                        .write_conn(|conn| {
                            diesel::sql_query("INSERT INTO scratch VALUES (randomblob(16384))")
                                .execute(conn)?;
                            Ok(())
                        })
                        .await
                        .unwrap();
                }
            })
        });
        for writer in futures_util::future::join_all(writers).await {
            writer.unwrap();
        }
        // Outside a transaction: a checkpoint cannot run inside one.
        let mut pooled = store.pool.checkout().unwrap();
        let conn: &mut super::AnyConnection = &mut pooled;
        let rows = diesel::sql_query("SELECT COUNT(*) AS n FROM scratch")
            .get_result::<Count>(conn)
            .unwrap()
            .n;
        let wal = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .get_result::<Outcome>(conn)
            .unwrap()
            .log;
        // Each row fills three overflow pages of 4 KiB at least.
        let written = rows * 3;
        assert!(written > 2_000, "too few writes to tell: {rows} rows");
        assert!(
            i64::from(wal) < written / 2,
            "the WAL holds {wal} pages, of at least {written} written in all"
        );
    }

    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = BigInt)]
        wal_autocheckpoint: i64,
    }

    /// The writer's commits leave the WAL as it is, and the checkpoint thread copies what they
    /// wrote into the database file.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpoint_thread_copies_the_writers_pages_into_the_file() {
        let db = each_backend().into_iter().next().unwrap();
        let file = std::path::PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
        let store = Store::connect(&db.url, 2).unwrap();
        let autocheckpoint = store
            .write_conn(|conn| {
                Ok(diesel::sql_query("PRAGMA wal_autocheckpoint").get_result::<Setting>(conn)?)
            })
            .await
            .unwrap();
        assert_eq!(
            autocheckpoint.wal_autocheckpoint, 0,
            "the writer's commits never checkpoint"
        );
        let before = std::fs::metadata(&file).unwrap().len();
        store
            .write_conn(|conn| {
                diesel::sql_query(
                    "CREATE TABLE scratch AS WITH RECURSIVE n(i) AS \
                     (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
                     SELECT i, randomblob(1000) AS b FROM n",
                )
                .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&file).unwrap().len() < before + 2_000_000 {
            assert!(
                Instant::now() < deadline,
                "the 2 MB written are still only in the WAL"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
