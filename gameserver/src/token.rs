//! Reconnect tokens: 32 random bytes from the OS, base64url. The server keeps
//! only their SHA-256 hash, so a leaked snapshot does not leak live tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub type TokenHash = [u8; 32];

#[derive(Debug, Error)]
#[error("reading 32 random bytes for a reconnect token from the OS failed: {0}")]
pub struct TokenError(getrandom::Error);

/// A fresh token (given to the client once) and the hash the server keeps.
pub fn generate() -> Result<(String, TokenHash), TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(TokenError)?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    Ok((token, hash))
}

pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_urlsafe_and_hash_to_what_is_kept() {
        let (a, ha) = generate().unwrap();
        let (b, hb) = generate().unwrap();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(a.len(), 43);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(hash(&a), ha);
    }
}
