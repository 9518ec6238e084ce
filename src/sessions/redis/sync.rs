//! The invalidation stream, which keeps every replica's memory of sessions
//! (`cache.rs`) true.
//!
//! Keys (under the store's prefix `P`):
//! - `P inv`: a stream; each entry (field `a`: an account id) says that something held of
//!   that account may be wrong now. The scripts that end sessions, re-authenticate one or mark
//!   an account changed add it in the same step. Entries older than a minute are trimmed.
//! - `P replicas` hash: replica id → `"{position} {beat}"`, the last entry the replica applied
//!   and when (Redis's clock, Unix ms) it last said so.
//! - `P epoch`: set once by the first replica to join; a Redis emptied since (and so a stream
//!   gone with it) shows by its absence, and every replica starts afresh.
//!
//! Each replica that serves requests runs one reader: in one round trip it records its
//! position and then reads what follows it, waiting up to [`BLOCK`] for something to come. A
//! writer that added an entry waits ([`settle`]) until every replica that beat lately has
//! applied it, or [`SETTLE`] has passed: a replica that has not applied it by then has had no
//! read answered since the entry was added, so its memory stopped answering (it trusts for
//! [`TRUST`] after the send of its last read applied in full).

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::{AsyncConnectionConfig, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::cache::{Cache, TRUST};
use super::reply::text;
use super::scripts::{BEAT, BEHIND, JOIN};

/// How long a read of the stream waits for an entry before it comes back empty (and the
/// replica beats again).
const BLOCK: Duration = Duration::from_millis(250);

/// The most a writer waits for the replicas to apply its entry.
pub(super) const SETTLE: Duration = TRUST.saturating_add(Duration::from_millis(500));

/// The most entries one read takes.
const BATCH: usize = 512;

/// The keys of the stream, the replicas and the epoch.
#[derive(Clone, Debug)]
pub(super) struct Keys {
    pub stream: String,
    pub replicas: String,
    pub epoch: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Self {
        Self { stream: format!("{prefix}inv"), replicas: format!("{prefix}replicas"), epoch: format!("{prefix}epoch") }
    }
}

/// Starts this replica's reader of the stream, feeding `cache`, until `stop`.
pub(super) fn spawn(client: redis::Client, keys: Keys, cache: Arc<Cache>, timeout: Duration, stop: CancellationToken) {
    tokio::spawn(async move {
        let replica = Uuid::now_v7().simple().to_string();
        let mut pause = Duration::from_millis(100);
        let mut failing = false;
        loop {
            let followed = tokio::select! {
                () = stop.cancelled() => return,
                followed = follow(&client, &keys, &cache, &replica, timeout) => followed,
            };
            cache.distrust();
            match followed {
                Ok(()) => tracing::warn!("Redis was emptied: every replica's memory of sessions starts afresh"),
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "cannot read the session invalidations from Redis; every session is checked in Redis until they can be read");
                    }
                    failing = true;
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(Duration::from_secs(2));
                    continue;
                }
            }
            if failing {
                tracing::info!("reading the session invalidations from Redis again");
            }
            failing = false;
            pause = Duration::from_millis(100);
        }
    });
}

/// Joins and reads the stream until Redis fails (`Err`) or was emptied (`Ok`).
async fn follow(
    client: &redis::Client,
    keys: &Keys,
    cache: &Cache,
    replica: &str,
    timeout: Duration,
) -> redis::RedisResult<()> {
    let config =
        AsyncConnectionConfig::new().set_connection_timeout(Some(timeout)).set_response_timeout(Some(BLOCK + timeout));
    let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
    let (epoch, mut position): (String, String) = redis::cmd("EVAL")
        .arg(JOIN)
        .arg(3)
        .arg(&keys.replicas)
        .arg(&keys.stream)
        .arg(&keys.epoch)
        .arg(replica)
        .arg(Uuid::new_v4().simple().to_string())
        .query_async(&mut connection)
        .await?;
    loop {
        let sent = Instant::now();
        let (joined, read): (i64, Value) = redis::pipe()
            .cmd("EVAL")
            .arg(BEAT)
            .arg(2)
            .arg(&keys.replicas)
            .arg(&keys.epoch)
            .arg(replica)
            .arg(&position)
            .arg(&epoch)
            .cmd("XREAD")
            .arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS")
            .arg(&keys.stream)
            .arg(&position)
            .query_async(&mut connection)
            .await?;
        if joined == 0 {
            return Ok(());
        }
        let entries = entries(&read);
        if let Some((last, _)) = entries.last() {
            position.clone_from(last);
        }
        let caught_up = entries.len() < BATCH;
        cache.apply(sent, entries.into_iter().map(|(_, account)| account), caught_up);
    }
}

/// The entries of an `XREAD` answer of one stream: id, and the account named (if readable).
fn entries(read: &Value) -> Vec<(String, Option<Uuid>)> {
    let Value::Array(streams) = read else { return Vec::new() };
    let Some(Value::Array(stream)) = streams.first() else { return Vec::new() };
    let Some(Value::Array(items)) = stream.get(1) else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| {
            let Value::Array(parts) = item else { return None };
            let id = text(parts.first()?)?;
            let account = match parts.get(1) {
                Some(Value::Array(fields)) => fields
                    .chunks_exact(2)
                    .find(|pair| text(&pair[0]).as_deref() == Some("a"))
                    .and_then(|pair| text(&pair[1]))
                    .and_then(|a| Uuid::try_parse(&a).ok()),
                _ => None,
            };
            Some((id, account))
        })
        .collect()
}

/// Waits until every replica that beat within [`SETTLE`] has applied `entry`, or [`SETTLE`]
/// has passed. Never fails: past the deadline every replica's memory has stopped answering
/// whatever happened, and the change itself is made.
pub(super) async fn settle(connection: &ConnectionManager, keys: &Keys, entry: &str) {
    let deadline = Instant::now() + SETTLE;
    let mut pause = Duration::from_millis(1);
    loop {
        let mut connection = connection.clone();
        let behind: redis::RedisResult<i64> = redis::cmd("EVAL")
            .arg(BEHIND)
            .arg(1)
            .arg(&keys.replicas)
            .arg(entry)
            .arg(SETTLE.as_millis() as u64)
            .query_async(&mut connection)
            .await;
        match behind {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => tracing::debug!(%error, "cannot ask which replicas applied an invalidation"),
        }
        let now = Instant::now();
        if now >= deadline {
            tracing::warn!(
                "a replica did not confirm an invalidation of sessions within {} ms; it has stopped answering from its memory of them",
                SETTLE.as_millis()
            );
            return;
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    #[test]
    fn an_xread_answer_gives_its_ids_and_accounts_in_order() {
        let account = Uuid::now_v7();
        let read = Value::Array(vec![Value::Array(vec![
            bulk("gatehouse:inv"),
            Value::Array(vec![
                Value::Array(vec![bulk("1-0"), Value::Array(vec![bulk("a"), bulk(&account.to_string())])]),
                Value::Array(vec![bulk("1-1"), Value::Array(vec![bulk("a"), bulk("not an id")])]),
            ]),
        ])]);
        assert_eq!(entries(&read), vec![("1-0".to_owned(), Some(account)), ("1-1".to_owned(), None)]);
        assert!(entries(&Value::Nil).is_empty(), "a read that waited in vain");
    }
}
