//! The only place ids and item timestamps are made.
//!
//! Ids carry ChatKit's prefixes (`thr_`, `msg_`, …), the time they were made (milliseconds, 11
//! hex digits) and 16 random hex digits (the SDK uses 8 random ones, which collide too easily
//! for a shared database). Time first, because ids are primary keys and the keys of a thread's
//! items, runs and search entries: new ids sort after the ones before them, so new rows land
//! on the last page of each index, which a commit of many turns writes once. Random ids
//! spread every turn over pages of their own in half a dozen indexes (about a tenth of a
//! streamed turn's CPU on SQLite). The time was public already (`created_at`).
//!
//! Item timestamps come from a clock that never repeats a microsecond within the process, so
//! items created in one turn keep their order even when the wall clock is coarse or steps
//! back.

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

/// A fresh id such as `thr_19ad6e3c8f09f86d081884c7d65`.
pub fn new_id(kind: IdKind) -> String {
    let random = random_u64();
    let millis = Utc::now().timestamp_millis().max(0);
    format!("{}_{millis:011x}{random:016x}", kind.prefix())
}

/// Random words asked of the kernel at a time, per thread.
const POOLED: usize = 32;

/// Words of the kernel's randomness, handed out one per id.
struct Pool {
    words: [u64; POOLED],
    /// How many of `words` are handed out.
    used: usize,
}

/// 64 bits of the kernel's randomness, drawn `POOLED` at a time on each thread: a turn makes
/// several ids, and one `getrandom` call each was a few system calls per turn in profiles.
fn random_u64() -> u64 {
    thread_local! {
        static POOL: std::cell::RefCell<Pool> = const {
            std::cell::RefCell::new(Pool { words: [0; POOLED], used: POOLED })
        };
    }
    POOL.with_borrow_mut(|pool| {
        if pool.used == POOLED {
            let mut bytes = [0u8; POOLED * 8];
            if getrandom::fill(&mut bytes).is_err() {
                // As before pooling: uuid asks the kernel again, and panics if it cannot.
                return uuid::Uuid::new_v4().as_u64_pair().0;
            }
            for (word, chunk) in pool.words.iter_mut().zip(bytes.chunks_exact(8)) {
                *word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            }
            pool.used = 0;
        }
        pool.used += 1;
        pool.words[pool.used - 1]
    })
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
    fn ids_have_prefix_time_and_random_part() {
        let id = new_id(IdKind::Thread);
        assert!(id.starts_with("thr_"));
        assert_eq!(id.len(), 4 + 11 + 16);
        assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, new_id(IdKind::Thread));
    }

    #[test]
    fn random_parts_do_not_repeat_across_pool_refills() {
        let parts: std::collections::HashSet<String> = (0..POOLED * 4)
            .map(|_| new_id(IdKind::Run)[4 + 11..].to_owned())
            .collect();
        assert_eq!(parts.len(), POOLED * 4);
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let first = new_id(IdKind::Message);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id(IdKind::Message);
        assert!(second > first, "{second} sorts before {first}");
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
