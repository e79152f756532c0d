//! The one mapping from service errors to HTTP: status, stable `code`, and a JSON body
//! `{"error": {"code", "message"}}`. Client mistakes are logged at warn level at most; server
//! faults are logged in full and answered with an opaque message.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::agent::llm::transcribe::TranscribeError;
use crate::auth::AuthError;
use crate::auth::signed::TokenError;
use crate::chatkit::types::RequestError;
use crate::service::attachments::AttachmentError;
use crate::service::dictation::DictationError;
use crate::service::error::ChatKitError;
use crate::service::metrics::MetricsError;
use crate::store::{AttachError, BlobError, DbFault, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    ChatKit(#[from] ChatKitError),
    #[error("{0}")]
    Attachment(#[from] AttachmentError),
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("could not read the request body: {0}")]
    Payload(String),
    /// The body did not arrive in time (see [`super::body_deadline`]).
    #[error("the request body did not arrive within {secs} s")]
    BodyTimeout { secs: u64 },
    #[error("page rendering failed: {0}")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: String,
}

impl AppError {
    /// The authentication error inside, if that is what this is.
    fn auth_error(&self) -> Option<&AuthError> {
        match self {
            AppError::ChatKit(ChatKitError::Auth(e))
            | AppError::ChatKit(ChatKitError::Attachment(AttachmentError::Auth(e)))
            | AppError::Attachment(AttachmentError::Auth(e)) => Some(e),
            _ => None,
        }
    }

    /// The database fault behind this error, if that is what it is.
    fn db_fault(&self) -> Option<DbFault> {
        match self {
            AppError::ChatKit(ChatKitError::Store(e))
            | AppError::ChatKit(ChatKitError::Auth(AuthError::Store(e)))
            | AppError::ChatKit(ChatKitError::Attachment(AttachmentError::Store(e)))
            | AppError::ChatKit(ChatKitError::Attachment(AttachmentError::Auth(
                AuthError::Store(e),
            )))
            | AppError::Attachment(AttachmentError::Store(e))
            | AppError::Attachment(AttachmentError::Auth(AuthError::Store(e))) => e.fault(),
            _ => None,
        }
    }

    /// The one table of HTTP status and stable `code` for every error.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::ChatKit(e) => chatkit_error(e),
            AppError::Attachment(e) => attachment_error(e),
            AppError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            AppError::Payload(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            AppError::BodyTimeout { .. } => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            AppError::Render(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            AppError::Metrics(MetricsError::MissingToken) => {
                (StatusCode::UNAUTHORIZED, "missing_token")
            }
            AppError::Metrics(MetricsError::InvalidToken) => {
                (StatusCode::UNAUTHORIZED, "invalid_token")
            }
        }
    }
}

fn chatkit_error(error: &ChatKitError) -> (StatusCode, &'static str) {
    match error {
        ChatKitError::Request(RequestError::InvalidParams { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params")
        }
        ChatKitError::Request(r) => (StatusCode::BAD_REQUEST, r.code()),
        ChatKitError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        ChatKitError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        // Not a server fault: a client can ask what this server does (the chat pages do).
        ChatKitError::Unsupported(_) => (StatusCode::BAD_REQUEST, "unsupported"),
        ChatKitError::Attachment(e) => attachment_error(e),
        ChatKitError::Auth(e) => auth_error(e),
        // Answered as a stream by the dispatcher; a JSON request never meets it.
        ChatKitError::Busy => (StatusCode::CONFLICT, "busy"),
        ChatKitError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        ChatKitError::Store(e) => store_error(e),
        ChatKitError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ChatKitError::Dictation(e) => dictation_error(e),
    }
}

/// Status and code of a failed database call: a database that cannot serve is told apart
/// from a fault of ours, so clients retry and operators know what to fix.
fn store_error(error: &StoreError) -> (StatusCode, &'static str) {
    match error.fault() {
        Some(DbFault::Unavailable) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        Some(DbFault::ReadOnly) => (StatusCode::SERVICE_UNAVAILABLE, "read_only"),
        Some(DbFault::Full) => (StatusCode::INSUFFICIENT_STORAGE, "storage_full"),
        Some(DbFault::Io) => (StatusCode::SERVICE_UNAVAILABLE, "storage_error"),
        None => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

/// Status and code of a recording that was not transcribed: the client's recording, or the
/// speech-to-text service (502 when the operator must act, 503 when a retry may work).
fn dictation_error(error: &DictationError) -> (StatusCode, &'static str) {
    match error {
        DictationError::NotConfigured => (StatusCode::BAD_REQUEST, "unsupported"),
        DictationError::UnsupportedType(_) => (StatusCode::BAD_REQUEST, "unsupported_audio_type"),
        DictationError::InvalidAudio(_) => (StatusCode::BAD_REQUEST, "invalid_audio"),
        DictationError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "audio_too_large"),
        DictationError::Upstream(TranscribeError::Rejected { .. }) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "transcription_rejected")
        }
        DictationError::Upstream(
            TranscribeError::Refused { .. }
            | TranscribeError::Failed { .. }
            | TranscribeError::Malformed(_),
        ) => (StatusCode::BAD_GATEWAY, "upstream_error"),
        DictationError::Upstream(
            TranscribeError::Busy { .. }
            | TranscribeError::Connect(_)
            | TranscribeError::Timeout(_),
        ) => (StatusCode::SERVICE_UNAVAILABLE, "upstream_unavailable"),
    }
}

/// Status and code of a refused caller. An agent the caller may not use reads like one that
/// does not exist.
fn auth_error(error: &AuthError) -> (StatusCode, &'static str) {
    match error {
        AuthError::UnknownAgent(_) => (StatusCode::NOT_FOUND, "unknown_agent"),
        AuthError::AgentDisabled(_) => (StatusCode::FORBIDDEN, "agent_disabled"),
        AuthError::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
        AuthError::InvalidToken => (StatusCode::UNAUTHORIZED, "invalid_token"),
        AuthError::TokenExpired => (StatusCode::UNAUTHORIZED, "token_expired"),
        AuthError::InvalidUser | AuthError::Unauthenticated(_) => {
            (StatusCode::UNAUTHORIZED, "unauthenticated")
        }
        AuthError::Store(e) => store_error(e),
    }
}

/// Status and code of a refused attachment operation.
fn attachment_error(error: &AttachmentError) -> (StatusCode, &'static str) {
    match error {
        AttachmentError::NotFound | AttachmentError::Attach(AttachError::NotFound(_)) => {
            (StatusCode::NOT_FOUND, "not_found")
        }
        AttachmentError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large"),
        AttachmentError::TypeNotAllowed(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        AttachmentError::NotThatImage(_) => (StatusCode::BAD_REQUEST, "content_mismatch"),
        AttachmentError::SizeMismatch { .. } => (StatusCode::BAD_REQUEST, "size_mismatch"),
        AttachmentError::Token(TokenError::Invalid) => (StatusCode::FORBIDDEN, "invalid_token"),
        AttachmentError::Token(TokenError::Expired) => (StatusCode::FORBIDDEN, "token_expired"),
        AttachmentError::AlreadyUploaded => (StatusCode::CONFLICT, "upload_used"),
        AttachmentError::MissingFile => (StatusCode::BAD_REQUEST, "missing_file"),
        AttachmentError::Body(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
        AttachmentError::Attach(AttachError::NotUploaded(_)) => {
            (StatusCode::CONFLICT, "attachment_not_uploaded")
        }
        AttachmentError::Attach(AttachError::OtherThread(_)) => {
            (StatusCode::CONFLICT, "attachment_in_use")
        }
        AttachmentError::Auth(e) => auth_error(e),
        AttachmentError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        AttachmentError::Store(e) => store_error(e),
        AttachmentError::Blob(BlobError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
        }
        AttachmentError::Blob(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if let Some(fault) = self.db_fault() {
            // The detail (host names, file paths) is for the log only.
            log::error!("{self:?}");
            fault.describe().to_owned()
        } else if status.is_server_error() {
            log::error!("{self:?}");
            match status {
                StatusCode::NOT_IMPLEMENTED
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE => self.to_string(),
                _ => "internal error".to_owned(),
            }
        } else {
            log::warn!("rejected request ({status}): {self}");
            self.to_string()
        };
        let mut response = HttpResponse::build(status);
        if let AppError::BodyTimeout { .. } = self {
            // The rest of the body may still come, or never: the connection cannot carry
            // another request, so it ends with this answer.
            response.force_close();
        }
        if self
            .auth_error()
            .is_some_and(AuthError::is_bearer_challenge)
            || matches!(self, AppError::Metrics(_))
        {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let AppError::ChatKit(ChatKitError::RateLimited(refusal))
        | AppError::ChatKit(ChatKitError::Attachment(AttachmentError::RateLimited(refusal)))
        | AppError::Attachment(AttachmentError::RateLimited(refusal)) = self
        {
            response.insert_header((header::RETRY_AFTER, refusal.retry_after_secs().to_string()));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.status_and_code().1,
                message,
            },
        })
    }
}
