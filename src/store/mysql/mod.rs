//! MySQL and MariaDB (MySQL 8, MariaDB 10.6+): the schema in `migrations/mysql`. Every
//! connection works in UTC (`time_zone = '+00:00'`), at READ COMMITTED (no gap locks, so
//! claimers of the outbox do not deadlock each other; this needs row or mixed binary logging,
//! the default of both servers), in strict SQL mode, and with the configured timeout as
//! lock-wait and statement limit. Ids are `CHAR(36)` text and JSON is checked text.
//!
//! The shared SQL is written so that it needs nothing these servers lack: no `UPDATE …
//! RETURNING` (a write that answers with rows writes, then reads back in its transaction), and
//! no statement that reads the table it deletes from. This dialect spells `FOR NO KEY UPDATE`
//! as `FOR UPDATE` and quotes identifiers with backticks. A transaction chosen as a deadlock
//! victim is retried once.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::mysql::{
    MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions, MySqlRow,
};
use sqlx::{Connection, Executor, MySql, Row as _};
use uuid::Uuid;

use super::DbOptions;
use super::error::{StoreError, StoreResult};
use super::sql::{Arg, Dialect, Row, SqlStore, native_columns, object_from_text, runners, uuid_from_text};
use crate::secret_url::SecretUrl;
use crate::store::migrations::{self, Additive};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// The unique keys whose violation means "taken" (named in the migration).
const EMAIL_KEY: &str = "accounts_email_normalized_key";
const USERNAME_KEY: &str = "accounts_username_normalized_key";

/// The server error numbers the store acts on.
mod code {
    pub const DUPLICATE_ENTRY: u16 = 1062;
    pub const DUPLICATE_ENTRY_WITH_KEY_NAME: u16 = 1586;
    pub const DEADLOCK: u16 = 1213;
    pub const UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
    /// Disk full (1021), too many connections (1040), shutdown in progress (1053), table full
    /// (1114), lock wait timeout (1205), deadlock (1213), read-only (1290, 1836), connection
    /// killed (1927, MariaDB), statement time limit (1969 MariaDB, 3024 MySQL), server gone or
    /// lost (2006, 2013: the C client's numbers, for completeness, as sqlx reports a dropped
    /// connection as an I/O error).
    pub const UNAVAILABLE: &[u16] = &[1021, 1040, 1053, 1114, 1205, DEADLOCK, 1290, 1836, 1927, 1969, 3024, 2006, 2013];
}

/// The MySQL/MariaDB store.
pub type MySqlStore = SqlStore<MySqlDb>;

/// The MySQL/MariaDB dialect: a pool.
#[derive(Clone, Debug)]
pub struct MySqlDb {
    pool: MySqlPool,
}

impl MySqlStore {
    /// Connects, brings the schema up to date and opens the pool.
    pub async fn connect(url: &SecretUrl, db: &DbOptions) -> anyhow::Result<Self> {
        let options = MySqlConnectOptions::from_str(url.expose())
            .map_err(|e| anyhow::anyhow!("GATEHOUSE_DATABASE_URL {url}: {e}"))?
            .timezone(Some("+00:00".to_owned()));

        // Migrations run on a connection of their own, without the statement time limit: a
        // replica waits on another's migration lock for as long as that migration takes.
        let mut conn = tokio::time::timeout(db.timeout, MySqlConnection::connect_with(&options))
            .await
            .map_err(|_| anyhow::anyhow!("opening the MySQL database {url}: no connection within {:?}", db.timeout))?
            .map_err(|e| anyhow::anyhow!("opening the MySQL database {url}: {e}"))?;
        MIGRATOR.run_direct(&mut conn).await.map_err(|e| anyhow::anyhow!("migrating the MySQL database {url}: {e}"))?;
        let _ = conn.close().await;

        let timeout = db.timeout;
        let pool = MySqlPoolOptions::new()
            .max_connections(db.max_connections)
            .acquire_timeout(db.timeout)
            .after_connect(move |conn, _| Box::pin(configure(conn, timeout)))
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("opening the MySQL database {url}: {e}"))?;
        let store = SqlStore::new(MySqlDb { pool });
        store.apply_additive().await.map_err(|e| anyhow::anyhow!("migrating the MySQL database {url}: {e}"))?;
        Ok(store)
    }
}

/// Sets up a pooled connection: READ COMMITTED, strict mode, and `timeout` as the bound on a
/// lock wait, on one statement (`max_statement_time` on MariaDB, `max_execution_time` for
/// reads on MySQL) and on idling inside a transaction (MariaDB). Each server rejects the
/// other's variables, and that error is ignored.
async fn configure(conn: &mut MySqlConnection, timeout: Duration) -> Result<(), sqlx::Error> {
    let seconds = timeout.as_secs().clamp(1, 3600 * 24 * 365);
    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED").await?;
    conn.execute(
        format!(
            "SET SESSION innodb_lock_wait_timeout = {seconds},
                         sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')"
        )
        .as_str(),
    )
    .await?;
    let mariadb = format!("SET SESSION max_statement_time = {:.3}", timeout.as_secs_f64().min(31_536_000.0));
    let mysql = format!("SET SESSION max_execution_time = {}", timeout.as_millis().min(u128::from(u32::MAX)));
    // MariaDB only: a connection left idle inside a transaction (its client stalled or frozen)
    // is closed by the server rather than holding its locks indefinitely.
    let idle = format!("SET SESSION idle_transaction_timeout = {seconds}");
    for statement in [mariadb, mysql, idle] {
        match conn.execute(statement.as_str()).await {
            Err(sqlx::Error::Database(e))
                if e.try_downcast_ref::<MySqlDatabaseError>()
                    .is_some_and(|e| e.number() == code::UNKNOWN_SYSTEM_VARIABLE) => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Turns a driver error into the store's terms: a duplicate email or username into "taken"
/// (another duplicate key into a conflict); an unreachable, overloaded, locked, read-only or
/// full database into "unavailable".
fn map_err(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            let Some(number) = db.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number) else {
                return StoreError::Other(error.into());
            };
            if matches!(number, code::DUPLICATE_ENTRY | code::DUPLICATE_ENTRY_WITH_KEY_NAME) {
                return match duplicate_key(db.message()) {
                    Some(EMAIL_KEY) => StoreError::EmailTaken,
                    Some(USERNAME_KEY) => StoreError::UsernameTaken,
                    _ => StoreError::Conflict,
                };
            }
            if code::UNAVAILABLE.contains(&number) {
                return StoreError::Unavailable(error.into());
            }
            StoreError::Other(error.into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.into()),
        _ => StoreError::Other(error.into()),
    }
}

/// The key named by "Duplicate entry '…' for key '…'": MariaDB names the key alone, MySQL 8
/// prefixes the table. The last occurrence is the key: the entry may be anything.
fn duplicate_key(message: &str) -> Option<&str> {
    let (_, key) = message.rsplit_once("for key '")?;
    let key = key.strip_suffix('\'').unwrap_or(key);
    Some(key.rsplit_once('.').map_or(key, |(_, key)| key))
}

fn arguments<'q>(args: &[Arg<'q>]) -> Result<MySqlArguments, sqlx::Error> {
    use sqlx::Arguments;
    let mut out = MySqlArguments::default();
    for arg in args {
        let added = match *arg {
            Arg::Id(id) => out.add(id.map(|id| id.to_string())),
            Arg::Text(text) => out.add(text),
            Arg::Int(n) => out.add(n),
            Arg::Bool(b) => out.add(b),
            // As DATETIME (naive UTC, the session's zone), not as TIMESTAMP, whose range ends in
            // 2038: a bound beyond it would compare as nothing.
            Arg::Time(time) => out.add(time.map(|time| time.naive_utc())),
            Arg::Bytes(bytes) => out.add(bytes),
            Arg::Object(data) => out.add(Value::Object(data.clone()).to_string()),
            Arg::Json(json) => out.add(json.map(Value::to_string)),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

fn get<T>(row: &MySqlRow, column: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, MySql> + sqlx::Type<MySql>,
{
    row.try_get(column).map_err(map_err)
}

impl Row for MySqlRow {
    native_columns!(widening integers);

    fn id(&self, column: &str) -> StoreResult<Uuid> {
        uuid_from_text(&get::<String>(self, column)?, column)
    }
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        get::<Option<String>>(self, column)?.map(|text| uuid_from_text(&text, column)).transpose()
    }
    fn object(&self, column: &str) -> StoreResult<Map<String, Value>> {
        object_from_text(&get::<String>(self, column)?, column)
    }
    /// A `JSON` column, which MySQL reports as binary: read as JSON whatever the server says.
    fn opt_json(&self, column: &str) -> StoreResult<Option<Value>> {
        get::<Option<sqlx::types::Json<Value>>>(self, column).map(|json| json.map(|json| json.0))
    }
}

runners!(db: MySql, dialect: MySqlDb, row: MySqlRow, pool: MySqlPoolExec, tx: MySqlTx);

impl Dialect for MySqlDb {
    const INDEX: usize = 2;
    const ROW_LOCKS: bool = true;
    const MAX_PARAMETERS: usize = 65_535;
    /// `ON DUPLICATE KEY UPDATE` locks a concurrently inserted row exclusively, where
    /// `INSERT IGNORE` would take a shared lock that two callers then deadlock upgrading.
    const INSERT_BLANK_LIMIT: &'static str = "ON DUPLICATE KEY UPDATE until_ms = until_ms";
    const ANALYZE_ACCOUNTS: Option<&'static str> = None;
    const SEARCH_PREFILTER: Option<&'static str> = None;
    const SEARCH_SAMPLE: Option<&'static str> = None;
    const SEARCH_INDEX: Option<&'static str> = None;

    const ADDITIVE: &'static [Additive] = migrations::MYSQL;
    /// A named lock of the connection; DDL commits by itself, so it is given back explicitly.
    const MIGRATION_LOCK: Option<&'static str> = Some("SELECT GET_LOCK('gatehouse_migrations', 30)");
    const MIGRATION_UNLOCK: Option<&'static str> = Some("SELECT RELEASE_LOCK('gatehouse_migrations')");

    /// The column, table or index is there already (1060, 1050, 1061).
    fn already_applied(error: &StoreError) -> bool {
        database_error(error).is_some_and(|e| [1060, 1050, 1061].contains(&e.number()))
    }

    type Row = MySqlRow;
    type Pool<'a> = MySqlPoolExec<'a>;
    type Tx = MySqlTx;

    /// `FOR NO KEY UPDATE` is PostgreSQL's; identifiers are quoted with backticks.
    fn prepare(shared: &str) -> String {
        shared.replace(" FOR NO KEY UPDATE", " FOR UPDATE").replace('"', "`")
    }

    fn skip_duplicates(key_column: &str) -> String {
        format!("ON DUPLICATE KEY UPDATE {key_column} = {key_column}")
    }

    fn pool(&self) -> MySqlPoolExec<'_> {
        MySqlPoolExec(&self.pool)
    }

    async fn begin(&self) -> StoreResult<MySqlTx> {
        self.pool.begin().await.map(MySqlTx).map_err(map_err)
    }

    fn is_deadlock(error: &StoreError) -> bool {
        database_error(error).is_some_and(|e| e.number() == code::DEADLOCK)
    }
}

/// The server's error behind a store error, if one is.
fn database_error(error: &StoreError) -> Option<&MySqlDatabaseError> {
    let cause = match error {
        StoreError::Unavailable(cause) | StoreError::Other(cause) => cause,
        _ => return None,
    };
    let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() else { return None };
    db.try_downcast_ref::<MySqlDatabaseError>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_read_from_both_servers_duplicate_entry_messages() {
        let mariadb = "Duplicate entry 'ann@example.com' for key 'accounts_email_normalized_key'";
        let mysql = "Duplicate entry 'ann' for key 'accounts.accounts_username_normalized_key'";
        assert_eq!(duplicate_key(mariadb), Some(EMAIL_KEY));
        assert_eq!(duplicate_key(mysql), Some(USERNAME_KEY));
    }

    #[test]
    fn an_entry_that_looks_like_a_key_does_not_fool_the_mapping() {
        let message = "Duplicate entry 'accounts_email_normalized_key' for key 'accounts_username_normalized_key'";
        assert_eq!(duplicate_key(message), Some(USERNAME_KEY));
        assert_eq!(duplicate_key("Lock wait timeout exceeded"), None);
    }

    #[test]
    fn postgres_locks_and_standard_quotes_become_mysql_s() {
        assert_eq!(
            MySqlDb::prepare(r#"SELECT 1 FROM rate_limits WHERE "key" = ? FOR NO KEY UPDATE"#),
            "SELECT 1 FROM rate_limits WHERE `key` = ? FOR UPDATE"
        );
    }
}
