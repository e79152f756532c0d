//! Settings: the only reader of environment variables. Everything is parsed and checked once at
//! start; a bad value stops the start with one line naming the variable and the problem.

use std::net::SocketAddr;
use std::time::Duration;

/// How ChatKit requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Trusts the `X-ChatKit-User` header (or `anonymous`): for local development only, so it
    /// refuses to serve a non-loopback address.
    Dev,
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `sqlite://file.db` (default `sqlite://chatkit.db`) or `postgres://…`.
    pub database_url: String,
    /// Largest number of pooled database connections.
    pub database_max_connections: u32,
    pub bind: SocketAddr,
    pub auth: AuthMode,
    /// Largest accepted JSON request body on `POST /chatkit`.
    pub max_request_bytes: usize,
    /// Interval of SSE keep-alive comments; it also bounds how late a vanished client is noticed.
    pub sse_keep_alive: Duration,
}

/// A setting that cannot be used, named by its variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(var: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            var,
            problem: problem.into(),
        }
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads settings through `var`, so tests can supply their own variables.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://chatkit.db".into());
        if database_url.starts_with("mysql:") {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "only sqlite:// and postgres:// are supported",
            ));
        }
        let database_max_connections =
            parse_number(&get, "CHATKIT_DB_MAX_CONNECTIONS", 8u32, 1, 1000)?;

        let bind = match get("CHATKIT_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
            Some(raw) => parse_bind(&raw).ok_or_else(|| {
                ConfigError::new(
                    "CHATKIT_BIND",
                    format!("'{raw}' is not an address like 127.0.0.1:8000"),
                )
            })?,
        };

        let auth = match get("CHATKIT_AUTH").as_deref() {
            None | Some("dev") => AuthMode::Dev,
            Some(other) => {
                return Err(ConfigError::new(
                    "CHATKIT_AUTH",
                    format!("unsupported mode '{other}' (this build supports: dev)"),
                ));
            }
        };
        if auth == AuthMode::Dev && !bind.ip().is_loopback() {
            return Err(ConfigError::new(
                "CHATKIT_AUTH",
                format!(
                    "dev mode trusts the X-ChatKit-User header, so it only serves loopback \
                     addresses, not {bind} (set CHATKIT_BIND=127.0.0.1:PORT)"
                ),
            ));
        }

        let max_request_bytes = parse_number(
            &get,
            "CHATKIT_MAX_REQUEST_BYTES",
            1024 * 1024usize,
            1024,
            64 * 1024 * 1024,
        )?;
        let sse_keep_alive = Duration::from_secs(parse_number(
            &get,
            "CHATKIT_SSE_KEEP_ALIVE_SECS",
            15u64,
            1,
            300,
        )?);

        Ok(Settings {
            database_url,
            database_max_connections,
            bind,
            auth,
            max_request_bytes,
            sse_keep_alive,
        })
    }
}

/// `host:port` with an IP host, or `localhost:port`.
fn parse_bind(raw: &str) -> Option<SocketAddr> {
    if let Some(port) = raw.strip_prefix("localhost:") {
        return Some(SocketAddr::from(([127, 0, 0, 1], port.parse().ok()?)));
    }
    raw.parse().ok()
}

fn parse_number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(raw) = get(var) else {
        return Ok(default);
    };
    match raw.parse::<T>() {
        Ok(value) if value >= min && value <= max => Ok(value),
        _ => Err(ConfigError::new(
            var,
            format!("'{raw}' is not a number from {min} to {max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, "sqlite://chatkit.db");
        assert_eq!(s.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.auth, AuthMode::Dev);
        assert_eq!(s.sse_keep_alive, Duration::from_secs(15));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("CHATKIT_BIND", "nonsense")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_BIND");
        let e = settings(&[("CHATKIT_AUTH", "magic")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTH");
        let e = settings(&[("CHATKIT_MAX_REQUEST_BYTES", "-3")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_MAX_REQUEST_BYTES");
        assert!(e.to_string().starts_with("CHATKIT_MAX_REQUEST_BYTES: "));
    }

    #[test]
    fn dev_auth_refuses_public_bind() {
        let e = settings(&[("CHATKIT_BIND", "0.0.0.0:8000")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTH");
        assert!(settings(&[("CHATKIT_BIND", "localhost:9000")]).is_ok());
        assert!(settings(&[("CHATKIT_BIND", "[::1]:9000")]).is_ok());
    }
}
