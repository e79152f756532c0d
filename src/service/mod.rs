//! Application services: what the chat and the operator console both do, with no HTTP in it.
//! Routes call one service method per request and map its typed error once.
//!
//! - [`chatkit`]: the ChatKit request dispatcher (JSON answers and streamed turns).
//! - [`human`]: answers to forms, approvals and MCP questions, from the chat or an operator.
//! - [`attachments`]: uploads, downloads, deletion and the purge of unused uploads.
//! - [`dictation`]: `input.transcribe`, through the configured speech-to-text endpoint.
//! - [`limits`]: rate limits and quotas of the chat endpoint, per user and per account.
//! - [`console`]: operators, their sessions, and the audit log of the operator console.
//! - [`metrics`]: who may read `/metrics`, and the values read when it is scraped.
//! - [`webhooks`]: the worker that sends human-input webhooks and sweeps expired questions.
//! - [`error`]: [`ChatKitError`](error::ChatKitError), everything a request can fail with
//!   before its answer starts.

pub mod attachments;
pub mod chatkit;
pub mod console;
pub mod dictation;
pub mod error;
pub mod human;
pub mod limits;
pub mod metrics;
pub mod webhooks;
