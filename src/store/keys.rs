//! The token-signing keys as the store keeps them: every replica signs with the same keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreResult;
use crate::tokens::jwt::SigningKey;

#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug + 'static {
    /// Every key, oldest generation first.
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Stores `key` as the first signing key unless one exists already (another replica may
    /// have won the race); afterwards every replica reads the same keys.
    async fn insert_first_signing_key(&self, key: &SigningKey) -> StoreResult<()>;
    /// Stores `key` as the newest generation.
    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()>;
    /// Deletes keys created before `before`, but never the newest.
    async fn delete_signing_keys_before(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}
