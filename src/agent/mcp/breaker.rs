//! A circuit breaker per MCP server, kept for as long as the process runs. Without it a server
//! that accepts connections and never answers costs every turn its whole timeout, and every
//! turn opens one more connection to it. After a failure the server is skipped for a back-off
//! that doubles with each failure in a row (capped); then one request goes through as a probe
//! (half-open) while the others are still skipped, and the first success closes the breaker.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The back-off after a first failure; each failure in a row doubles it.
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// The longest back-off, so that a server that comes back is found within a minute.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct Breaker {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Failures in a row; 0 while closed.
    failures: u32,
    /// When the current back-off ends.
    retry_at: Option<Instant>,
    /// A probe is under way; other requests are still skipped.
    probing: bool,
}

/// Leave to send one request; tell the breaker how it went. A probe dropped unsettled (its
/// turn was cancelled) lets the next request probe instead.
#[must_use]
pub(super) struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    settled: bool,
}

impl Breaker {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Leave to send a request now, or how long the server is still skipped.
    pub(super) fn admit(&self) -> Result<Permit<'_>, Duration> {
        self.admit_at(Instant::now())
    }

    fn admit_at(&self, now: Instant) -> Result<Permit<'_>, Duration> {
        let mut state = self.state();
        if state.failures == 0 {
            return Ok(self.permit(false));
        }
        let retry_at = state.retry_at.unwrap_or(now);
        if state.probing || now < retry_at {
            return Err(retry_at.saturating_duration_since(now));
        }
        state.probing = true;
        Ok(self.permit(true))
    }

    fn permit(&self, probe: bool) -> Permit<'_> {
        Permit {
            breaker: self,
            probe,
            settled: false,
        }
    }
}

impl Permit<'_> {
    /// The server answered (even with an error of its own): it is up.
    pub(super) fn succeeded(mut self) {
        self.settled = true;
        *self.breaker.state() = State::default();
    }

    /// The server could not be reached or did not answer in time.
    pub(super) fn failed(self) {
        self.failed_at(Instant::now());
    }

    fn failed_at(mut self, now: Instant) {
        self.settled = true;
        let mut state = self.breaker.state();
        // Requests sent while it was still closed fail together: that is one failure.
        if !self.probe && state.failures > 0 {
            return;
        }
        state.failures = state.failures.saturating_add(1);
        state.retry_at = Some(now + backoff(state.failures));
        state.probing = false;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe && !self.settled {
            self.breaker.state().probing = false;
        }
    }
}

/// The back-off after `failures` failures in a row.
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), FIRST_BACKOFF);
        assert_eq!(backoff(2), FIRST_BACKOFF * 2);
        assert_eq!(backoff(3), FIRST_BACKOFF * 4);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn a_failure_skips_the_server_until_a_probe_succeeds() {
        let breaker = Breaker::default();
        let start = Instant::now();
        breaker.admit_at(start).unwrap().failed_at(start);
        assert_eq!(breaker.admit_at(start).err(), Some(FIRST_BACKOFF));

        // After the back-off, one probe; the others are still skipped while it runs.
        let later = start + FIRST_BACKOFF;
        let probe = breaker.admit_at(later).unwrap();
        assert!(breaker.admit_at(later).is_err());
        probe.failed_at(later);
        assert_eq!(breaker.admit_at(later).err(), Some(FIRST_BACKOFF * 2));

        let later = later + FIRST_BACKOFF * 2;
        breaker.admit_at(later).unwrap().succeeded();
        assert!(!breaker.admit_at(later).unwrap().probe, "closed again");
    }

    #[test]
    fn failures_sent_together_count_once_and_a_dropped_probe_frees_its_place() {
        let breaker = Breaker::default();
        let now = Instant::now();
        let (a, b) = (
            breaker.admit_at(now).unwrap(),
            breaker.admit_at(now).unwrap(),
        );
        a.failed_at(now);
        b.failed_at(now);
        assert_eq!(breaker.admit_at(now).err(), Some(FIRST_BACKOFF));

        let later = now + FIRST_BACKOFF;
        drop(breaker.admit_at(later).unwrap());
        assert!(breaker.admit_at(later).unwrap().probe);
    }
}
