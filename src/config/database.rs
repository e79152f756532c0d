//! The database: which one (`DATABASE_URL`) and how many connections to it. The URL helpers
//! live here so that the store and the attachment defaults read URLs the same way.

use std::fmt;

use super::{ConfigError, parse};

#[derive(Clone)]
pub struct DatabaseSettings {
    /// `sqlite://file.db` (default `sqlite://chatkit.db`) or `postgres://…`.
    pub url: String,
    /// `CHATKIT_DB_MAX_CONNECTIONS`: largest number of pooled database connections.
    pub max_connections: u32,
    /// `CHATKIT_READ_CACHE_MB`: memory for answers of repeated reads (0: none).
    pub read_cache_bytes: usize,
}

impl DatabaseSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<DatabaseSettings, ConfigError> {
        let url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://chatkit.db".into());
        if url.starts_with("mysql:") {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "only sqlite:// and postgres:// are supported",
            ));
        }
        let max_connections = parse::number(get, "CHATKIT_DB_MAX_CONNECTIONS", 8u32, 1, 1000)?;
        let read_cache_mb = parse::number(get, "CHATKIT_READ_CACHE_MB", 64usize, 0, 65_536)?;
        Ok(DatabaseSettings {
            url,
            max_connections,
            read_cache_bytes: read_cache_mb << 20,
        })
    }
}

/// A Postgres URL may carry a password; it is shown as `[redacted]`.
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &without_passwords(&self.url))
            .field("max_connections", &self.max_connections)
            .field("read_cache_bytes", &self.read_cache_bytes)
            .finish()
    }
}

/// Whether the URL names Postgres; anything else is taken for SQLite (which accepts almost any
/// string, so the scheme decides).
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `sqlite://chatkit.db` and `sqlite:chatkit.db` name the file `chatkit.db`; a bare path is
/// taken as it is.
pub fn sqlite_path(url: &str) -> &str {
    if is_postgres_url(url) {
        return url;
    }
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// The URL with the password of `user:password@` and of a `password=` parameter redacted.
fn without_passwords(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let mut shown = match head.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}{path}"),
                    None => head.to_owned(),
                },
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    if let Some(query) = query {
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                    format!("{name}=[redacted]")
                }
                _ => param.to_owned(),
            })
            .collect();
        shown.push('?');
        shown.push_str(&params.join("&"));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn defaults_and_limits() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database.url, "sqlite://chatkit.db");
        assert_eq!(s.database.max_connections, 8);
        for (var, value) in [
            ("DATABASE_URL", "mysql://db/x"),
            ("CHATKIT_DB_MAX_CONNECTIONS", "0"),
        ] {
            assert_eq!(settings(&[(var, value)]).unwrap_err().var, var, "{value}");
        }
    }

    #[test]
    fn urls() {
        assert!(is_postgres_url("postgresql://db/x"));
        assert!(!is_postgres_url("sqlite://postgres.db"));
        assert_eq!(sqlite_path("sqlite://chatkit.db"), "chatkit.db");
        assert_eq!(sqlite_path("sqlite:/var/x.db"), "/var/x.db");
        assert_eq!(sqlite_path("x.db"), "x.db");
        assert_eq!(sqlite_path("postgres://db/x"), "postgres://db/x");
    }

    #[test]
    fn passwords_do_not_print() {
        for (url, shown) in [
            (
                "postgres://app:hunter2@db:5432/chat?sslmode=require",
                "postgres://app:[redacted]@db:5432/chat?sslmode=require",
            ),
            (
                "postgres://db/chat?user=app&password=hunter2",
                "postgres://db/chat?user=app&password=[redacted]",
            ),
            ("postgres://app@db/chat", "postgres://app@db/chat"),
            ("sqlite://chatkit.db", "sqlite://chatkit.db"),
        ] {
            assert_eq!(without_passwords(url), shown);
        }
        let s = settings(&[("DATABASE_URL", "postgres://app:hunter2@db/chat")]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
