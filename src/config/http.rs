//! The HTTP side: where the server listens, the URL it is reached at, how large a request may
//! be and how long its head and body may take to arrive, how long an idle connection is kept,
//! how often SSE streams are kept alive, the folder served under `/static`, and the other
//! origins whose pages may call the chat endpoint (CORS).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, parse};

#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `CHATKIT_BIND`: `host:port` with an IP host, or `localhost:port`.
    pub bind: SocketAddr,
    /// Absolute base of the URLs we hand out (`CHATKIT_PUBLIC_URL`, no trailing slash);
    /// `None` means `http://` + the bound address, known only once the port is bound.
    pub public_url: Option<String>,
    /// Largest accepted JSON request body on `POST /chatkit`.
    pub max_request_bytes: usize,
    /// Interval of SSE keep-alive comments; it also bounds how late a vanished client is noticed.
    pub sse_keep_alive: Duration,
    /// `CHATKIT_BODY_TIMEOUT_SECS`: how long a request body may take before it is refused with
    /// 408, extended while it arrives at a useful rate, so a client that trickles or abandons a
    /// body cannot hold a connection.
    pub body_timeout: Duration,
    /// `CHATKIT_HEADER_TIMEOUT_SECS`: how long a request's head may take to arrive.
    pub header_timeout: Duration,
    /// `CHATKIT_KEEP_ALIVE_SECS`: how long an idle connection is kept for its next request.
    pub keep_alive: Duration,
    /// Folder served under `/static`.
    pub static_dir: PathBuf,
    /// Origins (`https://host[:port]`) whose pages may call `/chatkit` and the upload routes
    /// from a browser (`CHATKIT_ALLOWED_ORIGINS`); empty (the default) answers no CORS at all.
    pub allowed_origins: Vec<String>,
}

impl HttpSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<HttpSettings, ConfigError> {
        let bind = match get("CHATKIT_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8000)),
            Some(raw) => parse_bind(&raw).ok_or_else(|| {
                ConfigError::new(
                    "CHATKIT_BIND",
                    format!("'{raw}' is not an address like 127.0.0.1:8000"),
                )
            })?,
        };
        let max_request_bytes = parse::number(
            get,
            "CHATKIT_MAX_REQUEST_BYTES",
            1024 * 1024usize,
            1024,
            64 * 1024 * 1024,
        )?;
        let sse_keep_alive = parse::secs(get, "CHATKIT_SSE_KEEP_ALIVE_SECS", 15, 1, 300)?;
        let body_timeout = parse::secs(get, "CHATKIT_BODY_TIMEOUT_SECS", 30, 1, 3600)?;
        let header_timeout = parse::secs(get, "CHATKIT_HEADER_TIMEOUT_SECS", 10, 1, 300)?;
        let keep_alive = parse::secs(get, "CHATKIT_KEEP_ALIVE_SECS", 15, 1, 3600)?;
        let public_url = match get("CHATKIT_PUBLIC_URL") {
            None => None,
            Some(url) if absolute_http_url(&url) => Some(url.trim_end_matches('/').to_owned()),
            Some(url) => {
                return Err(ConfigError::new(
                    "CHATKIT_PUBLIC_URL",
                    format!(
                        "'{url}' is not an absolute http(s) URL such as https://chat.example.com"
                    ),
                ));
            }
        };
        let allowed_origins = parse::list(get, "CHATKIT_ALLOWED_ORIGINS")
            .unwrap_or_default()
            .into_iter()
            .map(|raw| {
                origin(&raw).ok_or_else(|| {
                    ConfigError::new(
                        "CHATKIT_ALLOWED_ORIGINS",
                        format!("'{raw}' is not an origin like https://app.example.com"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HttpSettings {
            bind,
            allowed_origins,
            public_url,
            max_request_bytes,
            sse_keep_alive,
            body_timeout,
            header_timeout,
            keep_alive,
            static_dir: get("CHATKIT_STATIC_DIR")
                .unwrap_or_else(|| "static".into())
                .into(),
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

/// An origin as a browser sends it: `http(s)://host[:port]`, no path, no wildcard; a trailing
/// slash is dropped so a copied URL still matches.
fn origin(raw: &str) -> Option<String> {
    let raw = raw.strip_suffix('/').unwrap_or(raw);
    let host = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))?;
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    valid.then(|| raw.to_ascii_lowercase())
}

fn absolute_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(host) if !host.is_empty() && !host.starts_with('/') && !url.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.http.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(s.http.sse_keep_alive, Duration::from_secs(15));
        assert_eq!(s.http.body_timeout, Duration::from_secs(30));
        assert_eq!(s.http.header_timeout, Duration::from_secs(10));
        assert_eq!(s.http.keep_alive, Duration::from_secs(15));
        assert!(s.http.public_url.is_none());
        assert_eq!(s.http.static_dir, PathBuf::from("static"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("CHATKIT_BIND", "nonsense")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_BIND");
        let e = settings(&[("CHATKIT_MAX_REQUEST_BYTES", "-3")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_MAX_REQUEST_BYTES");
        assert!(e.to_string().starts_with("CHATKIT_MAX_REQUEST_BYTES: "));
        let e = settings(&[("CHATKIT_PUBLIC_URL", "chat.example.com")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_PUBLIC_URL");
        let e = settings(&[("CHATKIT_BODY_TIMEOUT_SECS", "0")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_BODY_TIMEOUT_SECS");
    }

    #[test]
    fn public_url_loses_its_trailing_slash() {
        let s = settings(&[("CHATKIT_PUBLIC_URL", "https://chat.example.com/")]).unwrap();
        assert_eq!(
            s.http.public_url.as_deref(),
            Some("https://chat.example.com")
        );
    }

    #[test]
    fn allowed_origins() {
        assert!(settings(&[]).unwrap().http.allowed_origins.is_empty());
        let s = settings(&[(
            "CHATKIT_ALLOWED_ORIGINS",
            "https://App.example.com/, http://127.0.0.1:3000",
        )])
        .unwrap();
        assert_eq!(
            s.http.allowed_origins,
            ["https://app.example.com", "http://127.0.0.1:3000"]
        );
        for bad in ["*", "app.example.com", "https://app.example.com/chat"] {
            let e = settings(&[("CHATKIT_ALLOWED_ORIGINS", bad)]).unwrap_err();
            assert_eq!(e.var, "CHATKIT_ALLOWED_ORIGINS", "{bad}");
        }
    }

    #[test]
    fn localhost_and_ipv6_binds() {
        assert!(settings(&[("CHATKIT_BIND", "localhost:9000")]).is_ok());
        assert!(settings(&[("CHATKIT_BIND", "[::1]:9000")]).is_ok());
    }
}
