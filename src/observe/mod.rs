//! Observability of the process: the request a line of work belongs to ([`context`]), log
//! lines that name it ([`logging`]), and Prometheus counters ([`metrics`]).
//!
//! It sits just above `config` so that every layer can record what happens where it happens,
//! with one call and no handle passed around: the request context is a tokio task-local, the
//! metrics one process-wide registry (they describe the process, which is what is scraped).

pub mod context;
pub mod logging;
pub mod metrics;

pub use context::{carry, request_id, set_request_type, within_request};
