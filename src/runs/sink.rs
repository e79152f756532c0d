//! The event pipeline of one run, as the ChatKit SDK's `_process_events` defines it: items are
//! persisted on `done` (insert), `replaced` (upsert) and `removed` (delete), never on `added` or
//! `updated`; hidden items are persisted but never streamed; every event is serialised once and
//! handed to the subscriber, if there is one.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::encode;
use super::live::LiveRuns;
use crate::agent::{Emit, PendingInteraction, Stop};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::ToolCallRecord;
use crate::chatkit::states::InteractionStatus;
use crate::chatkit::types::{
    AssistantMessageContent, ItemBody, SdkHiddenContextItem, Thread, ThreadItem, ThreadItemUpdate,
    ThreadStreamEvent,
};
use crate::store::{InteractionRow, Scope, Store};

/// What the SDK tells the model after a cancelled turn.
pub const CANCELLED_CONTEXT: &str =
    "The user cancelled the stream. Stop responding to the prior request.";

/// Persisting, forwarding end of a run.
pub struct EventSink {
    store: Store,
    scope: Scope,
    thread: Thread,
    /// Items added but not yet done, with the updates folded in (for the cancel path); a
    /// turn has one or two at a time, found by id faster in a list than by hashing it for
    /// every delta.
    pending: Vec<ThreadItem>,
    subscriber: Option<mpsc::Sender<Bytes>>,
    /// What the run's record will say about cost.
    pub usage: Usage,
    /// The run this sink belongs to, once recorded.
    pub run_id: Option<String>,
    /// How long a question to a person stays answerable.
    pub human_timeout: std::time::Duration,
    /// When the sink was made, at the start of the run.
    started: std::time::Instant,
    /// When the streamed text was last handed on to be kept on the run's row.
    flushed: std::time::Instant,
    /// Where the streamed text is handed on: the live runs, whose keeper writes them all.
    live: LiveRuns,
}

/// How often, at most, the text a run is streaming is kept on its row: what a crash can lose.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Tokens and model of a run, summed over its model calls, and how long its first words took.
#[derive(Debug, Default, Clone)]
pub struct Usage {
    pub model: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// From the sink's creation to the first text delta: what a user waits before words
    /// appear, as the usage page reports it.
    pub first_text_after: Option<std::time::Duration>,
}

impl EventSink {
    pub(super) fn new(
        store: Store,
        scope: Scope,
        thread: Thread,
        subscriber: Option<mpsc::Sender<Bytes>>,
        live: LiveRuns,
    ) -> Self {
        EventSink {
            store,
            scope,
            thread,
            pending: Vec::new(),
            subscriber,
            usage: Usage::default(),
            started: std::time::Instant::now(),
            flushed: std::time::Instant::now(),
            run_id: None,
            live,
            human_timeout: std::time::Duration::from_secs(86_400),
        }
    }

    /// A future that resolves when the subscriber has gone away (never when the run has none).
    /// It borrows nothing, so it can race the agent while the agent holds the sink.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let subscriber = self.subscriber.clone();
        async move {
            match subscriber {
                Some(tx) => tx.closed().await,
                None => std::future::pending().await,
            }
        }
    }

    async fn persist(&mut self, event: &ThreadStreamEvent) -> Result<(), Stop> {
        let result = match event {
            ThreadStreamEvent::ItemAdded { item } => {
                self.pending.retain(|p| p.id != item.id);
                self.pending.push(item.clone());
                Ok(())
            }
            ThreadStreamEvent::ItemUpdated { item_id, update } => {
                if let Some(item) = self.pending.iter_mut().find(|p| &p.id == item_id) {
                    fold_update(item, update);
                }
                Ok(())
            }
            ThreadStreamEvent::ItemDone { item } | ThreadStreamEvent::ItemReplaced { item } => {
                self.pending.retain(|p| p.id != item.id);
                self.store.save_item(&self.scope, item).await
            }
            ThreadStreamEvent::ItemRemoved { item_id } => {
                self.pending.retain(|p| &p.id != item_id);
                self.store
                    .delete_thread_item(&self.scope, &self.thread.id, item_id)
                    .await
                    .map(|_| ())
            }
            _ => Ok(()),
        };
        result.map_err(|e| Stop::Persist(e.to_string()))
    }

    /// Sends already-serialised bytes; a dropped receiver means the client is gone.
    async fn forward(&mut self, event: &ThreadStreamEvent) -> Result<(), Stop> {
        let Some(tx) = &self.subscriber else {
            return Ok(());
        };
        let frame = encode(event);
        tx.send(frame).await.map_err(|_| Stop::Disconnected)
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// The text of assistant messages that were streamed but not finished, oldest first.
    pub fn pending_text(&self) -> Option<String> {
        let mut messages: Vec<&ThreadItem> = self
            .pending
            .iter()
            .filter(|item| matches!(item.body, ItemBody::AssistantMessage(_)))
            .collect();
        messages.sort_by_key(|item| item.created_at);
        let text: String = messages
            .into_iter()
            .filter_map(|item| match &item.body {
                ItemBody::AssistantMessage(m) => Some(
                    m.content
                        .iter()
                        .map(|c| c.text.as_str())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        (!text.is_empty()).then_some(text)
    }

    /// The text of assistant messages that were streamed but not finished, dropping them: what
    /// a failed turn loses, kept on the run's record for operators.
    pub fn drop_pending(&mut self) -> Option<String> {
        let text = self.pending_text();
        self.pending.clear();
        text
    }

    /// Hands the streamed text on to be kept on the run's row at most once a second, so that
    /// a process that dies loses about the last second of it. No write here: the live runs'
    /// keeper writes the texts of all runs together.
    fn flush_partial(&mut self) {
        if self.flushed.elapsed() < FLUSH_EVERY {
            return;
        }
        self.flushed = std::time::Instant::now();
        if let Some(text) = self.pending_text() {
            self.live.keep_text(&self.thread.id, text);
        }
    }

    /// The cancel path (SDK `handle_stream_cancelled`): keep every pending assistant message
    /// that has text, drop other pending items, and tell the model the user stopped the turn.
    pub async fn save_cancelled(&mut self) -> Result<(), Stop> {
        let marker = ThreadItem {
            id: ids::new_id(IdKind::SdkHiddenContext),
            thread_id: self.thread.id.clone(),
            created_at: ids::now(),
            body: ItemBody::SdkHiddenContext(SdkHiddenContextItem {
                content: CANCELLED_CONTEXT.to_owned(),
            }),
        };
        self.keep_partial(vec![marker]).await
    }

    /// Saves every pending assistant message that has text, then `after`; other pending items
    /// are dropped. What a stopped turn (cancelled or interrupted) keeps.
    pub async fn keep_partial(&mut self, after: Vec<ThreadItem>) -> Result<(), Stop> {
        let mut partial: Vec<ThreadItem> = self
            .pending
            .drain(..)
            .filter(|item| match &item.body {
                ItemBody::AssistantMessage(m) => {
                    m.content.iter().any(|c| !c.text.trim().is_empty())
                }
                _ => false,
            })
            .collect();
        partial.sort_by_key(|item| item.created_at);
        for item in partial.iter().chain(after.iter()) {
            self.store
                .save_item(&self.scope, item)
                .await
                .map_err(|e| Stop::Persist(e.to_string()))?;
        }
        Ok(())
    }
}

impl Emit for EventSink {
    async fn emit(&mut self, event: ThreadStreamEvent) -> Result<(), Stop> {
        let text_delta = matches!(
            &event,
            ThreadStreamEvent::ItemUpdated {
                update: ThreadItemUpdate::ContentPartTextDelta { .. },
                ..
            }
        );
        if text_delta && self.usage.first_text_after.is_none() {
            self.usage.first_text_after = Some(self.started.elapsed());
            crate::observe::metrics::first_token(self.started.elapsed());
            // There was no text to keep before: its first second counts from here, so the
            // first delta never waits for a write (which, in a burst of new threads, queues
            // behind all of their first writes).
            self.flushed = std::time::Instant::now();
        }
        self.persist(&event).await?;
        let hidden_done = matches!(
            &event,
            ThreadStreamEvent::ItemDone { item } if item.body.is_hidden()
        );
        if !hidden_done {
            self.forward(&event).await?;
        }
        // After the delta is on its way: the client need not wait for the write.
        if text_delta {
            self.flush_partial();
        }
        Ok(())
    }

    async fn record_tool_call(&mut self, record: ToolCallRecord) -> Result<(), Stop> {
        self.store
            .save_tool_call(&self.scope, &record)
            .await
            .map_err(|e| Stop::Persist(e.to_string()))
    }

    async fn open_interaction(&mut self, pending: PendingInteraction) -> Result<(), Stop> {
        let timeout = pending
            .expires_in
            .map_or(self.human_timeout, |d| d.min(self.human_timeout));
        let timeout =
            chrono::Duration::from_std(timeout).unwrap_or_else(|_| chrono::Duration::days(1));
        let row = InteractionRow {
            id: pending.id,
            thread_id: self.thread.id.clone(),
            run_id: self.run_id.clone(),
            item_id: pending.item.id.clone(),
            call_id: pending.call.call_id,
            tool_name: pending.call.name,
            arguments: pending.call.arguments,
            kind: pending.kind,
            schema: pending.schema.to_string(),
            status: InteractionStatus::Pending,
            answer: None,
            answered_by: None,
            details: pending.details.map(|d| d.to_string()),
            created_at: pending.created_at.naive_utc(),
            answered_at: None,
            expires_at: (pending.created_at + timeout).naive_utc(),
        };
        self.store
            .save_interaction(&row)
            .await
            .map_err(|e| Stop::Persist(e.to_string()))?;
        self.emit(ThreadStreamEvent::ItemDone { item: pending.item })
            .await
    }

    async fn propose_title(&mut self, title: String) -> Result<(), Stop> {
        let set = self
            .store
            .set_title_if_unset(&self.scope, &self.thread.id, &title)
            .await
            .map_err(|e| Stop::Persist(e.to_string()))?;
        if !set {
            return Ok(());
        }
        self.thread.title = Some(title);
        let event = ThreadStreamEvent::ThreadUpdated {
            thread: self.thread.clone(),
        };
        self.forward(&event).await
    }

    fn record_usage(&mut self, model: &str, prompt_tokens: u64, completion_tokens: u64) {
        self.usage.model = Some(model.to_owned());
        self.usage.prompt_tokens += prompt_tokens;
        self.usage.completion_tokens += completion_tokens;
        let agent = &self.scope.agent_id;
        crate::observe::metrics::model_tokens(agent, model, prompt_tokens, completion_tokens);
    }

    fn thread_id(&self) -> &str {
        &self.thread.id
    }

    fn has_title(&self) -> bool {
        self.thread.title.is_some()
    }
}

/// Applies an update to a pending item the way the SDK folds them.
fn fold_update(item: &mut ThreadItem, update: &ThreadItemUpdate) {
    match (&mut item.body, update) {
        (ItemBody::AssistantMessage(message), update) => {
            let (index, apply): (usize, &dyn Fn(&mut AssistantMessageContent)) = match update {
                ThreadItemUpdate::ContentPartAdded {
                    content_index,
                    content,
                }
                | ThreadItemUpdate::ContentPartDone {
                    content_index,
                    content,
                } => (*content_index, &|part| *part = content.clone()),
                ThreadItemUpdate::ContentPartTextDelta {
                    content_index,
                    delta,
                } => (*content_index, &|part| part.text.push_str(delta)),
                ThreadItemUpdate::ContentPartAnnotationAdded {
                    content_index,
                    annotation_index,
                    annotation,
                } => (*content_index, &|part| {
                    let at = (*annotation_index).min(part.annotations.len());
                    part.annotations.insert(at, annotation.clone());
                }),
                _ => return,
            };
            while message.content.len() <= index {
                message.content.push(AssistantMessageContent::new(""));
            }
            apply(&mut message.content[index]);
        }
        (ItemBody::Workflow(workflow), ThreadItemUpdate::WorkflowTaskAdded { task, .. }) => {
            workflow.workflow.tasks.push(task.clone());
        }
        (
            ItemBody::Workflow(workflow),
            ThreadItemUpdate::WorkflowTaskUpdated { task_index, task },
        ) => {
            if let Some(slot) = workflow.workflow.tasks.get_mut(*task_index) {
                *slot = task.clone();
            }
        }
        _ => {}
    }
}
