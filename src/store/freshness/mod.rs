//! When an answer computed earlier from the database may be served again: the marks a cache of
//! reads files its answers under.
//!
//! Every call that may write bumps this process's epoch once it has finished (in the blocking
//! thread, so a caller that stops waiting cannot skip it). On SQLite, where one process owns the
//! file, that is every change there is (all stores on one file in the process share an epoch; a
//! change made to the file by another program is not seen). On Postgres other processes change the data too: a
//! trigger on `threads` and `items` sends `NOTIFY chatkit_signals, 'changed'` in the
//! writing transaction, and the signals listener bumps the epoch when it arrives. Arrival is
//! late, so a read first sends a barrier, a notification to a sync channel of its own, and waits
//! for it to come back on the connection that also receives the `changed` notifications:
//! Postgres delivers notifications in commit order, so by then every change committed before
//! the read began has bumped the epoch. One barrier serves every read that was waiting when it
//! was sent. Barriers go through the HTTP worker's own asynchronous connection (`worker`), or
//! where there is none through the signals listener's.
//!
//! A mark is the epoch once the data is known to be current; an answer filed under a mark is
//! good for as long as the epoch still equals it. A read that cannot get a mark (the listener
//! is reconnecting, the barrier is late) is answered from the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::signals::{CHANGED, CHANNEL as SIGNALS_CHANNEL};

mod worker;

/// How long a read waits for its barrier before it goes to the database instead.
pub(super) const BARRIER_WAIT: Duration = Duration::from_millis(100);

/// The change epoch of one store, and on Postgres the barrier reads wait for.
pub struct Freshness {
    epoch: AtomicU64,
    barrier: Option<Barrier>,
    /// The database, for the workers' own barrier connections (Postgres).
    url: String,
}

/// The numbers of barriers asked for, sent, and come back, as the listener's barriers and each
/// worker's count them. Atomics rather than a lock: every read asks, and on a busy core a lock
/// held by a preempted sender would stall them all.
pub(super) struct Numbers {
    /// The highest barrier a read waits for.
    wanted: AtomicU64,
    /// The highest barrier sent.
    sent: AtomicU64,
    /// The highest barrier come back.
    returned: watch::Sender<u64>,
}

impl Numbers {
    fn new() -> Numbers {
        Numbers {
            wanted: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            returned: watch::Sender::new(0),
        }
    }

    /// The barrier a read starting now must wait for: the next one sent (a barrier numbered
    /// above the `sent` seen here is sent after this); and whether it was not wanted before,
    /// so the sender must be woken.
    fn ask(&self) -> (u64, bool) {
        let target = self.sent.load(Ordering::Acquire) + 1;
        (
            target,
            self.wanted.fetch_max(target, Ordering::AcqRel) < target,
        )
    }

    /// The barrier to send next, if a read wants one not sent yet; marked as sent.
    fn take_due(&self) -> Option<u64> {
        let wanted = self.wanted.load(Ordering::Acquire);
        if wanted <= self.sent.load(Ordering::Acquire) {
            return None;
        }
        self.sent.store(wanted, Ordering::Release);
        Some(wanted)
    }

    fn is_due(&self) -> bool {
        self.wanted.load(Ordering::Acquire) > self.sent.load(Ordering::Acquire)
    }

    /// Whether a barrier sent has not come back yet.
    fn in_flight(&self) -> bool {
        self.sent.load(Ordering::Acquire) > *self.returned.borrow()
    }

    /// Barrier `n` came back (everything committed before it was sent has been seen).
    fn came_back(&self, n: u64) {
        self.returned.send_if_modified(|highest| {
            let newer = n > *highest;
            *highest = (*highest).max(n);
            newer
        });
    }

    /// Barriers sent that did not come back (a lost connection, a lost notification) are
    /// wanted again, under their numbers.
    fn send_lost_again(&self) {
        let returned = *self.returned.borrow();
        let sent = self.sent.load(Ordering::Acquire);
        if sent > returned {
            self.wanted.fetch_max(sent, Ordering::AcqRel);
            self.sent.store(returned, Ordering::Release);
        }
    }
}

/// The listener's barriers (Postgres).
pub(super) struct Barrier {
    numbers: Numbers,
    /// Whether the listener is connected and listening (else reads skip the cache).
    listening: AtomicBool,
    /// The listener's thread, unparked when a barrier is asked for.
    listener: OnceLock<std::thread::Thread>,
    /// This process's own sync channel (a random name, so no other process listens on it).
    pub(super) channel: String,
}

impl Freshness {
    /// Marks from the epoch alone, for a file only this process writes (SQLite): one per
    /// file, shared by every store on it here, so that a change made through any of them
    /// moves the marks of all.
    pub(super) fn local(file: &str) -> Arc<Freshness> {
        static FILES: LazyLock<Mutex<HashMap<String, Weak<Freshness>>>> =
            LazyLock::new(Mutex::default);
        let mut files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
        files.retain(|_, freshness| freshness.strong_count() > 0);
        if let Some(freshness) = files.get(file).and_then(Weak::upgrade) {
            return freshness;
        }
        let freshness = Arc::new(Freshness {
            epoch: AtomicU64::new(1),
            barrier: None,
            url: String::new(),
        });
        files.insert(file.to_owned(), Arc::downgrade(&freshness));
        freshness
    }

    /// Marks that wait for a barrier through the signals listener (Postgres).
    pub(super) fn shared(url: &str) -> Arc<Freshness> {
        // Without a channel of its own the cache stays off (see `Barrier::ask`).
        let channel = sync_channel().unwrap_or_default();
        Arc::new(Freshness {
            epoch: AtomicU64::new(1),
            barrier: Some(Barrier {
                numbers: Numbers::new(),
                listening: AtomicBool::new(false),
                listener: OnceLock::new(),
                channel,
            }),
            url: url.to_owned(),
        })
    }

    /// Something may have changed: answers filed under earlier marks are stale.
    pub fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// A mark under which answers read from now on may be filed and found, or `None` when the
    /// database must be read and the answer not kept.
    pub async fn mark(self: &Arc<Self>) -> Option<u64> {
        let Some(barrier) = &self.barrier else {
            return Some(self.epoch.load(Ordering::Acquire));
        };
        if let Some(mark) = worker::mark(self, &self.url).await {
            return mark;
        }
        let target = barrier.ask()?;
        let mut returned = barrier.numbers.returned.subscribe();
        match tokio::time::timeout(BARRIER_WAIT, returned.wait_for(|&n| n >= target)).await {
            Ok(Ok(_)) => Some(self.epoch.load(Ordering::Acquire)),
            _ => None,
        }
    }

    /// Whether an answer filed under `mark` is still current.
    pub fn current(&self, mark: u64) -> bool {
        self.epoch.load(Ordering::Acquire) == mark
    }

    pub(super) fn barrier(&self) -> Option<&Barrier> {
        self.barrier.as_ref()
    }
}

/// A sync channel of this process's own: a random name, so that no other process listens on
/// it. `None` without randomness, as two processes could then share a channel and their
/// barriers come back early for each other.
pub(super) fn sync_channel() -> Option<String> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).ok()?;
    Some(format!("chatkit_sync_{:016x}", u64::from_le_bytes(suffix)))
}

impl Barrier {
    /// The barrier a read starting now must wait for ([`Numbers::ask`]). `None` while the
    /// listener is not listening.
    fn ask(&self) -> Option<u64> {
        if self.channel.is_empty() || !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let (target, newly) = self.numbers.ask();
        if newly && let Some(listener) = self.listener.get() {
            listener.unpark();
        }
        Some(target)
    }

    /// For the listener: waits up to `idle` for a barrier to be asked for and returns the one
    /// to send now, if any. Waits only `soon` while a sent barrier has not come back, so the
    /// listener looks for it again soon. `gather` after `last_sent` the next barrier is held
    /// back, so that under load one barrier (and one wake-up of this thread) serves many reads
    /// instead of a few.
    pub(super) fn next_to_send(
        &self,
        idle: Duration,
        soon: Duration,
        gather: Duration,
        last_sent: Instant,
    ) -> Option<u64> {
        self.listener.get_or_init(std::thread::current);
        if !self.numbers.is_due() {
            let pending = self.numbers.in_flight();
            std::thread::park_timeout(if pending { soon } else { idle });
            if !self.numbers.is_due() {
                return None;
            }
        }
        let held = gather.saturating_sub(last_sent.elapsed());
        if !held.is_zero() {
            std::thread::sleep(held);
        }
        self.numbers.take_due()
    }

    /// For the listener: barrier `n` came back (everything committed before it was sent has
    /// been seen).
    pub(super) fn returned(&self, n: u64) {
        self.numbers.came_back(n);
    }

    /// For the listener: whether it listens. After a reconnect, barriers sent on the lost
    /// connection are sent again.
    pub(super) fn set_listening(&self, listening: bool) {
        self.numbers.send_lost_again();
        self.listening.store(listening, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_marks_follow_the_epoch() {
        let freshness = Freshness::local("marks.db");
        let same_file = Freshness::local("marks.db");
        let mark = freshness.mark().await.unwrap();
        assert!(freshness.current(mark));
        same_file.bump();
        assert!(!freshness.current(mark));
        assert!(freshness.current(freshness.mark().await.unwrap()));
        assert!(Freshness::local("other.db").current(1));
    }

    #[tokio::test]
    async fn shared_marks_wait_for_the_next_barrier() {
        let freshness = Freshness::shared("postgres://unused");
        let barrier = freshness.barrier().unwrap();
        // Not listening: no mark, at once.
        assert_eq!(freshness.mark().await, None);
        barrier.set_listening(true);
        let waiting = tokio::spawn({
            let freshness = freshness.clone();
            async move { freshness.mark().await }
        });
        let sent = tokio::task::spawn_blocking({
            let freshness = freshness.clone();
            move || {
                let barrier = freshness.barrier().unwrap();
                barrier.next_to_send(
                    Duration::from_secs(5),
                    Duration::ZERO,
                    Duration::ZERO,
                    Instant::now(),
                )
            }
        })
        .await
        .unwrap();
        assert_eq!(sent, Some(1));
        // A change seen before the barrier came back is in the mark.
        freshness.bump();
        freshness.barrier().unwrap().returned(1);
        let mark = waiting.await.unwrap().unwrap();
        assert!(freshness.current(mark));
        assert_eq!(mark, 2);
    }

    #[tokio::test]
    async fn barriers_lost_with_the_connection_are_sent_again() {
        let freshness = Freshness::shared("postgres://unused");
        let barrier = freshness.barrier().unwrap();
        let next = || {
            let zero = Duration::ZERO;
            barrier.next_to_send(zero, zero, zero, Instant::now())
        };
        barrier.set_listening(true);
        assert_eq!(barrier.ask(), Some(1));
        assert_eq!(next(), Some(1));
        barrier.set_listening(false);
        barrier.set_listening(true);
        assert_eq!(next(), Some(1));
        barrier.returned(1);
        assert_eq!(next(), None);
    }
}
