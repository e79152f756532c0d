//! Bearer tokens: checks a JWT's signature and claims against the configured keys (an HS256
//! secret, a PEM public key, or the identity provider's JWK set). The algorithm always comes
//! from the key, never from the token alone, so `alg: none` and HS-with-a-public-key tokens
//! are refused. The JWK set is fetched at start and again, at most once a minute, when a token
//! names a key id it does not hold (the provider rotated its keys).
//!
//! Tokens are never logged; why one was refused is logged at debug level.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation, errors::ErrorKind};
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

use crate::config::{JwtKeySource, JwtSettings};

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// The shortest time between two JWK set refetches caused by unknown key ids.
const REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// How long fetching the JWK set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    Invalid,
    Expired,
}

/// The keys could not be loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("CHATKIT_JWT_PUBLIC_KEY: cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("CHATKIT_JWT_PUBLIC_KEY: {0} holds no RSA, EC or Ed25519 public key in PEM form")]
    Pem(String),
    #[error("CHATKIT_JWT_SECRET: {0}")]
    Secret(String),
    #[error("CHATKIT_JWKS_URL: {0}")]
    Jwks(String),
}

/// One key a token may be verified with, and the algorithms it allows.
#[derive(Clone)]
struct VerifyKey {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

enum Keys {
    /// A secret or a PEM key: one key, whatever `kid` a token names.
    Fixed(VerifyKey),
    Jwks(Jwks),
}

/// The provider's JWK set, cached, with the time of the last refetch.
struct Jwks {
    url: String,
    client: reqwest::Client,
    keys: RwLock<Arc<Vec<VerifyKey>>>,
    last_refetch: Mutex<Option<Instant>>,
}

/// Verifies bearer tokens; cheap to share behind an `Arc`.
pub struct JwtVerifier {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtVerifier {
    /// Loads the configured key: reads the PEM file or fetches the JWK set.
    pub async fn load(settings: &JwtSettings) -> Result<JwtVerifier, KeyError> {
        let keys = match &settings.key {
            JwtKeySource::Secret(secret) => Keys::Fixed(VerifyKey {
                kid: None,
                key: DecodingKey::from_secret(secret.expose().as_bytes())
                    .map_err(|e| KeyError::Secret(e.to_string()))?,
                algorithms: vec![Algorithm::HS256],
            }),
            JwtKeySource::PublicKeyFile(path) => {
                let shown = path.display().to_string();
                let pem = std::fs::read(path).map_err(|source| KeyError::Read {
                    path: shown.clone(),
                    source,
                })?;
                Keys::Fixed(pem_key(&pem).ok_or(KeyError::Pem(shown))?)
            }
            JwtKeySource::JwksUrl(url) => {
                let client = reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(|e| KeyError::Jwks(e.to_string()))?;
                let keys = fetch_jwks(&client, url).await.map_err(KeyError::Jwks)?;
                Keys::Jwks(Jwks {
                    url: url.clone(),
                    client,
                    keys: RwLock::new(Arc::new(keys)),
                    last_refetch: Mutex::new(None),
                })
            }
        };
        Ok(JwtVerifier {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        })
    }

    /// The claims of a valid token.
    pub async fn verify(&self, token: &str) -> Result<Map<String, Value>, TokenRefusal> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| refuse(&e))?;
        let key = match &self.keys {
            Keys::Fixed(key) => key.clone(),
            Keys::Jwks(jwks) => jwks.key(header.kid.as_deref()).await?,
        };
        let mut validation = Validation::new(header.alg);
        validation.algorithms = key.algorithms.clone();
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.set_required_spec_claims(&["exp", "aud"]);
            }
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map(|data| data.claims)
            .map_err(|e| refuse(&e))
    }
}

/// Logs why a token was refused (never the token) and classifies it.
fn refuse(error: &jsonwebtoken::errors::Error) -> TokenRefusal {
    log::debug!("bearer token refused: {error}");
    match error.kind() {
        ErrorKind::ExpiredSignature => TokenRefusal::Expired,
        _ => TokenRefusal::Invalid,
    }
}

impl Jwks {
    /// The key a token names, refetching the set once if the id is unknown and the last
    /// refetch is more than a minute ago. A token without `kid` needs a set of one key.
    async fn key(&self, kid: Option<&str>) -> Result<VerifyKey, TokenRefusal> {
        if let Some(key) = pick(&self.keys.read().await, kid) {
            return Ok(key);
        }
        let Some(kid) = kid else {
            log::debug!("bearer token refused: no kid, and the JWK set has several keys");
            return Err(TokenRefusal::Invalid);
        };
        let mut last = self.last_refetch.lock().await;
        // Another request may have refetched while this one waited.
        if let Some(key) = pick(&self.keys.read().await, Some(kid)) {
            return Ok(key);
        }
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            log::debug!("bearer token refused: unknown kid, JWK set refetched recently");
            return Err(TokenRefusal::Invalid);
        }
        *last = Some(Instant::now());
        match fetch_jwks(&self.client, &self.url).await {
            Ok(keys) => *self.keys.write().await = Arc::new(keys),
            Err(e) => log::warn!("cannot refetch the JWK set (CHATKIT_JWKS_URL): {e}"),
        }
        pick(&self.keys.read().await, Some(kid)).ok_or_else(|| {
            log::debug!("bearer token refused: kid not in the JWK set");
            TokenRefusal::Invalid
        })
    }
}

fn pick(keys: &[VerifyKey], kid: Option<&str>) -> Option<VerifyKey> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.kid.as_deref() == Some(kid)).cloned(),
        None if keys.len() == 1 => keys.first().cloned(),
        None => None,
    }
}

/// The signing keys of a JWK set. Keys that cannot verify signatures (encryption keys,
/// symmetric keys, unknown types) are skipped.
async fn fetch_jwks(client: &reqwest::Client, url: &str) -> Result<Vec<VerifyKey>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    let response = client
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("cannot fetch the JWK set: {e}"))?;
    let set: Set = response
        .json()
        .await
        .map_err(|e| format!("the answer is not a JWK set: {e}"))?;
    let keys: Vec<VerifyKey> = set
        .keys
        .into_iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value).ok())
        .filter_map(|jwk| jwk_key(&jwk))
        .collect();
    if keys.is_empty() {
        return Err("the JWK set holds no usable signing key".into());
    }
    Ok(keys)
}

fn jwk_key(jwk: &Jwk) -> Option<VerifyKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let family = key.family();
    if family == AlgorithmFamily::Hmac {
        return None;
    }
    let algorithms = match jwk.common.key_algorithm {
        Some(alg) => vec![key_algorithm(alg).filter(|a| a.family() == family)?],
        None => family.algorithms().to_vec(),
    };
    Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        key,
        algorithms,
    })
}

/// The signature algorithm a JWK's `alg` names; `None` for encryption algorithms.
fn key_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    alg.to_string().parse().ok()
}

/// An RSA, EC or Ed25519 public key in PEM form, allowing its family's algorithms.
fn pem_key(pem: &[u8]) -> Option<VerifyKey> {
    let key = DecodingKey::from_rsa_pem(pem)
        .or_else(|_| DecodingKey::from_ec_pem(pem))
        .or_else(|_| DecodingKey::from_ed_pem(pem))
        .ok()?;
    Some(VerifyKey {
        kid: None,
        algorithms: key.family().algorithms().to_vec(),
        key,
    })
}
