//! Reconnect tokens: 32 random bytes from the OS, base64url. The server keeps
//! only their SHA-256 (`TokenHash`), in memory, in snapshots (64 lowercase hex
//! digits) and between nodes, so neither a leaked snapshot nor a look at
//! Redis hands out a usable token.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

#[derive(Debug, Error)]
#[error("reading 32 random bytes for a reconnect token from the OS failed: {0}")]
pub struct TokenError(getrandom::Error);

/// A fresh token (given to the client once) and the hash the server keeps.
pub fn generate() -> Result<(String, TokenHash), TokenError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(TokenError)?;
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = TokenHash::of(&token);
    Ok((token, hash))
}

impl TokenHash {
    pub fn of(token: &str) -> TokenHash {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> TokenHash {
        TokenHash(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `token` hashes to this, comparing every byte whatever the
    /// first difference, so timing does not tell how close a guess came.
    pub fn matches(&self, token: &str) -> bool {
        let other = TokenHash::of(token);
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    fn to_hex(self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 0xf)] as char);
        }
        s
    }

    fn from_hex(s: &str) -> Option<TokenHash> {
        let bytes = s.as_bytes();
        if bytes.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            out[i] = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Some(TokenHash(out))
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Never prints the hash itself: logs have no business holding even that.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl Serialize for TokenHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TokenHash::from_hex(&s).ok_or_else(|| {
            de::Error::custom("token hash is not 64 lowercase hex digits (a SHA-256)")
        })
    }
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
        assert_eq!(TokenHash::of(&a), ha);
        assert!(ha.matches(&a));
    }

    #[test]
    fn serializes_as_hex_of_sha256_and_reads_back() {
        let h = TokenHash::of("abc");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""
        );
        let back: TokenHash = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
    }

    #[test]
    fn matches_only_its_own_token() {
        let h = TokenHash::of("secret-token");
        assert!(h.matches("secret-token"));
        assert!(!h.matches("secret-tokem"));
        assert!(!h.matches(""));
    }

    #[test]
    fn refuses_malformed_hex() {
        for bad in [
            "\"abc\"",
            "\"ZZ16bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"",
            "42",
        ] {
            assert!(serde_json::from_str::<TokenHash>(bad).is_err(), "{bad}");
        }
        let upper = "\"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\"";
        assert!(serde_json::from_str::<TokenHash>(upper).is_err());
    }

    #[test]
    fn debug_does_not_print_the_hash() {
        assert_eq!(format!("{:?}", TokenHash::of("x")), "TokenHash(..)");
    }
}
