//! `CHATKIT_AUTH=jwt`: where the keys that sign bearer tokens come from, which issuer and
//! audience a token must name, and which claims carry the account and the allowed agents.

use std::path::PathBuf;

use super::{ConfigError, Secret, parse};

/// Shortest accepted HS256 secret: RFC 7518 asks for a key as long as the hash (32 bytes).
const MIN_SECRET_BYTES: usize = 32;

/// Where token signatures are checked against; exactly one is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtKeySource {
    /// `CHATKIT_JWT_SECRET`: a shared HS256 secret.
    Secret(Secret),
    /// `CHATKIT_JWT_PUBLIC_KEY`: a PEM file holding an RSA, P-256 or Ed25519 public key.
    PublicKeyFile(PathBuf),
    /// `CHATKIT_JWKS_URL`: the identity provider's JWK set.
    JwksUrl(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtSettings {
    pub key: JwtKeySource,
    /// `CHATKIT_JWT_ISSUER`: when set, a token's `iss` must be this.
    pub issuer: Option<String>,
    /// `CHATKIT_JWT_AUDIENCE`: when set, a token's `aud` must include this.
    pub audience: Option<String>,
    /// `CHATKIT_JWT_ACCOUNT_CLAIM`: the claim naming the account, by id or slug.
    pub account_claim: String,
    /// `CHATKIT_JWT_DEFAULT_ACCOUNT`: a token without the account claim belongs to the default
    /// account (for single-tenant deployments); otherwise such a token is invalid.
    pub default_account: bool,
    /// `CHATKIT_JWT_AGENTS_CLAIM`: when set, the claim listing the agent slugs a token may use.
    pub agents_claim: Option<String>,
}

impl JwtSettings {
    pub(super) fn from_vars(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<JwtSettings, ConfigError> {
        let mut sources = Vec::new();
        if let Some(secret) = get("CHATKIT_JWT_SECRET") {
            if secret.len() < MIN_SECRET_BYTES {
                return Err(ConfigError::new(
                    "CHATKIT_JWT_SECRET",
                    format!("must be at least {MIN_SECRET_BYTES} bytes"),
                ));
            }
            sources.push(JwtKeySource::Secret(Secret::new(secret)));
        }
        if let Some(path) = get("CHATKIT_JWT_PUBLIC_KEY") {
            sources.push(JwtKeySource::PublicKeyFile(path.into()));
        }
        if let Some(url) = get("CHATKIT_JWKS_URL") {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::new(
                    "CHATKIT_JWKS_URL",
                    format!("'{url}' is not an http(s) URL"),
                ));
            }
            sources.push(JwtKeySource::JwksUrl(url));
        }
        let key = match sources.len() {
            1 => sources.remove(0),
            n => {
                return Err(ConfigError::new(
                    "CHATKIT_AUTH",
                    format!(
                        "jwt mode needs exactly one of CHATKIT_JWT_SECRET, CHATKIT_JWT_PUBLIC_KEY \
                         and CHATKIT_JWKS_URL ({n} set)"
                    ),
                ));
            }
        };
        Ok(JwtSettings {
            key,
            issuer: get("CHATKIT_JWT_ISSUER"),
            audience: get("CHATKIT_JWT_AUDIENCE"),
            account_claim: get("CHATKIT_JWT_ACCOUNT_CLAIM").unwrap_or_else(|| "account".into()),
            default_account: parse::flag(get, "CHATKIT_JWT_DEFAULT_ACCOUNT", false)?,
            agents_claim: get("CHATKIT_JWT_AGENTS_CLAIM"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::AuthMode;
    use super::super::tests::settings;
    use super::*;

    fn jwt(vars: &[(&str, &str)]) -> Result<JwtSettings, ConfigError> {
        let key = "k".repeat(32);
        let mut all = vec![
            ("CHATKIT_AUTH", "jwt"),
            ("CHATKIT_SECRET_KEY", key.as_str()),
        ];
        all.extend_from_slice(vars);
        match settings(&all)?.auth.mode {
            AuthMode::Jwt(jwt) => Ok(jwt),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_key_source() {
        let secret = "s".repeat(32);
        let s = jwt(&[("CHATKIT_JWT_SECRET", &secret)]).unwrap();
        assert_eq!(s.key, JwtKeySource::Secret(Secret::new(secret.clone())));
        assert_eq!(s.account_claim, "account");
        assert!(!s.default_account);
        assert_eq!((s.issuer, s.audience, s.agents_claim), (None, None, None));
        let s = jwt(&[(
            "CHATKIT_JWKS_URL",
            "https://idp.example.com/.well-known/jwks.json",
        )]);
        assert!(matches!(s.unwrap().key, JwtKeySource::JwksUrl(_)));
        assert_eq!(jwt(&[]).unwrap_err().var, "CHATKIT_AUTH");
        let both = [
            ("CHATKIT_JWT_SECRET", secret.as_str()),
            ("CHATKIT_JWT_PUBLIC_KEY", "/etc/key.pem"),
        ];
        assert_eq!(jwt(&both).unwrap_err().var, "CHATKIT_AUTH");
        let short = jwt(&[("CHATKIT_JWT_SECRET", "short")]).unwrap_err();
        assert_eq!(short.var, "CHATKIT_JWT_SECRET");
        let ftp = jwt(&[("CHATKIT_JWKS_URL", "ftp://x")]).unwrap_err();
        assert_eq!(ftp.var, "CHATKIT_JWKS_URL");
    }

    #[test]
    fn claims_issuer_and_audience() {
        let s = jwt(&[
            ("CHATKIT_JWT_PUBLIC_KEY", "/etc/key.pem"),
            ("CHATKIT_JWT_ISSUER", "https://idp.example.com/"),
            ("CHATKIT_JWT_AUDIENCE", "chatkit"),
            ("CHATKIT_JWT_ACCOUNT_CLAIM", "org_id"),
            ("CHATKIT_JWT_DEFAULT_ACCOUNT", "true"),
            ("CHATKIT_JWT_AGENTS_CLAIM", "agents"),
        ])
        .unwrap();
        assert_eq!(s.key, JwtKeySource::PublicKeyFile("/etc/key.pem".into()));
        assert_eq!(s.issuer.as_deref(), Some("https://idp.example.com/"));
        assert_eq!(s.audience.as_deref(), Some("chatkit"));
        assert_eq!(s.account_claim, "org_id");
        assert!(s.default_account);
        assert_eq!(s.agents_claim.as_deref(), Some("agents"));
    }

    #[test]
    fn secrets_never_print() {
        let secret = "jwt-secret-0123456789-0123456789";
        let s = jwt(&[("CHATKIT_JWT_SECRET", secret)]).unwrap();
        assert!(!format!("{s:?}").contains(secret));
    }
}
