//! Signed, expiring URL tokens: an HMAC-SHA256 over what the token allows (purpose and
//! attachment id) and its expiry. They let a browser `<img>` or an upload request act without
//! the caller's credentials, and only on the one attachment they name.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What a token may be used for; a token of one purpose is refused for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Upload,
    Content,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Upload => "upload",
            Purpose::Content => "content",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the URL's token is not valid for this attachment")]
    Invalid,
    #[error("the URL's token has expired")]
    Expired,
}

/// Makes and checks tokens with one secret key.
#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner { key: <secret> }")
    }
}

impl UrlSigner {
    pub fn new(key: Vec<u8>) -> Self {
        UrlSigner { key }
    }

    /// A random key, for a server started without `CHATKIT_SECRET_KEY` (two v4 UUIDs: 244
    /// random bits from the OS generator).
    pub fn random_key() -> Vec<u8> {
        let mut key = uuid::Uuid::new_v4().as_bytes().to_vec();
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key
    }

    fn mac(&self, purpose: Purpose, id: &str, expires: i64) -> HmacSha256 {
        // `new_from_slice` accepts keys of any length for HMAC; the fallback is unreachable.
        let mut mac = HmacSha256::new_from_slice(&self.key)
            .unwrap_or_else(|_| HmacSha256::new(&Default::default()));
        mac.update(format!("{}\n{id}\n{expires}", purpose.label()).as_bytes());
        mac
    }

    /// `<expires unix seconds>.<hex signature>`.
    pub fn sign(&self, purpose: Purpose, id: &str, expires: i64) -> String {
        let signature = self.mac(purpose, id, expires).finalize().into_bytes();
        format!("{expires}.{}", hex::encode(signature))
    }

    /// Checks the signature (in constant time), then the expiry against `now` (unix seconds).
    pub fn verify(
        &self,
        purpose: Purpose,
        id: &str,
        token: &str,
        now: i64,
    ) -> Result<(), TokenError> {
        let (expires, signature) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let expires: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
        let signature = hex::decode(signature).map_err(|_| TokenError::Invalid)?;
        self.mac(purpose, id, expires)
            .verify_slice(&signature)
            .map_err(|_| TokenError::Invalid)?;
        if expires <= now {
            return Err(TokenError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_purpose_id_and_expiry() {
        let signer = UrlSigner::new(b"k".repeat(32));
        let token = signer.sign(Purpose::Upload, "atc_1", 1000);
        assert_eq!(signer.verify(Purpose::Upload, "atc_1", &token, 999), Ok(()));
        assert_eq!(
            signer.verify(Purpose::Upload, "atc_1", &token, 1000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            signer.verify(Purpose::Content, "atc_1", &token, 999),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            signer.verify(Purpose::Upload, "atc_2", &token, 999),
            Err(TokenError::Invalid)
        );
        let later = token.replacen("1000", "2000", 1);
        assert_eq!(
            signer.verify(Purpose::Upload, "atc_1", &later, 999),
            Err(TokenError::Invalid)
        );
        for junk in ["", "x", "1.zz", "1000.", ".abc"] {
            assert_eq!(
                signer.verify(Purpose::Upload, "atc_1", junk, 0),
                Err(TokenError::Invalid)
            );
        }
        let other = UrlSigner::new(UrlSigner::random_key());
        assert_eq!(
            other.verify(Purpose::Upload, "atc_1", &token, 999),
            Err(TokenError::Invalid)
        );
    }
}
