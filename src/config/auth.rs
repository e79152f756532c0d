//! Who may call: how ChatKit requests are authenticated (`CHATKIT_AUTH`) and the key that signs
//! the URLs we hand out (`CHATKIT_SECRET_KEY`). The settings of each production mode are in
//! [`super::jwt`] and [`super::proxy`].

use std::net::SocketAddr;

use super::jwt::JwtSettings;
use super::proxy::ProxySettings;
use super::{ConfigError, Secret};

/// How ChatKit requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// Trusts the `X-ChatKit-User` header (or `anonymous`): for local development only, so it
    /// refuses to serve a non-loopback address.
    Dev,
    /// `Authorization: Bearer <JWT>` from an identity provider.
    Jwt(JwtSettings),
    /// User and account headers set by an authenticating reverse proxy at a trusted address.
    Proxy(ProxySettings),
}

#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub mode: AuthMode,
    /// Key of signed URLs (`CHATKIT_SECRET_KEY`); `None` (dev mode only) makes startup generate
    /// a random one, so signed URLs then die with the process.
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
            Some("jwt") => AuthMode::Jwt(JwtSettings::from_vars(get)?),
            Some("proxy") => AuthMode::Proxy(ProxySettings::from_vars(get)?),
            Some(other) => {
                return Err(ConfigError::new(
                    "CHATKIT_AUTH",
                    format!("unsupported mode '{other}' (one of: dev, jwt, proxy)"),
                ));
            }
        };
        if mode == AuthMode::Dev && !bind.ip().is_loopback() {
            return Err(ConfigError::new(
                "CHATKIT_AUTH",
                format!(
                    "dev mode trusts the X-ChatKit-User header, so it only serves loopback \
                     addresses, not {bind} (set CHATKIT_BIND=127.0.0.1:PORT, or use jwt or \
                     proxy mode)"
                ),
            ));
        }
        let secret_key = match get("CHATKIT_SECRET_KEY") {
            None if mode == AuthMode::Dev => None,
            // A random key would break every upload and preview URL at each restart, and differ
            // between the processes of one deployment.
            None => {
                return Err(ConfigError::new(
                    "CHATKIT_SECRET_KEY",
                    "is required outside dev mode (e.g. `openssl rand -hex 32`)",
                ));
            }
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
        let e = settings(&[("CHATKIT_AUTH", "dev"), ("CHATKIT_BIND", "[::]:8000")]).unwrap_err();
        assert_eq!(e.var, "CHATKIT_AUTH");
    }

    #[test]
    fn production_modes_bind_anywhere_and_need_a_secret_key() {
        let (key, jwt_secret) = ("k".repeat(32), "s".repeat(32));
        let jwt = [
            ("CHATKIT_AUTH", "jwt"),
            ("CHATKIT_JWT_SECRET", jwt_secret.as_str()),
            ("CHATKIT_BIND", "0.0.0.0:8000"),
        ];
        let proxy = [
            ("CHATKIT_AUTH", "proxy"),
            ("CHATKIT_TRUSTED_PROXIES", "10.0.0.0/8"),
            ("CHATKIT_BIND", "0.0.0.0:8000"),
        ];
        for vars in [&jwt, &proxy] {
            assert_eq!(settings(vars).unwrap_err().var, "CHATKIT_SECRET_KEY");
            let mut vars = vars.to_vec();
            vars.push(("CHATKIT_SECRET_KEY", &key));
            let s = settings(&vars).unwrap();
            assert_ne!(s.auth.mode, AuthMode::Dev);
            assert_eq!(s.http.bind.to_string(), "0.0.0.0:8000");
        }
    }
}
