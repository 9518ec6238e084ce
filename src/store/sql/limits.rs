//! Rate-limit state in the database (`rate_limits`), where no Redis is configured. Each step
//! that writes is one transaction that locks the key's row — inserting a blank one for a new
//! key, which counts as absent — lets the arithmetic of `limits` decide, and writes the row
//! back; concurrent callers on any replica queue on the row lock (on SQLite, on the write
//! transaction).

use async_trait::async_trait;

use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::limits::{
    Budget, Decision, FailureState, LimitRow, LimitStore, LockoutPolicy, apply_failure, apply_take, failures_in,
};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::StoreResult;

fn limit_from_row(row: &impl Row) -> StoreResult<LimitRow> {
    Ok(LimitRow {
        until_ms: row.int("until_ms")?,
        count: u32::try_from(row.int("count")?).unwrap_or_default(),
        expires_ms: row.int("expires_ms")?,
    })
}

impl<D: Dialect> SqlStore<D> {
    /// Locks `key`'s row, lets `step` decide, and stores the row it returns, atomically.
    async fn limit_step<T: Send>(
        &self,
        key: &str,
        step: impl Fn(Option<LimitRow>) -> (T, Option<LimitRow>) + Send + Sync,
    ) -> StoreResult<T> {
        let step = &step;
        self.retrying(|| async move {
            let mut tx = self.db.begin().await?;
            let locking = sql!(r#"SELECT until_ms, count, expires_ms FROM rate_limits WHERE "key" = ? FOR UPDATE"#);
            let mut current = tx.fetch_optional(locking, args![key]).await?;
            if current.is_none() {
                let blank = sql!(
                    r#"INSERT INTO rate_limits ("key", until_ms, count, expires_ms) VALUES (?, 0, 0, 0) {}"#,
                    D::INSERT_BLANK_LIMIT
                );
                tx.execute(blank, args![key]).await?;
                current = tx.fetch_optional(locking, args![key]).await?;
            }
            let current = current.as_ref().map(limit_from_row).transpose()?;
            let (answer, write) = step(current);
            let Some(new) = write else { return Ok(answer) };
            tx.execute(
                sql!(r#"UPDATE rate_limits SET until_ms = ?, count = ?, expires_ms = ? WHERE "key" = ?"#),
                args![new.until_ms, i64::from(new.count), new.expires_ms, key],
            )
            .await?;
            tx.commit().await?;
            Ok(answer)
        })
        .await
    }
}

#[async_trait]
impl<D: Dialect> LimitStore for SqlStore<D> {
    async fn take(&self, key: &str, budget: Budget, now_ms: i64) -> StoreResult<Decision> {
        timed!(DB, "rate_limit_take", self.limit_step(key, |current| apply_take(current, budget, now_ms)))
    }

    async fn failures(&self, key: &str, now_ms: i64) -> StoreResult<FailureState> {
        timed!(DB, "rate_limit_failures", async {
            let sql = sql!(r#"SELECT until_ms, count, expires_ms FROM rate_limits WHERE "key" = ?"#);
            let current = self.db.pool().fetch_optional(sql, args![key]).await?;
            Ok(failures_in(current.as_ref().map(limit_from_row).transpose()?, now_ms))
        })
    }

    async fn record_failure(&self, key: &str, policy: &LockoutPolicy, now_ms: i64) -> StoreResult<FailureState> {
        timed!(
            DB,
            "rate_limit_record_failure",
            self.limit_step(key, |current| {
                let (state, new) = apply_failure(current, policy, now_ms);
                (state, Some(new))
            })
        )
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        timed!(DB, "rate_limit_clear", async {
            self.db.pool().execute(sql!(r#"DELETE FROM rate_limits WHERE "key" = ?"#), args![key]).await?;
            Ok(())
        })
    }

    async fn purge_limits(&self, now_ms: i64) -> StoreResult<u64> {
        timed!(DB, "purge_limits", async {
            self.db.pool().execute(sql!("DELETE FROM rate_limits WHERE expires_ms <= ?"), args![now_ms]).await
        })
    }
}
