//! Rate-limit state: an item per key (`RL#<key>`), read strongly consistent, decided by the
//! arithmetic of `limits`, and written back on condition that it is still what was read (its
//! `ver`, or that there was none), read again when a concurrent step came first. Expired state
//! counts as absent and goes by DynamoDB's expiry.

use async_trait::async_trait;

use super::DynamoStore;
use super::items::{Item, Write, WriteError, item, key, n, sdk_error};
use crate::limits::{
    Budget, Decision, FailureState, LimitRow, LimitStore, LockoutPolicy, apply_failure, apply_take, failures_in,
};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::{StoreError, StoreResult};

/// How many times a step reads again when a concurrent one wrote first.
const ATTEMPTS: u32 = 64;

fn limit_key(name: &str) -> Item {
    key(format!("RL#{name}"), "RL")
}

/// A key's row and its version.
fn row_from_item(found: &Item) -> StoreResult<(LimitRow, i64)> {
    let number = |name| super::items::number(found, name);
    let row = LimitRow {
        until_ms: number("until_ms")?,
        count: u32::try_from(number("count")?).unwrap_or_default(),
        expires_ms: number("expires_ms")?,
    };
    Ok((row, number("ver")?))
}

impl DynamoStore {
    async fn read_limit(&self, name: &str) -> StoreResult<Option<(LimitRow, i64)>> {
        let found = self.get(&self.tables.main, limit_key(name)).await?;
        found.as_ref().map(row_from_item).transpose()
    }

    /// Reads `name`'s row, lets `step` decide, and stores the row it returns if the stored one
    /// is still the one read.
    async fn limit_step<T>(
        &self,
        name: &str,
        step: impl Fn(Option<LimitRow>) -> (T, Option<LimitRow>),
    ) -> StoreResult<T> {
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                // Callers racing on one key (a crowd of failed logins) take turns: each round
                // has one winner, and a random pause spreads the others out.
                let pause = rand::Rng::gen_range(&mut rand::thread_rng(), 0..=u64::from(attempt.min(16)) * 2);
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            let current = self.read_limit(name).await?;
            let (answer, write) = step(current.map(|(row, _)| row));
            let Some(new) = write else { return Ok(answer) };
            let version = current.map_or(0, |(_, version)| version);
            let mut stored = item(
                "",
                "",
                vec![
                    ("until_ms", n(new.until_ms)),
                    ("count", n(new.count)),
                    ("expires_ms", n(new.expires_ms)),
                    ("ver", n(version + 1)),
                    ("ttl", n(new.expires_ms.div_euclid(1000) + 1)),
                ],
            );
            stored.extend(limit_key(name));
            let write = match current {
                Some(_) => Write::put(&self.tables.main, stored).when("#ver = :ver").value("ver", n(version)),
                None => Write::put(&self.tables.main, stored).when("attribute_not_exists(#pk)"),
            };
            match self.transact(vec![write.build()?]).await {
                Ok(()) => return Ok(answer),
                Err(WriteError::Store(error)) => return Err(error),
                Err(_) => continue,
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("the rate limit of one key kept changing")))
    }
}

#[async_trait]
impl LimitStore for DynamoStore {
    async fn take(&self, key: &str, budget: Budget, now_ms: i64) -> StoreResult<Decision> {
        timed!(DB, "rate_limit_take", self.limit_step(key, |current| apply_take(current, budget, now_ms)))
    }

    async fn failures(&self, key: &str, now_ms: i64) -> StoreResult<FailureState> {
        timed!(DB, "rate_limit_failures", async {
            Ok(failures_in(self.read_limit(key).await?.map(|(row, _)| row), now_ms))
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
            let gone = self.client.delete_item().table_name(&self.tables.main).set_key(Some(limit_key(key)));
            gone.send().await.map_err(sdk_error)?;
            Ok(())
        })
    }

    /// Nothing to do: expired state goes by DynamoDB's expiry (`ttl`), and reads ignore it
    /// until then.
    async fn purge_limits(&self, _now_ms: i64) -> StoreResult<u64> {
        Ok(0)
    }
}
