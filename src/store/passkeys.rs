//! Passkeys as the store keeps them, and the WebAuthn ceremonies waiting for a browser.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::outcome::Effects;
pub use crate::model::passkey::{Ceremony, NewCeremony, StoredPasskey};

#[async_trait]
pub trait PasskeyStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a new passkey and queues `notice`, atomically. A credential id stored already
    /// (on any account) is a [`super::StoreError::Conflict`].
    async fn insert_passkey(&self, passkey: &StoredPasskey, effects: &Effects) -> StoreResult<()>;
    /// The account's passkeys, oldest first.
    async fn passkeys(&self, account_id: Uuid) -> StoreResult<Vec<StoredPasskey>>;
    async fn passkey_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>>;
    /// Records a use: the updated credential (counter, flags) and the time.
    async fn record_passkey_use(&self, passkey: &StoredPasskey, now: DateTime<Utc>) -> StoreResult<()>;
    /// Deletes one of the account's passkeys and queues `notice`; `false` when it has no such one.
    async fn delete_passkey(&self, account_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool>;
    async fn insert_ceremony(&self, ceremony: &NewCeremony) -> StoreResult<()>;
    /// Spends the unexpired ceremony of `purpose` whose challenge hashes to `hash`: its account
    /// and state, once.
    async fn take_ceremony(
        &self,
        hash: &[u8; 32],
        purpose: Ceremony,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Option<Uuid>, String)>>;
}
