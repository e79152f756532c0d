//! Who may call: how ChatKit requests are authenticated (`CHATKIT_AUTH`) and the key that signs
//! the URLs we hand out (`CHATKIT_SECRET_KEY`).

use std::net::SocketAddr;

use super::{ConfigError, Secret};

/// How ChatKit requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Trusts the `X-ChatKit-User` header (or `anonymous`): for local development only, so it
    /// refuses to serve a non-loopback address.
    Dev,
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// Key of signed URLs (`CHATKIT_SECRET_KEY`); `None` makes startup generate a random one,
    /// so signed URLs then die with the process.
    pub secret_key: Option<Secret>,
}

impl AuthSettings {
    /// `bind` is where the server will listen: dev mode refuses anything but loopback.
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
        bind: SocketAddr,
    ) -> Result<AuthSettings, ConfigError> {
        let mode = match get("CHATKIT_AUTH").as_deref() {
            None | Some("dev") => AuthMode::Dev,
            Some(other) => {
                return Err(ConfigError::new(
                    "CHATKIT_AUTH",
                    format!("unsupported mode '{other}' (this build supports: dev)"),
                ));
            }
        };
        if mode == AuthMode::Dev && !bind.ip().is_loopback() {
            return Err(ConfigError::new(
                "CHATKIT_AUTH",
                format!(
                    "dev mode trusts the X-ChatKit-User header, so it only serves loopback \
                     addresses, not {bind} (set CHATKIT_BIND=127.0.0.1:PORT)"
                ),
            ));
        }
        let secret_key = match get("CHATKIT_SECRET_KEY") {
            None => None,
            Some(key) if key.len() >= 32 => Some(Secret::new(key)),
            Some(_) => {
                return Err(ConfigError::new(
                    "CHATKIT_SECRET_KEY",
                    "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
                ));
            }
        };
        Ok(AuthSettings { mode, secret_key })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::settings;
    use super::*;

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.auth.mode, AuthMode::Dev);
        assert!(s.auth.secret_key.is_none());
        let key = "k".repeat(32);
        let s = settings(&[("CHATKIT_SECRET_KEY", &key)]).unwrap();
        assert_eq!(s.auth.secret_key.unwrap().expose(), key);
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = settings(&[("CHATKIT_AUTH", "magic")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTH");
        let e = settings(&[("CHATKIT_SECRET_KEY", "short")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_SECRET_KEY");
    }

    #[test]
    fn dev_auth_refuses_public_bind() {
        let e = settings(&[("CHATKIT_BIND", "0.0.0.0:8000")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTH");
    }
}
