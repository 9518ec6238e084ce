//! One-time link tokens (activation and password reset) as the store keeps them: only their
//! hashes, each spent once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreResult;
use crate::model::outcome::Effects;
pub use crate::model::token::{NewOneTimeToken, OneTimeToken, TokenPurpose};
use crate::tokens::opaque::TokenHash;

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
