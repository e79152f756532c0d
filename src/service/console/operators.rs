//! Operators and their sessions: sign-in (rate-limited, the same answer and about the same time
//! whether the email exists or not), the current session with idle and absolute timeouts,
//! sign-out, and the admin's management of operators. Every change is audited here, so no
//! caller can forget to.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::audit::AuditService;
use super::{Actor, ConsoleError, OperatorInfo};
use crate::auth::operators::{self as credentials, LoginLimiter};
use crate::store::{
    ChangeOutcome, NewAuditEntry, NewOperator, NewSession, Operator, OperatorChange, Role, Store,
    StoreError,
};

/// Shortest password accepted for a new or reset password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted (a bound on request and hashing work).
pub const MAX_PASSWORD_CHARS: usize = 1024;
const MAX_EMAIL_CHARS: usize = 254;
/// Longest `User-Agent` kept with a session.
const MAX_USER_AGENT_CHARS: usize = 512;
/// `last_seen_at` is written at most this often, so browsing is not a write per page.
const RENEW_EVERY: Duration = Duration::from_secs(60);

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// Ends a session unused for this long.
    pub idle: Duration,
    /// Ends a session this long after sign-in.
    pub max: Duration,
}

impl SessionPolicy {
    /// How stale `last_seen_at` may get before it is written again: once a minute, or more
    /// often when the idle timeout is short, so an active session never idles out.
    fn renew_every(&self) -> Duration {
        RENEW_EVERY.min(self.idle / 2)
    }
}

/// A valid session and who it belongs to.
#[derive(Debug, Clone)]
pub struct CurrentSession {
    pub session_id: String,
    pub operator: OperatorInfo,
    pub csrf_token: String,
}

/// A successful sign-in: the token for the cookie (shown once, stored only as a hash).
#[derive(Debug, Clone)]
pub struct NewLogin {
    pub token: String,
    pub session: CurrentSession,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct OperatorService {
    store: Store,
    audit: AuditService,
    limiter: LoginLimiter,
    policy: SessionPolicy,
}

impl OperatorService {
    pub fn new(
        store: Store,
        audit: AuditService,
        limiter: LoginLimiter,
        policy: SessionPolicy,
    ) -> Self {
        OperatorService {
            store,
            audit,
            limiter,
            policy,
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Signs in. Unknown email, wrong password and disabled operator all give
    /// [`ConsoleError::Unauthenticated`] after one password check; too many recent failures
    /// for the email or the address give [`ConsoleError::RateLimited`] without any check.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<NewLogin, ConsoleError> {
        let email = normalize_email(email);
        let ip_key = ip.unwrap_or("");
        if let Err(retry_after) = self.limiter.check(ip_key, &email, Instant::now()) {
            return Err(ConsoleError::RateLimited { retry_after });
        }
        let operator = self.store.operator_by_email(&email).await?;
        let verdict = check_password(operator.as_ref(), password).await;
        let reason = match (&operator, verdict) {
            (Some(operator), Verdict::Match) if !operator.disabled => None,
            (Some(_), Verdict::Match) => Some("disabled"),
            (Some(_), Verdict::Mismatch) => Some("wrong_password"),
            (None, _) => Some("unknown_email"),
        };
        let (Some(operator), None) = (operator, reason) else {
            self.limiter.record_failure(ip_key, &email, Instant::now());
            self.audit
                .record_as(NewAuditEntry {
                    operator_email: Some(truncate(&email, MAX_EMAIL_CHARS)),
                    ip: ip.map(str::to_owned),
                    action: "login_failed".to_owned(),
                    detail: json!({ "reason": reason }),
                    ..Default::default()
                })
                .await?;
            return Err(ConsoleError::Unauthenticated);
        };
        self.limiter.forget_email(&email);
        let token = credentials::new_token()?;
        let now = Utc::now();
        let expires_at = now + chrono_duration(self.policy.max);
        let record = self
            .store
            .start_session(
                &operator.id,
                NewSession {
                    token_hash: credentials::token_hash(&token),
                    csrf_token: credentials::new_token()?,
                    created_at: now,
                    expires_at,
                    ip: ip.map(str::to_owned),
                    user_agent: user_agent.map(|ua| truncate(ua, MAX_USER_AGENT_CHARS)),
                },
            )
            .await?;
        let info = info(&operator);
        let actor = Actor::operator(info.clone(), ip.map(str::to_owned));
        self.audit
            .record(
                &actor,
                "login",
                Some("session"),
                Some(&record.id),
                json!({}),
            )
            .await?;
        Ok(NewLogin {
            token,
            session: CurrentSession {
                session_id: record.id,
                operator: info,
                csrf_token: record.csrf_token,
            },
            expires_at,
        })
    }

    /// The session a cookie's token names, if it is still valid. An expired session or one of
    /// a disabled operator is deleted on the way.
    pub async fn session(&self, token: &str) -> Result<CurrentSession, ConsoleError> {
        if token.is_empty() || token.len() > 128 {
            return Err(ConsoleError::Unauthenticated);
        }
        let Some((session, operator)) = self
            .store
            .session_by_token_hash(&credentials::token_hash(token))
            .await?
        else {
            return Err(ConsoleError::Unauthenticated);
        };
        let now = Utc::now();
        let idle = now.signed_duration_since(session.last_seen_at);
        if operator.disabled
            || now >= session.expires_at
            || idle >= chrono_duration(self.policy.idle)
        {
            self.store.delete_session(&session.id).await?;
            return Err(ConsoleError::Unauthenticated);
        }
        if idle >= chrono_duration(self.policy.renew_every()) {
            self.store.touch_session(&session.id, now).await?;
        }
        Ok(CurrentSession {
            session_id: session.id,
            operator: info(&operator),
            csrf_token: session.csrf_token,
        })
    }

    /// Ends a session and records it.
    pub async fn logout(&self, session_id: &str, actor: &Actor) -> Result<(), ConsoleError> {
        self.store.delete_session(session_id).await?;
        self.audit
            .record(
                actor,
                "logout",
                Some("session"),
                Some(session_id),
                json!({}),
            )
            .await?;
        Ok(())
    }

    /// Every operator, by email (admins only).
    pub async fn list(&self, actor: &Actor) -> Result<Vec<Operator>, ConsoleError> {
        actor.require_admin()?;
        Ok(self.store.list_operators().await?)
    }

    /// Adds an operator with an initial password (admins only, or the system).
    pub async fn create(
        &self,
        actor: &Actor,
        email: &str,
        role: Role,
        password: &str,
    ) -> Result<Operator, ConsoleError> {
        actor.require_admin()?;
        let email = valid_email(email)?;
        check_new_password(password)?;
        let password_hash = hash(password).await?;
        let operator = match self
            .store
            .create_operator(NewOperator {
                email,
                password_hash,
                role,
            })
            .await
        {
            Err(StoreError::Duplicate(_)) => {
                return Err(ConsoleError::InvalidInput(
                    "email",
                    "an operator with this email exists".to_owned(),
                ));
            }
            other => other?,
        };
        self.audit
            .record(
                actor,
                "operator.create",
                Some("operator"),
                Some(&operator.id),
                json!({ "after": view(&operator) }),
            )
            .await?;
        Ok(operator)
    }

    /// Creates the first admin from the environment when there is no operator yet; `None`
    /// when there already is one.
    pub async fn ensure_first_admin(
        &self,
        email: &str,
        password: &str,
    ) -> Result<Option<Operator>, ConsoleError> {
        if self.store.count_operators().await? > 0 {
            return Ok(None);
        }
        match self
            .create(&Actor::system(), email, Role::Admin, password)
            .await
        {
            Ok(operator) => Ok(Some(operator)),
            // Another process of the fleet got there first.
            Err(ConsoleError::InvalidInput("email", _)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn change_role(
        &self,
        actor: &Actor,
        id: &str,
        role: Role,
    ) -> Result<Operator, ConsoleError> {
        let change = OperatorChange {
            role: Some(role),
            ..Default::default()
        };
        self.change(actor, id, change, "operator.role").await
    }

    /// Disables (ending their sessions) or enables an operator.
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        id: &str,
        disabled: bool,
    ) -> Result<Operator, ConsoleError> {
        let change = OperatorChange {
            disabled: Some(disabled),
            ..Default::default()
        };
        let action = if disabled {
            "operator.disable"
        } else {
            "operator.enable"
        };
        self.change(actor, id, change, action).await
    }

    /// Sets a new password (ending the operator's sessions).
    pub async fn reset_password(
        &self,
        actor: &Actor,
        id: &str,
        password: &str,
    ) -> Result<Operator, ConsoleError> {
        actor.require_admin()?;
        check_new_password(password)?;
        let change = OperatorChange {
            password_hash: Some(hash(password).await?),
            ..Default::default()
        };
        self.change(actor, id, change, "operator.password_reset")
            .await
    }

    async fn change(
        &self,
        actor: &Actor,
        id: &str,
        change: OperatorChange,
        action: &str,
    ) -> Result<Operator, ConsoleError> {
        actor.require_admin()?;
        let password_changed = change.password_hash.is_some();
        let (before, after) = match self.store.change_operator(id, change).await? {
            ChangeOutcome::Changed { before, after } => (*before, *after),
            ChangeOutcome::LastAdmin => {
                return Err(ConsoleError::Conflict(
                    "the last enabled admin cannot be disabled or demoted; make another \
                     operator an admin first"
                        .to_owned(),
                ));
            }
        };
        let mut detail = json!({ "before": view(&before), "after": view(&after) });
        if password_changed {
            detail["password"] = Value::from("changed");
        }
        self.audit
            .record(actor, action, Some("operator"), Some(id), detail)
            .await?;
        Ok(after)
    }
}

enum Verdict {
    Match,
    Mismatch,
}

/// One argon2 check, off the async workers: against the operator's hash, or against a dummy
/// hash when there is no operator, so both take about as long.
async fn check_password(operator: Option<&Operator>, password: &str) -> Verdict {
    let hash = operator.map(|o| o.password_hash.clone());
    let password = password.to_owned();
    let matched = tokio::task::spawn_blocking(move || match hash {
        Some(hash) => credentials::verify_password(&password, &hash),
        None => credentials::verify_dummy(&password),
    })
    .await
    .unwrap_or(false);
    if matched {
        Verdict::Match
    } else {
        Verdict::Mismatch
    }
}

async fn hash(password: &str) -> Result<String, ConsoleError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || credentials::hash_password(&password))
        .await
        .map_err(|e| ConsoleError::Store(StoreError::Join(e)))?
        .map_err(ConsoleError::from)
}

/// What an audit row shows of an operator: never the password hash.
fn view(operator: &Operator) -> Value {
    json!({
        "email": operator.email,
        "role": operator.role.as_str(),
        "disabled": operator.disabled,
    })
}

fn info(operator: &Operator) -> OperatorInfo {
    OperatorInfo {
        id: operator.id.clone(),
        email: operator.email.clone(),
        role: operator.role,
    }
}

fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The email lower-cased, if it looks like one: `local@domain`, no spaces or controls.
fn valid_email(email: &str) -> Result<String, ConsoleError> {
    let email = normalize_email(email);
    let shaped = match email.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    };
    if !shaped
        || email.chars().count() > MAX_EMAIL_CHARS
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ConsoleError::InvalidInput(
            "email",
            "enter an email address such as ana@example.com".to_owned(),
        ));
    }
    Ok(email)
}

fn check_new_password(password: &str) -> Result<(), ConsoleError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(ConsoleError::InvalidInput(
            "password",
            format!("use at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(ConsoleError::InvalidInput(
            "password",
            format!("use at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn chrono_duration(d: Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            valid_email("  Ana@Example.COM ").unwrap(),
            "ana@example.com"
        );
        for bad in [
            "",
            "ana",
            "@example.com",
            "ana@",
            "a@b@c",
            "a na@example.com",
        ] {
            assert!(valid_email(bad).is_err(), "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(valid_email(&long).is_err());
    }

    #[test]
    fn new_passwords_have_bounds() {
        assert!(check_new_password("123456789").is_err());
        assert!(check_new_password("1234567890").is_ok());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }

    #[test]
    fn sessions_renew_often_enough_for_short_idle_timeouts() {
        let policy = |idle| SessionPolicy {
            idle: Duration::from_secs(idle),
            max: Duration::from_secs(3600),
        };
        assert_eq!(policy(1800).renew_every(), Duration::from_secs(60));
        assert_eq!(policy(4).renew_every(), Duration::from_secs(2));
    }
}
