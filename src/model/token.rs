//! The hash of an opaque token (a refresh token, an emailed link): what the stores keep and
//! are searched by. The tokens themselves are made in `tokens/opaque.rs`.

use sha2::{Digest, Sha256};

/// The SHA-256 hash of an opaque token: what the database stores and is searched by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token as presented by a client.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A prefix is enough to tell hashes apart in a test failure; it reveals nothing.
        write!(f, "TokenHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}
