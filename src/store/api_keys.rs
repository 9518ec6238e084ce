//! API keys, kept by the hash of their secret.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::api_key::{ApiKey, FoundKey, KeyOwner, NewApiKey};
use crate::model::outcome::Effects;
use crate::model::token::TokenHash;

#[async_trait]
pub trait ApiKeyStore: Send + Sync + std::fmt::Debug + 'static {
    /// Adds a key; `false` when its owner holds `max` already (counted under the owner's row
    /// lock, so two at once cannot both pass).
    async fn insert_api_key(&self, new: &NewApiKey, max: usize, effects: &Effects) -> StoreResult<bool>;
    /// The owner's keys, oldest first.
    async fn api_keys(&self, owner: KeyOwner) -> StoreResult<Vec<ApiKey>>;
    /// The owner's keys with the hashes of their secrets, oldest first: for a copy into another
    /// store, nothing else.
    async fn api_keys_with_hashes(&self, owner: KeyOwner) -> StoreResult<Vec<NewApiKey>>;
    /// The key whose hash this is, with whether its owning account is active.
    async fn api_key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<FoundKey>>;
    async fn api_key_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    /// Revokes a key of `owner`; `false` when there is none.
    async fn delete_api_key(&self, owner: KeyOwner, id: Uuid, effects: &Effects) -> StoreResult<bool>;
}
