//! What this process does with signals from the others (`store::Signals`): a deleted thread
//! stops its run here, and an answer left for a call parked here completes that call, whose
//! outcome goes back to the process that waits for it ([`DbRelay`]). Besides each signal, the
//! database is looked at again every few seconds, so a missed notification only delays.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;

use super::live::{Interrupt, LiveRuns};
use crate::agent::mcp::{ParkedCalls, Relay, Relayed, decode_relayed, encode_relayed};
use crate::store::{Backend, Signal, Store};

/// How often answers left for this process are looked for without a signal (Postgres, where
/// a notification can be missed while the listener reconnects).
const RECHECK_EVERY: Duration = Duration::from_secs(2);

/// How often a process waiting for a call's outcome looks for it without a signal.
const RESULT_RECHECK: Duration = Duration::from_secs(1);

/// Hands answers to the process that holds a parked call, through `parked_calls` rows and
/// their signals (Postgres; on SQLite there is no other process to hand them to).
pub(super) struct DbRelay {
    pub(super) store: Store,
    pub(super) instance: Arc<str>,
    /// A holder that has not refreshed its calls for this long is gone.
    pub(super) stale_after: Duration,
}

impl DbRelay {
    /// Whether other processes may share the database: on SQLite one process owns the file,
    /// so a call not held here is held nowhere.
    fn shared(&self) -> bool {
        self.store.backend() == Backend::Postgres
    }
}

impl Relay for DbRelay {
    fn parked(&self, token: String, wait: Duration) -> BoxFuture<'static, ()> {
        let (store, instance) = (self.store.clone(), self.instance.clone());
        let shared = self.shared();
        Box::pin(async move {
            if !shared {
                return;
            }
            let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            let expires = chrono::Utc::now().naive_utc() + wait;
            if let Err(e) = store.park_call(&token, &instance, expires).await {
                log::error!(
                    "cannot record a parked MCP call; only this process can answer it: {e}"
                );
            }
        })
    }

    fn resume_elsewhere(
        &self,
        token: String,
        answer: Value,
        limit: Duration,
    ) -> BoxFuture<'static, Relayed> {
        let store = self.store.clone();
        let window = chrono::Duration::from_std(self.stale_after).unwrap_or(chrono::Duration::MAX);
        let shared = self.shared();
        Box::pin(async move {
            if !shared {
                return None;
            }
            // Subscribed first, so the outcome's signal cannot pass before we listen.
            let mut signals = store.signals().subscribe();
            let alive_after = chrono::Utc::now().naive_utc() - window;
            match store
                .leave_answer(&token, answer.to_string(), alive_after)
                .await
            {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    log::error!("cannot hand an answer to the process holding its call: {e}");
                    return None;
                }
            }
            let deadline = tokio::time::Instant::now() + limit;
            let mut recheck = tokio::time::interval(RESULT_RECHECK);
            let outcome = loop {
                tokio::select! {
                    signal = signals.next() => match signal {
                        Signal::CallDone(done) if done == token => {}
                        Signal::Recheck => {}
                        _ => continue,
                    },
                    _ = recheck.tick() => {}
                    () = tokio::time::sleep_until(deadline) => {
                        log::warn!("the process holding a parked MCP call did not complete it in time");
                        break None;
                    }
                }
                match store.parked_result(&token).await {
                    Ok(Some(result)) => break decode_relayed(&result),
                    Ok(None) => {}
                    Err(e) => log::warn!("cannot read a parked call's outcome: {e}"),
                }
            };
            if let Err(e) = store.forget_parked(&token).await {
                log::warn!("cannot forget a parked call: {e}");
            }
            outcome
        })
    }
}

/// Listens for signals for as long as the process runs: stops the runs of deleted threads,
/// and completes the parked calls whose answers other processes left here.
pub(super) fn spawn_listener(
    store: Store,
    live: LiveRuns,
    parked: ParkedCalls,
    instance: Arc<str>,
) {
    let mut signals = store.signals().subscribe();
    let recheck = store.backend() == Backend::Postgres;
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(RECHECK_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                signal = signals.next() => match signal {
                    Signal::StopThread(thread_id) => {
                        live.interrupt(&thread_id, Interrupt::ThreadDeleted);
                        continue;
                    }
                    Signal::CallAnswered(_) | Signal::Recheck => {}
                    Signal::CallDone(_) | Signal::FormsChanged => continue,
                },
                _ = ticks.tick(), if recheck => {}
            }
            take_answers(&store, &parked, &instance, &in_flight).await;
        }
    });
}

/// Completes, each in its own task, the parked calls of this process that have an answer
/// and are not being completed already.
async fn take_answers(
    store: &Store,
    parked: &ParkedCalls,
    instance: &str,
    in_flight: &Arc<Mutex<HashSet<String>>>,
) {
    let answers = match store.answers_for(instance).await {
        Ok(answers) => answers,
        Err(e) => {
            log::warn!("cannot look for answers left for this process's parked calls: {e}");
            return;
        }
    };
    for left in answers {
        let fresh = in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(left.token.clone());
        if !fresh {
            continue;
        }
        let (store, parked, in_flight) = (store.clone(), parked.clone(), in_flight.clone());
        tokio::spawn(async move {
            let answer = serde_json::from_str(&left.answer).unwrap_or(Value::Null);
            let outcome = parked.resume_here(&left.token, answer).await;
            if let Err(e) = store
                .finish_parked(&left.token, encode_relayed(&outcome))
                .await
            {
                log::error!("cannot hand a parked call's outcome back: {e}");
            }
            in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&left.token);
        });
    }
}
