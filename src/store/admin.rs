//! What administration needs from the database: listing and counting accounts, guarding the
//! last active admin, inspecting and retrying the outbox, adding signing keys, and seeding
//! accounts in bulk for load tests.
//!
//! The last-admin rule itself lives in each store's `update_profile` and `delete_account`:
//! a change that would leave no active admin fails with [`StoreError::LastAdmin`] and changes
//! nothing, however many admins act at once.
//!
//! [`StoreError::LastAdmin`]: crate::store::error::StoreError::LastAdmin

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::account::Account;
pub use crate::model::admin::{AccountQuery, OutboxEntry, OutboxQuery};

/// What asking for a retry of an email did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retried {
    /// It was `failed` and is `queued` again, due now, with its attempts reset.
    Requeued,
    /// No such email.
    NotFound,
    /// It is not `failed` (it is queued, being sent, or sent); nothing changed.
    NotFailed,
}

#[async_trait]
pub trait AdminStore: Send + Sync + std::fmt::Debug + 'static {
    /// Accounts matching the query, newest first, at most `query.limit`.
    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>>;
    /// How many accounts match the query's filters (`before` and `limit` ignored).
    async fn count_accounts(&self, query: &AccountQuery) -> StoreResult<u64>;
    /// As [`Self::count_accounts`], but it stops counting at `at_most` (and answers that): the
    /// cost is bounded however many accounts match.
    async fn count_accounts_up_to(&self, query: &AccountQuery, at_most: u64) -> StoreResult<u64>;
    async fn list_outbox(&self, query: &OutboxQuery) -> StoreResult<Vec<OutboxEntry>>;
    async fn find_outbox(&self, id: Uuid) -> StoreResult<Option<OutboxEntry>>;
    /// Requeues a failed email, due `now`.
    async fn retry_email(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Retried>;
}
