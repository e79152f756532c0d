//! The answers of `threads.get_by_id`, `threads.list` and `items.list`, kept in memory so that a
//! client reading again what has not changed is answered without the database.
//!
//! An answer is filed under the store's mark taken before it was read, and found only under
//! the same mark: any change committed since (here, or on Postgres in any process) has moved
//! the mark on, so a stale answer is never served (`store::freshness` tells how). The key is the
//! caller's scope and the request's exact bytes. Answers that sign URLs (image previews, which
//! expire) are not kept. Memory is bounded: a shard over its share of the budget first drops
//! what is stale, then everything.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;

use crate::store::Scope;

/// Shards, so that concurrent reads seldom wait for one another.
const SHARDS: usize = 16;

/// A single answer larger than this is not kept (a page of 200 long items).
const LARGEST_ANSWER: usize = 1 << 20;

pub struct ReadCache {
    shards: Vec<Mutex<Shard>>,
    /// Each shard's share of the memory budget, in bytes of keys and answers.
    shard_budget: usize,
}

#[derive(Default)]
struct Shard {
    entries: HashMap<Vec<u8>, Entry>,
    bytes: usize,
}

struct Entry {
    mark: u64,
    answer: Bytes,
}

impl ReadCache {
    /// A cache holding up to about `budget` bytes; `None` for a budget of 0 (no cache).
    pub fn new(budget: usize) -> Option<ReadCache> {
        (budget > 0).then(|| ReadCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_budget: budget / SHARDS,
        })
    }

    /// The key of `request` (its exact bytes) from `scope`.
    pub fn key(scope: &Scope, request: &[u8]) -> Vec<u8> {
        let mut key = Vec::with_capacity(
            scope.account_id.len()
                + scope.agent_id.len()
                + scope.user_id.len()
                + request.len()
                + 12,
        );
        // Each part after its length, so no two scopes and requests make the same key.
        for part in [&scope.account_id, &scope.agent_id, &scope.user_id] {
            key.extend_from_slice(&(part.len() as u32).to_le_bytes());
            key.extend_from_slice(part.as_bytes());
        }
        key.extend_from_slice(request);
        key
    }

    /// The answer filed under `key` and `mark`, if there is one.
    pub fn get(&self, key: &[u8], mark: u64) -> Option<Bytes> {
        let shard = self.shard(key);
        let entry = shard.entries.get(key)?;
        (entry.mark == mark).then(|| entry.answer.clone())
    }

    /// Files `answer` under `key` and `mark`; `is_current` tells which marks are still good
    /// when room must be made.
    pub fn put(&self, key: Vec<u8>, mark: u64, answer: Bytes, is_current: impl Fn(u64) -> bool) {
        let size = key.len() + answer.len();
        if size > LARGEST_ANSWER.min(self.shard_budget) {
            return;
        }
        let mut shard = self.shard(&key);
        if shard.bytes + size > self.shard_budget {
            shard.entries.retain(|_, entry| is_current(entry.mark));
            shard.bytes = shard
                .entries
                .iter()
                .map(|(key, entry)| key.len() + entry.answer.len())
                .sum();
            if shard.bytes + size > self.shard_budget {
                shard.entries.clear();
                shard.bytes = 0;
            }
        }
        shard.bytes += size;
        let key_len = key.len();
        if let Some(old) = shard.entries.insert(key, Entry { mark, answer }) {
            shard.bytes -= key_len + old.answer.len();
        }
    }

    fn shard(&self, key: &[u8]) -> std::sync::MutexGuard<'_, Shard> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        self.shards[(hash as usize) % SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(user: &str) -> Scope {
        Scope {
            account_id: "acc".into(),
            agent_id: "agt".into(),
            user_id: user.into(),
        }
    }

    #[test]
    fn answers_are_found_only_under_their_mark_and_scope() {
        let cache = ReadCache::new(1 << 20).unwrap();
        let key = ReadCache::key(&scope("ann"), b"{}");
        cache.put(key.clone(), 7, Bytes::from_static(b"answer"), |_| true);
        assert_eq!(cache.get(&key, 7).as_deref(), Some(&b"answer"[..]));
        assert_eq!(cache.get(&key, 8), None);
        assert_eq!(cache.get(&ReadCache::key(&scope("bob"), b"{}"), 7), None);
        // No user id and request read as another's.
        assert_ne!(
            ReadCache::key(&scope("ann"), b"\0x"),
            ReadCache::key(&scope("ann\0"), b"x")
        );
    }

    #[test]
    fn memory_stays_within_the_budget() {
        let cache = ReadCache::new(SHARDS * 1000).unwrap();
        for i in 0..10_000u32 {
            let key = ReadCache::key(&scope("ann"), &i.to_le_bytes());
            cache.put(key, u64::from(i), Bytes::from(vec![0u8; 100]), |m| {
                m + 5 > 10_000
            });
        }
        for shard in &cache.shards {
            let shard = shard.lock().unwrap();
            let counted: usize = shard
                .entries
                .iter()
                .map(|(k, e)| k.len() + e.answer.len())
                .sum();
            assert_eq!(shard.bytes, counted);
            assert!(shard.bytes <= 1000, "{} bytes", shard.bytes);
        }
        // Too large for a shard: not kept.
        let key = ReadCache::key(&scope("ann"), b"big");
        cache.put(key.clone(), 1, Bytes::from(vec![0u8; 2000]), |_| true);
        assert_eq!(cache.get(&key, 1), None);
    }
}
