//! What a console service call can fail with; `routes::admin` maps it to a status and a page
//! once.

use std::time::Duration;

use crate::auth::operators::CredentialError;
use crate::store::{BlobError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Signed in, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// A form field that cannot be used: which field, and why (shown to the operator).
    #[error("{1}")]
    InvalidInput(&'static str, String),
    /// Valid, but refused in the current state (e.g. demoting the last admin).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed sign-ins; try again after `retry_after`.
    #[error("too many failed sign-ins; try again in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// No valid session, or a sign-in that failed (which one is never said).
    #[error("not signed in")]
    Unauthenticated,
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// Attachment bytes that cannot be read.
    #[error("attachment storage failed: {0}")]
    Storage(BlobError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ConsoleError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ConsoleError::NotFound(what),
            other => ConsoleError::Store(other),
        }
    }
}
