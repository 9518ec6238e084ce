//! The hash of an opaque token (a refresh token, an emailed link): what the stores keep and
//! are searched by; and the one-time link tokens (activation and password reset) kept by it.
//! The tokens themselves are made in `tokens/opaque.rs`.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    Activation,
    /// The confirmation email of an account made through a provider that did not vouch for the
    /// address: following it keeps that provider's login. Any other activation removes it.
    ActivationThroughProvider,
    PasswordReset,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Activation => "activation",
            TokenPurpose::ActivationThroughProvider => "activation_through_provider",
            TokenPurpose::PasswordReset => "password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "activation" => Some(TokenPurpose::Activation),
            "activation_through_provider" => Some(TokenPurpose::ActivationThroughProvider),
            "password_reset" => Some(TokenPurpose::PasswordReset),
            _ => None,
        }
    }
}

/// A one-time link token about to be stored (only its hash).
#[derive(Debug)]
pub struct NewOneTimeToken {
    pub hash: TokenHash,
    pub account_id: Uuid,
    pub purpose: TokenPurpose,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored one-time token.
#[derive(Debug)]
pub struct OneTimeToken {
    pub account_id: Uuid,
    pub purpose: TokenPurpose,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// An algorithm access tokens can be signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum KeyAlgorithm {
    #[default]
    EdDSA,
    ES256,
    RS256,
}

impl KeyAlgorithm {
    pub const ALL: [Self; 3] = [Self::EdDSA, Self::ES256, Self::RS256];

    /// The name of the algorithm in a JWT header and a JWK (`alg`).
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algorithm| algorithm.name() == name)
    }
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A signing key as an operator sees it (never the private half).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: KeyAlgorithm,
    pub created_at: DateTime<Utc>,
    /// Signs new access tokens now.
    pub signing: bool,
    /// Signs new ID tokens now.
    pub signs_id_tokens: bool,
    /// In the JWKS: verifies tokens.
    pub published: bool,
}
