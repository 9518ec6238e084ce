//! Passkeys as the store keeps them, and the WebAuthn ceremonies waiting for a browser.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::outcome::Effects;

/// A stored passkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPasskey {
    pub id: Uuid,
    pub account_id: Uuid,
    pub credential_id: Vec<u8>,
    /// The credential as the WebAuthn library serialises it (public key, counter, flags).
    pub passkey: String,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a ceremony is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ceremony {
    /// Adding a passkey to the account.
    Register,
    /// A passwordless login with a discoverable passkey.
    Login,
    /// A second factor (after a password) or a step-up, with the account's passkeys.
    Verify,
}

impl Ceremony {
    pub fn as_str(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::Login => "login",
            Ceremony::Verify => "verify",
        }
    }
}

/// A ceremony about to be stored.
#[derive(Clone, Debug)]
pub struct NewCeremony {
    /// SHA-256 of the challenge.
    pub hash: [u8; 32],
    pub account_id: Option<Uuid>,
    pub purpose: Ceremony,
    /// The library's server-side state, serialised.
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

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
