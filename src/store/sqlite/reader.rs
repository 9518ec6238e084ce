//! The per-request reads (the session behind a token, the account it belongs to), done in
//! place on the async worker instead of through the pool.
//!
//! The async driver runs every SQLite connection on a thread of its own: each statement is a
//! message to that thread and a wake-up back, plus a pool checkout — well over a hundred µs of
//! CPU for a lookup that SQLite itself answers from its page cache in a few. These two reads are
//! on the path of every authenticated request, so they go through a few plain connections kept
//! here instead, used in place for the few µs a point lookup by key takes.
//!
//! Nothing is remembered between requests: every read sees the latest commit, of this process
//! or any other (the operator commands), so revocation stays immediate. The connections are
//! `query_only` and never wait for a lock (busy timeout zero). Any failure here — a lock, a
//! damaged file, a value this code does not read — is not an answer: the caller falls back to
//! the pool, whose error handling and busy timeout are the authoritative ones.

use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use uuid::Uuid;

use super::{ACCOUNT_COLUMNS, AccountRow};
use crate::accounts::domain::{Account, AccountKey, Credentials};
use crate::sessions::LiveSession;

/// Connections kept for reuse; more are opened when more requests read at once, and closed
/// after.
const KEPT: usize = 4;

#[derive(Debug)]
pub(super) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    by_id: String,
    by_email: String,
    by_username: String,
    session_and_account: String,
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
            session_and_account: crate::store::live_session_and_account_sql(ACCOUNT_COLUMNS, "?1", "?2"),
        })
    }

    pub(super) fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> anyhow::Result<Option<LiveSession>> {
        const SQL: &str = "SELECT account_id, expires_at, last_used_at FROM sessions WHERE id = ?1 AND expires_at > ?2";
        let row = self.session_row(SQL, id, now, session_columns)?;
        row.map(|columns| columns.into_session(id)).transpose()
    }

    /// The live session and its account, in one statement.
    pub(super) fn live_session_and_account(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<(LiveSession, Account)>> {
        let row = self.session_row(&self.session_and_account, id, now, |row| {
            Ok((session_columns(row)?, account_row(row, SESSION_COLUMNS)?))
        })?;
        row.map(|(columns, account)| Ok((columns.into_session(id)?, account.into_credentials()?.account))).transpose()
    }

    /// The row `sql` finds for the session `id` still live at `now` (its parameters, in order).
    fn session_row<T>(
        &self,
        sql: &str,
        id: Uuid,
        now: DateTime<Utc>,
        columns: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> anyhow::Result<Option<T>> {
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let mut buffer = Uuid::encode_buffer();
            let id = id.hyphenated().encode_lower(&mut buffer);
            Ok(statement.query_row((&*id, timestamp(now)), columns).optional()?)
        })
    }

    pub(super) fn find_account(&self, key: &AccountKey) -> anyhow::Result<Option<Credentials>> {
        let (sql, value) = match key {
            AccountKey::Id(id) => (&self.by_id, id.to_string()),
            AccountKey::Email(email) => (&self.by_email, email.to_lowercase()),
            AccountKey::Username(name) => (&self.by_username, name.to_ascii_lowercase()),
        };
        self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let row = statement.query_row([value], |row| account_row(row, 0)).optional()?;
            row.map(AccountRow::into_credentials).transpose()
        })
    }

    /// Runs `read` on an idle connection (opening one if there is none), then keeps it.
    fn with<T>(&self, read: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
        let idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let result = read(&conn);
        if result.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if idle.len() < KEPT {
                idle.push(conn);
            }
        }
        result
    }

    fn open(&self) -> anyhow::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }
}

/// `account_id, expires_at, last_used_at`, first in the session reads.
const SESSION_COLUMNS: usize = 3;

/// A session row's own columns.
struct SessionColumns {
    account_id: String,
    expires_at: DateTime<Utc>,
    last_used_at: DateTime<Utc>,
}

impl SessionColumns {
    fn into_session(self, id: Uuid) -> anyhow::Result<LiveSession> {
        let Self { account_id, expires_at, last_used_at } = self;
        Ok(LiveSession { id, account_id: Uuid::parse_str(&account_id)?, expires_at, last_used_at })
    }
}

fn session_columns(row: &Row<'_>) -> rusqlite::Result<SessionColumns> {
    Ok(SessionColumns { account_id: row.get(0)?, expires_at: time(row, 1)?, last_used_at: time(row, 2)? })
}

/// The account's columns, in the order of `ACCOUNT_COLUMNS`, from position `at` on.
fn account_row(row: &Row<'_>, at: usize) -> rusqlite::Result<AccountRow> {
    Ok(AccountRow {
        id: row.get(at)?,
        email: row.get(at + 1)?,
        username: row.get(at + 2)?,
        name: row.get(at + 3)?,
        data: row.get(at + 4)?,
        password_hash: row.get(at + 5)?,
        role: row.get(at + 6)?,
        status: row.get(at + 7)?,
        email_verified: row.get(at + 8)?,
        created_at: time(row, at + 9)?,
        updated_at: time(row, at + 10)?,
    })
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
