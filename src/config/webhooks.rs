//! Human-input webhooks: where the server reports that a form waits, was answered or expired
//! (`CHATKIT_HUMAN_WEBHOOK_URL`; an agent's own URL, kept in the database, replaces it for that
//! agent), and how the delivery worker retries. Deliveries are signed with
//! `CHATKIT_SECRET_KEY`, so a URL without a key is refused: a receiver could not tell our
//! POSTs from anyone's.

use std::time::Duration;

use super::{ConfigError, parse};

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `CHATKIT_HUMAN_WEBHOOK_URL`: receives the events of every agent without a URL of its own.
    pub human_url: Option<String>,
    /// `CHATKIT_WEBHOOK_RETRY_BASE_MS` (30000): the first retry's delay; later ones grow from it
    /// (x4, x20, x120, then x720: 30 s, 2 min, 10 min, 1 h, 6 h with the default).
    pub retry_base: Duration,
    /// `CHATKIT_WEBHOOK_MAX_ATTEMPTS` (8): attempts before a delivery is marked failed.
    pub max_attempts: u32,
    /// `CHATKIT_WEBHOOK_TIMEOUT_SECS` (10): how long one POST may take.
    pub timeout: Duration,
    /// `CHATKIT_HUMAN_SWEEP_SECS` (15): how often overdue questions are closed as expired (so
    /// `form.expired` goes out without waiting for someone to touch the question).
    pub sweep_every: Duration,
}

impl WebhookSettings {
    /// `has_secret_key`: whether `CHATKIT_SECRET_KEY` is set (deliveries are signed with it).
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
        has_secret_key: bool,
    ) -> Result<WebhookSettings, ConfigError> {
        let human_url = get("CHATKIT_HUMAN_WEBHOOK_URL")
            .map(|raw| {
                webhook_url(&raw).map_err(|problem| {
                    ConfigError::new("CHATKIT_HUMAN_WEBHOOK_URL", format!("'{raw}' {problem}"))
                })
            })
            .transpose()?;
        if human_url.is_some() && !has_secret_key {
            return Err(ConfigError::new(
                "CHATKIT_SECRET_KEY",
                "must be set to sign the webhooks of CHATKIT_HUMAN_WEBHOOK_URL \
                 (e.g. `openssl rand -hex 32`)",
            ));
        }
        Ok(WebhookSettings {
            human_url,
            retry_base: parse::millis(get, "CHATKIT_WEBHOOK_RETRY_BASE_MS", 30_000, 1, 3_600_000)?,
            max_attempts: parse::number(get, "CHATKIT_WEBHOOK_MAX_ATTEMPTS", 8u32, 1, 20)?,
            timeout: parse::secs(get, "CHATKIT_WEBHOOK_TIMEOUT_SECS", 10, 1, 120)?,
            sweep_every: parse::secs(get, "CHATKIT_HUMAN_SWEEP_SECS", 15, 1, 3600)?,
        })
    }
}

/// Checks a receiver's URL: absolute http(s) with a host, no credentials, no fragment.
/// Returns it as given (trimmed) or why it cannot be used. Shared with the agent's own URL.
pub fn webhook_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let url = url::Url::parse(raw).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must start with https:// or http://".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("has no host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password (deliveries are signed)".to_owned());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".to_owned());
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap().webhooks;
        assert_eq!(s.human_url, None);
        assert_eq!(s.retry_base, Duration::from_secs(30));
        assert_eq!(s.max_attempts, 8);
        assert_eq!(s.timeout, Duration::from_secs(10));
        assert_eq!(s.sweep_every, Duration::from_secs(15));
    }

    #[test]
    fn a_url_needs_a_key_to_sign_with() {
        let e =
            settings(&[("CHATKIT_HUMAN_WEBHOOK_URL", "https://hooks.example.com/h")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_SECRET_KEY");
        assert!(e.to_string().contains("CHATKIT_HUMAN_WEBHOOK_URL"), "{e}");
        let s = settings(&[
            (
                "CHATKIT_HUMAN_WEBHOOK_URL",
                "https://hooks.example.com/h?team=7",
            ),
            ("CHATKIT_SECRET_KEY", KEY),
            ("CHATKIT_WEBHOOK_RETRY_BASE_MS", "5"),
        ])
        .unwrap()
        .webhooks;
        assert_eq!(
            s.human_url.as_deref(),
            Some("https://hooks.example.com/h?team=7")
        );
        assert_eq!(s.retry_base, Duration::from_millis(5));
    }

    #[test]
    fn bad_urls_are_named() {
        for bad in [
            "hooks.example.com",
            "ftp://hooks.example.com",
            "https://user:pw@hooks.example.com",
            "https://hooks.example.com/#x",
            "http://",
        ] {
            let e = settings(&[
                ("CHATKIT_HUMAN_WEBHOOK_URL", bad),
                ("CHATKIT_SECRET_KEY", KEY),
            ])
            .unwrap_err();
            assert_eq!(e.var, "CHATKIT_HUMAN_WEBHOOK_URL", "{bad}");
        }
        assert!(webhook_url(" http://127.0.0.1:9/x ").is_ok());
    }
}
