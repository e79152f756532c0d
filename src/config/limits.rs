//! Rate limits and quotas of the chat endpoint, per user and per account: requests and
//! streamed turns per minute, concurrent streams per user, model tokens per UTC day. Every
//! limit is off unless set (`0` also means off); they apply to every agent alike.

use std::num::NonZeroU32;

use super::{ConfigError, parse};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitSettings {
    /// `CHATKIT_LIMIT_USER_REQUESTS_PER_MINUTE`: requests of any type to `/chatkit`.
    pub user_requests_per_minute: Option<NonZeroU32>,
    /// `CHATKIT_LIMIT_ACCOUNT_REQUESTS_PER_MINUTE`: the same, all users of an account together.
    pub account_requests_per_minute: Option<NonZeroU32>,
    /// `CHATKIT_LIMIT_USER_TURNS_PER_MINUTE`: requests that start a streamed turn.
    pub user_turns_per_minute: Option<NonZeroU32>,
    /// `CHATKIT_LIMIT_ACCOUNT_TURNS_PER_MINUTE`.
    pub account_turns_per_minute: Option<NonZeroU32>,
    /// `CHATKIT_LIMIT_USER_CONCURRENT_STREAMS`: turns of one user streaming at once.
    pub user_concurrent_streams: Option<NonZeroU32>,
    /// `CHATKIT_LIMIT_USER_TOKENS_PER_DAY`: prompt plus completion tokens the runs table
    /// records for the user since UTC midnight.
    pub user_tokens_per_day: Option<u64>,
    /// `CHATKIT_LIMIT_ACCOUNT_TOKENS_PER_DAY`.
    pub account_tokens_per_day: Option<u64>,
}

impl LimitSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<LimitSettings, ConfigError> {
        let rate = |var| per_minute(get, var);
        let tokens =
            |var| parse::number(get, var, 0u64, 0, u64::MAX / 2).map(|n| (n > 0).then_some(n));
        Ok(LimitSettings {
            user_requests_per_minute: rate("CHATKIT_LIMIT_USER_REQUESTS_PER_MINUTE")?,
            account_requests_per_minute: rate("CHATKIT_LIMIT_ACCOUNT_REQUESTS_PER_MINUTE")?,
            user_turns_per_minute: rate("CHATKIT_LIMIT_USER_TURNS_PER_MINUTE")?,
            account_turns_per_minute: rate("CHATKIT_LIMIT_ACCOUNT_TURNS_PER_MINUTE")?,
            user_concurrent_streams: rate("CHATKIT_LIMIT_USER_CONCURRENT_STREAMS")?,
            user_tokens_per_day: tokens("CHATKIT_LIMIT_USER_TOKENS_PER_DAY")?,
            account_tokens_per_day: tokens("CHATKIT_LIMIT_ACCOUNT_TOKENS_PER_DAY")?,
        })
    }
}

/// An agent's own limits (the `limits` JSON of its row, set in the console): each one set
/// replaces the server's for requests to that agent, which are then counted apart from other
/// agents' (its own buckets, streams and daily tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_requests_per_minute: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_requests_per_minute: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_turns_per_minute: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_turns_per_minute: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_concurrent_streams: Option<NonZeroU32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_tokens_per_day: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_tokens_per_day: Option<u64>,
    /// Not a limit of requests: the estimated tokens of model input (instructions and
    /// history) the agent may send, in place of `CHATKIT_CONTEXT_TOKENS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<NonZeroU32>,
}

impl LimitOverrides {
    pub fn is_empty(&self) -> bool {
        *self == LimitOverrides::default()
    }

    /// Whether any limit of requests or tokens per day is set (the context budget is not one).
    pub fn limits_requests(&self) -> bool {
        LimitOverrides {
            context_tokens: None,
            ..self.clone()
        } != LimitOverrides::default()
    }
}

impl LimitSettings {
    /// These settings with an agent's own limits in place of the ones it sets.
    pub fn with(&self, own: &LimitOverrides) -> LimitSettings {
        LimitSettings {
            user_requests_per_minute: own
                .user_requests_per_minute
                .or(self.user_requests_per_minute),
            account_requests_per_minute: own
                .account_requests_per_minute
                .or(self.account_requests_per_minute),
            user_turns_per_minute: own.user_turns_per_minute.or(self.user_turns_per_minute),
            account_turns_per_minute: own
                .account_turns_per_minute
                .or(self.account_turns_per_minute),
            user_concurrent_streams: own.user_concurrent_streams.or(self.user_concurrent_streams),
            user_tokens_per_day: own.user_tokens_per_day.or(self.user_tokens_per_day),
            account_tokens_per_day: own.account_tokens_per_day.or(self.account_tokens_per_day),
        }
    }
}

/// A count from 0 (off) to a million.
fn per_minute(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
) -> Result<Option<NonZeroU32>, ConfigError> {
    parse::number(get, var, 0u32, 0, 1_000_000).map(NonZeroU32::new)
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn an_agents_own_limits_replace_the_ones_they_set() {
        let server = settings(&[
            ("CHATKIT_LIMIT_USER_TURNS_PER_MINUTE", "2"),
            ("CHATKIT_LIMIT_USER_TOKENS_PER_DAY", "500"),
        ])
        .unwrap()
        .limits;
        let own: LimitOverrides =
            serde_json::from_str(r#"{"user_turns_per_minute": 1, "account_tokens_per_day": 9}"#)
                .unwrap();
        let merged = server.with(&own);
        assert_eq!(merged.user_turns_per_minute, NonZeroU32::new(1));
        assert_eq!(merged.user_tokens_per_day, Some(500));
        assert_eq!(merged.account_tokens_per_day, Some(9));
        assert!(serde_json::from_str::<LimitOverrides>(r#"{"user_turns_per_minute": 0}"#).is_err());
        assert!(serde_json::from_str::<LimitOverrides>(r#"{"turns": 1}"#).is_err());
        assert!(LimitOverrides::default().is_empty());
    }

    #[test]
    fn off_unless_set() {
        assert_eq!(settings(&[]).unwrap().limits, LimitSettings::default());
        let s = settings(&[
            ("CHATKIT_LIMIT_USER_TURNS_PER_MINUTE", "2"),
            ("CHATKIT_LIMIT_ACCOUNT_REQUESTS_PER_MINUTE", "0"),
            ("CHATKIT_LIMIT_ACCOUNT_TOKENS_PER_DAY", "100000"),
        ])
        .unwrap()
        .limits;
        assert_eq!(s.user_turns_per_minute, NonZeroU32::new(2));
        assert_eq!(s.account_requests_per_minute, None);
        assert_eq!(s.account_tokens_per_day, Some(100_000));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("CHATKIT_LIMIT_USER_CONCURRENT_STREAMS", "-1")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_LIMIT_USER_CONCURRENT_STREAMS");
        let e = settings(&[("CHATKIT_LIMIT_USER_TOKENS_PER_DAY", "lots")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_LIMIT_USER_TOKENS_PER_DAY");
    }
}
