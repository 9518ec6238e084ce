//! Reading Redis's answers: numbers, times, ids and sessions.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use redis::Value;
use uuid::Uuid;

use crate::model::error::{StoreError, StoreResult};
use crate::sessions::{LiveSession, SessionAuth};
use crate::tokens::opaque::TokenHash;

pub(super) fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(anyhow::Error::new(error).context("Redis"))
}

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn time(ms: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad time {ms} in Redis")))
}

pub(super) fn hex(hash: &TokenHash) -> String {
    hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(super) fn number(value: &Value) -> StoreResult<i64> {
    text(value).and_then(|t| t.parse().ok()).ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad number in Redis")))
}

pub(super) fn id(value: &Value) -> StoreResult<Uuid> {
    text(value)
        .and_then(|t| Uuid::parse_str(&t).ok())
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad id in Redis")))
}

pub(super) fn ms_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The session hash fields the per-request check reads, in the order [`live`] takes them.
pub(super) const SESSION_FIELDS: [&str; 4] = ["account", "expires", "used", "auth"];

/// The live session from its `HMGET` of [`SESSION_FIELDS`], if it exists and has not expired.
pub(super) fn live(id: Uuid, fields: &[Value], now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
    let [account, expires, used, auth] = fields else { return Ok(None) };
    if matches!(account, Value::Nil) {
        return Ok(None);
    }
    let expires_at = time(number(expires)?)?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some(LiveSession {
        id,
        account_id: self::id(account)?,
        expires_at,
        last_used_at: time(number(used)?)?,
        auth: session_auth(auth),
    }))
}

/// A session's `auth` field ([`SessionAuth::decode`]).
pub(super) fn session_auth(value: &Value) -> SessionAuth {
    SessionAuth::decode(optional(value).as_deref())
}

pub(super) fn optional(value: &Value) -> Option<String> {
    text(value).filter(|t| !t.is_empty())
}
