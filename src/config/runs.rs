//! How runs outlive trouble: how long a shutdown lets streams finish, and when a run whose
//! process stopped refreshing it counts as dead.

use std::time::Duration;

use super::{ConfigError, parse};

#[derive(Debug, Clone)]
pub struct RunSettings {
    /// `CHATKIT_SHUTDOWN_GRACE_SECS` (25): on SIGTERM or SIGINT, streams may finish for this
    /// long; the rest are then interrupted (their partial answers kept) and told to retry.
    pub shutdown_grace: Duration,
    /// `CHATKIT_RUN_STALE_SECS` (30): a running run whose process has not refreshed it for this
    /// long belongs to a process that died, and any process marks it interrupted.
    pub stale_after: Duration,
}

impl RunSettings {
    pub(super) fn from_vars(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(RunSettings {
            shutdown_grace: parse::secs(get, "CHATKIT_SHUTDOWN_GRACE_SECS", 25, 0, 3600)?,
            // At least 3 s: a live process refreshes its runs three times within the window.
            stale_after: parse::secs(get, "CHATKIT_RUN_STALE_SECS", 30, 3, 86_400)?,
        })
    }

    /// How often a process refreshes its running runs and looks for dead ones: every 5 s, or
    /// often enough that a live run is refreshed three times within `stale_after`.
    pub fn heartbeat_every(&self) -> Duration {
        (self.stale_after / 3).min(Duration::from_secs(5))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;

    #[test]
    fn defaults_and_bounds() {
        let s = settings(&[]).unwrap().runs;
        assert_eq!(s.shutdown_grace.as_secs(), 25);
        assert_eq!(s.stale_after.as_secs(), 30);
        assert_eq!(s.heartbeat_every().as_secs(), 5);
        let s = settings(&[("CHATKIT_RUN_STALE_SECS", "3")]).unwrap().runs;
        assert_eq!(s.heartbeat_every().as_secs(), 1);
        let e = settings(&[("CHATKIT_RUN_STALE_SECS", "1")]).unwrap_err();
        assert!(e.to_string().contains("CHATKIT_RUN_STALE_SECS"), "{e}");
        let e = settings(&[("CHATKIT_SHUTDOWN_GRACE_SECS", "soon")]).unwrap_err();
        assert!(e.to_string().contains("CHATKIT_SHUTDOWN_GRACE_SECS"), "{e}");
    }
}
