//! The ChatKit request dispatcher: parses a request, authorises it, answers JSON requests from
//! the store, and turns streaming requests into runs. It knows nothing of HTTP; the route maps
//! [`Processed`] and [`ChatKitError`] to responses. Answers to forms go through
//! [`HumanService`], which the operator console uses too. Streamed turns are in `turns`,
//! widget actions in `actions`.

mod actions;
mod page;
mod read_cache;
mod turns;

pub use page::ChatPageFacts;
pub use read_cache::ReadCache;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::attachments::AttachmentService;
use super::dictation::Dictation;
use super::error::ChatKitError;
use super::human::HumanService;
use super::limits::{Limiter, StreamPermit, TurnRefused};
use crate::auth::{Authenticator, Credentials, RequestContext};
use crate::chatkit::types::*;
use crate::runs::{RunManager, encode};
use crate::store::{Store, StoreError};

/// Page size when the client asks for none (or for 0), as the SDK does.
const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page served, whatever the client asks for.
const MAX_PAGE_SIZE: usize = 200;

/// The answer to a request.
pub enum Processed {
    /// A complete `application/json` body.
    Json(Bytes),
    /// An SSE answer: frames known up front, then those of the run, if one was started.
    Stream(EventStream),
}

pub struct EventStream {
    pub leading: Vec<Bytes>,
    pub run: Option<mpsc::Receiver<Bytes>>,
    /// The user's concurrent-stream slot, held until the response body is dropped.
    pub permit: Option<StreamPermit>,
}

impl EventStream {
    fn events(events: &[ThreadStreamEvent]) -> Self {
        EventStream {
            leading: events.iter().map(encode).collect(),
            run: None,
            permit: None,
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
    limits: Limiter,
    dictation: Dictation,
    /// The body limit of every request but `input.transcribe` (whose recording may need more).
    request_limit: usize,
    /// Answers of the reads clients repeat, when kept.
    reads: Option<std::sync::Arc<ReadCache>>,
}

fn json<T: serde::Serialize>(value: &T) -> Result<Processed, ChatKitError> {
    serde_json::to_vec(value)
        .map(|body| Processed::Json(body.into()))
        .map_err(|e| ChatKitError::Store(StoreError::Json(e)))
}

/// An answer written with stored item JSON spliced in.
fn spliced(body: serde_json::Result<Vec<u8>>) -> Result<Processed, ChatKitError> {
    body.map(|body| Processed::Json(body.into()))
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
        limits: Limiter,
    ) -> Self {
        ChatKitService {
            store,
            auth,
            runs,
            attachments,
            human,
            limits,
            dictation: Dictation::default(),
            request_limit: usize::MAX,
            reads: None,
        }
    }

    /// Keeps the answers of repeated reads in up to about `budget` bytes of memory (none for
    /// 0).
    pub fn with_read_cache(self, budget: usize) -> Self {
        ChatKitService {
            reads: ReadCache::new(budget).map(std::sync::Arc::new),
            ..self
        }
    }

    /// Turns dictation on: `input.transcribe` bodies may then pass `request_limit`, which
    /// other requests are still held to.
    pub fn with_dictation(self, dictation: Dictation, request_limit: usize) -> Self {
        ChatKitService {
            dictation,
            request_limit,
            ..self
        }
    }

    /// The largest recording transcribed, when dictation is on (the chat pages offer it).
    pub fn dictation_max_bytes(&self) -> Option<usize> {
        self.dictation.max_bytes()
    }

    /// The largest body to read for [`ChatKitService::process`]: `request_limit`, or what a
    /// recording of the largest size needs when dictation is on.
    pub fn body_limit(&self, request_limit: usize) -> usize {
        request_limit.max(self.dictation.max_request_bytes())
    }

    /// Handles one request body from `credentials`.
    pub async fn process(
        &self,
        credentials: &Credentials,
        body: &[u8],
    ) -> Result<Processed, ChatKitError> {
        let request = ChatKitRequest::parse(body)?;
        crate::observe::set_request_type(request.request_type().as_str());
        if body.len() > self.request_limit && !matches!(request, ChatKitRequest::InputTranscribe(_))
        {
            return Err(ChatKitError::TooLarge {
                limit: self.request_limit,
            });
        }
        let ctx = self.auth.authenticate(credentials).await?;
        let streaming = request.is_streaming();
        let permit = match self.admit(&ctx, streaming).await {
            Ok(permit) => permit,
            // Over a limit: a turn is told in its stream, before any model call.
            Err(ChatKitError::RateLimited(refusal)) if streaming => {
                return Ok(Processed::Stream(EventStream::events(&[
                    ThreadStreamEvent::error_custom(refusal.message(), false),
                ])));
            }
            Err(e) => return Err(e),
        };
        if let Some(reads) = &self.reads
            && request.is_repeatable_read()
        {
            return self.read_through(reads, ctx, request, body).await;
        }
        match self.dispatch(ctx, request).await {
            // A turn on a thread whose previous turn still runs: told in the stream, as the SDK
            // does, so the client shows it where the answer would have been.
            Err(ChatKitError::Busy) => Ok(busy()),
            Ok(Processed::Stream(stream)) => {
                Ok(Processed::Stream(EventStream { permit, ..stream }))
            }
            other => other,
        }
    }

    /// A read answered from `reads` when nothing changed since it was last answered, and kept
    /// there when its answer can be.
    async fn read_through(
        &self,
        reads: &ReadCache,
        ctx: RequestContext,
        request: ChatKitRequest,
        body: &[u8],
    ) -> Result<Processed, ChatKitError> {
        use crate::observe::metrics::{ReadCache as Counted, read_cache as count};
        let key = ReadCache::key(&ctx.scope, body);
        let Some(mark) = self.store.read_mark().await else {
            count(Counted::Bypass);
            return self.dispatch(ctx, request).await;
        };
        if let Some(answer) = reads.get(&key, mark) {
            count(Counted::Hit);
            return Ok(Processed::Json(answer));
        }
        count(Counted::Miss);
        let (answer, keep) = match request {
            ChatKitRequest::ThreadsGetById(p) => self.get_thread(&ctx, &p.thread_id).await?,
            ChatKitRequest::ItemsList(p) => self.list_items(&ctx, p).await?,
            other => (self.dispatch(ctx, other).await?, true),
        };
        if let Processed::Json(answer) = &answer
            && keep
        {
            reads.put(key, mark, answer.clone(), |m| self.store.is_current(m));
        }
        Ok(answer)
    }

    /// Counts the request against the rate limits and, for a turn, the stream and token
    /// limits; a turn's stream slot comes back to be held by its stream.
    async fn admit(
        &self,
        ctx: &RequestContext,
        streaming: bool,
    ) -> Result<Option<StreamPermit>, ChatKitError> {
        self.limits.request(&ctx.scope, &ctx.agent)?;
        if !streaming {
            return Ok(None);
        }
        self.limits
            .turn(&ctx.scope, &ctx.agent)
            .await
            .map_err(|e| match e {
                TurnRefused::Limited(refusal) => ChatKitError::RateLimited(refusal),
                TurnRefused::Store(e) => e.into(),
            })
    }

    async fn dispatch(
        &self,
        ctx: RequestContext,
        request: ChatKitRequest,
    ) -> Result<Processed, ChatKitError> {
        match request {
            ChatKitRequest::ThreadsGetById(p) => Ok(self.get_thread(&ctx, &p.thread_id).await?.0),
            ChatKitRequest::ThreadsList(p) => {
                let page = self
                    .store
                    .load_threads(&ctx.scope, page_size(p.limit), p.after, p.order)
                    .await?;
                json(&page)
            }
            ChatKitRequest::ItemsList(p) => Ok(self.list_items(&ctx, p).await?.0),
            ChatKitRequest::ThreadsUpdate(p) => {
                let mut thread = self.store.load_thread(&ctx.scope, &p.thread_id).await?;
                thread.title = Some(p.title);
                self.store.save_thread(&ctx.scope, &thread).await?;
                json(&thread)
            }
            ChatKitRequest::ThreadsDelete(p) => {
                // Only the owner may stop the run: the thread must be theirs.
                self.store.load_thread(&ctx.scope, &p.thread_id).await?;
                self.runs.stop_for_deletion(&p.thread_id).await;
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
            ChatKitRequest::InputTranscribe(p) => json(&self.dictation.transcribe(p).await?),
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

    /// The thread with its first page of items, oldest first (SDK `threads.get_by_id`), and
    /// whether the answer may be kept.
    async fn get_thread(
        &self,
        ctx: &RequestContext,
        thread_id: &str,
    ) -> Result<(Processed, bool), ChatKitError> {
        let (thread, mut items) = self
            .store
            .load_thread_with_wire_items(&ctx.scope, thread_id, DEFAULT_PAGE_SIZE)
            .await?;
        let keep = keepable(&items.data);
        self.attachments.refresh_wire_previews(&mut items.data);
        Ok((spliced(thread_json(&thread, items))?, keep))
    }

    /// A page of a thread's items (SDK `items.list`), and whether the answer may be kept.
    async fn list_items(
        &self,
        ctx: &RequestContext,
        p: ItemsListParams,
    ) -> Result<(Processed, bool), ChatKitError> {
        let mut page = self
            .store
            .load_wire_items(
                &ctx.scope,
                &p.thread_id,
                p.after,
                page_size(p.limit),
                p.order,
            )
            .await?;
        let keep = keepable(&page.data);
        self.attachments.refresh_wire_previews(&mut page.data);
        Ok((spliced(page_json(&page))?, keep))
    }
}

/// Whether an answer may be kept in the read cache: not when it signs preview URLs, which
/// expire (the items holding them are the parsed ones).
fn keepable(items: &[WireItem]) -> bool {
    !items.iter().any(|item| matches!(item, WireItem::Parsed(_)))
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
