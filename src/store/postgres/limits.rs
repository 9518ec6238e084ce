//! PostgreSQL: rate-limit state in `rate_limits`. Each step that writes is one transaction that
//! locks the key's row (`SELECT … FOR UPDATE`; for a new key, an upsert that inserts a blank
//! row or, if a concurrent caller inserted it first, waits for that caller and locks its row),
//! decides, and writes it back; concurrent callers on any replica queue on the row lock.

use async_trait::async_trait;
use sqlx::Postgres;

use super::{PostgresStore, Tx, map_err};
use crate::limits::{
    Budget, Decision, FailureState, LimitRow, LimitStore, LockoutPolicy, apply_failure, apply_take, failures_in,
};
use crate::store::StoreResult;

const COLUMNS: &str = "until_ms, count, expires_ms";

fn row((until_ms, count, expires_ms): (i64, i32, i64)) -> LimitRow {
    LimitRow { until_ms, count: u32::try_from(count).unwrap_or_default(), expires_ms }
}

/// Locks `key`'s row, inserting a blank one (which counts as absent) if there is none.
async fn lock(tx: &mut Tx, key: &str) -> StoreResult<LimitRow> {
    let existing = sqlx::query_as::<Postgres, (i64, i32, i64)>(&format!(
        "SELECT {COLUMNS} FROM rate_limits WHERE key = $1 FOR UPDATE"
    ))
    .bind(key)
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    if let Some(existing) = existing {
        return Ok(row(existing));
    }
    // `DO UPDATE` (not `DO NOTHING`) so that a row a concurrent caller just inserted is locked
    // and returned too.
    let fresh = sqlx::query_as(&format!(
        "INSERT INTO rate_limits (key, until_ms, count, expires_ms) VALUES ($1, 0, 0, 0)
         ON CONFLICT (key) DO UPDATE SET until_ms = rate_limits.until_ms
         RETURNING {COLUMNS}"
    ))
    .bind(key)
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(row(fresh))
}

impl PostgresStore {
    /// Locks `key`'s row, lets `step` decide, and stores the row it returns, atomically.
    async fn limit_step<T: Send>(
        &self,
        key: &str,
        step: impl FnOnce(Option<LimitRow>) -> (T, Option<LimitRow>) + Send,
    ) -> StoreResult<T> {
        let mut tx = self.tx().await?;
        let (answer, write) = step(Some(lock(&mut tx, key).await?));
        let Some(new) = write else {
            tx.rollback().await.map_err(map_err)?;
            return Ok(answer);
        };
        sqlx::query("UPDATE rate_limits SET until_ms = $2, count = $3, expires_ms = $4 WHERE key = $1")
            .bind(key)
            .bind(new.until_ms)
            .bind(i32::try_from(new.count).unwrap_or(i32::MAX))
            .bind(new.expires_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(answer)
    }
}

#[async_trait]
impl LimitStore for PostgresStore {
    async fn take(&self, key: &str, budget: Budget, now_ms: i64) -> StoreResult<Decision> {
        self.limit_step(key, |current| apply_take(current, budget, now_ms)).await
    }

    async fn failures(&self, key: &str, now_ms: i64) -> StoreResult<FailureState> {
        let current = sqlx::query_as(&format!("SELECT {COLUMNS} FROM rate_limits WHERE key = $1"))
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(failures_in(current.map(row), now_ms))
    }

    async fn record_failure(&self, key: &str, policy: &LockoutPolicy, now_ms: i64) -> StoreResult<FailureState> {
        self.limit_step(key, |current| {
            let (state, new) = apply_failure(current, policy, now_ms);
            (state, Some(new))
        })
        .await
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM rate_limits WHERE key = $1").bind(key).execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn purge_limits(&self, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE expires_ms <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
