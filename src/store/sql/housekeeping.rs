//! The store as a whole: its readiness ping and the capabilities it offers, and the purge of
//! what has expired.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, Exec, SqlStore, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::StoreResult;
use crate::store::maintenance::MaintenanceStore;
use crate::store::{Health, Pace, Store};

/// How long expired one-time tokens, email-change links and logins by email are kept, so that a late click
/// still hears "expired".
const EXPIRED_TOKEN_RETENTION: chrono::Duration = chrono::Duration::days(7);
/// How long finished jobs are kept: the outbox's sent and failed emails (bodies erased once sent)
/// and the webhook delivery log's delivered and given-up deliveries.
const FINISHED_JOB_RETENTION: chrono::Duration = chrono::Duration::days(30);
/// Rows one purge statement removes at most at [`Pace::Full`] (see [`SqlStore::purge_batches`]).
const PURGE_BATCH: i64 = 1_000;
/// Rows one purge statement removes at most at [`Pace::Background`]: about a millisecond of the
/// database's work (a session takes its refresh tokens with it), short enough that a request
/// arriving meanwhile hardly waits for a core or for the write lock.
const BACKGROUND_BATCH: i64 = 25;
/// The most rows a second the server's own sweep removes ([`Pace::Background`]). Each costs the
/// database a few tens of microseconds (about 21 µs on PostgreSQL, measured), so this is about
/// one percent of a core. It clears a backlog of a million rows in about half an hour, and is
/// far above what a service produces (a million expired sessions a day is 12 a second).
const BACKGROUND_ROWS_PER_SECOND: u32 = 500;

#[async_trait]
impl<D: Dialect> Health for SqlStore<D> {
    async fn ping(&self) -> StoreResult<()> {
        timed!(DB, "ping", async {
            self.db.pool().execute(sql!("SELECT 1"), args![]).await?;
            Ok(())
        })
    }
}

#[async_trait]
impl<D: Dialect> Store for SqlStore<D> {
    fn maintenance(&self) -> Option<&dyn MaintenanceStore> {
        Some(self)
    }

    fn probe(&self) -> Option<&dyn crate::store::probe::Probe> {
        Some(self)
    }

    fn seeding(&self) -> Option<&dyn crate::store::seeding::SeedingStore> {
        Some(self)
    }
}

#[async_trait]
impl<D: Dialect> MaintenanceStore for SqlStore<D> {
    async fn purge_expired(&self, now: DateTime<Utc>, pace: Pace) -> StoreResult<u64> {
        timed!(DB, "purge_expired", async {
            let mut removed = 0;
            for purge in PURGES {
                let cutoff = match purge.kept {
                    Kept::No => now,
                    Kept::AsExpiredTokens => now - EXPIRED_TOKEN_RETENTION,
                    Kept::AsFinishedJobs => now - FINISHED_JOB_RETENTION,
                };
                removed += self.purge_batches(&purge.statement(), cutoff, pace).await?;
            }
            Ok(removed)
        })
    }
}

/// How long past its cut-off a row is kept.
enum Kept {
    No,
    AsExpiredTokens,
    AsFinishedJobs,
}

/// What the purge removes from one table: the rows matching `condition` (whose one `?` is the
/// cut-off), named by their `key`.
struct Purge {
    table: &'static str,
    key: &'static str,
    condition: &'static str,
    kept: Kept,
}

const PURGES: [Purge; 15] = [
    Purge { table: "sessions", key: "id", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "one_time_tokens", key: "hash", condition: "expires_at <= ?", kept: Kept::AsExpiredTokens },
    Purge { table: "email_changes", key: "hash", condition: "expires_at <= ?", kept: Kept::AsExpiredTokens },
    Purge { table: "mfa_challenges", key: "hash", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "webauthn_challenges", key: "hash", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "email_logins", key: "id", condition: "expires_at <= ?", kept: Kept::AsExpiredTokens },
    Purge { table: "login_handoffs", key: "hash", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "oidc_logins", key: "id", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "oauth_codes", key: "hash", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "oauth_device_codes", key: "device_hash", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "oauth_initial_tokens", key: "id", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "saml_requests", key: "hash", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "saml_assertions", key: "hash", condition: "expires_at <= ?", kept: Kept::No },
    Purge { table: "org_invitations", key: "id", condition: "expires_at <= ?", kept: Kept::AsExpiredTokens },
    Purge {
        table: "jobs",
        key: "id",
        condition: "status IN ('done', 'failed') AND created_at <= ?",
        kept: Kept::AsFinishedJobs,
    },
];

impl Purge {
    /// `DELETE` of at most a batch of matching rows ([`limited_delete`]).
    fn statement(&self) -> String {
        limited_delete(self.table, self.key, self.condition)
    }
}

/// `DELETE` of at most a limit of `table`'s rows matching `condition` (the limit is the last
/// value), named by their `key`. The inner `SELECT` is wrapped in a derived table because MySQL
/// and MariaDB refuse a `LIMIT` directly inside `IN`; a row value serves a composite key on
/// every server.
pub(super) fn limited_delete(table: &str, key: &str, condition: &str) -> String {
    let matched = if key.contains(',') { format!("({key})") } else { key.to_owned() };
    format!(
        "DELETE FROM {table} WHERE {matched} IN \
         (SELECT {key} FROM (SELECT {key} FROM {table} WHERE {condition} LIMIT ?) AS doomed)"
    )
}

impl<D: Dialect> SqlStore<D> {
    /// Runs a [`limited_delete`] statement until one removes nothing (a batch short of whole
    /// does not say that nothing is left: another sweep, a replica's or `gatehouse purge`, may
    /// have taken some of the rows it picked at the same moment): each batch is its own short
    /// transaction, so requests that write (a login, a sign-up; on SQLite every
    /// writer waits for the one write lock) wait for one batch at most, never for the whole
    /// purge. After each batch that removed rows it rests at least as long as the batch took, so that a
    /// long purge takes at most half of the database's time from the requests; at
    /// [`Pace::Background`] it rests long enough besides to stay under
    /// [`BACKGROUND_ROWS_PER_SECOND`]. How many rows went.
    pub(super) async fn purge_batches(&self, delete: &str, cutoff: DateTime<Utc>, pace: Pace) -> StoreResult<u64> {
        let (batch_rows, least_interval) = match pace {
            Pace::Full => (PURGE_BATCH, Duration::ZERO),
            Pace::Background => {
                (BACKGROUND_BATCH, Duration::from_secs(1) * BACKGROUND_BATCH as u32 / BACKGROUND_ROWS_PER_SECOND)
            }
        };
        let delete = D::prepare(delete);
        let mut removed = 0;
        loop {
            let started = tokio::time::Instant::now();
            let batch = self
                .retrying(|| async { self.db.pool().execute_text(&delete, args![cutoff, batch_rows]).await })
                .await?;
            removed += batch;
            if batch == 0 {
                return Ok(removed);
            }
            let took = started.elapsed();
            tokio::time::sleep(took.max(least_interval.saturating_sub(took))).await;
        }
    }
}
