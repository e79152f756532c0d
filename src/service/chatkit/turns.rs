//! Streaming requests that start a turn: a new thread, a new message, a client tool's output,
//! answers to a structured input, and a retry. Each persists its input, reserves the thread
//! (a busy thread is one error, answered in one place) and streams the run.

use super::{ChatKitService, EventStream, Processed};
use crate::agent::TurnInput;
use crate::auth::RequestContext;
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::records::HistoryEntry;
use crate::chatkit::types::*;
use crate::runs::{AlreadyRead, Busy, RunSlot, RunStart, encode};
use crate::service::error::ChatKitError;
use crate::service::human::BeforeMessage;
use crate::store::StoreError;

impl ChatKitService {
    pub(super) async fn create_thread(
        &self,
        ctx: RequestContext,
        input: UserMessageInput,
    ) -> Result<Processed, ChatKitError> {
        let thread = Thread::new(ids::new_id(IdKind::Thread), ids::now());
        let created = ThreadStreamEvent::ThreadCreated {
            thread: thread.clone(),
        };
        self.user_turn(ctx, thread, true, input, vec![created])
            .await
    }

    pub(super) async fn add_user_message(
        &self,
        ctx: RequestContext,
        p: AddUserMessageParams,
    ) -> Result<Processed, ChatKitError> {
        let (thread, pending) = self
            .store
            .load_thread_for_message(&ctx.scope, &p.thread_id)
            .await?;
        let leading = match self.human.before_message(&ctx.scope, pending).await? {
            BeforeMessage::Proceed(leading) => leading,
            // A form waits for its answer: the message is not kept and no run starts.
            BeforeMessage::Notice(notice) => {
                return Ok(Processed::Stream(EventStream::events(&[*notice])));
            }
        };
        self.user_turn(ctx, thread, false, p.input, leading).await
    }

    /// Saves a new user message (and its thread, when `new_thread`) and streams the turn that
    /// answers it, after `leading` and the message itself.
    async fn user_turn(
        &self,
        ctx: RequestContext,
        thread: Thread,
        new_thread: bool,
        input: UserMessageInput,
        mut leading: Vec<ThreadStreamEvent>,
    ) -> Result<Processed, ChatKitError> {
        // The thread is reserved here at once; the database claim rides on the message's write.
        let mut slot = self.runs.reserve_here(&thread.id)?;
        let (message, attachment_ids) = self.user_message(&ctx, &thread.id, input).await?;
        let saved = self
            .store
            .add_user_message(
                &ctx.scope,
                new_thread.then_some(&thread),
                &message,
                &attachment_ids,
                Some(slot.claim()),
            )
            .await?
            .ok_or(Busy)?;
        slot.claimed_by_write();
        leading.push(ThreadStreamEvent::ItemDone {
            item: message.clone(),
        });
        let known = AlreadyRead {
            // A new thread's history is its first message: the run need not read it back.
            history: new_thread.then(|| vec![HistoryEntry::Item(message.clone())]),
            agent_changes: saved.agent_changes,
        };
        Ok(self.stream_run(
            slot,
            ctx,
            thread,
            TurnInput::UserMessage(message),
            vec![],
            &leading,
            known,
        ))
    }

    /// Completes the pending client tool call, which must be the thread's newest item, removes
    /// other stale pending calls, and continues the turn (spec 8.1).
    pub(super) async fn add_client_tool_output(
        &self,
        ctx: RequestContext,
        p: AddClientToolOutputParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let recent = self
            .store
            .load_thread_items(&ctx.scope, &thread.id, None, 20, Order::Desc)
            .await?;
        let mut newest = match recent.data.first() {
            Some(
                item @ ThreadItem {
                    body: ItemBody::ClientToolCall(call),
                    ..
                },
            ) if call.status == ClientToolCallStatus::Pending => item.clone(),
            _ => {
                return Err(ChatKitError::Invalid(
                    "the thread has no pending client tool call".into(),
                ));
            }
        };
        let slot = self.runs.reserve(&thread.id).await?;
        if let ItemBody::ClientToolCall(call) = &mut newest.body {
            call.status = ClientToolCallStatus::Completed;
            call.output = Some(p.result);
        }
        self.store.save_item(&ctx.scope, &newest).await?;
        for stale in recent.data.iter().skip(1) {
            if matches!(&stale.body, ItemBody::ClientToolCall(c) if c.status == ClientToolCallStatus::Pending)
            {
                self.store
                    .delete_thread_item(&ctx.scope, &thread.id, &stale.id)
                    .await?;
            }
        }
        Ok(self.stream_run(
            slot,
            ctx,
            thread,
            TurnInput::Continue,
            vec![],
            &[],
            AlreadyRead::default(),
        ))
    }

    /// Records the answers to a pending structured input and continues the turn (spec 2.2).
    pub(super) async fn add_structured_input(
        &self,
        ctx: RequestContext,
        p: AddStructuredInputParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let mut item = self
            .store
            .load_item(&ctx.scope, &thread.id, &p.item_id)
            .await?;
        let ItemBody::StructuredInput(input) = &mut item.body else {
            return Err(ChatKitError::Invalid(
                "the item is not a structured input".into(),
            ));
        };
        if input.status != StructuredInputStatus::Pending {
            return Err(ChatKitError::Invalid(
                "the structured input was already answered".into(),
            ));
        }
        input.apply_submission(&p.input);
        let slot = self.runs.reserve(&thread.id).await?;
        // Questions of `ask_user_questions`: the answers become the call's result.
        self.human.answer_questions(&ctx.scope, &item).await?;
        let leading = vec![ThreadStreamEvent::ItemReplaced { item }];
        Ok(self.stream_run(
            slot,
            ctx,
            thread,
            TurnInput::Continue,
            leading,
            &[],
            AlreadyRead::default(),
        ))
    }

    /// Deletes what follows a user message and regenerates the answer; an item that is not in
    /// the thread gives an empty stream, as in the SDK.
    pub(super) async fn retry_after_item(
        &self,
        ctx: RequestContext,
        p: RetryAfterItemParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let item = match self
            .store
            .load_item(&ctx.scope, &thread.id, &p.item_id)
            .await
        {
            Ok(item) => item,
            Err(StoreError::NotFound(_)) => {
                return Ok(Processed::Stream(EventStream::events(&[])));
            }
            Err(e) => return Err(e.into()),
        };
        if !matches!(item.body, ItemBody::UserMessage(_)) {
            return Err(ChatKitError::Invalid(
                "only a user message can be retried".into(),
            ));
        }
        let slot = self.runs.reserve(&thread.id).await?;
        self.store
            .delete_items_after(&ctx.scope, &thread.id, &item.id)
            .await?;
        // A form the retry deleted can no longer be answered.
        self.store.cancel_pending_interactions(&thread.id).await?;
        Ok(self.stream_run(
            slot,
            ctx,
            thread,
            TurnInput::UserMessage(item),
            vec![],
            &[],
            AlreadyRead::default(),
        ))
    }

    /// Starts a run and answers with its stream: first the frames of `prefix` (what the
    /// request itself produced, such as the user message), then the run's, which begin with
    /// `stream_options` and the run's `leading` events. `known` is what the caller has read
    /// already (the thread's whole history, the count of agent changes), which the run then
    /// does not read.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stream_run(
        &self,
        slot: RunSlot,
        ctx: RequestContext,
        thread: Thread,
        input: TurnInput,
        leading: Vec<ThreadStreamEvent>,
        prefix: &[ThreadStreamEvent],
        known: AlreadyRead,
    ) -> Processed {
        let run = self.runs.start(
            slot,
            RunStart {
                agent: ctx.agent,
                scope: ctx.scope,
                thread,
                input,
                leading,
                known,
            },
        );
        Processed::Stream(EventStream {
            leading: prefix.iter().map(encode).collect(),
            run: Some(run),
            permit: None,
        })
    }

    /// Builds (does not save) the user message of `input` (SDK `_build_user_message_item`)
    /// with its attachments as full objects, and the attachment ids to stamp when it is saved.
    /// Each id must name an uploaded attachment of the caller that no other thread uses.
    async fn user_message(
        &self,
        ctx: &RequestContext,
        thread_id: &str,
        input: UserMessageInput,
    ) -> Result<(ThreadItem, Vec<String>), ChatKitError> {
        let mut attachment_ids = Vec::with_capacity(input.attachments.len());
        for id in input.attachments {
            if !attachment_ids.contains(&id) {
                attachment_ids.push(id);
            }
        }
        let attachments = self
            .attachments
            .for_message(&ctx.scope, thread_id, &attachment_ids)
            .await?;
        let message = ThreadItem {
            id: ids::new_id(IdKind::Message),
            thread_id: thread_id.to_owned(),
            created_at: ids::now(),
            body: ItemBody::UserMessage(UserMessageItem {
                content: input.content,
                attachments,
                quoted_text: input.quoted_text,
                inference_options: input.inference_options,
            }),
        };
        Ok((message, attachment_ids))
    }
}
