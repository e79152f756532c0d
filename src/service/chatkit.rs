//! The ChatKit request dispatcher: parses a request, authorises it, answers JSON requests from
//! the store, and turns streaming requests into runs. It knows nothing of HTTP; the route maps
//! [`Processed`] and [`ChatKitError`] to responses. Answers to forms go through
//! [`HumanService`], which the operator console uses too.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::attachments::AttachmentService;
use super::error::ChatKitError;
use super::human::{BeforeMessage, ChatAnswer, HumanService};
use crate::agent::TurnInput;
use crate::auth::{Authenticator, Credentials, RequestContext};
use crate::chatkit::ids::{self, IdKind};
use crate::chatkit::types::*;
use crate::runs::{RunManager, RunSlot, RunStart, encode};
use crate::store::{Store, StoreError};

/// Page size when the client asks for none (or for 0), as the SDK does.
const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page served, whatever the client asks for.
const MAX_PAGE_SIZE: usize = 200;

/// The answer to a request.
pub enum Processed {
    /// A complete `application/json` body.
    Json(Vec<u8>),
    /// An SSE answer: frames known up front, then those of the run, if one was started.
    Stream(EventStream),
}

pub struct EventStream {
    pub leading: Vec<Bytes>,
    pub run: Option<mpsc::Receiver<Bytes>>,
}

impl EventStream {
    fn events(events: &[ThreadStreamEvent]) -> Self {
        EventStream {
            leading: events.iter().map(encode).collect(),
            run: None,
        }
    }
}

#[derive(Clone)]
pub struct ChatKitService {
    store: Store,
    auth: Authenticator,
    runs: RunManager,
    attachments: AttachmentService,
    human: HumanService,
}

fn json<T: serde::Serialize>(value: &T) -> Result<Processed, ChatKitError> {
    serde_json::to_vec(value)
        .map(Processed::Json)
        .map_err(|e| ChatKitError::Store(StoreError::Json(e)))
}

fn page_size(limit: Option<u32>) -> usize {
    match limit {
        None | Some(0) => DEFAULT_PAGE_SIZE,
        Some(n) => (n as usize).min(MAX_PAGE_SIZE),
    }
}

impl ChatKitService {
    pub fn new(
        store: Store,
        auth: Authenticator,
        runs: RunManager,
        attachments: AttachmentService,
        human: HumanService,
    ) -> Self {
        ChatKitService {
            store,
            auth,
            runs,
            attachments,
            human,
        }
    }

    /// Handles one request body from `credentials`.
    pub async fn process(
        &self,
        credentials: &Credentials,
        body: &[u8],
    ) -> Result<Processed, ChatKitError> {
        let request = ChatKitRequest::parse(body)?;
        let ctx = self.auth.authenticate(credentials).await?;
        match self.dispatch(ctx, request).await {
            // A turn on a thread whose previous turn still runs: told in the stream, as the SDK
            // does, so the client shows it where the answer would have been.
            Err(ChatKitError::Busy) => Ok(busy()),
            other => other,
        }
    }

    async fn dispatch(
        &self,
        ctx: RequestContext,
        request: ChatKitRequest,
    ) -> Result<Processed, ChatKitError> {
        match request {
            ChatKitRequest::ThreadsGetById(p) => self.get_thread(&ctx, &p.thread_id).await,
            ChatKitRequest::ThreadsList(p) => {
                let page = self
                    .store
                    .load_threads(&ctx.scope, page_size(p.limit), p.after, p.order)
                    .await?;
                json(&page)
            }
            ChatKitRequest::ItemsList(p) => {
                let mut page = self
                    .store
                    .load_thread_items(
                        &ctx.scope,
                        &p.thread_id,
                        p.after,
                        page_size(p.limit),
                        p.order,
                    )
                    .await?;
                self.attachments.refresh_previews(&mut page.data);
                json(&page)
            }
            ChatKitRequest::ThreadsUpdate(p) => {
                let mut thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
                thread.title = Some(p.title);
                self.store.save_thread(&ctx.scope, &thread).await?;
                json(&thread)
            }
            ChatKitRequest::ThreadsDelete(p) => {
                let keys = self.store.delete_thread(&ctx.scope, &p.thread_id).await?;
                self.attachments.remove_blobs(keys).await;
                json(&serde_json::json!({}))
            }
            ChatKitRequest::ItemsFeedback(p) => {
                self.store
                    .add_feedback(&ctx.scope, &p.thread_id, p.item_ids, p.kind)
                    .await?;
                json(&serde_json::json!({}))
            }
            ChatKitRequest::AttachmentsCreate(p) => json(&self.attachments.create(&ctx, p).await?),
            ChatKitRequest::AttachmentsDelete(p) => {
                self.attachments.delete(&ctx, &p.attachment_id).await?;
                json(&serde_json::json!({}))
            }
            ChatKitRequest::InputTranscribe(_) => Err(ChatKitError::Unsupported(
                "speech-to-text is not configured on this server".into(),
            )),
            ChatKitRequest::ThreadsSyncCustomAction(p) => self.sync_custom_action(ctx, p).await,
            ChatKitRequest::ThreadsCreate(p) => self.create_thread(ctx, p.input).await,
            ChatKitRequest::ThreadsAddUserMessage(p) => self.add_user_message(ctx, p).await,
            ChatKitRequest::ThreadsAddClientToolOutput(p) => {
                self.add_client_tool_output(ctx, p).await
            }
            ChatKitRequest::ThreadsAddStructuredInput(p) => self.add_structured_input(ctx, p).await,
            ChatKitRequest::ThreadsRetryAfterItem(p) => self.retry_after_item(ctx, p).await,
            ChatKitRequest::ThreadsCustomAction(p) => self.custom_action(ctx, p).await,
        }
    }

    /// The thread with its first page of items, oldest first (SDK `threads.get_by_id`).
    async fn get_thread(
        &self,
        ctx: &RequestContext,
        thread_id: &str,
    ) -> Result<Processed, ChatKitError> {
        let mut thread = self
            .store
            .load_thread_with_items(&ctx.scope, thread_id, DEFAULT_PAGE_SIZE)
            .await?;
        self.attachments.refresh_previews(&mut thread.items.data);
        json(&thread)
    }

    async fn create_thread(
        &self,
        ctx: RequestContext,
        input: UserMessageInput,
    ) -> Result<Processed, ChatKitError> {
        let thread = Thread::new(ids::new_id(IdKind::Thread), ids::now());
        let slot = self.runs.reserve(&thread.id)?;
        let (message, attachment_ids) = self.user_message(&ctx, &thread.id, input).await?;
        self.store
            .add_user_message(&ctx.scope, Some(&thread), &message, &attachment_ids)
            .await?;
        let leading = [
            ThreadStreamEvent::ThreadCreated {
                thread: thread.clone(),
            },
            ThreadStreamEvent::ItemDone {
                item: message.clone(),
            },
        ];
        Ok(self.stream_run(
            slot,
            ctx,
            thread,
            TurnInput::UserMessage(message),
            vec![],
            &leading,
        ))
    }

    async fn add_user_message(
        &self,
        ctx: RequestContext,
        p: AddUserMessageParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let mut leading = match self.human.before_message(&ctx.scope, &thread.id).await? {
            BeforeMessage::Proceed(leading) => leading,
            // A form waits for its answer: the message is not kept and no run starts.
            BeforeMessage::Notice(notice) => {
                return Ok(Processed::Stream(EventStream::events(&[*notice])));
            }
        };
        let slot = self.runs.reserve(&thread.id)?;
        let (message, attachment_ids) = self.user_message(&ctx, &thread.id, p.input).await?;
        self.store
            .add_user_message(&ctx.scope, None, &message, &attachment_ids)
            .await?;
        leading.push(ThreadStreamEvent::ItemDone {
            item: message.clone(),
        });
        Ok(self.stream_run(
            slot,
            ctx,
            thread,
            TurnInput::UserMessage(message),
            vec![],
            &leading,
        ))
    }

    /// Completes the pending client tool call, which must be the thread's newest item, removes
    /// other stale pending calls, and continues the turn (spec 8.1).
    async fn add_client_tool_output(
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
        let slot = self.runs.reserve(&thread.id)?;
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
        Ok(self.stream_run(slot, ctx, thread, TurnInput::Continue, vec![], &[]))
    }

    /// Records the answers to a pending structured input and continues the turn (spec 2.2).
    async fn add_structured_input(
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
        let slot = self.runs.reserve(&thread.id)?;
        let leading = vec![ThreadStreamEvent::ItemReplaced { item }];
        Ok(self.stream_run(slot, ctx, thread, TurnInput::Continue, leading, &[]))
    }

    /// Deletes what follows a user message and regenerates the answer; an item that is not in
    /// the thread gives an empty stream, as in the SDK.
    async fn retry_after_item(
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
        let slot = self.runs.reserve(&thread.id)?;
        self.store
            .delete_items_after(&ctx.scope, &thread.id, &item.id)
            .await?;
        // A form the retry deleted can no longer be answered.
        self.store.cancel_pending_interactions(&thread.id).await?;
        Ok(self.stream_run(slot, ctx, thread, TurnInput::UserMessage(item), vec![], &[]))
    }

    /// A widget action, routed by what it asks for (ARCHITECTURE section 6): `human.*` to the
    /// human-interaction service, a payload naming a tool to that tool, anything else to the
    /// agent as hidden context.
    async fn custom_action(
        &self,
        ctx: RequestContext,
        p: CustomActionParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let Ok(sender) = self
            .action_sender(&ctx, &thread.id, p.item_id.as_deref())
            .await?
        else {
            // The SDK answers an action from a non-widget item with a lone error event.
            return Ok(Processed::Stream(EventStream::events(&[
                ThreadStreamEvent::stream_error(false),
            ])));
        };
        let (input, leading) = match ActionRoute::of(&p.action) {
            ActionRoute::Human => {
                return match self
                    .human
                    .answer_from_chat(&ctx.scope, &thread.id, sender, &p.action)
                    .await?
                {
                    ChatAnswer::Events(events) => {
                        Ok(Processed::Stream(EventStream::events(&events)))
                    }
                    ChatAnswer::Resume {
                        slot,
                        input,
                        summary,
                    } => Ok(self.stream_run(
                        slot,
                        ctx,
                        thread,
                        input,
                        vec![ThreadStreamEvent::ItemReplaced { item: summary }],
                        &[],
                    )),
                };
            }
            ActionRoute::Tool { tool, arguments } => (
                TurnInput::ToolAction {
                    sender,
                    tool,
                    arguments,
                },
                vec![],
            ),
            ActionRoute::Context => {
                let context = action_context(&thread.id, p.item_id.as_deref(), &p.action);
                (
                    TurnInput::Continue,
                    vec![ThreadStreamEvent::ItemDone { item: context }],
                )
            }
        };
        let slot = self.runs.reserve(&thread.id)?;
        Ok(self.stream_run(slot, ctx, thread, input, leading, &[]))
    }

    /// The widget an action was sent from (`None` for an action the page sent on its own), or
    /// `Err(())` when the item is not a widget.
    async fn action_sender(
        &self,
        ctx: &RequestContext,
        thread_id: &str,
        item_id: Option<&str>,
    ) -> Result<Result<Option<ThreadItem>, ()>, ChatKitError> {
        let Some(item_id) = item_id else {
            return Ok(Ok(None));
        };
        let item = self.store.load_item(&ctx.scope, thread_id, item_id).await?;
        Ok(if matches!(item.body, ItemBody::Widget(_)) {
            Ok(Some(item))
        } else {
            Err(())
        })
    }

    /// The non-streaming twin: a tool action answers the replaced widget (saved, unlike in the
    /// SDK, so it survives a reload); any other action is recorded for the model.
    async fn sync_custom_action(
        &self,
        ctx: RequestContext,
        p: CustomActionParams,
    ) -> Result<Processed, ChatKitError> {
        let thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
        let Ok(sender) = self
            .action_sender(&ctx, &thread.id, p.item_id.as_deref())
            .await?
        else {
            return Err(ChatKitError::Invalid(
                "actions can only be sent from widget items".into(),
            ));
        };
        match ActionRoute::of(&p.action) {
            ActionRoute::Human => Err(ChatKitError::Unsupported(format!(
                "'{}' answers a form and resumes the assistant, so it needs the streaming \
                 threads.custom_action",
                p.action.type_
            ))),
            ActionRoute::Tool { tool, arguments } => {
                let agent = self.runs.agent_for(&ctx.agent).await;
                let outcome = agent
                    .tool_action(&thread.id, sender.as_ref(), &tool, arguments)
                    .await
                    .map_err(|e| ChatKitError::Invalid(e.to_string()))?;
                let mut updated = None;
                for event in outcome.events {
                    if let ThreadStreamEvent::ItemReplaced { item }
                    | ThreadStreamEvent::ItemDone { item } = event
                    {
                        self.store.save_item(&ctx.scope, &item).await?;
                        updated.get_or_insert(item);
                    }
                }
                self.store
                    .save_tool_call(&ctx.scope, &outcome.record)
                    .await?;
                json(&SyncCustomActionResponse {
                    updated_item: updated,
                })
            }
            ActionRoute::Context => {
                let context = action_context(&thread.id, p.item_id.as_deref(), &p.action);
                self.store.save_item(&ctx.scope, &context).await?;
                json(&SyncCustomActionResponse { updated_item: None })
            }
        }
    }

    /// Starts a run and answers with its stream: first the frames of `prefix` (what the
    /// request itself produced, such as the user message), then the run's, which begin with
    /// `stream_options` and the run's `leading` events.
    fn stream_run(
        &self,
        slot: RunSlot,
        ctx: RequestContext,
        thread: Thread,
        input: TurnInput,
        leading: Vec<ThreadStreamEvent>,
        prefix: &[ThreadStreamEvent],
    ) -> Processed {
        let run = self.runs.start(
            slot,
            RunStart {
                agent: ctx.agent,
                scope: ctx.scope,
                thread,
                input,
                leading,
            },
        );
        Processed::Stream(EventStream {
            leading: prefix.iter().map(encode).collect(),
            run: Some(run),
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

/// What a widget action asks for.
enum ActionRoute {
    /// Our own forms and approvals; a widget from a tool can never reach them another way.
    Human,
    /// `{"tool": "...", "arguments": {...}}`: call that tool.
    Tool {
        tool: String,
        arguments: serde_json::Map<String, serde_json::Value>,
    },
    /// Anything else: the agent is told and answers.
    Context,
}

impl ActionRoute {
    fn of(action: &Action) -> ActionRoute {
        if action.type_.starts_with("human.") {
            return ActionRoute::Human;
        }
        match action.payload.get("tool").and_then(|t| t.as_str()) {
            Some(tool) => ActionRoute::Tool {
                tool: tool.to_owned(),
                arguments: action
                    .payload
                    .get("arguments")
                    .and_then(|a| a.as_object())
                    .cloned()
                    .unwrap_or_default(),
            },
            None => ActionRoute::Context,
        }
    }
}

/// The hidden context item that tells the model what the user did on a widget.
fn action_context(thread_id: &str, item_id: Option<&str>, action: &Action) -> ThreadItem {
    let on = item_id
        .map(|id| format!(" on widget {id}"))
        .unwrap_or_default();
    ThreadItem {
        id: ids::new_id(IdKind::Message),
        thread_id: thread_id.to_owned(),
        created_at: ids::now(),
        body: ItemBody::HiddenContextItem(HiddenContextItem {
            content: serde_json::Value::String(format!(
                "The user triggered the widget action '{}'{on} with payload {}.",
                action.type_, action.payload
            )),
        }),
    }
}

/// The answer to a streaming request on a thread whose previous turn is still running.
fn busy() -> Processed {
    Processed::Stream(EventStream::events(&[ThreadStreamEvent::error_custom(
        "A response is already being generated in this thread. Wait for it to finish, or stop it, \
         and send again."
            .to_owned(),
        false,
    )]))
}
