//! Secrets at rest: values an operator enters (an agent's API key, its MCP servers' header
//! values) are stored sealed, never as the plain text. The key is not `CHATKIT_SECRET_KEY`
//! itself but one HKDF-SHA256 derives from it for this purpose only, so the same setting can
//! also sign URLs without the two uses ever sharing a key.
//!
//! A sealed value is `v1:` and the base64 of a random 24-byte nonce followed by the
//! XChaCha20-Poly1305 ciphertext and tag. The version prefix leaves room for another scheme
//! (a rotated key, another cipher) beside the values already stored.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{Key, KeyInit, XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

use super::Secret;

/// What starts every value sealed by this version of the scheme.
pub const SEALED_PREFIX: &str = "v1:";

/// HKDF's `info`: names what the derived key is for, so no other use derives the same key.
const PURPOSE: &[u8] = b"chatkit-server secrets at rest v1 (xchacha20poly1305)";

const NONCE_LEN: usize = 24;

/// Why a secret cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "CHATKIT_SECRET_KEY is not set, so secrets cannot be stored encrypted; set it (at \
         least 32 characters, e.g. `openssl rand -hex 32`) and restart"
    )]
    NoKey,
    #[error("the stored secret is not a sealed value")]
    Format,
    #[error("the stored secret does not open with this CHATKIT_SECRET_KEY (was the key changed?)")]
    WrongKey,
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
}

/// Seals and opens secrets under the key derived from `CHATKIT_SECRET_KEY`.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

impl Sealer {
    /// The sealer of a deployment's secret key.
    pub fn new(secret_key: &Secret) -> Sealer {
        let mut key = [0u8; 32];
        // HKDF-SHA256 refuses only outputs longer than 255 blocks of 32 bytes; this is one.
        let _ = Hkdf::<Sha256>::new(None, secret_key.expose().as_bytes()).expand(PURPOSE, &mut key);
        let cipher = XChaCha20Poly1305::new(&Key::from(key));
        Sealer { cipher }
    }

    /// The sealer of `secret_key`, when one is configured.
    pub fn from_setting(secret_key: Option<&Secret>) -> Option<Sealer> {
        secret_key.map(Sealer::new)
    }

    /// `plain` sealed under a fresh random nonce: the same value sealed twice differs.
    pub fn seal(&self, plain: &str) -> Result<String, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| SealError::Random(e.to_string()))?;
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), plain.as_bytes())
            .map_err(|_| SealError::Format)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&ciphertext);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(bytes)))
    }

    /// The plain value of a sealed one.
    pub fn open(&self, sealed: &str) -> Result<Secret, SealError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SealError::Format)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SealError::Format)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Format);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Format)?;
        let plain = self
            .cipher
            .decrypt(&nonce, ciphertext)
            .map_err(|_| SealError::WrongKey)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| SealError::Format)
    }
}

/// Whether a stored value is sealed (rather than a plain value from before encryption).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(key: &str) -> Sealer {
        Sealer::new(&Secret::new(key))
    }

    /// The derived key is HKDF-SHA256's output (RFC 5869), not the setting itself: a value
    /// sealed under the bare setting bytes does not open.
    #[test]
    fn the_key_is_derived_not_the_setting() {
        let setting = "0123456789abcdef0123456789abcdef";
        let bare = XChaCha20Poly1305::new(&Key::from(*b"0123456789abcdef0123456789abcdef"));
        let nonce = [7u8; NONCE_LEN];
        let mut bytes = nonce.to_vec();
        bytes.extend(bare.encrypt(&XNonce::from(nonce), &b"x"[..]).unwrap());
        let sealed = format!("{SEALED_PREFIX}{}", STANDARD.encode(bytes));
        assert!(matches!(
            sealer(setting).open(&sealed),
            Err(SealError::WrongKey)
        ));
    }

    #[test]
    fn sealed_values_open_only_under_their_key() {
        let a = sealer("a-secret-key-of-at-least-32-characters");
        let sealed = a.seal("sk-live-123").unwrap();
        assert!(is_sealed(&sealed), "{sealed}");
        assert!(!sealed.contains("sk-live-123"));
        assert_ne!(
            sealed,
            a.seal("sk-live-123").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(a.open(&sealed).unwrap().expose(), "sk-live-123");
        assert_eq!(a.open(&a.seal("").unwrap()).unwrap().expose(), "");

        let b = sealer("another-secret-key-of-32-characters!!");
        assert!(matches!(b.open(&sealed), Err(SealError::WrongKey)));
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(a.open(&String::from_utf8(tampered).unwrap()).is_err());
        for bad in ["sk-live-123", "v1:", "v1:!!", "v1:AAAA"] {
            assert!(matches!(a.open(bad), Err(SealError::Format)), "{bad}");
        }
        assert_eq!(format!("{a:?}"), "Sealer([redacted])");
    }
}
