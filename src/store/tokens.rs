//! One-time link tokens (activation and password reset) as the store keeps them: only their
//! hashes, each spent once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::outcome::Effects;
use crate::tokens::opaque::TokenHash;

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

#[async_trait]
pub trait TokenStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a one-time token and queues the email that carries it, atomically.
    async fn insert_link(&self, token: &NewOneTimeToken, effects: &Effects) -> StoreResult<()>;
    async fn find_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>>;
    /// Spends an activation token and activates its pending account. `false` when the token
    /// was already spent (by a concurrent request, say). Any activation but the link of a
    /// provider sign-up ([`TokenPurpose::ActivationThroughProvider`]) removes the identities
    /// whoever signed up linked, in the same transaction.
    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>, effects: &Effects) -> StoreResult<bool>;
    /// Spends a reset token, sets the password, spends the account's other reset tokens,
    /// activates a pending account (the link proved the address) and queues `notice`,
    /// atomically. `false` when already spent.
    async fn redeem_reset(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool>;
}
