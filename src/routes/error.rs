//! The one mapping from service errors to HTTP: status, stable `code`, and a JSON body
//! `{"error": {"code", "message"}}`. Client mistakes are logged at warn level at most; server
//! faults are logged in full and answered with an opaque message.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::auth::AuthError;
use crate::auth::signed::TokenError;
use crate::chatkit::types::RequestError;
use crate::service::attachments::AttachmentError;
use crate::service::error::ChatKitError;
use crate::store::{AttachError, BlobError, StoreError};

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
    #[error("page rendering failed: {0}")]
    Render(#[from] askama::Error),
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

    /// The one table of HTTP status and stable `code` for every error.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::ChatKit(e) => chatkit_error(e),
            AppError::Attachment(e) => attachment_error(e),
            AppError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            AppError::Payload(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            AppError::Render(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
        ChatKitError::Unsupported(_) => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
        ChatKitError::Attachment(e) => attachment_error(e),
        ChatKitError::Auth(e) => auth_error(e),
        // Answered as a stream by the dispatcher; a JSON request never meets it.
        ChatKitError::Busy => (StatusCode::CONFLICT, "busy"),
        ChatKitError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        ChatKitError::Store(StoreError::Pool(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        ChatKitError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
        AuthError::Store(StoreError::Pool(_)) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        AuthError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
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
        AttachmentError::Store(StoreError::Pool(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        AttachmentError::Blob(BlobError::Unavailable(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "storage_unavailable")
        }
        AttachmentError::Blob(_) | AttachmentError::Store(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let message = if status.is_server_error() {
            log::error!("{self:?}");
            match status {
                StatusCode::NOT_IMPLEMENTED | StatusCode::SERVICE_UNAVAILABLE => self.to_string(),
                _ => "internal error".to_owned(),
            }
        } else {
            log::warn!("rejected request ({status}): {self}");
            self.to_string()
        };
        let mut response = HttpResponse::build(status);
        if self
            .auth_error()
            .is_some_and(AuthError::is_bearer_challenge)
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
