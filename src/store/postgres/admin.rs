//! The administration queries in PostgreSQL: the account list and count, the outbox as admins
//! see it, signing-key rotation, the last-admin guard and bulk seeding.
//!
//! The account search is served by the trigram indexes of `0003_admin.sql`. Its statements are
//! prepared unnamed (`persistent(false)`), so each is planned with its actual values: whether
//! `q` matches a handful of accounts (read them through the trigram indexes, then sort) or
//! half the table (walk the primary key newest first and stop at `limit`) is a choice only the
//! values can make, and a cached generic plan would make it once for all.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{ACCOUNT_COLUMNS, PostgresStore, Tx, account_from_row, get, map_err};
use crate::accounts::domain::Account;
use crate::store::admin::{AccountQuery, AdminStore, OutboxEntry, OutboxQuery, Retried, like_contains};
use crate::store::{StoreError, StoreResult};
use crate::tokens::jwt::SigningKey;

/// The outbox columns an admin sees: never the bodies, which hold one-time links.
const OUTBOX_COLUMNS: &str =
    "id, kind, recipient, subject, status, attempts, last_error, created_at, next_attempt_at, sent_at";

/// Seeded rows per `INSERT` (two array parameters, whatever their length).
const SEED_ROWS_PER_INSERT: u64 = 20_000;
/// Seeded rows per transaction.
const SEED_ROWS_PER_TRANSACTION: u64 = 100_000;

/// How often a rotation retries after a concurrent one took the generation it computed.
const ROTATION_ATTEMPTS: usize = 10;

/// The filters of an account query, appended to `… WHERE TRUE`; with the keyset cursor when
/// `cursor` is set. The text search matches the expressions the trigram indexes are built on.
fn push_filters(sql: &mut QueryBuilder<'_, Postgres>, query: &AccountQuery, cursor: bool) {
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
        sql.push(" AND id < ").push_bind(before);
    }
}

fn outbox_from_row(row: &PgRow) -> StoreResult<OutboxEntry> {
    Ok(OutboxEntry {
        id: get(row, "id")?,
        kind: get(row, "kind")?,
        recipient: get(row, "recipient")?,
        subject: get(row, "subject")?,
        status: get(row, "status")?,
        attempts: get::<i32>(row, "attempts")?.try_into().unwrap_or_default(),
        last_error: get(row, "last_error")?,
        created_at: get(row, "created_at")?,
        next_attempt_at: get(row, "next_attempt_at")?,
        sent_at: get(row, "sent_at")?,
    })
}

/// The last-admin guard, inside the transaction of a change that leaves account `id` no longer
/// an active admin: [`StoreError::LastAdmin`] when it is one now and no other is.
///
/// It locks the account and every active admin in one statement, in id order, so two guards
/// (two admins demoting each other) queue instead of deadlocking, and the admins it counts stay
/// admins until this transaction ends. An admin demoted meanwhile is re-checked once its lock
/// is free and no longer counted. `NO KEY UPDATE` is the strength of an ordinary update: it
/// does not hold back an admin's new session, which only references the row.
pub(super) async fn refuse_last_admin(tx: &mut Tx, id: Uuid) -> StoreResult<()> {
    let locked: Vec<(Uuid, bool)> = sqlx::query_as(
        "SELECT id, role = 'admin' AND status = 'active' FROM accounts
         WHERE id = $1 OR (role = 'admin' AND status = 'active')
         ORDER BY id
         FOR NO KEY UPDATE",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await
    .map_err(map_err)?;
    let target_is_active_admin = locked.iter().any(|&(account, admin)| account == id && admin);
    let another_active_admin = locked.iter().any(|&(account, admin)| account != id && admin);
    if target_is_active_admin && !another_active_admin {
        return Err(StoreError::LastAdmin);
    }
    Ok(())
}

#[async_trait]
impl AdminStore for PostgresStore {
    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE TRUE"));
        push_filters(&mut sql, query, true);
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows = sql.build().persistent(false).fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(|row| Ok(account_from_row(row)?.account)).collect()
    }

    async fn count_accounts(&self, query: &AccountQuery) -> StoreResult<u64> {
        let mut sql = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM accounts WHERE TRUE");
        push_filters(&mut sql, query, false);
        let n: i64 = sql.build_query_scalar().persistent(false).fetch_one(&self.pool).await.map_err(map_err)?;
        Ok(n.try_into().unwrap_or_default())
    }

    async fn list_outbox(&self, query: &OutboxQuery) -> StoreResult<Vec<OutboxEntry>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE TRUE"));
        if let Some(status) = &query.status {
            sql.push(" AND status = ").push_bind(status.clone());
        }
        if let Some(recipient) = &query.recipient {
            sql.push(" AND lower(recipient) = lower(").push_bind(recipient.clone()).push(")");
        }
        if let Some(before) = query.before {
            sql.push(" AND id < ").push_bind(before);
        }
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(query.limit));
        let rows = sql.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(outbox_from_row).collect()
    }

    async fn find_outbox(&self, id: Uuid) -> StoreResult<Option<OutboxEntry>> {
        let row = sqlx::query(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(outbox_from_row).transpose()
    }

    /// Locks the row, so that the answer is the state the retry acted on. Keeps `last_error`,
    /// so the list still says why the email failed until the next attempt replaces it.
    async fn retry_email(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Retried> {
        let mut tx = self.tx().await?;
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        match status.as_deref() {
            None => return Ok(Retried::NotFound),
            Some("failed") => {}
            Some(_) => return Ok(Retried::NotFailed),
        }
        sqlx::query(
            "UPDATE outbox SET status = 'queued', attempts = 0, next_attempt_at = $1, claimed_until = NULL
             WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Retried::Requeued)
    }

    /// Two rotations at once compute the same next generation; the unique generation lets one
    /// in, and the other (finding it taken once the first commits) computes again.
    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        for _ in 0..ROTATION_ATTEMPTS {
            let done = sqlx::query(
                "INSERT INTO signing_keys (kid, generation, private_key, public_key, created_at)
                 SELECT $1, COALESCE(MAX(generation), 0) + 1, $2, $3, $4 FROM signing_keys
                 ON CONFLICT ON CONSTRAINT signing_keys_generation_key DO NOTHING",
            )
            .bind(&key.kid)
            .bind(&key.private_pkcs8)
            .bind(&key.public_key)
            .bind(key.created_at)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
            if done.rows_affected() == 1 {
                return Ok(());
            }
        }
        Err(StoreError::Other(anyhow::anyhow!("no free signing key generation after {ROTATION_ATTEMPTS} attempts")))
    }

    async fn delete_signing_keys_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM signing_keys
             WHERE created_at < $1 AND generation < (SELECT MAX(generation) FROM signing_keys)",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    /// Sends the ids and numbers as two arrays per statement; the server spells out the rest.
    /// Ends with `ANALYZE`, so that the planner knows the grown table at once.
    async fn seed_accounts(
        &self,
        prefix: &str,
        count: u64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        // The identities of `seed_identity`, spelled out in SQL; the prefix as typed and in the
        // normalized forms of the email and the username.
        let (email_prefix, username_prefix) = (prefix.to_lowercase(), prefix.to_ascii_lowercase());
        let mut next = 1;
        while next <= count {
            let last_of_transaction = count.min(next + SEED_ROWS_PER_TRANSACTION - 1);
            let mut tx = self.tx().await?;
            while next <= last_of_transaction {
                let last = last_of_transaction.min(next + SEED_ROWS_PER_INSERT - 1);
                let numbers: Vec<i64> = (next..=last).map(|n| n.try_into().unwrap_or(i64::MAX)).collect();
                let ids: Vec<Uuid> = numbers.iter().map(|_| Uuid::now_v7()).collect();
                sqlx::query(
                    "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name,
                                           password_hash, role, status, email_verified, created_at, updated_at)
                     SELECT seed.id, $3 || seed.n || '@example.com', $4 || seed.n || '@example.com',
                            $3 || seed.n, $5 || seed.n, 'Seed ' || seed.n,
                            $6, 'user', 'active', TRUE, $7, $7
                     FROM unnest($1::uuid[], $2::bigint[]) AS seed (id, n)",
                )
                .bind(&ids)
                .bind(&numbers)
                .bind(prefix)
                .bind(&email_prefix)
                .bind(&username_prefix)
                .bind(password_hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
                next = last + 1;
            }
            tx.commit().await.map_err(map_err)?;
        }
        // Statistics now rather than at autovacuum's next pass: the search plans by them.
        sqlx::query("ANALYZE accounts").execute(&self.pool).await.map_err(map_err)?;
        Ok(count)
    }
}
