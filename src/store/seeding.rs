//! Seeding, an optional capability of a store: many accounts and the history a service of some
//! size has behind it, written in bulk for the benchmark and the growth tests. It is not part
//! of `Store`, the port every backend must have; a backend that offers it says so in
//! `Store::seeding`. (A cargo feature would keep it out of the server's binary only at
//! the price of a second build of it, as the benchmark's helpers are built with the server.)

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreResult;

/// What [`SeedingStore::seed_history`] writes, spread over the accounts there are: the history a
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
pub trait SeedingStore: Send + Sync + std::fmt::Debug + 'static {
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

/// The seeded account number `n`: its email, username and display name (every backend seeds
/// the same accounts).
pub fn seed_identity(prefix: &str, n: u64) -> (String, String, String) {
    (format!("{prefix}{n}@example.com"), format!("{prefix}{n}"), format!("Seed {n}"))
}
