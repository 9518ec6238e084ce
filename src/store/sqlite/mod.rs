//! SQLite, the embedded default. WAL mode, `synchronous=FULL` (an acknowledged write survives a
//! crash of the process or the machine), a busy timeout, foreign keys on. Every write
//! transaction starts with `BEGIN IMMEDIATE`, so concurrent writers queue on the busy timeout
//! instead of failing on a lock upgrade, and a read-then-write inside one cannot race: that is
//! why SQLite needs none of the row-locking clauses the shared SQL carries for the servers.
//!
//! Ids, JSON and times are stored as text (a UUID's and an RFC 3339 UTC time's text sort as
//! the values do). The per-request reads skip the pool (see [`reader`]).

pub mod file;
mod reader;

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous, SqliteTransactionManager,
};
use sqlx::{Row as _, Sqlite, TransactionManager};
use uuid::Uuid;

use super::DbOptions;
use super::error::{StoreError, StoreResult};
use super::sql::{
    Arg, Dialect, Row, SqlStore, json_from_text, native_columns, object_from_text, runners, uuid_from_text,
    without_locks,
};
use crate::model::account::{Account, AccountKey, Credentials};
use crate::secret_url::SecretUrl;
use crate::sessions::LiveSession;
use crate::store::migrations::{self, Additive};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The page cache of each pooled connection: 512 KiB (SQLite's default is 2,000 KiB). The pool's
/// connections serve the writes and the admin's lists; on a large file each one's cache fills
/// with pages it may never read again, and ten of them would hold 20 MiB. The operating
/// system's file cache keeps those pages a read away. The per-request reads have their own
/// connection with the default cache (see [`reader`]).
const POOLED_CACHE_SIZE: &str = "-512";

/// The SQLite store.
pub type SqliteStore = SqlStore<SqliteDb>;

/// The SQLite dialect: a pool, and the in-place reader.
#[derive(Clone, Debug)]
pub struct SqliteDb {
    pool: SqlitePool,
    /// The per-request reads, done in place (see [`reader`]); none for an in-memory database.
    reader: Option<Arc<reader::Reader>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and runs the embedded migrations.
    pub async fn connect(url: &SecretUrl, db: &DbOptions) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url.expose())
            .map_err(|e| anyhow::anyhow!("GATEHOUSE_DATABASE_URL {url}: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(db.timeout)
            .foreign_keys(true)
            .pragma("cache_size", POOLED_CACHE_SIZE);
        let in_memory = url.expose().contains(":memory:") || url.expose().contains("mode=memory");
        let reader = reader::Reader::new(options.get_filename().to_owned(), in_memory).map(Arc::new);
        let pool = SqlitePoolOptions::new()
            .max_connections(db.max_connections)
            .acquire_timeout(db.timeout)
            // No ping before each use: a SQLite connection is a file handle in this process, not
            // a socket that can go stale, and the ping is a round trip to the connection's
            // thread on every acquire (a sixth of a login's database work). A failing file
            // shows in the statement itself.
            .test_before_acquire(false)
            // SQLite quietly opens a file it may not write (a read-only or failing disk) read-only,
            // and such a connection would go on refusing writes after the disk recovers. It is
            // marked `query_only` (`BEGIN IMMEDIATE` fails at once on it, before any locking):
            // it serves reads, and is closed when released instead of going back to the pool.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    match sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
                        Ok(_) => {
                            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
                        }
                        Err(error) if is_read_only(&error) => {
                            sqlx::query("PRAGMA query_only = ON").execute(&mut *conn).await?;
                        }
                        Err(error) => return Err(error),
                    }
                    Ok(())
                })
            })
            // A COMMIT that fails on a full or read-only disk leaves sqlx counting the connection
            // as inside a transaction (SQLite has already rolled it back), and every later BEGIN
            // on it would fail. Such a connection is closed too.
            .after_release(|conn, _| {
                Box::pin(async move {
                    if SqliteTransactionManager::get_transaction_depth(conn) != 0 {
                        return Ok(false);
                    }
                    let query_only: bool = sqlx::query_scalar("PRAGMA query_only").fetch_one(&mut *conn).await?;
                    Ok(!query_only)
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("opening the SQLite database {url}: {e}"))?;
        MIGRATOR.run(&pool).await.map_err(|e| anyhow::anyhow!("migrating the SQLite database {url}: {e}"))?;
        let store = SqlStore::new(SqliteDb { pool, reader });
        store.apply_additive().await.map_err(|e| anyhow::anyhow!("migrating the SQLite database {url}: {e}"))?;
        Ok(store)
    }
}

/// SQLITE_READONLY, plain or extended.
fn is_read_only(error: &sqlx::Error) -> bool {
    let code = match error {
        sqlx::Error::Database(db) => db.code().and_then(|c| c.parse::<i32>().ok()),
        _ => None,
    };
    code.map(|c| c & 0xff) == Some(8)
}

/// Turns a driver error into the store's terms: unique violations into "taken", an
/// unreachable, locked, read-only or full database into "unavailable".
fn map_err(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            let message = db.message();
            if message.contains("accounts.email_normalized") {
                return StoreError::EmailTaken;
            }
            if message.contains("accounts.username_normalized") {
                return StoreError::UsernameTaken;
            }
            // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
            if matches!(db.code().as_deref(), Some("1555" | "2067")) {
                return StoreError::Conflict;
            }
            let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
            // BUSY, LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN
            if matches!(primary, Some(5 | 6 | 8 | 10 | 11 | 13 | 14)) {
                return StoreError::Unavailable(error.into());
            }
            StoreError::Other(error.into())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(error.into())
        }
        _ => StoreError::Other(error.into()),
    }
}

fn arguments<'q>(args: &[Arg<'q>]) -> Result<SqliteArguments<'q>, sqlx::Error> {
    use sqlx::Arguments;
    let mut out = SqliteArguments::default();
    for arg in args {
        let added = match *arg {
            Arg::Id(id) => out.add(id.map(|id| id.to_string())),
            Arg::Text(text) => out.add(text),
            Arg::Int(n) => out.add(n),
            Arg::Bool(b) => out.add(b),
            Arg::Time(time) => out.add(time),
            Arg::Bytes(bytes) => out.add(bytes),
            Arg::Object(data) => out.add(Value::Object(data.clone()).to_string()),
            Arg::Json(json) => out.add(json.map(Value::to_string)),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

fn get<T>(row: &SqliteRow, column: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(column).map_err(map_err)
}

impl Row for SqliteRow {
    native_columns!();

    fn id(&self, column: &str) -> StoreResult<Uuid> {
        uuid_from_text(&get::<String>(self, column)?, column)
    }
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        get::<Option<String>>(self, column)?.map(|text| uuid_from_text(&text, column)).transpose()
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        get(self, column)
    }
    fn object(&self, column: &str) -> StoreResult<Map<String, Value>> {
        object_from_text(&get::<String>(self, column)?, column)
    }
    fn opt_json(&self, column: &str) -> StoreResult<Option<Value>> {
        get::<Option<String>>(self, column)?.map(|text| json_from_text(&text, column)).transpose()
    }
}

runners!(db: Sqlite, dialect: SqliteDb, row: SqliteRow, pool: SqlitePoolExec, tx: SqliteTx, written: reader::note_write);

impl Dialect for SqliteDb {
    const INDEX: usize = 0;
    const ROW_LOCKS: bool = false;
    const MAX_PARAMETERS: usize = 32_766;
    const INSERT_BLANK_LIMIT: &'static str = "ON CONFLICT DO NOTHING";
    const ANALYZE_ACCOUNTS: Option<&'static str> = None;
    const SEARCH_PREFILTER: Option<&'static str> = None;
    /// Up to 2,000 distinct documents of the search index picked by random number, each a
    /// lookup by primary key (numbers freed by deleted accounts find nothing).
    const SEARCH_SAMPLE: Option<&'static str> = Some(
        "WITH RECURSIVE pick(n, doc) AS (SELECT 0, NULL UNION ALL \
         SELECT n + 1, abs(random() % (SELECT max(doc) FROM account_search_docs)) + 1 FROM pick WHERE n < 2000) \
         SELECT a.email_normalized || ' ' || coalesce(a.username_normalized, '') || ' ' || lower(coalesce(a.name, '')) AS t \
         FROM (SELECT DISTINCT doc FROM pick) AS p \
         CROSS JOIN account_search_docs AS d ON d.doc = p.doc CROSS JOIN accounts AS a ON a.id = d.account_id",
    );
    /// The trigram full-text table of `0013_account_search.sql`, in its rows' order.
    const SEARCH_INDEX: Option<&'static str> = Some(
        "account_search CROSS JOIN account_search_docs ON account_search_docs.doc = account_search.rowid \
         WHERE account_search MATCH ?",
    );

    const ADDITIVE: &'static [Additive] = migrations::SQLITE;
    /// `BEGIN IMMEDIATE` write transactions run one at a time already.
    const MIGRATION_LOCK: Option<&'static str> = None;
    const MIGRATION_UNLOCK: Option<&'static str> = None;

    type Row = SqliteRow;
    type Pool<'a> = SqlitePoolExec<'a>;
    type Tx = SqliteTx;

    fn prepare(shared: &str) -> String {
        without_locks(shared)
    }

    fn skip_duplicates(_key_column: &str) -> String {
        "ON CONFLICT DO NOTHING".into()
    }

    fn pool(&self) -> SqlitePoolExec<'_> {
        SqlitePoolExec(&self.pool)
    }

    async fn begin(&self) -> StoreResult<SqliteTx> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map(SqliteTx).map_err(map_err)
    }

    /// SQLite never picks a deadlock victim: a writer waits on the busy timeout instead.
    fn is_deadlock(_error: &StoreError) -> bool {
        false
    }

    fn find_account_in_place(&self, key: &AccountKey) -> Option<StoreResult<Option<Credentials>>> {
        in_place(self.reader.as_ref()?.find_account(key))
    }

    fn live_session_in_place(&self, id: Uuid, now: DateTime<Utc>) -> Option<StoreResult<Option<LiveSession>>> {
        in_place(self.reader.as_ref()?.live_session(id, now))
    }

    fn live_session_and_account_in_place(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Option<StoreResult<Option<(LiveSession, Account)>>> {
        in_place(self.reader.as_ref()?.live_session_and_account(id, now))
    }

    fn api_key_in_place(&self, hash: &[u8]) -> Option<StoreResult<Option<crate::model::api_key::FoundKey>>> {
        in_place(self.reader.as_ref()?.api_key(hash))
    }
}

/// An in-place read's answer, or `None` (read through the pool) when it failed: the pool's
/// busy timeout and error mapping are the authoritative ones.
fn in_place<T>(read: anyhow::Result<T>) -> Option<StoreResult<T>> {
    match read {
        Ok(found) => Some(Ok(found)),
        Err(error) => {
            tracing::debug!(%error, "in-place read failed; reading through the pool");
            None
        }
    }
}
