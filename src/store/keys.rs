//! The token-signing keys and the generated sealing key as the store keeps them: every replica
//! signs and seals with the same keys.

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
    /// The generated sealing key (see [`crate::tokens::sealing`]), if one was stored.
    async fn sealing_key(&self) -> StoreResult<Option<Vec<u8>>>;
    /// Stores `key` as the generated sealing key unless one exists already (another replica
    /// may have won the race); afterwards every replica reads the same key.
    async fn insert_first_sealing_key(&self, key: &[u8], now: DateTime<Utc>) -> StoreResult<()>;
}
