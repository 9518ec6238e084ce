//! SQLite: rate-limit state in `rate_limits`. Each step that writes is one `BEGIN IMMEDIATE`
//! transaction that reads the key's row and writes it back: the write lock is taken before the
//! read, so concurrent callers on any connection or process queue on the busy timeout.

use async_trait::async_trait;

use super::{SqliteStore, map_err};
use crate::limits::{
    Budget, Decision, FailureState, LimitRow, LimitStore, LockoutPolicy, apply_failure, apply_take, failures_in,
};
use crate::store::StoreResult;

const SELECT: &str = "SELECT until_ms, count, expires_ms FROM rate_limits WHERE key = ?";

fn row((until_ms, count, expires_ms): (i64, i64, i64)) -> LimitRow {
    LimitRow { until_ms, count: u32::try_from(count).unwrap_or_default(), expires_ms }
}

impl SqliteStore {
    /// Reads `key`'s row, lets `step` decide, and stores the row it returns, atomically.
    async fn limit_step<T: Send>(
        &self,
        key: &str,
        step: impl FnOnce(Option<LimitRow>) -> (T, Option<LimitRow>) + Send,
    ) -> StoreResult<T> {
        let mut tx = self.write_tx().await?;
        let current = sqlx::query_as(SELECT).bind(key).fetch_optional(&mut *tx).await.map_err(map_err)?;
        let (answer, write) = step(current.map(row));
        if let Some(new) = write {
            sqlx::query(
                "INSERT INTO rate_limits (key, until_ms, count, expires_ms) VALUES (?, ?, ?, ?)
                 ON CONFLICT (key) DO UPDATE
                 SET until_ms = excluded.until_ms, count = excluded.count, expires_ms = excluded.expires_ms",
            )
            .bind(key)
            .bind(new.until_ms)
            .bind(i64::from(new.count))
            .bind(new.expires_ms)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(answer)
    }
}

#[async_trait]
impl LimitStore for SqliteStore {
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
        sqlx::query("DELETE FROM rate_limits WHERE key = ?").bind(key).execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn purge_limits(&self, now_ms: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE expires_ms <= ?")
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}
