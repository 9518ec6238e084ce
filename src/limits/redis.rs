//! Rate-limit state in Redis, shared by every replica. Each key is one hash with the fields of
//! a `rate_limits` row (`until`, `count`, `expires`, Unix ms), set to expire (`PEXPIREAT`) when
//! its state stops meaning anything, so Redis forgets it by itself. Every step that writes is
//! one Lua script mirroring the arithmetic of [`super`] exactly; like the database stores it
//! works from the caller's clock (`now_ms`), and treats a hash past `expires` as absent even if
//! Redis has not dropped it yet.
//!
//! Keys (all under the configured prefix `P`): `P l:{key}`.
//!
//! When Redis cannot be reached every call fails, and the requests it guards answer 503:
//! nobody is let through on a guess. The connection manager reconnects by itself.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};

use super::{Budget, Decision, FailureState, LimitRow, LimitStore, LockoutPolicy, cell, failures_in, millis};
use crate::model::error::{StoreError, StoreResult};
use crate::secret_url::SecretUrl;

/// [`super::apply_take`]. ARGV: now, emission interval, tolerance (ms). Returns {1, new arrival
/// time} when allowed, {0, retry after in ms} when not.
const TAKE: &str = r"
local now, interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local row = redis.call('HMGET', KEYS[1], 'until', 'expires')
local tat = now
local stored, expires = tonumber(row[1]), tonumber(row[2])
if stored and expires and expires > now then
  tat = math.max(stored, now)
end
local new = tat + interval
if new - now > tolerance + interval then
  return {0, math.max(new - now - tolerance - interval, 1)}
end
-- Stored as integer text: Lua's own number formatting may switch to exponent notation.
new = string.format('%d', new)
redis.call('HSET', KEYS[1], 'until', new, 'count', 0, 'expires', new)
redis.call('PEXPIREAT', KEYS[1], new)
return {1, new}
";

/// [`super::apply_failure`]. ARGV: now, free failures, base delay, maximum delay, forget after
/// (ms). Returns {failures, locked until}.
const RECORD_FAILURE: &str = r"
local now, free = tonumber(ARGV[1]), tonumber(ARGV[2])
local base, max, forget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local row = redis.call('HMGET', KEYS[1], 'until', 'count', 'expires')
local locked, failures = 0, 0
local stored, count, expires = tonumber(row[1]), tonumber(row[2]), tonumber(row[3])
if stored and count and expires and expires > now then
  locked, failures = stored, count
end
failures = failures + 1
if failures > free then
  local doublings = failures - free - 1
  local delay = max
  if doublings < 63 then delay = math.min(base * 2 ^ doublings, max) end
  locked = now + delay
end
expires = math.max(now + forget, locked)
expires = string.format('%d', expires)
redis.call('HSET', KEYS[1], 'until', string.format('%d', locked), 'count', failures, 'expires', expires)
redis.call('PEXPIREAT', KEYS[1], expires)
return {failures, locked}
";

pub struct RedisLimits {
    connection: ConnectionManager,
    prefix: String,
    take: Script,
    record_failure: Script,
}

impl std::fmt::Debug for RedisLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimits").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(anyhow::Error::new(error).context("Redis"))
}

fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        _ => None,
    }
}

fn pair(reply: &[Value]) -> StoreResult<(i64, i64)> {
    match reply {
        [a, b] => number(a).zip(number(b)),
        _ => None,
    }
    .ok_or_else(|| StoreError::Other(anyhow::anyhow!("unexpected reply from a Redis limit script: {reply:?}")))
}

impl RedisLimits {
    /// Connects (failing if Redis cannot be reached now); later outages are survived.
    pub async fn connect(url: &SecretUrl, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(url.expose()).map_err(|e| anyhow::anyhow!("GATEHOUSE_REDIS_URL {url}: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to Redis at {url}: {e}; is it running?"))?;
        Ok(Self::from_manager(connection, prefix))
    }

    /// Works over an existing connection (a clone of a manager shares its connection).
    pub fn from_manager(connection: ConnectionManager, prefix: &str) -> Self {
        Self {
            connection,
            prefix: prefix.to_owned(),
            take: Script::new(TAKE),
            record_failure: Script::new(RECORD_FAILURE),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}l:{key}", self.prefix)
    }
}

#[async_trait]
impl LimitStore for RedisLimits {
    async fn take(&self, key: &str, budget: Budget, now_ms: i64) -> StoreResult<Decision> {
        let Some((interval, tolerance)) = cell(budget) else {
            // A budget of nothing refuses everything, whatever is stored.
            return Ok(super::apply_take(None, budget, now_ms).0);
        };
        let mut connection = self.connection.clone();
        let reply: Vec<Value> = self
            .take
            .key(self.key(key))
            .arg(now_ms)
            .arg(interval)
            .arg(tolerance)
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        Ok(match pair(&reply)? {
            (1, _) => Decision::Allowed,
            (_, wait) => Decision::Limited { retry_after: Duration::from_millis(wait.max(1).unsigned_abs()) },
        })
    }

    async fn failures(&self, key: &str, now_ms: i64) -> StoreResult<FailureState> {
        let mut connection = self.connection.clone();
        let fields: Vec<Value> = redis::cmd("HMGET")
            .arg(self.key(key))
            .arg("until")
            .arg("count")
            .arg("expires")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let row = match fields.as_slice() {
            [until, count, expires] => match (number(until), number(count), number(expires)) {
                (Some(until_ms), Some(count), Some(expires_ms)) => {
                    Some(LimitRow { until_ms, count: u32::try_from(count).unwrap_or_default(), expires_ms })
                }
                _ => None,
            },
            _ => None,
        };
        Ok(failures_in(row, now_ms))
    }

    async fn record_failure(&self, key: &str, policy: &LockoutPolicy, now_ms: i64) -> StoreResult<FailureState> {
        let mut connection = self.connection.clone();
        let reply: Vec<Value> = self
            .record_failure
            .key(self.key(key))
            .arg(now_ms)
            .arg(policy.free)
            .arg(millis(policy.base))
            .arg(millis(policy.max))
            .arg(millis(policy.forget_after))
            .invoke_async(&mut connection)
            .await
            .map_err(unavailable)?;
        let (failures, locked_until_ms) = pair(&reply)?;
        Ok(FailureState { failures: u32::try_from(failures).unwrap_or(u32::MAX), locked_until_ms })
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        let mut connection = self.connection.clone();
        let _: i64 = redis::cmd("DEL").arg(self.key(key)).query_async(&mut connection).await.map_err(unavailable)?;
        Ok(())
    }

    /// Redis expires limit keys by itself.
    async fn purge_limits(&self, _now_ms: i64) -> StoreResult<u64> {
        Ok(0)
    }
}
