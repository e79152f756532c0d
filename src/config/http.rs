//! The HTTP side: where the server listens, the URL it is reached at, how large a request may
//! be, how often SSE streams are kept alive, and the folder served under `/static`.

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
    /// Folder served under `/static`.
    pub static_dir: PathBuf,
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
        Ok(HttpSettings {
            bind,
            public_url,
            max_request_bytes,
            sse_keep_alive,
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
    fn localhost_and_ipv6_binds() {
        assert!(settings(&[("CHATKIT_BIND", "localhost:9000")]).is_ok());
        assert!(settings(&[("CHATKIT_BIND", "[::1]:9000")]).is_ok());
    }
}
