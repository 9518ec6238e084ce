//! The administration queries in MySQL/MariaDB: the account list and count, the outbox as
//! admins see it, signing-key rotation, the last-admin guard and bulk seeding. Ids are
//! hyphenated UUIDv7 text, which sorts as the values do, so `id < ?` is the keyset cursor and
//! `ORDER BY id DESC` the newest first.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::mysql::{MySqlDatabaseError, MySqlRow};
use sqlx::{MySql, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use super::{ACCOUNT_COLUMNS, MySqlStore, account_from_row, code, duplicate_key, map_err, retrying, uuid};
use crate::accounts::domain::Account;
use crate::store::admin::{AccountQuery, AdminStore, OutboxEntry, OutboxQuery, Retried, like_contains, seed_identity};
use crate::store::{StoreError, StoreResult};
use crate::tokens::jwt::SigningKey;

/// The outbox columns an admin sees: never the bodies, which hold one-time links.
const OUTBOX_COLUMNS: &str =
    "id, kind, recipient, subject, status, attempts, last_error, created_at, next_attempt_at, sent_at";

/// The unique key that makes two rotations pick different generations (named in the migration).
const GENERATION_KEY: &str = "signing_keys_generation_key";
/// How often a rotation retries after a concurrent one took the generation it computed.
const ROTATION_ATTEMPTS: usize = 10;

/// Seeded rows per `INSERT`: 9 parameters each, under the protocol's limit of 65,535.
const SEED_ROWS_PER_INSERT: u64 = 5_000;
/// Seeded rows per transaction.
const SEED_ROWS_PER_TRANSACTION: u64 = 50_000;

/// The filters of an account query, appended to `… WHERE 1 = 1`; with the keyset cursor when
/// `cursor` is set.
///
/// The text search is a `LIKE '%q%'` on the lower-cased email and username (binary collation)
/// and on the name, whose case- and accent-insensitive collation makes `lower()` needless. No
/// B-tree index can serve a substring: the list scans in id order and stops at `limit` matches.
fn push_filters(sql: &mut QueryBuilder<'_, MySql>, query: &AccountQuery, cursor: bool) {
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = like_contains(q);
        sql.push(" AND (email_normalized LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '!' OR username_normalized LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '!' OR name LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '!')");
    }
    if let Some(status) = query.status {
        sql.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(role) = query.role {
        sql.push(" AND role = ").push_bind(role.as_str());
    }
    // Bound as DATETIME (naive UTC, the session's zone), not as TIMESTAMP, whose range ends in
    // 2038: a bound beyond it would compare as nothing.
    if let Some(after) = query.created_after {
        sql.push(" AND created_at >= ").push_bind(after.naive_utc());
    }
    if let Some(before) = query.created_before {
        sql.push(" AND created_at < ").push_bind(before.naive_utc());
    }
    if let (true, Some(before)) = (cursor, query.before) {
        sql.push(" AND id < ").push_bind(before.to_string());
    }
}

fn outbox_from_row(row: &MySqlRow) -> StoreResult<OutboxEntry> {
    Ok(OutboxEntry {
        id: uuid(row, "id")?,
        kind: row.try_get("kind").map_err(map_err)?,
        recipient: row.try_get("recipient").map_err(map_err)?,
        subject: row.try_get("subject").map_err(map_err)?,
        status: row.try_get("status").map_err(map_err)?,
        attempts: row.try_get::<i32, _>("attempts").map_err(map_err)?.try_into().unwrap_or_default(),
        last_error: row.try_get("last_error").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        next_attempt_at: row.try_get("next_attempt_at").map_err(map_err)?,
        sent_at: row.try_get("sent_at").map_err(map_err)?,
    })
}

/// Whether an insert failed because another rotation took the generation first.
fn generation_taken(error: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = error else { return false };
    let duplicate = db
        .try_downcast_ref::<MySqlDatabaseError>()
        .is_some_and(|e| matches!(e.number(), code::DUPLICATE_ENTRY | code::DUPLICATE_ENTRY_WITH_KEY_NAME));
    duplicate && duplicate_key(db.message()) == Some(GENERATION_KEY)
}

/// The last-admin guard, inside the transaction of a change that leaves account `id` no longer
/// an active admin: [`StoreError::LastAdmin`] when it is one now and no other is.
///
/// It locks every active admin first, in id order (through `accounts_by_role`), then the
/// account itself, so two guards (two admins demoting each other) queue instead of deadlocking,
/// and the admins it counts stay admins until this transaction ends. Locking reads see the
/// latest committed rows: an admin demoted meanwhile is not counted.
pub(super) async fn refuse_last_admin(tx: &mut Transaction<'static, MySql>, id: Uuid) -> StoreResult<()> {
    let admins: Vec<String> =
        sqlx::query_scalar("SELECT id FROM accounts WHERE role = 'admin' AND status = 'active' ORDER BY id FOR UPDATE")
            .fetch_all(&mut **tx)
            .await
            .map_err(map_err)?;
    let target = sqlx::query("SELECT role, status FROM accounts WHERE id = ? FOR UPDATE")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    let Some(target) = target else { return Ok(()) };
    let role: String = target.try_get("role").map_err(map_err)?;
    let status: String = target.try_get("status").map_err(map_err)?;
    let id = id.to_string();
    if role == "admin" && status == "active" && admins.iter().all(|admin| *admin == id) {
        return Err(StoreError::LastAdmin);
    }
    Ok(())
}

#[async_trait]
impl AdminStore for MySqlStore {
    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<MySql>::new(format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE 1 = 1"));
        push_filters(&mut sql, query, true);
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|row| Ok(account_from_row(row)?.account)).collect()
    }

    async fn count_accounts(&self, query: &AccountQuery) -> StoreResult<u64> {
        let mut sql = QueryBuilder::<MySql>::new("SELECT COUNT(*) FROM accounts WHERE 1 = 1");
        push_filters(&mut sql, query, false);
        let n: i64 = sql.build_query_scalar().fetch_one(&self.pool).await.map_err(map_err)?;
        Ok(n.try_into().unwrap_or_default())
    }

    async fn list_outbox(&self, query: &OutboxQuery) -> StoreResult<Vec<OutboxEntry>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<MySql>::new(format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE 1 = 1"));
        if let Some(status) = &query.status {
            sql.push(" AND status = ").push_bind(status.clone());
        }
        if let Some(recipient) = &query.recipient {
            // The column's collation is case-insensitive.
            sql.push(" AND recipient = ").push_bind(recipient.clone());
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

    /// Locks the row, so that the answer is the state the retry acted on. Keeps `last_error`,
    /// so the list still says why the email failed until the next attempt replaces it.
    async fn retry_email(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Retried> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            let status: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE id = ? FOR UPDATE")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            let answer = match status.as_deref() {
                None => Retried::NotFound,
                Some("failed") => Retried::Requeued,
                Some(_) => Retried::NotFailed,
            };
            if answer == Retried::Requeued {
                sqlx::query(
                    "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = ?, claimed_until = NULL
                     WHERE id = ?",
                )
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(answer)
        })
        .await
    }

    /// Two rotations at once compute the same next generation; the unique generation lets one
    /// in, and the other (finding it taken once the first commits) computes again.
    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        for _ in 0..ROTATION_ATTEMPTS {
            let inserted = sqlx::query(
                "INSERT INTO signing_keys (kid, generation, private_key, public_key, created_at)
                 SELECT ?, COALESCE(MAX(generation), 0) + 1, ?, ?, ? FROM signing_keys",
            )
            .bind(&key.kid)
            .bind(&key.private_pkcs8)
            .bind(&key.public_key)
            .bind(key.created_at)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => return Ok(()),
                Err(error) if generation_taken(&error) => continue,
                Err(error) => return Err(map_err(error)),
            }
        }
        Err(StoreError::Other(anyhow::anyhow!("no free signing key generation after {ROTATION_ATTEMPTS} attempts")))
    }

    /// Neither server lets a `DELETE` read its own table in a subquery: the newest generation
    /// is read first. A key rotated in meanwhile is newer still, so it is kept as well.
    async fn delete_signing_keys_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let newest: Option<i32> = sqlx::query_scalar("SELECT MAX(generation) FROM signing_keys")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(newest) = newest else { return Ok(0) };
        let done = sqlx::query("DELETE FROM signing_keys WHERE created_at < ? AND generation < ?")
            .bind(before)
            .bind(newest)
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
            let mut tx = self.begin().await?;
            while next <= last_of_transaction {
                let last = last_of_transaction.min(next + SEED_ROWS_PER_INSERT - 1);
                let mut insert = QueryBuilder::<MySql>::new(
                    "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name, data,
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
                        .push("'{}'")
                        .push_bind(password_hash)
                        .push("'user', 'active', TRUE")
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
