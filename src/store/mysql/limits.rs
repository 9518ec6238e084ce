//! MySQL/MariaDB: rate-limit state in `rate_limits`. Each step that writes is one transaction
//! that locks the key's row (`SELECT … FOR UPDATE`; for a new key, `INSERT … ON DUPLICATE KEY
//! UPDATE`, which inserts a blank row or, if a concurrent caller inserted it first, waits for
//! that caller and locks its row exclusively rather than shared, so such callers do not deadlock
//! upgrading their locks), decides, and writes it back. A deadlock victim is retried.

use async_trait::async_trait;
use sqlx::{MySql, Transaction};

use super::{MySqlStore, map_err, retrying};
use crate::limits::{
    Budget, Decision, FailureState, LimitRow, LimitStore, LockoutPolicy, apply_failure, apply_take, failures_in,
};
use crate::store::StoreResult;

const SELECT: &str = "SELECT until_ms, count, expires_ms FROM rate_limits WHERE `key` = ?";

fn row((until_ms, count, expires_ms): (i64, i32, i64)) -> LimitRow {
    LimitRow { until_ms, count: u32::try_from(count).unwrap_or_default(), expires_ms }
}

/// Locks `key`'s row, inserting a blank one (which counts as absent) if there is none.
async fn lock(tx: &mut Transaction<'static, MySql>, key: &str) -> StoreResult<LimitRow> {
    let locking = format!("{SELECT} FOR UPDATE");
    let existing = sqlx::query_as(&locking).bind(key).fetch_optional(&mut **tx).await.map_err(map_err)?;
    if let Some(existing) = existing {
        return Ok(row(existing));
    }
    sqlx::query(
        "INSERT INTO rate_limits (`key`, until_ms, count, expires_ms) VALUES (?, 0, 0, 0)
         ON DUPLICATE KEY UPDATE until_ms = until_ms",
    )
    .bind(key)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    let locked = sqlx::query_as(&locking).bind(key).fetch_one(&mut **tx).await.map_err(map_err)?;
    Ok(row(locked))
}

impl MySqlStore {
    /// Locks `key`'s row, lets `step` decide, and stores the row it returns, atomically.
    async fn limit_step<T: Send>(
        &self,
        key: &str,
        step: impl Fn(Option<LimitRow>) -> (T, Option<LimitRow>) + Send + Sync,
    ) -> StoreResult<T> {
        retrying(|| async {
            let mut tx = self.begin().await?;
            let (answer, write) = step(Some(lock(&mut tx, key).await?));
            let Some(new) = write else {
                tx.rollback().await.map_err(map_err)?;
                return Ok(answer);
            };
            sqlx::query("UPDATE rate_limits SET until_ms = ?, count = ?, expires_ms = ? WHERE `key` = ?")
                .bind(new.until_ms)
                .bind(i32::try_from(new.count).unwrap_or(i32::MAX))
                .bind(new.expires_ms)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(answer)
        })
        .await
    }
}

#[async_trait]
impl LimitStore for MySqlStore {
    async fn take(&self, key: &str, budget: Budget, now_ms: i64) -> StoreResult<Decision> {
        self.limit_step(key, |current| apply_take(current, budget, now_ms)).await
    }

    async fn failures(&self, key: &str, now_ms: i64) -> StoreResult<FailureState> {
        let current = sqlx::query_as(SELECT).bind(key).fetch_optional(&self.pool).await.map_err(map_err)?;
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
        retrying(|| async {
            sqlx::query("DELETE FROM rate_limits WHERE `key` = ?").bind(key).execute(&self.pool).await.map_err(map_err)
        })
        .await?;
        Ok(())
    }

    async fn purge_limits(&self, now_ms: i64) -> StoreResult<u64> {
        retrying(|| async {
            let done = sqlx::query("DELETE FROM rate_limits WHERE expires_ms <= ?")
                .bind(now_ms)
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }
}
