//! Rate limits and quotas of the chat endpoint, per user and per account (see
//! [`LimitSettings`]). Per-minute buckets are GCRA limiters from `governor`, keyed by user or
//! account and kept in this process (each process of a deployment counts its own); the daily
//! token quotas sum the day's usage that runs record as they end, so they hold across
//! processes sharing a database. Concurrent streams are counted here and released when a
//! stream's body is dropped. Refusals are logged, and counted for the usage page. An agent
//! may set limits of its own (its `limits` column): requests to it then count in buckets, stream
//! slots and daily token sums of its own.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::{LimitOverrides, LimitSettings};
use crate::store::{AgentRow, RefusalCount, Scope, Store, StoreError};

/// A limit someone ran into, with how long until a request may pass again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub limit: Limit,
    pub retry_after: Duration,
}

/// Which limit refused a request; its `Display` is a sentence a user can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    UserRequests(NonZeroU32),
    AccountRequests(NonZeroU32),
    UserTurns(NonZeroU32),
    AccountTurns(NonZeroU32),
    UserStreams(NonZeroU32),
    UserTokens(u64),
    AccountTokens(u64),
}

impl Limit {
    /// The limit's name in the usage records.
    pub fn kind(&self) -> &'static str {
        match self {
            Limit::UserRequests(_) => "user requests per minute",
            Limit::AccountRequests(_) => "account requests per minute",
            Limit::UserTurns(_) => "user turns per minute",
            Limit::AccountTurns(_) => "account turns per minute",
            Limit::UserStreams(_) => "concurrent streams per user",
            Limit::UserTokens(_) => "user tokens per day",
            Limit::AccountTokens(_) => "account tokens per day",
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::UserRequests(n) => write!(f, "you have sent {n} requests this minute"),
            Limit::AccountRequests(n) => {
                write!(f, "your organisation has sent {n} requests this minute")
            }
            Limit::UserTurns(n) => write!(f, "you have sent {n} messages this minute"),
            Limit::AccountTurns(n) => {
                write!(f, "your organisation has sent {n} messages this minute")
            }
            Limit::UserStreams(n) => write!(f, "you already have {n} answers being written"),
            Limit::UserTokens(n) => write!(f, "you have used today's {n} tokens"),
            Limit::AccountTokens(n) => write!(f, "your organisation has used today's {n} tokens"),
        }
    }
}

impl Refusal {
    /// Whole seconds until a request may pass (`Retry-After`), at least one.
    pub fn retry_after_secs(&self) -> u64 {
        let whole = self.retry_after.as_secs();
        (whole + u64::from(self.retry_after.subsec_nanos() > 0)).max(1)
    }

    /// What the user is told: the limit and when to try again.
    pub fn message(&self) -> String {
        let secs = self.retry_after_secs();
        let wait = if secs < 120 {
            format!("{secs} seconds")
        } else {
            format!("{} minutes", secs.div_ceil(60))
        };
        format!("Usage limit reached: {}. Try again in {wait}.", self.limit)
    }
}

type Buckets = DefaultKeyedRateLimiter<String>;

/// The limiter of one server process; cheap to clone.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: DefaultClock,
    /// The server's limits, for agents with none of their own.
    server: Arc<Rules>,
    /// Agents with limits of their own, by agent id: the server's settings with the agent's in
    /// their place, counted in buckets of their own. Made again when an agent's change.
    agents: Mutex<HashMap<String, Arc<Rules>>>,
    /// Streams open per user key; a key leaves the map when its last stream ends.
    streams: Mutex<HashMap<String, u32>>,
    /// Refusals since they were last written: (account, user, limit kind) -> count. Counted
    /// here and written in batches, so a client hammering past a limit costs no write each.
    refusals: Mutex<HashMap<(String, String, &'static str), i64>>,
}

/// One set of limits and the buckets that count against it.
struct Rules {
    settings: LimitSettings,
    /// The agent these count for, when they are an agent's own (keys and token sums are then
    /// that agent's alone).
    agent_id: Option<String>,
    user_requests: Option<Buckets>,
    account_requests: Option<Buckets>,
    user_turns: Option<Buckets>,
    account_turns: Option<Buckets>,
}

impl Rules {
    fn new(settings: LimitSettings, agent_id: Option<String>) -> Rules {
        Rules {
            user_requests: buckets(settings.user_requests_per_minute),
            account_requests: buckets(settings.account_requests_per_minute),
            user_turns: buckets(settings.user_turns_per_minute),
            account_turns: buckets(settings.account_turns_per_minute),
            settings,
            agent_id,
        }
    }

    /// The key of `scope`'s user, or of its whole account, in these rules' buckets.
    fn key(&self, scope: &Scope, user: bool) -> String {
        let agent = self.agent_id.as_deref().unwrap_or("");
        if user {
            format!("{agent}\u{0}{}\u{0}{}", scope.account_id, scope.user_id)
        } else {
            format!("{agent}\u{0}{}", scope.account_id)
        }
    }

    fn all_buckets(&self) -> impl Iterator<Item = &Buckets> {
        [
            &self.user_requests,
            &self.account_requests,
            &self.user_turns,
            &self.account_turns,
        ]
        .into_iter()
        .flatten()
    }
}

/// A user's concurrent-stream slot, held by the stream's body and given back when it drops.
pub struct StreamPermit {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut streams = self.inner.streams.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(open) = streams.get_mut(&self.key) {
            *open -= 1;
            if *open == 0 {
                streams.remove(&self.key);
            }
        }
    }
}

fn buckets(per_minute: Option<NonZeroU32>) -> Option<Buckets> {
    per_minute.map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

/// The agent's own limits, when its row sets any it can read.
fn own_limits(agent: &AgentRow) -> Option<LimitOverrides> {
    let json = agent.limits.as_deref()?;
    match serde_json::from_str::<LimitOverrides>(json) {
        Ok(own) => own.limits_requests().then_some(own),
        Err(e) => {
            log::warn!(
                "agent {}: its limits are unreadable ({e}); the server's apply",
                agent.slug
            );
            None
        }
    }
}

impl Limiter {
    pub fn new(settings: LimitSettings, store: Store) -> Limiter {
        Limiter {
            inner: Arc::new(Inner {
                server: Arc::new(Rules::new(settings, None)),
                agents: Mutex::new(HashMap::new()),
                store,
                clock: DefaultClock::default(),
                streams: Mutex::new(HashMap::new()),
                refusals: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The rules requests to `agent` count against.
    fn rules(&self, agent: &AgentRow) -> Arc<Rules> {
        let Some(own) = own_limits(agent) else {
            return self.inner.server.clone();
        };
        let settings = self.inner.server.settings.with(&own);
        let mut agents = self.inner.agents.lock().unwrap_or_else(|e| e.into_inner());
        match agents.get(&agent.id) {
            Some(rules) if rules.settings == settings => rules.clone(),
            _ => {
                let rules = Arc::new(Rules::new(settings, Some(agent.id.clone())));
                agents.insert(agent.id.clone(), rules.clone());
                rules
            }
        }
    }

    /// Counts one request of `scope`'s user to `agent` against the per-minute request limits.
    pub fn request(&self, scope: &Scope, agent: &AgentRow) -> Result<(), Refusal> {
        let rules = self.rules(agent);
        let settings = &rules.settings;
        let user = (
            &rules.user_requests,
            rules.key(scope, true),
            settings.user_requests_per_minute.map(Limit::UserRequests),
        );
        let account = (
            &rules.account_requests,
            rules.key(scope, false),
            settings
                .account_requests_per_minute
                .map(Limit::AccountRequests),
        );
        self.take(scope, [user, account])
    }

    /// Admits a request that starts a streamed turn: a free stream slot, today's tokens under
    /// the quotas, then one turn off the per-minute turn limits. The permit must live as long
    /// as the stream.
    pub async fn turn(
        &self,
        scope: &Scope,
        agent: &AgentRow,
    ) -> Result<Option<StreamPermit>, TurnRefused> {
        let rules = self.rules(agent);
        let permit = self
            .stream_permit(scope, &rules)
            .map_err(|r| self.refused(scope, r))?;
        self.tokens(scope, &rules).await?;
        let settings = &rules.settings;
        let user = (
            &rules.user_turns,
            rules.key(scope, true),
            settings.user_turns_per_minute.map(Limit::UserTurns),
        );
        let account = (
            &rules.account_turns,
            rules.key(scope, false),
            settings.account_turns_per_minute.map(Limit::AccountTurns),
        );
        self.take(scope, [user, account])?;
        Ok(permit)
    }

    /// Forgets buckets that are full again, so memory follows the users active in the last
    /// minute rather than every user ever seen.
    pub fn forget_idle(&self) {
        let agents: Vec<Arc<Rules>> = self
            .inner
            .agents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for rules in agents.iter().chain([&self.inner.server]) {
            for buckets in rules.all_buckets() {
                buckets.retain_recent();
                buckets.shrink_to_fit();
            }
        }
    }

    /// Takes one cell from each configured bucket, stopping at the first that is empty.
    fn take(
        &self,
        scope: &Scope,
        checks: [(&Option<Buckets>, String, Option<Limit>); 2],
    ) -> Result<(), Refusal> {
        for (buckets, key, limit) in checks {
            let (Some(buckets), Some(limit)) = (buckets, limit) else {
                continue;
            };
            if let Err(not_until) = buckets.check_key(&key) {
                let retry_after = not_until.wait_time_from(self.inner.clock.now());
                return Err(self.refused(scope, Refusal { limit, retry_after }));
            }
        }
        Ok(())
    }

    fn stream_permit(&self, scope: &Scope, rules: &Rules) -> Result<Option<StreamPermit>, Refusal> {
        let Some(max) = rules.settings.user_concurrent_streams else {
            return Ok(None);
        };
        let key = rules.key(scope, true);
        let mut streams = self.inner.streams.lock().unwrap_or_else(|e| e.into_inner());
        let open = streams.entry(key.clone()).or_default();
        if *open >= max.get() {
            return Err(Refusal {
                limit: Limit::UserStreams(max),
                // Streams end when their answer does; a few seconds is a fair first guess.
                retry_after: Duration::from_secs(5),
            });
        }
        *open += 1;
        Ok(Some(StreamPermit {
            inner: self.inner.clone(),
            key,
        }))
    }

    /// Refuses when today's tokens (since UTC midnight) reached a quota: of the whole account
    /// or user, or, under an agent's own quotas, of what they used of that agent.
    async fn tokens(&self, scope: &Scope, rules: &Rules) -> Result<(), TurnRefused> {
        let settings = &rules.settings;
        let quotas = [
            (
                settings.user_tokens_per_day,
                Limit::UserTokens as fn(u64) -> Limit,
                Some(&scope.user_id),
            ),
            (settings.account_tokens_per_day, Limit::AccountTokens, None),
        ];
        let now = Utc::now();
        let midnight = now.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
        for (quota, limit, user) in quotas {
            let Some(quota) = quota else { continue };
            let used = self
                .inner
                .store
                .tokens_on(
                    &scope.account_id,
                    user.map(String::as_str),
                    rules.agent_id.as_deref(),
                    now.date_naive(),
                )
                .await?;
            if used >= quota {
                let next_midnight = midnight + chrono::Duration::days(1);
                let retry_after = (next_midnight - now.naive_utc())
                    .to_std()
                    .unwrap_or(Duration::from_secs(1));
                let limit = limit(quota);
                return Err(self.refused(scope, Refusal { limit, retry_after }).into());
            }
        }
        Ok(())
    }

    /// Logs who ran into which limit, for operators.
    fn refused(&self, scope: &Scope, refusal: Refusal) -> Refusal {
        log::warn!(
            "rate limited: user '{}' of account {} (agent {}) hit the limit '{:?}'; retry in {}s",
            scope.user_id,
            scope.account_id,
            scope.agent_id,
            refusal.limit,
            refusal.retry_after_secs(),
        );
        crate::observe::metrics::rate_limited(refusal.limit.kind());
        let key = (
            scope.account_id.clone(),
            scope.user_id.clone(),
            refusal.limit.kind(),
        );
        *self
            .inner
            .refusals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_default() += 1;
        refusal
    }

    /// Writes the refusals counted since the last call to today's usage records (for the
    /// console's usage page); kept for the next call when the write fails.
    pub async fn write_refusals(&self) {
        let counted = std::mem::take(
            &mut *self
                .inner
                .refusals
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if counted.is_empty() {
            return;
        }
        let day = Utc::now().date_naive();
        let rows = counted
            .iter()
            .map(|((account_id, user_id, kind), n)| RefusalCount {
                day,
                account_id: account_id.clone(),
                user_id: user_id.clone(),
                limit_kind: (*kind).to_owned(),
                refusals: *n,
            })
            .collect();
        if let Err(e) = self.inner.store.add_refusals(rows).await {
            log::error!("cannot record refusals of the rate limits: {e}");
            let mut refusals = self
                .inner
                .refusals
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (key, n) in counted {
                *refusals.entry(key).or_default() += n;
            }
        }
    }
}

/// Why a turn was not admitted: a limit, or the store could not say how much was used.
#[derive(Debug, thiserror::Error)]
pub enum TurnRefused {
    #[error("{}", .0.message())]
    Limited(Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<Refusal> for TurnRefused {
    fn from(refusal: Refusal) -> Self {
        TurnRefused::Limited(refusal)
    }
}
