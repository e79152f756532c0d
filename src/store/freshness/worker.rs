//! Barriers sent and received on the calling HTTP worker's own runtime (Postgres).
//!
//! The signals listener sends barriers from a thread of its own with blocking calls, so each
//! barrier hands off to that thread and back; under load that made every cached read wait about
//! a millisecond. Here each worker thread keeps one asynchronous connection (`tokio-postgres`)
//! listening on the signals channel and on a sync channel of its own: a barrier is a `NOTIFY`
//! written on the worker's event loop and read back there, and reads waiting on it are woken
//! without leaving the thread. The `changed` notifications that arrive on that connection bump
//! the epoch before the barriers behind them are counted as back, which is what makes a
//! barrier mean "every change committed before it has been seen".
//!
//! Only on a worker with a local task set (actix's arbiters); elsewhere, and while the
//! connection is being made or after it failed (a URL asking for TLS, say), reads use the
//! listener's barriers.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_postgres::AsyncMessage;

use super::{BARRIER_WAIT, CHANGED, Freshness, Numbers, sync_channel};

/// How long after a failed connection the next read tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// One worker's connection and its barriers.
struct WorkerBarrier {
    numbers: Numbers,
    /// Wakes the sender when a barrier is wanted or one came back.
    wake_sender: Notify,
    /// Cleared when the connection is lost: waiting reads give up.
    alive: AtomicBool,
}

enum Slot {
    Connecting,
    Ready(Arc<WorkerBarrier>),
    /// The connection failed or was lost; tried again after the instant.
    Failed(Instant),
}

thread_local! {
    /// This thread's barriers, one per store (by the address of its `Freshness`).
    static WORKERS: RefCell<HashMap<usize, Slot>> = RefCell::new(HashMap::new());
}

/// A mark through this worker's own barrier: `None` when there is none to use here (the
/// caller falls back on the listener's), `Some(None)` when the read must go to the database.
pub(super) async fn mark(freshness: &Arc<Freshness>, url: &str) -> Option<Option<u64>> {
    let barrier = worker_barrier(freshness, url)?;
    let (target, newly) = barrier.numbers.ask();
    if newly {
        barrier.wake_sender.notify_one();
    }
    let mut returned = barrier.numbers.returned.subscribe();
    let back = returned.wait_for(|&n| n >= target || !barrier.alive.load(Ordering::Acquire));
    let came_back = matches!(
        tokio::time::timeout(BARRIER_WAIT, back).await,
        Ok(Ok(n)) if *n >= target
    );
    Some(came_back.then(|| freshness.epoch.load(Ordering::Acquire)))
}

/// This thread's barrier for `freshness`, starting its connection on first use.
fn worker_barrier(freshness: &Arc<Freshness>, url: &str) -> Option<Arc<WorkerBarrier>> {
    actix_rt::Arbiter::try_current()?;
    let key = Arc::as_ptr(freshness) as usize;
    WORKERS.with(|workers| {
        let mut workers = workers.borrow_mut();
        match workers.get(&key) {
            Some(Slot::Ready(barrier)) if barrier.alive.load(Ordering::Acquire) => {
                return Some(barrier.clone());
            }
            Some(Slot::Connecting) => return None,
            Some(Slot::Failed(at)) if at.elapsed() < RETRY_AFTER => return None,
            _ => {}
        }
        workers.insert(key, Slot::Connecting);
        let (freshness, url) = (Arc::downgrade(freshness), url.to_owned());
        actix_rt::spawn(async move {
            let slot = match connect(freshness, &url).await {
                Ok(barrier) => Slot::Ready(barrier),
                Err(e) => {
                    log::debug!("reads use the listener's barriers on this worker: {e}");
                    Slot::Failed(Instant::now())
                }
            };
            WORKERS.with(|workers| workers.borrow_mut().insert(key, slot));
        });
        None
    })
}

/// Connects, listens, and starts the tasks that send barriers and read what arrives.
async fn connect(
    freshness: Weak<Freshness>,
    url: &str,
) -> Result<Arc<WorkerBarrier>, Box<dyn std::error::Error>> {
    let channel = sync_channel().ok_or("no randomness for a sync channel")?;
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let barrier = Arc::new(WorkerBarrier {
        numbers: Numbers::new(),
        wake_sender: Notify::new(),
        alive: AtomicBool::new(true),
    });
    // What arrives, in order: a `changed` bumps the epoch before a barrier behind it counts.
    let (reader, own) = (barrier.clone(), channel.clone());
    let epoch_of = freshness.clone();
    actix_rt::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            let AsyncMessage::Notification(n) = message else {
                continue;
            };
            if n.channel() == own {
                if let Ok(back) = n.payload().parse::<u64>() {
                    reader.numbers.came_back(back);
                    reader.wake_sender.notify_one();
                }
            } else if n.payload() == CHANGED
                && let Some(freshness) = epoch_of.upgrade()
            {
                freshness.bump();
            }
        }
        reader.alive.store(false, Ordering::Release);
        reader.numbers.returned.send_modify(|_| {});
        reader.wake_sender.notify_one();
    });
    client
        .batch_execute(&format!(
            "LISTEN {}; LISTEN {channel}",
            super::SIGNALS_CHANNEL
        ))
        .await?;
    // Changes committed before the listening began were not seen.
    if let Some(freshness) = freshness.upgrade() {
        freshness.bump();
    }
    // The sender: one barrier in flight at a time; the next carries every read that asked
    // meanwhile.
    let sender = barrier.clone();
    actix_rt::spawn(async move {
        while sender.alive.load(Ordering::Acquire) {
            if sender.numbers.in_flight() {
                // A barrier that does not come back is sent again under its number.
                let back = tokio::time::timeout(BARRIER_WAIT, sender.wake_sender.notified());
                if back.await.is_err() {
                    sender.numbers.send_lost_again();
                }
                continue;
            }
            let Some(wanted) = sender.numbers.take_due() else {
                sender.wake_sender.notified().await;
                continue;
            };
            let notify = format!("NOTIFY {channel}, '{wanted}'");
            if client.batch_execute(&notify).await.is_err() {
                sender.alive.store(false, Ordering::Release);
                sender.numbers.returned.send_modify(|_| {});
            }
        }
    });
    Ok(barrier)
}
