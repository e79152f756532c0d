//! WAL checkpoints of a SQLite store, in a thread of their own. A checkpoint copies the pages
//! the WAL holds back into the database file and syncs it. SQLite runs one in the connection
//! whose commit takes the WAL past `wal_autocheckpoint` pages: that was the writer thread's
//! (every 1.25-1.5 s under 2,000 streams, 25 ms of CPU each before the sync), and every write
//! queued behind it, the first writes of new threads among them. The writer's connection no
//! longer checkpoints; this thread does, every second, as a passive checkpoint, which neither
//! waits for readers and the writer nor holds them up.

use std::sync::mpsc;
use std::time::Duration;

use diesel::connection::SimpleConnection;

use super::StoreError;
use super::db::{AnyConnection, Pool};

/// How often the WAL is checkpointed: about as often as the writer's commits took it past
/// 10,000 pages under the heaviest load measured.
const EVERY: Duration = Duration::from_secs(1);

/// Starts the checkpoint thread of the database `pool` opens; it ends when the returned
/// sender is dropped.
pub(super) fn start(pool: Pool) -> Result<mpsc::Sender<()>, StoreError> {
    let (stop, stopped) = mpsc::channel();
    std::thread::Builder::new()
        .name("chatkit-checkpoint".into())
        .spawn(move || checkpoints(&pool, &stopped))
        .map_err(|e| StoreError::Failed(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(stop)
}

/// A passive checkpoint every [`EVERY`] on a connection of its own (opened again after one
/// that died), until the sender of `stopped` is dropped.
fn checkpoints(pool: &Pool, stopped: &mpsc::Receiver<()>) {
    let mut own = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        let conn = own.take().map_or_else(|| pool.own_connection(), Ok);
        let result = conn.and_then(|mut conn| {
            let result = checkpoint(&mut conn);
            if !pool.note(&mut conn, &result) {
                own = Some(conn);
            }
            result
        });
        if let Err(e) = result {
            log::warn!("cannot checkpoint the WAL: {e}");
        }
    }
}

fn checkpoint(conn: &mut AnyConnection) -> Result<(), StoreError> {
    if let AnyConnection::Sqlite(sqlite) = conn {
        sqlite.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use diesel::RunQueryDsl;
    use diesel::sql_types::BigInt;

    use super::super::Store;
    use super::super::test_db::each_backend;

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
