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
