//! Errors of the ChatKit service: everything a request can fail with before its answer starts.
//! `routes::error` maps them to HTTP statuses once; failures after a stream has started are
//! `error` events instead (see `runs`).

use super::attachments::AttachmentError;
use super::dictation::DictationError;
use super::human::HumanError;
use super::limits::Refusal;
use crate::auth::AuthError;
use crate::chatkit::types::RequestError;
use crate::runs::{Busy, ReserveError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChatKitError {
    /// The body is not a well-formed ChatKit request.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A request that is well-formed but not valid now (e.g. retrying from a non-user item).
    #[error("{0}")]
    Invalid(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A capability this server is not set up for (SDK: `NotImplementedError`).
    #[error("{0}")]
    Unsupported(String),
    #[error(transparent)]
    Auth(AuthError),
    /// An upload, download or use of an attachment that is refused.
    #[error(transparent)]
    Attachment(AttachmentError),
    #[error(transparent)]
    Store(StoreError),
    /// The thread's previous turn still runs; the dispatcher answers with a stream saying so.
    #[error("a response is already being generated in this thread")]
    Busy,
    /// Over a rate limit or quota; a turn is answered with a stream saying so instead.
    #[error("{}", .0.message())]
    RateLimited(Refusal),
    /// A body over the request limit, let in only because a recording may be that large.
    #[error("request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// A recording that could not be transcribed.
    #[error(transparent)]
    Dictation(DictationError),
}

impl From<DictationError> for ChatKitError {
    fn from(error: DictationError) -> Self {
        match error {
            DictationError::NotConfigured => ChatKitError::Unsupported(error.to_string()),
            other => ChatKitError::Dictation(other),
        }
    }
}

impl From<Refusal> for ChatKitError {
    fn from(refusal: Refusal) -> Self {
        ChatKitError::RateLimited(refusal)
    }
}

impl From<Busy> for ChatKitError {
    fn from(_: Busy) -> Self {
        ChatKitError::Busy
    }
}

impl From<ReserveError> for ChatKitError {
    fn from(error: ReserveError) -> Self {
        match error {
            ReserveError::Busy(_) => ChatKitError::Busy,
            ReserveError::Store(e) => e.into(),
        }
    }
}

impl From<HumanError> for ChatKitError {
    fn from(error: HumanError) -> Self {
        match error {
            HumanError::Store(e) => e.into(),
            HumanError::Busy => ChatKitError::Busy,
            HumanError::NotFound => ChatKitError::NotFound("interaction"),
            other => ChatKitError::Invalid(other.to_string()),
        }
    }
}

impl From<AttachmentError> for ChatKitError {
    fn from(error: AttachmentError) -> Self {
        match error {
            AttachmentError::Auth(e) => ChatKitError::Auth(e),
            AttachmentError::Store(e) => ChatKitError::Store(e),
            other => ChatKitError::Attachment(other),
        }
    }
}

impl From<StoreError> for ChatKitError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ChatKitError::NotFound(what),
            StoreError::Attach(e) => ChatKitError::Attachment(AttachmentError::Attach(e)),
            StoreError::InvalidCursor(cursor) => {
                ChatKitError::Invalid(format!("'after' names no item of this list: {cursor}"))
            }
            other => ChatKitError::Store(other),
        }
    }
}

impl From<AuthError> for ChatKitError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Store(e) => e.into(),
            other => ChatKitError::Auth(other),
        }
    }
}
