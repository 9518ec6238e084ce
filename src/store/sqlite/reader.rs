//! The per-request reads (the session behind a token, or the API key, and the account it
//! belongs to), done in place on the async worker instead of through the pool.
//!
//! The async driver runs every SQLite connection on a thread of its own: each statement is a
//! message to that thread and a wake-up back, plus a pool checkout — well over a hundred µs of
//! CPU for a lookup that SQLite itself answers from its page cache in a few. These two reads are
//! on the path of every authenticated request, so they go through a few plain connections kept
//! here instead, used in place for the few µs a point lookup by key takes.
//!
//! Each kept connection remembers the sessions and API keys it has read with their accounts, and
//! forgets them all whenever anything at all may have been committed since:
//!
//! - **by this process**: every write of the process goes through the pool, whose runners count
//!   each statement that changes something and each commit, after it ([`note_write`]); a count
//!   that moved since the connection last looked forgets everything. So a logout, a password
//!   change or a disabled account answered by this server is refused on the very next request;
//! - **by another process** (the operator commands, `gatehouse user disable` and the like):
//!   SQLite's `PRAGMA data_version` changes with every commit of any other connection, but
//!   asking it takes the file's read lock (a `fcntl` and SQLite's process-wide lock mutex), which
//!   cost a sixth of a token-checked request under load; it is asked when the count moved, and
//!   otherwise at most every [`OTHER_PROCESSES`]. Such a change is seen within that time.
//!
//! Only expiry is decided here, against the request's own clock, as the read's
//! `expires_at > now` would.
//!
//! The connections are `query_only` and never wait for a lock (busy timeout zero). Any failure
//! here — a lock, a damaged file, a value this code does not read — is not an answer: the
//! caller falls back to the pool, whose error handling and busy timeout are the authoritative
//! ones.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use uuid::Uuid;

use crate::model::account::{Account, AccountKey, Credentials, Role, Status};
use crate::model::api_key::{ApiKey, FoundKey, KeyOwner};
use crate::sessions::{LiveSession, SessionAuth};
use crate::store::sql::ACCOUNT_COLUMNS;
use crate::store::sql::sessions::live_session_and_account_sql;

/// Statements that changed the database, and commits, of this process so far (every SQLite
/// store of it: a process holds one, or a test a few, which only forget more often).
static WRITES: AtomicU64 = AtomicU64::new(0);

/// How long a kept connection trusts what it remembers without asking SQLite whether another
/// process committed something.
pub(super) const OTHER_PROCESSES: Duration = Duration::from_millis(100);

/// Counts a write of this process: what every kept connection remembered is forgotten before
/// its next use.
pub(super) fn note_write() {
    WRITES.fetch_add(1, Ordering::Release);
}

/// Connections kept for reuse; more are opened when more requests read at once, and closed
/// after (with what they remembered).
const KEPT: usize = 4;

/// Sessions a kept connection remembers at most; when it is full, one goes for each new one.
const REMEMBERED: usize = 1024;

/// The largest `data` and `app_data` an account may carry and still be remembered, in bytes of
/// stored JSON:
/// together with [`REMEMBERED`] and [`KEPT`] this bounds the memory spent at a few MiB.
const REMEMBERED_DATA: usize = 1024;

#[derive(Debug)]
pub(super) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Kept>>,
    by_id: String,
    by_email: String,
    by_username: String,
    session_and_account: String,
    key_and_account: String,
}

impl Reader {
    /// A reader for the database file at `path`; `None` for an in-memory database, which no
    /// second connection can see.
    pub(super) fn new(path: PathBuf, in_memory: bool) -> Option<Self> {
        let select = |column: &str| format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = ?1");
        (!in_memory).then(|| Self {
            path,
            idle: Mutex::new(Vec::new()),
            by_id: select("id"),
            by_email: select("email_normalized"),
            by_username: select("username_normalized"),
            session_and_account: live_session_and_account_sql("?1", "?2"),
            key_and_account: format!(
                "SELECT k.id, k.account_id, k.org_id, k.created_by, k.name, k.prefix, k.scopes, k.created_at, \
                 k.expires_at, k.last_used_at, a.status, {} FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id \
                 WHERE k.hash = ?1",
                ACCOUNT_COLUMNS.split(", ").map(|c| format!("a.{c}")).collect::<Vec<_>>().join(", ")
            ),
        })
    }

    pub(super) fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> anyhow::Result<Option<LiveSession>> {
        const SQL: &str =
            "SELECT account_id, expires_at, last_used_at, auth FROM sessions WHERE id = ?1 AND expires_at > ?2";
        self.with(|kept| {
            if let Some(remembered) = kept.recall(&id)? {
                return Ok(remembered.live_at(now).map(|(session, _)| session));
            }
            let row = session_row(&kept.conn, SQL, id, now, session_columns)?;
            row.map(|columns| columns.into_session(id)).transpose()
        })
    }

    /// The live session and its account: remembered, or read in one statement (and then
    /// remembered).
    pub(super) fn live_session_and_account(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<(LiveSession, Account)>> {
        self.with(|kept| {
            if let Some(remembered) = kept.recall(&id)? {
                return Ok(remembered.live_at(now).map(|(session, account)| (session, account.clone())));
            }
            let row = session_row(&kept.conn, &self.session_and_account, id, now, |row| {
                Ok((session_columns(row)?, account_row(row, SESSION_COLUMNS)?))
            })?;
            let Some((columns, account)) = row else { return Ok(None) };
            let data_len = account.data.len() + account.app_data.len();
            let (session, account) = (columns.into_session(id)?, account.into_credentials()?.account);
            if data_len <= REMEMBERED_DATA {
                kept.remember(Remembered { session: session.clone(), account: account.clone() });
            }
            Ok(Some((session, account)))
        })
    }

    /// The API key whose hash this is, with its owning account (and so its status): remembered
    /// as sessions are, or read in one statement (and then remembered).
    pub(super) fn api_key(&self, hash: &[u8]) -> anyhow::Result<Option<FoundKey>> {
        let hash: [u8; 32] = hash.try_into()?;
        self.with(|kept| {
            if kept.recall_current()?
                && let Some(found) = kept.keys.get(&hash)
            {
                return Ok(Some(found.clone()));
            }
            let mut statement = kept.conn.prepare_cached(&self.key_and_account)?;
            let row = statement.query_row([hash.as_slice()], key_row).optional()?;
            let Some(row) = row else { return Ok(None) };
            let data_len = row.account.as_ref().map_or(0, |a| a.data.len() + a.app_data.len());
            let found = row.into_found()?;
            if data_len > REMEMBERED_DATA {
                return Ok(Some(found));
            }
            if kept.keys.len() >= REMEMBERED
                && let Some(any) = kept.keys.keys().next().copied()
            {
                kept.keys.remove(&any);
            }
            kept.keys.insert(hash, found.clone());
            Ok(Some(found))
        })
    }

    pub(super) fn find_account(&self, key: &AccountKey) -> anyhow::Result<Option<Credentials>> {
        let (sql, value) = match key {
            AccountKey::Id(id) => (&self.by_id, id.to_string()),
            AccountKey::Email(email) => (&self.by_email, email.to_lowercase()),
            AccountKey::Username(name) => (&self.by_username, name.to_ascii_lowercase()),
        };
        self.with(|kept| {
            let mut statement = kept.conn.prepare_cached(sql)?;
            let row = statement.query_row([value], |row| account_row(row, 0)).optional()?;
            row.map(AccountRow::into_credentials).transpose()
        })
    }

    /// Runs `read` on an idle connection (opening one if there is none), then keeps it.
    fn with<T>(&self, read: impl FnOnce(&mut Kept) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let mut kept = match idle {
            Some(kept) => kept,
            None => Kept::new(self.open()?),
        };
        let result = read(&mut kept);
        if result.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < KEPT {
                idle.push(kept);
            }
        }
        result
    }

    /// Sessions remembered now, over the idle connections.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.idle.lock().unwrap().iter().map(|kept| kept.sessions.len()).sum()
    }

    fn open(&self) -> anyhow::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }
}

/// A connection kept for reuse, with the sessions it read while nothing was committed.
struct Kept {
    conn: Connection,
    /// The connection's `PRAGMA data_version` when `sessions` was last known current.
    version: Option<i64>,
    /// [`WRITES`] when `sessions` was last known current.
    writes: u64,
    /// When `version` was last asked.
    asked: Option<Instant>,
    sessions: HashMap<Uuid, Remembered>,
    /// API keys read, by hash, with their accounts: forgotten with the sessions.
    keys: HashMap<[u8; 32], FoundKey>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept").field("version", &self.version).field("remembered", &self.sessions.len()).finish()
    }
}

impl Kept {
    fn new(conn: Connection) -> Self {
        Self { conn, version: None, writes: 0, asked: None, sessions: HashMap::new(), keys: HashMap::new() }
    }

    /// The session as remembered, if nothing has been committed since it was read; every
    /// remembered session is forgotten when something may have been (see the module's
    /// documentation).
    fn recall(&mut self, id: &Uuid) -> anyhow::Result<Option<&Remembered>> {
        self.recall_current()?;
        Ok(self.sessions.get(id))
    }

    /// Forgets what was remembered when something may have been committed since; `true` once
    /// what is left is current.
    fn recall_current(&mut self) -> anyhow::Result<bool> {
        let writes = WRITES.load(Ordering::Acquire);
        let now = Instant::now();
        if writes != self.writes || self.asked.is_none_or(|asked| now.duration_since(asked) >= OTHER_PROCESSES) {
            let version: i64 = self.conn.prepare_cached("PRAGMA data_version")?.query_row([], |row| row.get(0))?;
            if self.version != Some(version) || writes != self.writes {
                self.sessions.clear();
                self.keys.clear();
            }
            (self.version, self.writes, self.asked) = (Some(version), writes, Some(now));
        }
        Ok(true)
    }

    /// Remembers a session read at the current version, making room if need be.
    fn remember(&mut self, remembered: Remembered) {
        if self.sessions.len() >= REMEMBERED
            && let Some(any) = self.sessions.keys().next().copied()
        {
            self.sessions.remove(&any);
        }
        self.sessions.insert(remembered.session.id, remembered);
    }
}

/// A session as read, with its account.
struct Remembered {
    session: LiveSession,
    account: Account,
}

impl Remembered {
    /// The session and account if the session is still live at `now` (the read's
    /// `expires_at > now`).
    fn live_at(&self, now: DateTime<Utc>) -> Option<(LiveSession, &Account)> {
        (self.session.expires_at > now).then(|| (self.session.clone(), &self.account))
    }
}

/// The row `sql` finds for the session `id` still live at `now` (its parameters, in order).
fn session_row<T>(
    conn: &Connection,
    sql: &str,
    id: Uuid,
    now: DateTime<Utc>,
    columns: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> anyhow::Result<Option<T>> {
    let mut statement = conn.prepare_cached(sql)?;
    let mut buffer = Uuid::encode_buffer();
    let id = id.hyphenated().encode_lower(&mut buffer);
    Ok(statement.query_row((&*id, timestamp(now)), columns).optional()?)
}

/// `account_id, expires_at, last_used_at, auth`, first in the session reads.
const SESSION_COLUMNS: usize = 4;

/// A session row's own columns.
struct SessionColumns {
    account_id: String,
    expires_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
    auth: Option<String>,
}

impl SessionColumns {
    fn into_session(self, id: Uuid) -> anyhow::Result<LiveSession> {
        let Self { account_id, expires_at, last_used_at, auth } = self;
        let auth = SessionAuth::decode(auth.as_deref());
        Ok(LiveSession { id, account_id: Uuid::parse_str(&account_id)?, expires_at, last_used_at, auth })
    }
}

fn session_columns(row: &Row<'_>) -> rusqlite::Result<SessionColumns> {
    Ok(SessionColumns {
        account_id: row.get(0)?,
        expires_at: time(row, 1)?,
        last_used_at: time(row, 2)?,
        auth: row.get(3)?,
    })
}

/// The account's columns, in the order of `ACCOUNT_COLUMNS`, from position `at` on.
fn account_row(row: &Row<'_>, at: usize) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        id: row.get(at)?,
        email: row.get(at + 1)?,
        username: row.get(at + 2)?,
        name: row.get(at + 3)?,
        data: row.get(at + 4)?,
        app_data: row.get(at + 5)?,
        password_hash: row.get(at + 6)?,
        role: row.get(at + 7)?,
        status: row.get(at + 8)?,
        email_verified: row.get(at + 9)?,
        created_at: time(row, at + 10)?,
        updated_at: time(row, at + 11)?,
        locale: row.get(at + 12)?,
    })
}

/// An account's columns as stored, as this reader reads them.
struct AccountRow {
    id: String,
    email: String,
    username: Option<String>,
    name: Option<String>,
    data: String,
    app_data: String,
    password_hash: String,
    role: String,
    status: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    locale: Option<String>,
}

impl AccountRow {
    fn into_credentials(self) -> anyhow::Result<Credentials> {
        let account = Account {
            id: Uuid::parse_str(&self.id)?,
            email: self.email,
            username: self.username,
            name: self.name,
            data: serde_json::from_str(&self.data).map_err(|e| anyhow::anyhow!("bad data json: {e}"))?,
            app_data: serde_json::from_str(&self.app_data).map_err(|e| anyhow::anyhow!("bad app_data json: {e}"))?,
            role: Role::parse(&self.role).ok_or_else(|| anyhow::anyhow!("bad role {:?}", self.role))?,
            status: Status::parse(&self.status).ok_or_else(|| anyhow::anyhow!("bad status {:?}", self.status))?,
            email_verified: self.email_verified,
            locale: self.locale.as_deref().and_then(crate::i18n::Locale::parse),
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok(Credentials { account, password_hash: self.password_hash })
    }
}

/// An API key's columns as stored, with its owner's status.
struct KeyRow {
    id: String,
    account_id: Option<String>,
    org_id: Option<String>,
    created_by: Option<String>,
    name: String,
    prefix: String,
    scopes: String,
    created_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    owner_status: Option<String>,
    account: Option<AccountRow>,
}

fn key_row(row: &Row<'_>) -> rusqlite::Result<KeyRow> {
    let optional_time = |column| match row.get_ref(column)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        _ => time(row, column).map(Some),
    };
    Ok(KeyRow {
        id: row.get(0)?,
        account_id: row.get(1)?,
        org_id: row.get(2)?,
        created_by: row.get(3)?,
        name: row.get(4)?,
        prefix: row.get(5)?,
        scopes: row.get(6)?,
        created_at: time(row, 7)?,
        expires_at: optional_time(8)?,
        last_used_at: optional_time(9)?,
        owner_status: row.get(10)?,
        account: match row.get::<_, Option<String>>(11)? {
            Some(_) => Some(account_row(row, 11)?),
            None => None,
        },
    })
}

impl KeyRow {
    fn into_found(self) -> anyhow::Result<FoundKey> {
        let id = |text: &str| Uuid::parse_str(text).map_err(anyhow::Error::from);
        let owner = match (&self.account_id, &self.org_id) {
            (Some(account), _) => KeyOwner::Account(id(account)?),
            (None, Some(org)) => KeyOwner::Org(id(org)?),
            (None, None) => anyhow::bail!("an API key of no owner"),
        };
        let owner_active = match owner {
            KeyOwner::Account(_) => self.owner_status.as_deref() == Some("active"),
            KeyOwner::Org(_) => true,
        };
        let key = ApiKey {
            id: id(&self.id)?,
            owner,
            created_by: self.created_by.as_deref().map(id).transpose()?,
            name: self.name,
            prefix: self.prefix,
            scopes: self.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
        };
        let account = self.account.map(|row| row.into_credentials().map(|c| c.account)).transpose()?;
        Ok(FoundKey { key, owner_active, account })
    }
}

/// A time column, as the async driver writes one (RFC 3339).
fn time(row: &Row<'_>, column: usize) -> rusqlite::Result<DateTime<Utc>> {
    let text = row.get_ref(column)?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, e.into()))
}

/// A time as the async driver binds one, so that comparisons in SQL agree with its writes.
fn timestamp(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::model::outcome::Effects;

    use chrono::Duration as Span;

    use super::*;
    use crate::secret_url::SecretUrl;
    use crate::sessions::{NewSession, SessionStore};
    use crate::store::sqlite::SqliteStore;
    use crate::store::{AccountStore, DbOptions, NewAccount};
    use crate::tokens::opaque::OpaqueToken;

    /// A store on a fresh file, with one account and one session of it (live for 30 minutes
    /// from `now`).
    async fn one_session(now: DateTime<Utc>) -> (tempfile::TempDir, SqliteStore, Uuid, Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let url = SecretUrl::new(&format!("sqlite://{}", dir.path().join("t.db").display()));
        let options = DbOptions { max_connections: 2, timeout: Duration::from_secs(5) };
        let store = SqliteStore::connect(&url, &options).await.unwrap();
        let account = NewAccount {
            id: Uuid::now_v7(),
            email: "ann@example.com".into(),
            email_normalized: "ann@example.com".into(),
            username: None,
            name: Some("Ann".into()),
            data: serde_json::Map::new(),
            app_data: serde_json::Map::new(),
            password_hash: "$argon2id$v=19$m=12288,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                .into(),
            role: Role::User,
            status: Status::Active,
            email_verified: true,
            locale: None,
            now,
        };
        let account_id = store.insert_account(&account, None, &Effects::none()).await.unwrap().id;
        let session = NewSession {
            id: Uuid::now_v7(),
            account_id,
            refresh_hash: OpaqueToken::generate().hash,
            created_at: now,
            expires_at: now + Span::minutes(30),
            user_agent: None,
            ip: None,
            auth: SessionAuth::password(now),
        };
        store.create_session(&session).await.unwrap();
        (dir, store, account_id, session.id)
    }

    fn reader(store: &SqliteStore) -> &Reader {
        store.db.reader.as_deref().expect("a file database has a reader")
    }

    fn name_read(reader: &Reader, session: Uuid, now: DateTime<Utc>) -> Option<String> {
        reader.live_session_and_account(session, now).unwrap().expect("live").1.name
    }

    /// This process's writes are forgotten at once; another process's within
    /// [`OTHER_PROCESSES`], when SQLite is asked again.
    #[tokio::test]
    async fn a_session_read_is_remembered_until_anything_is_committed() {
        let now = Utc::now();
        let (dir, store, account_id, session) = one_session(now).await;
        let reader = reader(&store);

        assert_eq!(name_read(reader, session, now).as_deref(), Some("Ann"));
        assert_eq!(reader.remembered(), 1, "remembered after the first read");
        assert_eq!(name_read(reader, session, now).as_deref(), Some("Ann"));
        assert_eq!(reader.remembered(), 1);

        // Another process (an operator command) commits a change: seen once SQLite is asked again.
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other.execute("UPDATE accounts SET name = 'Ann Lee' WHERE id = ?1", [account_id.to_string()]).unwrap();
        tokio::time::sleep(OTHER_PROCESSES).await;
        assert_eq!(name_read(reader, session, now).as_deref(), Some("Ann Lee"), "the change shows");

        // This process changes the account, through the pool: seen at once.
        let change = crate::store::ProfileChange {
            username: None,
            name: Some("Ann Lee-Park".into()),
            data: serde_json::Map::new(),
            app_data: serde_json::Map::new(),
            role: Role::User,
            status: Status::Active,
            locale: None,
            now,
        };
        store.update_profile(account_id, &change, &Effects::none()).await.unwrap();
        assert_eq!(name_read(reader, session, now).as_deref(), Some("Ann Lee-Park"), "at once");

        // This process revokes the session, through the pool.
        assert!(store.revoke_session(account_id, session).await.unwrap());
        assert_eq!(reader.live_session_and_account(session, now).unwrap(), None, "revoked");
        assert_eq!(reader.live_session(session, now).unwrap(), None, "revoked");
        assert_eq!(reader.remembered(), 0);
    }

    #[tokio::test]
    async fn a_remembered_session_still_expires() {
        let now = Utc::now();
        let (_dir, store, _, session) = one_session(now).await;
        let reader = reader(&store);

        let (live, _) = reader.live_session_and_account(session, now).unwrap().expect("live");
        assert_eq!(reader.remembered(), 1);
        assert_eq!(reader.live_session(session, now).unwrap(), Some(live.clone()), "from memory");
        let last_moment = live.expires_at - Span::microseconds(1);
        assert!(reader.live_session_and_account(session, last_moment).unwrap().is_some());
        assert_eq!(reader.live_session_and_account(session, live.expires_at).unwrap(), None, "expired");
        assert_eq!(reader.live_session(session, live.expires_at).unwrap(), None, "expired");
    }

    #[tokio::test]
    async fn an_account_with_much_data_is_read_each_time() {
        let now = Utc::now();
        let (_dir, store, account_id, session) = one_session(now).await;
        let reader = reader(&store);
        let big = "x".repeat(REMEMBERED_DATA);
        let other = Connection::open(&reader.path).unwrap();
        other
            .execute("UPDATE accounts SET data = json_object('note', ?1) WHERE id = ?2", (&big, account_id.to_string()))
            .unwrap();

        let (_, account) = reader.live_session_and_account(session, now).unwrap().expect("live");
        assert_eq!(account.data["note"], big.as_str());
        assert_eq!(reader.remembered(), 0);
    }

    #[test]
    fn a_full_connection_forgets_one_session_for_each_new_one() {
        let now = Utc::now();
        let mut kept = Kept::new(Connection::open_in_memory().unwrap());
        let account = Account {
            id: Uuid::now_v7(),
            email: "ann@example.com".into(),
            username: None,
            name: None,
            data: serde_json::Map::new(),
            app_data: serde_json::Map::new(),
            role: Role::User,
            status: Status::Active,
            email_verified: true,
            locale: None,
            created_at: now,
            updated_at: now,
        };
        let remembered = |id| Remembered {
            session: LiveSession {
                id,
                account_id: account.id,
                expires_at: now,
                last_used_at: now,
                auth: SessionAuth::password(now),
            },
            account: account.clone(),
        };
        let ids: Vec<Uuid> = (0..REMEMBERED + 10).map(|_| Uuid::now_v7()).collect();
        for id in &ids {
            kept.remember(remembered(*id));
            assert!(kept.sessions.len() <= REMEMBERED);
        }
        assert_eq!(kept.sessions.len(), REMEMBERED);
        assert!(kept.sessions.contains_key(ids.last().unwrap()), "the newest is kept");
    }
}
