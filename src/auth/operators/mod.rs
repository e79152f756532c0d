//! Operator credentials: argon2id password hashes, session and CSRF tokens, the signed
//! double-submit token of the sign-in form, and the sign-in failure limiter.
//!
//! Tokens are 32 random bytes from the operating system, URL-safe base64 without padding. The
//! database keeps only the SHA-256 of a session token, so reading the table signs no one in.
//! Every comparison of a secret is constant-time.

pub mod limiter;

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use limiter::{LoginLimiter, LoginLimits};

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the system's random generator failed: {0}")]
    Random(getrandom::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// A fresh argon2id PHC string for `password` (default parameters, random salt).
pub fn hash_password(password: &str) -> Result<String, CredentialError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| CredentialError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string; a malformed string matches nothing. The hash
/// comparison inside is constant-time.
pub fn verify_password(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A hash of a random password, made once. Checking a password against it for an email that
/// has no operator costs what a real check costs, so timing does not tell which emails exist.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    new_token()
        .ok()
        .and_then(|secret| hash_password(&secret).ok())
        .unwrap_or_default()
});

/// Spends the time of one password check and fails.
pub fn verify_dummy(password: &str) -> bool {
    verify_password(password, &DUMMY_HASH);
    false
}

/// 32 random bytes, URL-safe base64 (43 characters).
pub fn new_token() -> Result<String, CredentialError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(CredentialError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a session token: its SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two secrets (the length is not hidden, and need not be).
pub fn tokens_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The sign-in form's CSRF protection before any session exists: a signed double-submit
/// token. The browser gets a random nonce in a cookie and, in the form, an HMAC of that nonce
/// under the server's key. A cross-site form cannot read the cookie to copy it, and someone
/// who manages to plant a cookie cannot make the matching form value without the key.
#[derive(Clone)]
pub struct LoginCsrf {
    key: Vec<u8>,
}

impl std::fmt::Debug for LoginCsrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginCsrf { key: <secret> }")
    }
}

impl LoginCsrf {
    pub fn new(key: Vec<u8>) -> Self {
        LoginCsrf { key }
    }

    fn sign(&self, nonce: &str) -> String {
        // HMAC takes keys of any length; the fallback is unreachable.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key)
            .unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        mac.update(b"console-login\n");
        mac.update(nonce.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// A new `(cookie value, form value)` pair.
    pub fn issue(&self) -> Result<(String, String), CredentialError> {
        let nonce = new_token()?;
        let form = self.sign(&nonce);
        Ok((nonce, form))
    }

    /// The form value that goes with an existing cookie (to render the form again).
    pub fn form_value(&self, cookie: &str) -> String {
        self.sign(cookie)
    }

    /// Whether the submitted form value is the signature of the cookie's nonce.
    pub fn verify(&self, cookie: &str, form: &str) -> bool {
        !cookie.is_empty() && tokens_match(&self.sign(cookie), form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_to_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert_ne!(
            hash,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
        assert!(!verify_dummy("anything"));
        assert!(DUMMY_HASH.starts_with("$argon2id$"));
    }

    #[test]
    fn tokens_are_random_url_safe_and_stored_as_their_hash() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(token_hash(&a).len(), 64);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert!(tokens_match(&a, &a.clone()));
        assert!(!tokens_match(&a, &b));
        assert!(!tokens_match(&a, ""));
    }

    #[test]
    fn login_csrf_accepts_only_the_signature_of_the_cookie() {
        let csrf = LoginCsrf::new(b"k".repeat(32));
        let (cookie, form) = csrf.issue().unwrap();
        assert!(csrf.verify(&cookie, &form));
        assert_eq!(csrf.form_value(&cookie), form);
        let (other_cookie, other_form) = csrf.issue().unwrap();
        assert!(!csrf.verify(&cookie, &other_form));
        assert!(!csrf.verify(&other_cookie, &form));
        assert!(!csrf.verify(&cookie, ""));
        assert!(!csrf.verify("", &csrf.form_value("")));
        assert!(
            !csrf.verify(&cookie, &cookie),
            "the nonce itself is not the token"
        );
        let other_key = LoginCsrf::new(b"j".repeat(32));
        assert!(!other_key.verify(&cookie, &form));
    }
}
