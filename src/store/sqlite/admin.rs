//! The administration queries in SQLite: the account list and count, the outbox as admins see
//! it, signing-key rotation, the last-admin guard and bulk seeding. Ids and times are text that
//! sorts as the values do, so `id < ?` is the keyset cursor and `ORDER BY id DESC` the newest
//! first. Every write here runs in a `BEGIN IMMEDIATE` transaction, so writers are serialized
//! and a read-then-write decision cannot race.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use uuid::Uuid;

use super::{ACCOUNT_COLUMNS, SqliteStore, account_from_row, map_err, uuid};
use crate::accounts::domain::Account;
use crate::store::admin::{AccountQuery, AdminStore, OutboxEntry, OutboxQuery, Retried, like_contains, seed_identity};
use crate::store::{StoreError, StoreResult};
use crate::tokens::jwt::SigningKey;

/// The outbox columns an admin sees: never the bodies, which hold one-time links.
const OUTBOX_COLUMNS: &str =
    "id, kind, recipient, subject, status, attempts, last_error, created_at, next_attempt_at, sent_at";

/// Seeded rows per `INSERT`: 9 parameters each, under SQLite's limit of 32,766.
const SEED_ROWS_PER_INSERT: u64 = 2_500;
/// Seeded rows per transaction (each commit is a synced write).
const SEED_ROWS_PER_TRANSACTION: u64 = 100_000;

/// The filters of an account query, appended to `… WHERE 1 = 1`; with the keyset cursor when
/// `cursor` is set.
///
/// The text search is a `LIKE '%q%'` on the lower-cased email and username and on `lower(name)`:
/// no B-tree index can serve a substring, so the list scans in id order and stops at `limit`
/// matches. SQLite's `lower()` (and its `LIKE`) fold ASCII letters only, so a name's non-ASCII
/// capitals match only as typed.
fn push_filters(sql: &mut QueryBuilder<'_, Sqlite>, query: &AccountQuery, cursor: bool) {
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = like_contains(q);
        sql.push(" AND (email_normalized LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '!' OR username_normalized LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '!' OR lower(name) LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '!')");
    }
    if let Some(status) = query.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(role) = query.role {
        sql.push(" AND role = ").push_bind(role.as_str());
    }
    if let Some(after) = query.created_after {
        sql.push(" AND created_at >= ").push_bind(after);
    }
    if let Some(before) = query.created_before {
        sql.push(" AND created_at < ").push_bind(before);
    }
    if let (true, Some(before)) = (cursor, query.before) {
        sql.push(" AND id < ").push_bind(before.to_string());
    }
}

fn outbox_from_row(row: &SqliteRow) -> StoreResult<OutboxEntry> {
    Ok(OutboxEntry {
        id: uuid(row, "id")?,
        kind: row.try_get("kind").map_err(map_err)?,
        recipient: row.try_get("recipient").map_err(map_err)?,
        subject: row.try_get("subject").map_err(map_err)?,
        status: row.try_get("status").map_err(map_err)?,
        attempts: row.try_get::<i64, _>("attempts").map_err(map_err)?.try_into().unwrap_or(u32::MAX),
        last_error: row.try_get("last_error").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        next_attempt_at: row.try_get("next_attempt_at").map_err(map_err)?,
        sent_at: row.try_get("sent_at").map_err(map_err)?,
    })
}

/// The last-admin guard, inside the write transaction of a change that leaves account `id`
/// no longer an active admin: [`StoreError::LastAdmin`] when it is one now and no other is.
/// (Writers are serialized, so nothing changes between this check and the write.)
pub(super) async fn refuse_last_admin(tx: &mut Transaction<'static, Sqlite>, id: Uuid) -> StoreResult<()> {
    let target_is_active_admin: Option<bool> =
        sqlx::query_scalar("SELECT role = 'admin' AND status = 'active' FROM accounts WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
    if target_is_active_admin != Some(true) {
        return Ok(());
    }
    let others: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM accounts WHERE role = 'admin' AND status = 'active' AND id <> ? LIMIT 1")
            .bind(id.to_string())
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
    match others {
        Some(_) => Ok(()),
        None => Err(StoreError::LastAdmin),
    }
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Sqlite>::new(format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE 1 = 1"));
        push_filters(&mut sql, query, true);
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|row| Ok(account_from_row(row)?.account)).collect()
    }

    async fn count_accounts(&self, query: &AccountQuery) -> StoreResult<u64> {
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM accounts WHERE 1 = 1");
        push_filters(&mut sql, query, false);
        let n: i64 = sql.build_query_scalar().fetch_one(&self.pool).await.map_err(map_err)?;
        Ok(n.try_into().unwrap_or_default())
    }

    async fn list_outbox(&self, query: &OutboxQuery) -> StoreResult<Vec<OutboxEntry>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Sqlite>::new(format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE 1 = 1"));
        if let Some(status) = &query.status {
            sql.push(" AND status = ").push_bind(status.clone());
        }
        if let Some(recipient) = &query.recipient {
            // NOCASE folds ASCII only, as the index outbox_by_recipient does.
            sql.push(" AND recipient = ").push_bind(recipient.clone()).push(" COLLATE NOCASE");
        }
        if let Some(before) = query.before {
            sql.push(" AND id < ").push_bind(before.to_string());
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn find_outbox(&self, id: Uuid) -> StoreResult<Option<OutboxEntry>> {
        let row = sqlx::query(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = ?"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(outbox_from_row).transpose()
    }

    /// Keeps `last_error`, so the list still says why the email failed until the next attempt
    /// replaces it.
    async fn retry_email(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Retried> {
        let mut tx = self.write_tx().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE id = ?")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        match status.as_deref() {
            None => return Ok(Retried::NotFound),
            Some("failed") => {}
            Some(_) => return Ok(Retried::NotFailed),
        }
        sqlx::query(
            "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?, claimed_until = NULL
             WHERE id = ?",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Retried::Requeued)
    }

    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        // The write transaction serializes rotations, so the next generation is taken once.
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, generation, private_key, public_key, created_at)
             SELECT ?, COALESCE(MAX(generation), 0) + 1, ?, ?, ? FROM signing_keys",
        )
        .bind(&key.kid)
        .bind(&key.private_pkcs8)
        .bind(&key.public_key)
        .bind(key.created_at)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn delete_signing_keys_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys
             WHERE created_at < ? AND generation < (SELECT MAX(generation) FROM signing_keys)",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn seed_accounts(
        &self,
        prefix: &str,
        count: u64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let mut next = 1;
        while next <= count {
            let last_of_transaction = count.min(next + SEED_ROWS_PER_TRANSACTION - 1);
            let mut tx = self.write_tx().await?;
            while next <= last_of_transaction {
                let last = last_of_transaction.min(next + SEED_ROWS_PER_INSERT - 1);
                let mut insert = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name,
                                           password_hash, role, status, email_verified, created_at, updated_at) ",
                );
                insert.push_values(next..=last, |mut row, n| {
                    let (email, username, name) = seed_identity(prefix, n);
                    let (email_normalized, username_normalized) = (email.to_lowercase(), username.to_ascii_lowercase());
                    row.push_bind(Uuid::now_v7().to_string())
                        .push_bind(email)
                        .push_bind(email_normalized)
                        .push_bind(username)
                        .push_bind(username_normalized)
                        .push_bind(name)
                        .push_bind(password_hash)
                        .push("'user', 'active', 1")
                        .push_bind(now)
                        .push_bind(now);
                });
                insert.build().execute(&mut *tx).await.map_err(map_err)?;
                next = last + 1;
            }
            tx.commit().await.map_err(map_err)?;
        }
        Ok(count)
    }
}
