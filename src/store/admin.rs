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

/// What [`AdminStore::seed_history`] writes, spread over the accounts there are: the history a
/// service of that size has behind it, for the growth benchmark.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct HistoryPlan {
    /// Live sessions in the database, each with a current refresh token (none when sessions
    /// live in Redis: they are seeded there).
    pub live_sessions: u64,
    /// Sessions in the database that expired an hour ago, each with a spent and a current
    /// refresh token: what the next purge removes.
    pub expired_sessions: u64,
    /// Spent password-reset links past their retention: the purge removes them too.
    pub spent_links: u64,
    /// Audit events over the last sixty days.
    pub audit_events: u64,
    /// The newest accounts get a confirmed authenticator app and ten recovery codes each.
    pub second_factors: u64,
    /// The newest accounts get a social identity each.
    pub identities: u64,
    /// Client apps.
    pub clients: u64,
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
    /// Inserts `count` active, verified users for load tests: `{prefix}{n}@example.com`,
    /// username `{prefix}{n}`, name `Seed {n}` for `n` in `1..=count`, all with `password_hash`
    /// and created `now`, their ids time-ordered UUIDv7 in the order of `n`. Written in large
    /// batches; how many were inserted.
    async fn seed_accounts(
        &self,
        prefix: &str,
        count: u64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Writes the history `plan` asks for, for load tests (none of it lets anybody in); what
    /// was written (at most one second factor and one identity per account, nothing without
    /// accounts).
    async fn seed_history(&self, plan: &HistoryPlan, now: DateTime<Utc>) -> StoreResult<HistoryPlan>;
}
