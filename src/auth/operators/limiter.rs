//! Failed sign-ins counted per email and per client address in a sliding window. In memory:
//! a restart forgets the counts, which only gives an attacker one more window, and each process
//! of a fleet counts on its own (the limits are per process).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many failures are allowed within `window` before sign-ins are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_email: usize,
    pub per_ip: usize,
    pub window: Duration,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            per_email: 10,
            per_ip: 30,
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// Keys kept before old ones are swept out; bounds memory when many addresses fail.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
struct Windows {
    emails: HashMap<String, VecDeque<Instant>>,
    ips: HashMap<String, VecDeque<Instant>>,
}

/// Shared by all workers; cheap to clone.
#[derive(Clone)]
pub struct LoginLimiter {
    limits: LoginLimits,
    windows: Arc<Mutex<Windows>>,
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        LoginLimiter {
            limits,
            windows: Arc::default(),
        }
    }

    /// `Err(wait)` when the email or the address has used up its failures: the time until the
    /// oldest counted failure leaves the window.
    pub fn check(&self, ip: &str, email: &str, now: Instant) -> Result<(), Duration> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let window = self.limits.window;
        let by_email = blocked(
            windows.emails.get_mut(email),
            self.limits.per_email,
            window,
            now,
        );
        let by_ip = blocked(windows.ips.get_mut(ip), self.limits.per_ip, window, now);
        match by_email.max(by_ip) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// Counts a failed attempt against both the email and the address.
    pub fn record_failure(&self, ip: &str, email: &str, now: Instant) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let (limits, window) = (self.limits, self.limits.window);
        push(&mut windows.emails, email, limits.per_email, window, now);
        push(&mut windows.ips, ip, limits.per_ip, window, now);
    }

    /// Forgets the failures of an email after a successful sign-in.
    pub fn forget_email(&self, email: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.emails.remove(email);
    }
}

/// Drops failures older than the window; `Some(wait)` when `limit` remain.
fn blocked(
    failures: Option<&mut VecDeque<Instant>>,
    limit: usize,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    let failures = failures?;
    while failures
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        failures.pop_front();
    }
    if failures.len() < limit {
        return None;
    }
    let oldest = *failures.front()?;
    Some((oldest + window).saturating_duration_since(now))
}

fn push(
    map: &mut HashMap<String, VecDeque<Instant>>,
    key: &str,
    limit: usize,
    window: Duration,
    now: Instant,
) {
    if map.len() >= SWEEP_ABOVE {
        map.retain(|_, failures| {
            failures
                .back()
                .is_some_and(|t| now.saturating_duration_since(*t) < window)
        });
    }
    let failures = map.entry(key.to_owned()).or_default();
    failures.push_back(now);
    // Only the newest `limit` failures decide anything.
    while failures.len() > limit.max(1) {
        failures.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            per_email: 3,
            per_ip: 5,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn an_email_is_blocked_after_its_failures_until_the_oldest_expires() {
        let limiter = limiter();
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(limiter.check("ip", "a@x", t0), Ok(()));
            limiter.record_failure("ip", "a@x", t0 + Duration::from_secs(i * 10));
        }
        let t = t0 + Duration::from_secs(25);
        assert_eq!(
            limiter.check("ip", "a@x", t),
            Err(Duration::from_secs(35)),
            "the first failure (t0) leaves the window at t0 + 60"
        );
        assert_eq!(limiter.check("ip", "b@x", t), Ok(()), "other emails pass");
        assert_eq!(
            limiter.check("ip", "a@x", t0 + Duration::from_secs(60)),
            Ok(())
        );
    }

    #[test]
    fn an_address_is_blocked_across_emails() {
        let limiter = limiter();
        let t0 = Instant::now();
        for i in 0..5 {
            limiter.record_failure("1.2.3.4", &format!("u{i}@x"), t0);
        }
        assert!(limiter.check("1.2.3.4", "fresh@x", t0).is_err());
        assert_eq!(limiter.check("5.6.7.8", "fresh@x", t0), Ok(()));
    }

    #[test]
    fn success_forgets_the_email_but_not_the_address() {
        let limiter = limiter();
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter.record_failure("ip", "a@x", t0);
        }
        assert!(limiter.check("ip", "a@x", t0).is_err());
        limiter.forget_email("a@x");
        assert_eq!(limiter.check("ip", "a@x", t0), Ok(()));
        limiter.record_failure("ip", "a@x", t0);
        limiter.record_failure("ip", "a@x", t0);
        assert!(
            limiter.check("ip", "z@x", t0).is_err(),
            "5 failures from ip"
        );
    }

    #[test]
    fn memory_is_swept_of_expired_keys() {
        let limiter = limiter();
        let t0 = Instant::now();
        for i in 0..SWEEP_ABOVE {
            limiter.record_failure(&format!("ip{i}"), "a@x", t0);
        }
        limiter.record_failure("late", "b@x", t0 + Duration::from_secs(61));
        let windows = limiter.windows.lock().unwrap();
        assert_eq!(windows.ips.len(), 1);
    }
}
