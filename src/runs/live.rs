//! The runs this process is streaming, one per thread: the fast path of "is this thread busy"
//! (the database's unique index is the authority across processes), the ids the heartbeat
//! refreshes, the handle that stops a run from outside (a deleted thread, a shutdown), and the
//! text each run streamed that is not on its row yet, which one task writes for all of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::{RunClaim, Store};

/// Why a run is stopped from outside its own stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// The process is shutting down and the grace period is over.
    Shutdown,
    /// The run's thread was deleted: nothing of the run is worth keeping.
    ThreadDeleted,
}

/// One live run of this process.
struct LiveRun {
    run_id: String,
    stop: watch::Sender<Option<Interrupt>>,
    /// What the run has streamed so far, when it changed since the last write of it.
    unsaved_text: Option<String>,
}

/// How often the runs' unsaved texts are written. A run hands its text on at most once a
/// second ([`EventSink`](super::EventSink)), so a crash loses about a second of it.
const SAVE_TEXTS_EVERY: Duration = Duration::from_millis(250);

/// The live runs by thread id; cheap to clone.
#[derive(Clone, Default)]
pub(super) struct LiveRuns {
    runs: Arc<Mutex<HashMap<String, LiveRun>>>,
}

impl LiveRuns {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, LiveRun>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a run on the thread, unless the thread has one here already.
    pub(super) fn insert(
        &self,
        thread_id: &str,
        run_id: &str,
    ) -> Option<watch::Receiver<Option<Interrupt>>> {
        let mut runs = self.lock();
        if runs.contains_key(thread_id) {
            return None;
        }
        let (stop, stopped) = watch::channel(None);
        runs.insert(
            thread_id.to_owned(),
            LiveRun {
                run_id: run_id.to_owned(),
                stop,
                unsaved_text: None,
            },
        );
        Some(stopped)
    }

    fn remove(&self, thread_id: &str) {
        self.lock().remove(thread_id);
    }

    /// Keeps what the thread's run has streamed so far for the next write of the texts; a
    /// run that is no longer here has nothing to keep.
    pub(super) fn keep_text(&self, thread_id: &str, text: String) {
        if let Some(run) = self.lock().get_mut(thread_id) {
            run.unsaved_text = Some(text);
        }
    }

    /// The texts kept since the last call, with their runs' ids.
    fn take_texts(&self) -> Vec<(String, String)> {
        self.lock()
            .values_mut()
            .filter_map(|run| Some((run.run_id.clone(), run.unsaved_text.take()?)))
            .collect()
    }

    /// Writes the runs' unsaved texts every [`SAVE_TEXTS_EVERY`], all in one write: one
    /// transaction for every streaming run instead of one per run and second.
    pub(super) fn spawn_text_keeper(&self, store: Store) {
        let live = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SAVE_TEXTS_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let texts = live.take_texts();
                let runs = texts.len();
                if let Err(e) = store.save_partial_texts(texts).await {
                    log::warn!("cannot keep the partial texts of {runs} runs: {e}");
                }
            }
        });
    }

    /// The ids of the live runs, which the heartbeat refreshes.
    pub(super) fn run_ids(&self) -> Vec<String> {
        self.lock().values().map(|run| run.run_id.clone()).collect()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Stops the thread's run, if it has one here; whether it had.
    pub(super) fn interrupt(&self, thread_id: &str, why: Interrupt) -> bool {
        self.lock()
            .get(thread_id)
            .map(|run| run.stop.send_replace(Some(why)))
            .is_some()
    }

    /// Stops the live run with this id, if it is still here.
    pub(super) fn interrupt_run(&self, run_id: &str, why: Interrupt) {
        if let Some(run) = self.lock().values().find(|run| run.run_id == run_id) {
            run.stop.send_replace(Some(why));
        }
    }

    /// Stops every live run.
    pub(super) fn interrupt_all(&self, why: Interrupt) {
        for run in self.lock().values() {
            run.stop.send_replace(Some(why));
        }
    }

    /// Waits until the thread has no live run here, for at most `limit`.
    pub(super) async fn wait_gone(&self, thread_id: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.lock().contains_key(thread_id) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no run is live here, for at most `limit`.
    pub(super) async fn wait_empty(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A thread reserved for one run. Dropping it frees the thread here; dropping it before the
/// run started also deletes the run's row, which was claimed for nothing. A run that ends
/// without recording its end (a panic, a failed last write) is no longer refreshed, so the
/// sweep of stale runs ends it.
pub struct RunSlot {
    pub(super) live: LiveRuns,
    pub(super) store: Store,
    pub(super) thread_id: String,
    pub(super) run_id: String,
    /// This process's name, which the run's row carries.
    pub(super) instance: Arc<str>,
    /// The run's row exists: claimed by [`RunManager::reserve`](super::RunManager::reserve) or
    /// by the write of the turn's input.
    pub(super) claimed: bool,
    pub(super) started: bool,
    pub(super) stopped: watch::Receiver<Option<Interrupt>>,
}

impl RunSlot {
    /// The claim for the turn's first write to record with it ([`Store::add_user_message`]);
    /// when that write says it claimed the thread, call [`RunSlot::claimed_by_write`].
    pub fn claim(&self) -> RunClaim {
        RunClaim {
            run_id: self.run_id.clone(),
            instance_id: self.instance.to_string(),
        }
    }

    /// The claim of [`RunSlot::claim`] was written: the run's row exists.
    pub fn claimed_by_write(&mut self) {
        self.claimed = true;
    }

    /// Resolves with the reason once the run is stopped from outside.
    pub(super) fn interrupted(
        &self,
    ) -> impl std::future::Future<Output = Interrupt> + Send + 'static {
        let mut stopped = self.stopped.clone();
        async move {
            let why = stopped.wait_for(Option::is_some).await.map(|why| *why);
            match why {
                Ok(why) => why.unwrap_or(Interrupt::Shutdown),
                // The registry dropped the sender: the slot is being dropped too.
                Err(_) => std::future::pending().await,
            }
        }
    }

    /// Why the run was stopped from outside, if it was.
    pub(super) fn interruption(&self) -> Option<Interrupt> {
        *self.stopped.borrow()
    }
}

impl Drop for RunSlot {
    fn drop(&mut self) {
        self.live.remove(&self.thread_id);
        if self.claimed
            && !self.started
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (store, run_id) = (self.store.clone(), self.run_id.clone());
            runtime.spawn(async move {
                if let Err(e) = store.release_run(&run_id).await {
                    log::error!("run {run_id}: cannot release its unused claim: {e}");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_text_is_taken_once_and_only_for_a_live_run() {
        let live = LiveRuns::default();
        let _stopped = live.insert("thr_1", "run_1");
        live.keep_text("thr_1", "Once upon".into());
        live.keep_text("thr_1", "Once upon a time".into());
        live.keep_text("thr_gone", "lost".into());
        assert_eq!(
            live.take_texts(),
            [("run_1".to_owned(), "Once upon a time".to_owned())]
        );
        assert!(live.take_texts().is_empty(), "nothing new since");
        live.keep_text("thr_1", "Once upon a time there".into());
        live.remove("thr_1");
        assert!(
            live.take_texts().is_empty(),
            "an ended run's text goes with it"
        );
    }
}
