//! Accounts as the store keeps them: what an account is written from ([`NewAccount`],
//! [`ProfileChange`]), and the operations on the `accounts` table the rules call.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use super::tokens::NewOneTimeToken;
use crate::model::account::{Account, AccountKey, Credentials};
pub use crate::model::account_change::{NewAccount, ProfileChange};
use crate::model::outcome::Effects;

#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug + 'static {
    /// Inserts an account, with its first one-time token and the email carrying it, atomically.
    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<&NewOneTimeToken>,
        effects: &Effects,
    ) -> StoreResult<Account>;
    async fn find_account(&self, key: &AccountKey) -> StoreResult<Option<Credentials>>;
    /// Replaces the editable fields; `None` when the account does not exist.
    async fn update_profile(&self, id: Uuid, change: &ProfileChange, effects: &Effects)
    -> StoreResult<Option<Account>>;
    /// Sets a new password hash and queues `notice` (telling the owner), atomically.
    async fn set_password_hash(&self, id: Uuid, hash: &str, now: DateTime<Utc>, effects: &Effects) -> StoreResult<()>;
    async fn delete_account(&self, id: Uuid, effects: &Effects) -> StoreResult<bool>;
}
