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
//! When Redis cannot be reached every call fails, and requests answer 503: nobody is let in on
//! a guess. The connection manager reconnects by itself when Redis is back.

mod scripts;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Script, Value};
use uuid::Uuid;

use self::scripts::{CREATE, KEEP_COPY, LIST, REVOKE, REVOKE_ALL, ROTATE, SET_AUTH, TOUCH};
use super::{AccountRead, LiveSession, NewSession, Rotation, SessionAuth, SessionInfo, SessionStore};
use crate::accounts::domain::{Account, Role, Status};
use crate::metrics::{SESSION_STORE as SESSIONS, timed};
use crate::secret_url::SecretUrl;
use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// How long a copy of an account (or the mark of its change) lives in Redis.
pub const ACCOUNT_COPY_TTL: Duration = Duration::from_secs(300);

const COPY_PREFIX: &str = "s ";
const MARK_PREFIX: &str = "x ";

/// An account as its copy in Redis holds it.
#[derive(serde::Serialize, serde::Deserialize)]
struct AccountCopy {
    id: Uuid,
    email: String,
    username: Option<String>,
    name: Option<String>,
    data: serde_json::Map<String, serde_json::Value>,
    /// Absent from copies written before it existed.
    #[serde(default)]
    app_data: serde_json::Map<String, serde_json::Value>,
    role: String,
    status: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)] // as `app_data`
    locale: Option<String>,
}

impl AccountCopy {
    fn of(account: &Account) -> Self {
        Self {
            id: account.id,
            email: account.email.clone(),
            username: account.username.clone(),
            name: account.name.clone(),
            data: account.data.clone(),
            app_data: account.app_data.clone(),
            role: account.role.as_str().to_owned(),
            status: account.status.as_str().to_owned(),
            email_verified: account.email_verified,
            created_at: account.created_at,
            updated_at: account.updated_at,
            locale: account.locale.map(|l| l.as_str().to_owned()),
        }
    }

    fn into_account(self) -> Option<Account> {
        Some(Account {
            id: self.id,
            email: self.email,
            username: self.username,
            name: self.name,
            data: self.data,
            app_data: self.app_data,
            role: Role::parse(&self.role)?,
            status: Status::parse(&self.status)?,
            email_verified: self.email_verified,
            locale: self.locale.as_deref().and_then(crate::i18n::Locale::parse),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// What stood in the copy's place: the account when it is a readable copy of `account_id`'s.
fn read_copy(raw: Option<Vec<u8>>, account_id: Uuid) -> AccountRead {
    let raw = raw.map(|bytes| String::from_utf8(bytes).unwrap_or_default()).unwrap_or_default();
    let copy = raw.strip_prefix(COPY_PREFIX).and_then(|json| serde_json::from_str::<AccountCopy>(json).ok());
    match copy.and_then(AccountCopy::into_account) {
        Some(account) if account.id == account_id => AccountRead::Copy(account),
        _ => AccountRead::Unread { seen: Some(raw) },
    }
}

pub struct RedisSessions {
    connection: ConnectionManager,
    prefix: String,
    create: Script,
    touch: Script,
    set_auth: Script,
    rotate: Script,
    revoke: Script,
    revoke_all: Script,
    list: Script,
    keep_copy: Script,
}

impl std::fmt::Debug for RedisSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessions").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn unavailable(error: redis::RedisError) -> StoreError {
    StoreError::Unavailable(anyhow::Error::new(error).context("Redis"))
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad time {ms} in Redis")))
}

fn hex(hash: &TokenHash) -> String {
    hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(value: &Value) -> StoreResult<i64> {
    text(value).and_then(|t| t.parse().ok()).ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad number in Redis")))
}

fn id(value: &Value) -> StoreResult<Uuid> {
    text(value)
        .and_then(|t| Uuid::parse_str(&t).ok())
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad id in Redis")))
}

fn ms_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The session hash fields the per-request check reads, in the order [`live`] takes them.
const SESSION_FIELDS: [&str; 4] = ["account", "expires", "used", "auth"];

/// The live session from its `HMGET` of [`SESSION_FIELDS`], if it exists and has not expired.
fn live(id: Uuid, fields: &[Value], now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
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
fn session_auth(value: &Value) -> SessionAuth {
    SessionAuth::decode(optional(value).as_deref())
}

fn optional(value: &Value) -> Option<String> {
    text(value).filter(|t| !t.is_empty())
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
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to Redis at {url}: {e}; is it running?"))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            create: Script::new(CREATE),
            touch: Script::new(TOUCH),
            set_auth: Script::new(SET_AUTH),
            rotate: Script::new(ROTATE),
            revoke: Script::new(REVOKE),
            revoke_all: Script::new(REVOKE_ALL),
            list: Script::new(LIST),
            keep_copy: Script::new(KEEP_COPY),
        })
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

    /// The session and, in the same round trip (not atomically: the copy is only shown, and
    /// the session alone decides), the account's copy.
    async fn live_session_and_account(
        &self,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(LiveSession, AccountRead)>> {
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
            let read = if session.account_id == account_id {
                read_copy(copy, account_id)
            } else {
                AccountRead::Unread { seen: None }
            };
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

    async fn drop_account_copy(&self, account_id: Uuid) -> StoreResult<()> {
        timed!(SESSIONS, "drop_copy", async {
            let mut connection = self.connection.clone();
            let _: () = redis::cmd("SET")
                .arg(self.copy_key(account_id))
                .arg(format!("{MARK_PREFIX}{}", Uuid::now_v7()))
                .arg("PX")
                .arg(ms_of(ACCOUNT_COPY_TTL))
                .query_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    async fn set_session_auth(&self, id: Uuid, auth: &SessionAuth) -> StoreResult<bool> {
        timed!(SESSIONS, "set_auth", async {
            let mut connection = self.connection.clone();
            let set: i64 = self
                .set_auth
                .key(self.session_key(id))
                .arg(auth.encode())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(set == 1)
        })
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
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
                [outcome, sid, account] if number(outcome)? == 2 => {
                    Ok(Rotation::Reused { session_id: id(sid)?, account_id: id(account)? })
                }
                _ => Ok(Rotation::Unknown),
            }
        })
    }

    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        timed!(SESSIONS, "revoke", async {
            let mut connection = self.connection.clone();
            let ended: i64 = self
                .revoke
                .key(self.session_key(id))
                .key(self.account_key(account_id))
                .arg(account_id.to_string())
                .arg(id.to_string())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(ended == 1)
        })
    }

    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        timed!(SESSIONS, "revoke_all", async {
            let mut connection = self.connection.clone();
            let ended: i64 = self
                .revoke_all
                .key(self.account_key(account_id))
                .arg(&self.prefix)
                .arg(except.map(|id| id.to_string()).unwrap_or_default())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            Ok(ended.try_into().unwrap_or_default())
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
