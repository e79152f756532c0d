//! The only place ids and item timestamps are made.
//!
//! Ids carry ChatKit's prefixes (`thr_`, `msg_`, …) and 16 random hex digits (the SDK uses 8,
//! which collides too easily for a shared database). Item timestamps come from a clock that
//! never repeats a microsecond within the process, so items created in one turn keep their
//! order even when the wall clock is coarse or steps back.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// What an id is for; decides its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Account,
    Agent,
    Thread,
    Message,
    ToolCall,
    Workflow,
    Task,
    Attachment,
    SdkHiddenContext,
    Run,
    Interaction,
    Operator,
    OperatorSession,
    AuditEntry,
    McpServer,
    WebhookDelivery,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::Account => "acc",
            IdKind::Agent => "agt",
            IdKind::Thread => "thr",
            IdKind::Message => "msg",
            IdKind::ToolCall => "tc",
            IdKind::Workflow => "wf",
            IdKind::Task => "tsk",
            IdKind::Attachment => "atc",
            IdKind::SdkHiddenContext => "shcx",
            IdKind::Run => "run",
            IdKind::Interaction => "hi",
            IdKind::Operator => "op",
            IdKind::OperatorSession => "ses",
            IdKind::AuditEntry => "aud",
            IdKind::McpServer => "mcp",
            IdKind::WebhookDelivery => "whd",
        }
    }
}

/// A fresh id such as `thr_9f86d081884c7d65`.
pub fn new_id(kind: IdKind) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{}_{}", kind.prefix(), &hex[..16])
}

static LAST_MICROS: AtomicI64 = AtomicI64::new(0);

/// Now, truncated to microseconds (what both databases keep) and strictly after any instant
/// this function returned before in this process.
pub fn now() -> DateTime<Utc> {
    let wall = Utc::now().timestamp_micros();
    let mut last = LAST_MICROS.load(Ordering::Relaxed);
    loop {
        let next = wall.max(last + 1);
        match LAST_MICROS.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return DateTime::from_timestamp_micros(next).unwrap_or_else(Utc::now),
            Err(seen) => last = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_random_part() {
        let id = new_id(IdKind::Thread);
        assert!(id.starts_with("thr_"));
        assert_eq!(id.len(), 4 + 16);
        assert_ne!(id, new_id(IdKind::Thread));
    }

    #[test]
    fn clock_is_strictly_increasing() {
        let mut prev = now();
        for _ in 0..1000 {
            let next = now();
            assert!(next > prev);
            assert_eq!(next.timestamp_subsec_nanos() % 1000, 0);
            prev = next;
        }
    }
}
