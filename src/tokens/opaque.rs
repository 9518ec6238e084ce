//! Opaque tokens: 32 random bytes, handed out base64url-encoded, stored only as their SHA-256
//! hash. Used for refresh tokens and for the one-time links in activation and reset emails.
//!
//! A database lookup by hash is safe against timing attacks: learning a prefix of the hash
//! reveals nothing about a token that hashes to it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

pub use crate::model::token::TokenHash;

/// A freshly made token: the secret goes to the client once, the hash to the database.
pub struct OpaqueToken {
    pub secret: SecretString,
    pub hash: TokenHash,
}

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueToken").field("hash", &self.hash).finish_non_exhaustive()
    }
}

impl OpaqueToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = URL_SAFE_NO_PAD.encode(bytes);
        let hash = TokenHash::of(&secret);
        Self { secret: SecretString::from(secret), hash }
    }

    /// The token that follows `previous` under `key`: the same on every replica, unguessable
    /// without the key. Refresh rotation uses it so that a retried refresh gets the same answer.
    pub fn derive(key: &super::mac::MacKey, previous: &str) -> Self {
        let secret = URL_SAFE_NO_PAD.encode(key.tag(&[previous.as_bytes()]));
        let hash = TokenHash::of(&secret);
        Self { secret: SecretString::from(secret), hash }
    }

    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

/// Tokens we hand out are 43 characters; anything much longer is not one of ours and is
/// refused before hashing.
pub fn plausible(token: &str) -> bool {
    !token.is_empty() && token.len() <= 128
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_url_safe_and_hash_to_what_was_stored() {
        let a = OpaqueToken::generate();
        let b = OpaqueToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(TokenHash::of(a.expose()), a.hash);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn debug_output_never_holds_the_secret() {
        let token = OpaqueToken::generate();
        let shown = format!("{token:?}");
        assert!(!shown.contains(token.expose()));
    }
}
