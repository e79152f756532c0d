//! The body of one run, from `stream_options` to its record: the agent's turn raced against
//! the subscriber leaving and a stop from outside, then the path that fits how it ended
//! (completed, cancelled, interrupted, failed).

use crate::agent::context;
use crate::agent::llm::LlmError;
use crate::agent::{Agent, AgentError, Emit, Stop, TurnInput};
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::states::RunStatus;
use crate::chatkit::types::{StreamOptions, ThreadStreamEvent};
use crate::store::{BlobStore, HistoryWalk, RecentHistory, RunOutcome, Scope, Store, StoreError};

use super::live::{Interrupt, RunSlot};
use super::sink::EventSink;
use super::{files, recovery};

/// What a client whose answer a shutdown cut off is told; it may send again.
const SHUTDOWN_MESSAGE: &str = "The server is restarting, so this answer stopped early; what \
    was written so far is kept. Send your message again in a moment.";

/// A run being driven: its slot (reservation, claimed in the database, and outside stops) and
/// the sink its events go through.
pub(super) struct Run<'a> {
    pub(super) slot: &'a mut RunSlot,
    pub(super) sink: EventSink,
}

/// How the body of a run ended.
enum Ended {
    Agent(Result<(), AgentError>),
    /// Stopped from outside; checked before the agent's own result, which may be the error
    /// that the stop caused (a thread deleted under a write).
    Interrupted(Interrupt),
}

/// The body of a run: `stream_options`, the leading events, the agent's turn (on `known`
/// history if given, else the thread's, read now), and then either
/// nothing more, the cancel path, the interrupted path, or one `error` event; finally the
/// run's record.
pub(super) async fn drive(
    store: &Store,
    blobs: &BlobStore,
    agent: &Agent,
    run: Run<'_>,
    input: TurnInput,
    leading: Vec<ThreadStreamEvent>,
    known: Option<Vec<HistoryEntry>>,
) {
    let Run { slot, mut sink } = run;
    let run_id = slot.run_id.clone();
    let thread_id = sink.thread().id.clone();
    sink.run_id = Some(run_id.clone());
    let scope = sink.scope().clone();
    let interrupted = slot.interrupted();
    let mut context_dropped = None;
    let body = async {
        sink.emit(ThreadStreamEvent::StreamOptions {
            stream_options: StreamOptions { allow_cancel: true },
        })
        .await?;
        for event in leading {
            sink.emit(event).await?;
        }
        let (history, dropped) = match known {
            Some(history) => (history, 0),
            None => recent_history(store, agent, &scope, &thread_id)
                .await
                .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?,
        };
        if dropped > 0 {
            context_dropped = Some(dropped);
        }
        let files = if agent.has_model() {
            files::load_model_files(store, blobs, &scope, &history)
                .await
                .map_err(|e| AgentError::Stopped(Stop::Persist(e.to_string())))?
        } else {
            Default::default()
        };
        let closed = sink.closed();
        tokio::select! {
            result = agent.respond(&mut sink, &history, &files, &input) => result,
            // Covers the moments the agent waits on something other than the sink.
            () = closed => Err(AgentError::Stopped(Stop::Disconnected)),
        }
    };
    // Dropping the body on a stop drops the model's stream with it: the model stops at once.
    let ended = tokio::select! {
        result = body => match slot.interruption() {
            Some(why) => Ended::Interrupted(why),
            None => Ended::Agent(result),
        },
        why = interrupted => Ended::Interrupted(why),
    };
    let mut outcome = RunOutcome {
        status: RunStatus::Completed,
        model: sink.usage.model.clone(),
        prompt_tokens: sink.usage.prompt_tokens,
        completion_tokens: sink.usage.completion_tokens,
        error: None,
        partial_text: None,
        first_token_ms: sink
            .usage
            .first_text_after
            .map(|after| u64::try_from(after.as_millis()).unwrap_or(u64::MAX)),
        context_dropped,
    };
    match ended {
        Ended::Agent(Ok(())) => {}
        // The thread is gone with everything in it: nothing to keep, no retry to offer.
        Ended::Interrupted(Interrupt::ThreadDeleted) => outcome.status = RunStatus::Cancelled,
        Ended::Interrupted(Interrupt::Shutdown) => {
            outcome.status = RunStatus::Interrupted;
            outcome.error = Some("The server shut down before the run finished.".to_owned());
            outcome.partial_text = sink.pending_text();
            let marks = recovery::interrupted_marks(&thread_id);
            if let Err(e) = sink.keep_partial(marks).await {
                log::error!("thread {thread_id}: saving the interrupted turn failed: {e}");
            }
            let _ = sink
                .emit(ThreadStreamEvent::error_custom(
                    SHUTDOWN_MESSAGE.to_owned(),
                    true,
                ))
                .await;
        }
        Ended::Agent(Err(AgentError::Stopped(Stop::Disconnected))) => {
            outcome.status = RunStatus::Cancelled;
            if let Err(e) = sink.save_cancelled().await {
                log::error!("thread {thread_id}: saving the cancelled turn failed: {e}");
            }
        }
        Ended::Agent(Err(error)) => {
            log::warn!("thread {thread_id}: turn failed: {error}");
            outcome.status = RunStatus::Failed;
            outcome.error = Some(error.to_string());
            outcome.partial_text = sink.drop_pending();
            // The client may be gone too; nothing more to do then.
            let _ = sink.emit(error_event(&error)).await;
        }
    }
    crate::observe::metrics::run_finished(outcome.status.as_str());
    if let Err(e) = store.finish_run(&run_id, outcome).await {
        log::error!("thread {thread_id}: cannot record the end of the run: {e}");
    }
}

/// The history the model gets, and how many of the thread's oldest entries it leaves out:
/// read newest first only as far back as whole turns fit the agent's budget, so a turn on a
/// long thread reads about what it sends, and the attachments of left-out turns are never
/// loaded. The left-out entries are counted, not read.
async fn recent_history(
    store: &Store,
    agent: &Agent,
    scope: &Scope,
    thread_id: &str,
) -> Result<(Vec<HistoryEntry>, u64), StoreError> {
    let budget = agent.history_budget().unwrap_or(u64::MAX);
    let RecentHistory {
        mut entries,
        complete,
        older,
        mut walk,
    } = store
        .load_recent_history(scope, thread_id, context::Window::new(budget))
        .await?;
    let kept = walk.kept(complete);
    let cut = entries.len() - kept;
    let dropped = older + u64::try_from(cut).unwrap_or(u64::MAX);
    if dropped > 0 {
        let note = context::dropped_note(thread_id, dropped);
        entries.splice(..cut, [note]);
    }
    Ok((entries, dropped))
}

impl HistoryWalk for context::Window {
    fn take(&mut self, entry: &HistoryEntry) -> bool {
        context::Window::take(self, entry)
    }
}

/// The one mapping from a failed turn to what the user sees: a message the operator or user
/// can act on (`custom`), or the client's generic error with a retry button.
fn error_event(error: &AgentError) -> ThreadStreamEvent {
    match error {
        AgentError::ActionFailed(_)
        | AgentError::Llm(LlmError::RetryLater { .. } | LlmError::StreamError(_)) => {
            ThreadStreamEvent::error_custom(error.to_string(), true)
        }
        AgentError::NoModel
        | AgentError::ModelNotAllowed(_)
        | AgentError::TooManySteps(_)
        | AgentError::Llm(LlmError::Unauthorized { .. } | LlmError::Rejected { .. }) => {
            ThreadStreamEvent::error_custom(error.to_string(), false)
        }
        AgentError::NoActionHandler(_) | AgentError::Llm(_) | AgentError::Stopped(_) => {
            ThreadStreamEvent::stream_error(true)
        }
    }
}
