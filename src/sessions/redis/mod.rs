//! The Redis session store, for several replicas sharing sessions. Each session is a hash
//! that expires with the session; each refresh token a string naming its session and whether
//! it is current or spent; each account a set of its session ids. Every operation that reads
//! and writes is one Lua script, so it is atomic and one round trip; the per-request check is
//! one `HMGET`.
//!
//! Keys (all under the configured prefix `P`):
//! - `P s:{session id}` hash: `account`, `created`, `used`, `expires` (Unix ms), `ua`, `ip`,
//!   `auth` (how the session was authenticated, [`SessionAuth::encode`]; absent before it was
//!   recorded)
//! - `P r:{refresh token hash, hex}` string: `"{session id} c"` (current), or
//!   `"{session id} s {spent at, Unix ms} {successor hash, hex}"` (spent; older entries may
//!   lack the time and the successor, and then never count as a replay)
//! - `P a:{account id}` set of the account's session ids
//! - `P u:{account id}` string: `"s {json}"`, a copy of the account to show its owner (never the
//!   password hash), or `"x {nonce}"`, the mark that the account changed. Both expire after
//!   [`ACCOUNT_COPY_TTL`]. A copy is written only by a compare-and-set against what the reader
//!   saw before it read the database, and every account change writes a fresh mark after its
//!   database write, so a read that raced a change can never put the old account back. If
//!   writing the mark fails (Redis down right after the database write), the old copy may be
//!   shown to its owner until it expires; it is never used to authorise anything.
//!
//! A serving replica also keeps a memory of the sessions it checked lately, with their
//! account copies ([`cache`]), kept true by the invalidation stream ([`sync`]): a token
//! presented again is checked without a round trip, and a logout, once answered, is refused by
//! every replica.
//!
//! When Redis cannot be reached every call fails, and requests answer 503: nobody is let in on
//! a guess (the memory stops answering within [`cache::TRUST`] of its last read of the stream).
//! The connection manager reconnects by itself when Redis is back.

mod cache;
mod copy;
mod reply;
mod scripts;
mod sync;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};
use uuid::Uuid;

use tokio_util::sync::{CancellationToken, DropGuard};

use self::cache::{Cache, Ticket};
pub use self::copy::ACCOUNT_COPY_TTL;
use self::copy::{AccountCopy, COPY_PREFIX, MARK_PREFIX, read_copy};
use self::reply::{SESSION_FIELDS, hex, id, live, ms, ms_of, number, optional, session_auth, text, time, unavailable};
use self::scripts::{CREATE, DROP_COPY, KEEP_COPY, LIST, REVOKE, REVOKE_ALL, ROTATE, SET_AUTH, TOUCH};
use self::sync::Keys;
use super::{AccountRead, LiveSession, NewSession, Rotation, SessionAuth, SessionInfo, SessionStore};
use crate::metrics::{SESSION_STORE as SESSIONS, timed};
use crate::model::account::Account;
use crate::model::error::{StoreError, StoreResult};
use crate::secret_url::SecretUrl;
use crate::tokens::opaque::TokenHash;

pub struct RedisSessions {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    keys: Keys,
    /// The memory of sessions, in a serving replica ([`Self::with_memory`]).
    cache: Option<Arc<Cache>>,
    /// Stops the reader of the stream when the store goes.
    _reader: Option<DropGuard>,
    create: Script,
    touch: Script,
    set_auth: Script,
    rotate: Script,
    revoke: Script,
    revoke_all: Script,
    list: Script,
    keep_copy: Script,
    drop_copy: Script,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisSessions {
    /// Connects (failing if Redis cannot be reached now); later outages are survived.
    pub async fn connect(url: &SecretUrl, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(url.expose()).map_err(|e| anyhow::anyhow!("GATEHOUSE_REDIS_URL {url}: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let connection = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to Redis at {url}: {e}; is it running?"))?;
        Ok(Self {
            client,
            connection,
            prefix: prefix.to_owned(),
            timeout,
            keys: Keys::new(prefix),
            cache: None,
            _reader: None,
            create: Script::new(CREATE),
            touch: Script::new(TOUCH),
            set_auth: Script::new(SET_AUTH),
            rotate: Script::new(ROTATE),
            revoke: Script::new(REVOKE),
            revoke_all: Script::new(REVOKE_ALL),
            list: Script::new(LIST),
            keep_copy: Script::new(KEEP_COPY),
            drop_copy: Script::new(DROP_COPY),
        })
    }

    /// Keeps a memory of recently checked sessions of at most `budget` bytes (none for 0), and
    /// reads the invalidation stream to keep it true: for a replica that serves requests.
    #[must_use]
    pub fn with_memory(mut self, budget: usize) -> Self {
        if budget > 0 {
            let cache = Arc::new(Cache::new(budget));
            let stop = CancellationToken::new();
            sync::spawn(self.client.clone(), self.keys.clone(), cache.clone(), self.timeout, stop.clone());
            self.cache = Some(cache);
            self._reader = Some(stop.drop_guard());
        }
        self
    }

    /// The session from memory, if it holds it (with the account's copy, when `with_copy`).
    fn remembered(&self, id: Uuid, account_id: Uuid, now: DateTime<Utc>, with_copy: bool) -> Option<cache::Hit> {
        self.cache.as_ref()?.lookup(id, account_id, now, with_copy)
    }

    fn ticket(&self) -> Option<Ticket> {
        self.cache.as_ref().and_then(|cache| cache.ticket())
    }

    /// After a script that added `entry` for `account_id` to the stream: forgets the account
    /// here at once, then waits for the other replicas ([`sync::settle`]).
    async fn invalidated(&self, account_id: Uuid, entry: &Value) {
        if let Some(cache) = &self.cache {
            cache.forget(account_id);
        }
        match text(entry) {
            Some(entry) => sync::settle(&self.connection, &self.keys, &entry).await,
            None => {
                // Cannot happen with the scripts as written; if it did, waiting out every
                // replica's trust is still right.
                tracing::warn!("an invalidation of sessions came back without its entry");
                tokio::time::sleep(sync::SETTLE).await;
            }
        }
    }

    fn session_key(&self, id: Uuid) -> String {
        format!("{}s:{id}", self.prefix)
    }

    fn account_key(&self, id: Uuid) -> String {
        format!("{}a:{id}", self.prefix)
    }

    fn copy_key(&self, account_id: Uuid) -> String {
        format!("{}u:{account_id}", self.prefix)
    }

    fn refresh_key(&self, hash: &TokenHash) -> String {
        format!("{}r:{}", self.prefix, hex(hash))
    }
}

#[async_trait]
impl SessionStore for RedisSessions {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        timed!(SESSIONS, "create", async {
            let mut connection = self.connection.clone();
            self.create
                .key(self.session_key(session.id))
                .key(self.account_key(session.account_id))
                .key(self.refresh_key(&session.refresh_hash))
                .arg(session.account_id.to_string())
                .arg(ms(session.created_at))
                .arg(ms(session.expires_at))
                .arg(session.user_agent.as_deref().unwrap_or_default())
                .arg(session.ip.as_deref().unwrap_or_default())
                .arg(session.id.to_string())
                .arg(ms(Utc::now()))
                .arg(session.auth.encode())
                .invoke_async::<i64>(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        timed!(SESSIONS, "check", async {
            let mut connection = self.connection.clone();
            let fields: Vec<Value> = redis::cmd("HMGET")
                .arg(self.session_key(id))
                .arg(&SESSION_FIELDS[..])
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            live(id, &fields, now)
        })
    }

    async fn refresh_token_session(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        let named: Option<String> = {
            let mut connection = self.connection.clone();
            redis::cmd("GET").arg(self.refresh_key(hash)).query_async(&mut connection).await.map_err(unavailable)?
        };
        let session =
            named.as_deref().and_then(|value| value.split(' ').next()).and_then(|sid| Uuid::try_parse(sid).ok());
        match session {
            Some(id) => self.live_session(id, now).await,
            None => Ok(None),
        }
    }

    /// From memory when it holds the session, else one `HMGET`, kept in memory.
    async fn live_session_of(
        &self,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LiveSession>> {
        if let Some((session, _)) = self.remembered(id, account_id, now, false) {
            return Ok(Some(session));
        }
        let ticket = self.ticket();
        let session = self.live_session(id, now).await?;
        if let (Some(cache), Some(ticket), Some(session)) = (&self.cache, ticket, &session) {
            cache.put(ticket, session.clone(), None);
        }
        Ok(session)
    }

    /// From memory when it holds the session and the account's copy; else the session and,
    /// in the same round trip (not atomically: the copy is only shown, and the session alone
    /// decides), the account's copy, both kept in memory.
    async fn live_session_and_account(
        &self,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(LiveSession, AccountRead)>> {
        if let Some((session, Some(account))) = self.remembered(id, account_id, now, true) {
            return Ok(Some((session, AccountRead::Copy(account))));
        }
        let ticket = self.ticket();
        timed!(SESSIONS, "check", async {
            let mut connection = self.connection.clone();
            let (fields, copy): (Vec<Value>, Option<Vec<u8>>) = redis::pipe()
                .cmd("HMGET")
                .arg(self.session_key(id))
                .arg(&SESSION_FIELDS[..])
                .cmd("GET")
                .arg(self.copy_key(account_id))
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            let Some(session) = live(id, &fields, now)? else { return Ok(None) };
            if session.account_id != account_id {
                return Ok(Some((session, AccountRead::Unread { seen: None })));
            }
            let raw = copy.map(|bytes| String::from_utf8(bytes).unwrap_or_default()).unwrap_or_default();
            let length = raw.len();
            let read = read_copy(raw, account_id);
            if let (Some(cache), Some(ticket)) = (&self.cache, ticket) {
                let copy = match &read {
                    AccountRead::Copy(account) => Some((account.clone(), length)),
                    _ => None,
                };
                cache.put(ticket, session.clone(), copy);
            }
            Ok(Some((session, read)))
        })
    }

    async fn keep_account_copy(&self, account: &Account, seen: &str) -> StoreResult<()> {
        timed!(SESSIONS, "keep_copy", async {
            let copy = serde_json::to_string(&AccountCopy::of(account))
                .map_err(|e| StoreError::Other(anyhow::Error::new(e).context("account copy")))?;
            let mut connection = self.connection.clone();
            self.keep_copy
                .key(self.copy_key(account.id))
                .arg(seen)
                .arg(format!("{COPY_PREFIX}{copy}"))
                .arg(ms_of(ACCOUNT_COPY_TTL))
                .invoke_async::<i64>(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    fn key_memory(&self) -> Option<&dyn crate::sessions::KeyMemory> {
        self.cache.as_deref().map(|cache| cache as &dyn crate::sessions::KeyMemory)
    }

    async fn drop_account_copy(&self, account_id: Uuid) -> StoreResult<()> {
        timed!(SESSIONS, "drop_copy", async {
            let mut connection = self.connection.clone();
            let entry: Value = self
                .drop_copy
                .key(self.copy_key(account_id))
                .key(&self.keys.stream)
                .arg(format!("{MARK_PREFIX}{}", Uuid::now_v7()))
                .arg(ms_of(ACCOUNT_COPY_TTL))
                .arg(account_id.to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            self.invalidated(account_id, &entry).await;
            Ok(())
        })
    }

    async fn set_session_auth(&self, id: Uuid, auth: &SessionAuth) -> StoreResult<bool> {
        timed!(SESSIONS, "set_auth", async {
            let mut connection = self.connection.clone();
            let reply: Vec<Value> = self
                .set_auth
                .key(self.session_key(id))
                .key(&self.keys.stream)
                .arg(auth.encode())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            match reply.as_slice() {
                [set, entry, account] if number(set)? == 1 => {
                    self.invalidated(crate::sessions::redis::id(account)?, entry).await;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        if let Some(cache) = &self.cache {
            cache.touched(id, now);
        }
        timed!(SESSIONS, "touch", async {
            let mut connection = self.connection.clone();
            self.touch
                .key(self.session_key(id))
                .arg(ms(now))
                .invoke_async::<i64>(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> StoreResult<Rotation> {
        timed!(SESSIONS, "rotate", async {
            let mut connection = self.connection.clone();
            let reply: Vec<Value> = self
                .rotate
                .key(self.refresh_key(presented))
                .key(self.refresh_key(next))
                .key(&self.keys.stream)
                .arg(&self.prefix)
                .arg(ms(now))
                .arg(ms_of(grace))
                .arg(hex(next))
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            match reply.as_slice() {
                [outcome, sid, account, expires, auth] if number(outcome)? == 1 => Ok(Rotation::Rotated(LiveSession {
                    id: id(sid)?,
                    account_id: id(account)?,
                    expires_at: time(number(expires)?)?,
                    last_used_at: now,
                    auth: session_auth(auth),
                })),
                [outcome, sid, account, expires, auth, used] if number(outcome)? == 3 => {
                    Ok(Rotation::Replayed(LiveSession {
                        id: id(sid)?,
                        account_id: id(account)?,
                        expires_at: time(number(expires)?)?,
                        last_used_at: time(number(used)?)?,
                        auth: session_auth(auth),
                    }))
                }
                [outcome, sid, account, entry] if number(outcome)? == 2 => {
                    let account_id = id(account)?;
                    self.invalidated(account_id, entry).await;
                    Ok(Rotation::Reused { session_id: id(sid)?, account_id })
                }
                _ => Ok(Rotation::Unknown),
            }
        })
    }

    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        timed!(SESSIONS, "revoke", async {
            let mut connection = self.connection.clone();
            let reply: Vec<Value> = self
                .revoke
                .key(self.session_key(id))
                .key(self.account_key(account_id))
                .key(&self.keys.stream)
                .arg(account_id.to_string())
                .arg(id.to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            match reply.as_slice() {
                [ended, entry] if number(ended)? == 1 => {
                    self.invalidated(account_id, entry).await;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        timed!(SESSIONS, "revoke_all", async {
            let mut connection = self.connection.clone();
            let reply: Vec<Value> = self
                .revoke_all
                .key(self.account_key(account_id))
                .key(&self.keys.stream)
                .arg(&self.prefix)
                .arg(except.map(|id| id.to_string()).unwrap_or_default())
                .arg(account_id.to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            let [ended, entry] = reply.as_slice() else {
                return Err(StoreError::Other(anyhow::anyhow!("bad answer from Redis")));
            };
            self.invalidated(account_id, entry).await;
            Ok(number(ended)?.try_into().unwrap_or_default())
        })
    }

    async fn list_sessions(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>> {
        timed!(SESSIONS, "list", async {
            let mut connection = self.connection.clone();
            let flat: Vec<Value> = self
                .list
                .key(self.account_key(account_id))
                .arg(&self.prefix)
                .arg(ms(now))
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            let mut sessions = flat
                .chunks_exact(7)
                .map(|f| {
                    Ok(SessionInfo {
                        id: id(&f[0])?,
                        created_at: time(number(&f[1])?)?,
                        last_used_at: time(number(&f[2])?)?,
                        expires_at: time(number(&f[3])?)?,
                        user_agent: optional(&f[4]),
                        ip: optional(&f[5]),
                        auth: session_auth(&f[6]),
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            sessions.sort_by_key(|s| std::cmp::Reverse((s.created_at, s.id)));
            Ok(sessions)
        })
    }

    async fn ping_sessions(&self) -> StoreResult<()> {
        timed!(SESSIONS, "ping", async {
            let mut connection = self.connection.clone();
            let _: String = redis::cmd("PING").query_async(&mut connection).await.map_err(unavailable)?;
            Ok(())
        })
    }
}
