//! Email-address changes: the types and the store interface. A change takes effect only when
//! a link sent to the new address is followed; the old address then gets a link that undoes it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreResult;
pub use crate::model::email_change::ChangeKind;
pub use crate::model::email_change::{EmailChangeToken, NewEmailChange, Redeemed};
use crate::model::outcome::Effects;
use crate::tokens::opaque::TokenHash;

#[async_trait]
pub trait EmailChangeStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a confirm link and queues the email that carries it, atomically. Earlier unspent
    /// confirm links of the account are spent (only the newest request counts).
    async fn insert_email_change(&self, change: &NewEmailChange, effects: &Effects) -> StoreResult<()>;
    async fn find_email_change(&self, hash: &TokenHash) -> StoreResult<Option<EmailChangeToken>>;
    /// Spends a confirm link and, atomically: sets the account's email (and `email_verified`)
    /// to the link's address (`EmailTaken` if another account has it by now, and nothing
    /// changes), stores `revert` (a link for the old address) and queues `notice` (the email
    /// carrying it to the old address).
    async fn redeem_email_change(
        &self,
        hash: &TokenHash,
        revert: &NewEmailChange,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Redeemed>;
    /// Spends a revert link and, atomically: restores the link's address (`EmailTaken` if
    /// another account has it by now), spends every other change link of the account, and
    /// queues `notice` if given.
    async fn redeem_email_revert(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Redeemed>;
}
