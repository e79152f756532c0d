//! Runs whose process is gone. Each process refreshes the heartbeat of its live runs in one
//! statement every few seconds and, on the same beat, marks `interrupted` the running runs
//! that nobody refreshed within the stale window (a process killed, a task that panicked, a
//! last write that failed). An interrupted run keeps what it streamed: its last flushed text
//! becomes the assistant message, followed by a hidden note for the model and a visible
//! notice, so the thread reads as an answer that was cut off and takes a new turn.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};

use super::live::{Interrupt, LiveRuns};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::types::{
    AssistantMessageContent, AssistantMessageItem, ItemBody, SdkHiddenContextItem, Task, TaskItem,
    TaskKind, ThreadItem,
};
use crate::store::{Backend, Store};

/// What the model is told about an answer that was cut off.
pub const INTERRUPTED_CONTEXT: &str = "The previous answer was cut off before it finished \
    because the server stopped; it is incomplete.";

/// The title of the notice an interrupted answer leaves in the thread.
pub const INTERRUPTED_TITLE: &str = "Answer interrupted";

/// What the notice says to the user.
const INTERRUPTED_NOTICE: &str = "This answer was cut off when the server stopped. Send your \
    message again for a complete answer.";

/// The hidden note for the model and the visible notice that follow an interrupted answer.
pub fn interrupted_marks(thread_id: &str) -> Vec<ThreadItem> {
    let hidden = ThreadItem {
        id: ids::new_id(IdKind::SdkHiddenContext),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body: ItemBody::SdkHiddenContext(SdkHiddenContextItem {
            content: INTERRUPTED_CONTEXT.to_owned(),
        }),
    };
    let notice = ThreadItem {
        id: ids::new_id(IdKind::Task),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body: ItemBody::Task(TaskItem {
            task: Task {
                status_indicator: Default::default(),
                title: Some(INTERRUPTED_TITLE.to_owned()),
                kind: TaskKind::Custom {
                    icon: None,
                    content: Some(INTERRUPTED_NOTICE.to_owned()),
                },
            },
        }),
    };
    vec![hidden, notice]
}

/// The items a dead run leaves: its flushed text as an assistant message (when it had any),
/// then [`interrupted_marks`].
fn recovered_items(thread_id: &str, partial: Option<&str>) -> Vec<ThreadItem> {
    let answer = partial
        .filter(|text| !text.trim().is_empty())
        .map(|text| ThreadItem {
            id: ids::new_id(IdKind::Message),
            thread_id: thread_id.to_owned(),
            created_at: ids::now(),
            body: ItemBody::AssistantMessage(AssistantMessageItem {
                content: vec![AssistantMessageContent::new(text)],
            }),
        });
    answer
        .into_iter()
        .chain(interrupted_marks(thread_id))
        .collect()
}

/// Marks interrupted the running runs last refreshed before `before` (all of them when
/// `None`), each with `reason`; how many this call marked.
async fn sweep(store: &Store, before: Option<NaiveDateTime>, reason: &str) -> usize {
    let stale = match store.stale_runs(before).await {
        Ok(stale) => stale,
        Err(e) => {
            log::error!("cannot look for interrupted runs: {e}");
            return 0;
        }
    };
    let mut marked = 0;
    for run in stale {
        let items = recovered_items(&run.thread_id, run.partial_text.as_deref());
        let owner = run.instance_id.as_deref().unwrap_or("unknown");
        let why = format!("{reason} (process {owner})");
        match store.interrupt_run(&run.id, before, why, items).await {
            Ok(true) => {
                marked += 1;
                log::warn!(
                    "run {} of thread {} was interrupted: {reason} (process {owner})",
                    run.id,
                    run.thread_id
                );
            }
            Ok(false) => {}
            Err(e) => log::error!("run {}: cannot mark it interrupted: {e}", run.id),
        }
    }
    marked
}

/// When runs count as stale: last refreshed more than `stale_after` ago.
fn cutoff(stale_after: Duration) -> NaiveDateTime {
    let window = chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
    Utc::now().naive_utc() - window
}

/// At start, before serving: on SQLite, where one process owns the file, every running run is
/// from a process that died; on Postgres, other processes may be alive, so only stale runs.
pub(super) async fn recover_at_start(store: &Store, stale_after: Duration) {
    let marked = match store.backend() {
        Backend::Sqlite => {
            sweep(
                store,
                None,
                "The server stopped before the run finished; found at the next start",
            )
            .await
        }
        Backend::Postgres => {
            sweep(store, Some(cutoff(stale_after)), &stale_reason(stale_after)).await
        }
    };
    if marked > 0 {
        log::warn!("marked {marked} run(s) of a stopped server interrupted");
    }
}

fn stale_reason(stale_after: Duration) -> String {
    format!(
        "The process running it stopped refreshing it for {} s",
        stale_after.as_secs()
    )
}

/// Every `every`: refreshes this process's live runs and parked calls, stops the live runs
/// whose rows were gone on two beats in a row (their thread was deleted, or another process
/// ended them as stale; a run's row may lag its start by a moment, hence two), then ends
/// stale runs.
pub(super) fn spawn_heartbeat(
    store: Store,
    live: LiveRuns,
    instance: std::sync::Arc<str>,
    every: Duration,
    stale_after: Duration,
) {
    let reason = stale_reason(stale_after);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut missing_before = HashSet::new();
        loop {
            ticks.tick().await;
            let run_ids = live.run_ids();
            match store.refresh_runs(run_ids.clone()).await {
                Ok(refreshed) => {
                    let missing: HashSet<String> = run_ids
                        .into_iter()
                        .filter(|id| !refreshed.contains(id))
                        .collect();
                    for run_id in missing.intersection(&missing_before) {
                        log::warn!("run {run_id}: its row is gone or ended elsewhere; stopping it");
                        live.interrupt_run(run_id, Interrupt::ThreadDeleted);
                    }
                    missing_before = missing;
                }
                Err(e) => log::error!("cannot refresh the heartbeat of the live runs: {e}"),
            }
            if let Err(e) = store.refresh_parked(&instance).await {
                log::error!("cannot refresh the heartbeat of the parked calls: {e}");
            }
            sweep(&store, Some(cutoff(stale_after)), &reason).await;
        }
    });
}
