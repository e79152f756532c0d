//! The operator console: the first admin, created at start when there is no operator yet, and
//! how long operator sessions live.

use std::time::Duration;

use super::{ConfigError, Secret, parse};

#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// `CHATKIT_ADMIN_EMAIL` and `CHATKIT_ADMIN_PASSWORD`: the admin created at start when
    /// there is no operator yet. Both or neither.
    pub first_admin: Option<(String, Secret)>,
    /// `CHATKIT_ADMIN_SESSION_IDLE_MINS` (30): a session unused this long ends.
    pub session_idle: Duration,
    /// `CHATKIT_ADMIN_SESSION_MAX_HOURS` (12): a session ends this long after sign-in,
    /// however active.
    pub session_max: Duration,
    /// Session cookies carry `Secure`: true when `CHATKIT_PUBLIC_URL` is https.
    pub secure_cookies: bool,
}

impl ConsoleSettings {
    /// `raw` reads a variable untrimmed (the password is taken as given: spaces at either end
    /// may be part of it); `public_url` is the checked `CHATKIT_PUBLIC_URL`.
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
        raw: &impl Fn(&str) -> Option<String>,
        public_url: Option<&str>,
    ) -> Result<ConsoleSettings, ConfigError> {
        let password = raw("CHATKIT_ADMIN_PASSWORD").filter(|p| !p.trim().is_empty());
        let first_admin = match (get("CHATKIT_ADMIN_EMAIL"), password) {
            (None, None) => None,
            (Some(email), Some(password)) => Some((email, Secret::new(password))),
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "CHATKIT_ADMIN_PASSWORD",
                    "must be set with CHATKIT_ADMIN_EMAIL",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "CHATKIT_ADMIN_EMAIL",
                    "must be set with CHATKIT_ADMIN_PASSWORD",
                ));
            }
        };
        // Fractions are allowed, down to a second, which short-lived test servers use.
        let idle_mins = parse::number(
            get,
            "CHATKIT_ADMIN_SESSION_IDLE_MINS",
            30.0f64,
            1.0 / 60.0,
            7.0 * 24.0 * 60.0,
        )?;
        let max_hours = parse::number(
            get,
            "CHATKIT_ADMIN_SESSION_MAX_HOURS",
            12.0f64,
            1.0 / 3600.0,
            30.0 * 24.0,
        )?;
        Ok(ConsoleSettings {
            first_admin,
            session_idle: Duration::from_secs_f64(idle_mins * 60.0),
            session_max: Duration::from_secs_f64(max_hours * 3600.0),
            secure_cookies: public_url.is_some_and(|url| url.starts_with("https://")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use std::time::Duration;

    #[test]
    fn defaults_fractions_and_the_first_admin() {
        let s = settings(&[]).unwrap().console;
        assert!(s.first_admin.is_none());
        assert_eq!(s.session_idle, Duration::from_secs(30 * 60));
        assert_eq!(s.session_max, Duration::from_secs(12 * 3600));
        assert!(!s.secure_cookies);

        let s = settings(&[
            ("CHATKIT_ADMIN_EMAIL", "root@example.com"),
            ("CHATKIT_ADMIN_PASSWORD", " pass phrase "),
            ("CHATKIT_ADMIN_SESSION_IDLE_MINS", "0.05"),
            ("CHATKIT_ADMIN_SESSION_MAX_HOURS", "0.001"),
            ("CHATKIT_PUBLIC_URL", "https://chat.example.com"),
        ])
        .unwrap()
        .console;
        let (email, password) = s.first_admin.clone().unwrap();
        assert_eq!(email, "root@example.com");
        assert_eq!(password.expose(), " pass phrase ");
        assert!(!format!("{s:?}").contains("pass phrase"));
        assert_eq!(s.session_idle, Duration::from_secs(3));
        assert_eq!(s.session_max, Duration::from_secs_f64(3.6));
        assert!(s.secure_cookies);
    }

    #[test]
    fn half_a_first_admin_or_a_zero_timeout_is_refused() {
        let e = settings(&[("CHATKIT_ADMIN_EMAIL", "a@example.com")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_ADMIN_PASSWORD");
        let e = settings(&[("CHATKIT_ADMIN_PASSWORD", "x")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_ADMIN_EMAIL");
        let e = settings(&[("CHATKIT_ADMIN_SESSION_IDLE_MINS", "0")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_ADMIN_SESSION_IDLE_MINS");
        let e = settings(&[("CHATKIT_ADMIN_SESSION_MAX_HOURS", "NaN")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_ADMIN_SESSION_MAX_HOURS");
    }
}
