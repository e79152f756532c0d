//! The one mapping from service errors to HTTP: status, stable `code`, and a JSON body
//! `{"error": {"code", "message"}}`. Client mistakes are logged at warn level at most; server
//! faults are logged in full and answered with an opaque message.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::auth::AuthError;
use crate::auth::signed::TokenError;
use crate::chatkit::attachments::AttachmentError;
use crate::chatkit::error::ChatKitError;
use crate::chatkit::types::RequestError;
use crate::store::{AttachError, StoreError};

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
    fn code(&self) -> &'static str {
        match self {
            AppError::ChatKit(e) => match e {
                ChatKitError::Request(RequestError::InvalidParams { .. }) => "invalid_params",
                ChatKitError::Request(r) => r.code(),
                ChatKitError::Invalid(_) => "invalid_request",
                ChatKitError::NotFound(_) => "not_found",
                ChatKitError::Unsupported(_) => "unsupported",
                ChatKitError::Attachment(e) => attachment_error(e).1,
                ChatKitError::Auth(AuthError::UnknownAgent(_)) => "unknown_agent",
                ChatKitError::Auth(_) => "unauthenticated",
                ChatKitError::Store(StoreError::Pool(_)) => "unavailable",
                ChatKitError::Store(_) => "internal",
            },
            AppError::Attachment(e) => attachment_error(e).1,
            AppError::PayloadTooLarge { .. } => "payload_too_large",
            AppError::Payload(_) => "invalid_body",
            AppError::Render(_) => "internal",
        }
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
        AttachmentError::Auth(AuthError::UnknownAgent(_)) => {
            (StatusCode::NOT_FOUND, "unknown_agent")
        }
        AttachmentError::Auth(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        AttachmentError::Store(StoreError::Pool(_)) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        AttachmentError::Io(_) | AttachmentError::Store(_) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::ChatKit(e) => match e {
                ChatKitError::Request(RequestError::InvalidParams { .. }) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                ChatKitError::Request(_) | ChatKitError::Invalid(_) => StatusCode::BAD_REQUEST,
                ChatKitError::NotFound(_) | ChatKitError::Auth(AuthError::UnknownAgent(_)) => {
                    StatusCode::NOT_FOUND
                }
                ChatKitError::Auth(_) => StatusCode::UNAUTHORIZED,
                ChatKitError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
                ChatKitError::Attachment(e) => attachment_error(e).0,
                ChatKitError::Store(StoreError::Pool(_)) => StatusCode::SERVICE_UNAVAILABLE,
                ChatKitError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            AppError::Attachment(e) => attachment_error(e).0,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Payload(_) => StatusCode::BAD_REQUEST,
            AppError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
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
        HttpResponse::build(status).json(ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
            },
        })
    }
}
