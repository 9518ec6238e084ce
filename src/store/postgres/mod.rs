//! PostgreSQL, for several replicas sharing one database. Native types (UUID, TIMESTAMPTZ,
//! JSONB, BYTEA); a per-connection `statement_timeout`; transactions at READ COMMITTED that
//! lock what they read before they write it. Row locks are always taken parent first (account
//! before its tokens, session before its refresh tokens), the order in which a cascading delete
//! takes them, so concurrent requests queue instead of deadlocking; should the server still
//! pick a deadlock victim, its transaction runs once more. The outbox is claimed with
//! `FOR UPDATE SKIP LOCKED`, so each email goes to one replica.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row as _};
use uuid::Uuid;

use super::DbOptions;
use super::error::{StoreError, StoreResult};
use super::sql::{Arg, Dialect, Row, SqlStore, native_columns, numbered_placeholders, runners};
use crate::secret_url::SecretUrl;
use crate::store::migrations::{self, Additive};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL store.
pub type PostgresStore = SqlStore<PostgresDb>;

/// The PostgreSQL dialect: a pool.
#[derive(Clone, Debug)]
pub struct PostgresDb {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects a pool whose every connection bounds its statements by `db.timeout`, and runs
    /// the embedded migrations (sqlx serializes concurrent migrators with an advisory lock).
    pub async fn connect(url: &SecretUrl, db: &DbOptions) -> anyhow::Result<Self> {
        let statement_timeout_ms = db.timeout.as_millis().min(i32::MAX as u128);
        let options = PgConnectOptions::from_str(url.expose())
            .map_err(|e| anyhow::anyhow!("GATEHOUSE_DATABASE_URL {url}: {e}"))?
            .options([("statement_timeout", statement_timeout_ms.to_string())]);
        let pool = PgPoolOptions::new()
            .max_connections(db.max_connections)
            .acquire_timeout(db.timeout)
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("connecting to the PostgreSQL database {url}: {e}"))?;
        MIGRATOR.run(&pool).await.map_err(|e| anyhow::anyhow!("migrating the PostgreSQL database {url}: {e}"))?;
        let store = SqlStore::new(PostgresDb { pool });
        store.apply_additive().await.map_err(|e| anyhow::anyhow!("migrating the PostgreSQL database {url}: {e}"))?;
        Ok(store)
    }
}

/// SQLSTATE 40P01: the server broke a deadlock by rolling this transaction back.
const DEADLOCK_DETECTED: &str = "40P01";

/// Turns a driver error into the store's terms: unique violations into "taken" (or a conflict
/// on another key), an unreachable, overloaded, shutting-down, timed-out or read-only database
/// into "unavailable".
fn map_err(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if code == "23505" {
                return match db.constraint() {
                    Some("accounts_email_normalized_key") => StoreError::EmailTaken,
                    Some("accounts_username_normalized_key") => StoreError::UsernameTaken,
                    _ => StoreError::Conflict,
                };
            }
            // 08 connection exception, 53 insufficient resources, 57 operator intervention
            // (shutdown; query_canceled by statement_timeout), 25006 read-only transaction,
            // 40P01 deadlock (retried once, see `is_deadlock`).
            if code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57")
                || code == "25006"
                || code == DEADLOCK_DETECTED
            {
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

fn arguments<'q>(args: &[Arg<'q>]) -> Result<PgArguments, sqlx::Error> {
    use sqlx::Arguments;
    let mut out = PgArguments::default();
    for arg in args {
        let added = match *arg {
            Arg::Id(id) => out.add(id),
            Arg::Text(text) => out.add(text),
            Arg::Int(n) => out.add(n),
            Arg::Bool(b) => out.add(b),
            Arg::Time(time) => out.add(time),
            Arg::Bytes(bytes) => out.add(bytes),
            Arg::Object(data) => out.add(Json(data)),
            Arg::Json(json) => out.add(json.map(Json)),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(out)
}

fn get<T>(row: &PgRow, column: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(map_err)
}

impl Row for PgRow {
    native_columns!(widening integers);

    fn id(&self, column: &str) -> StoreResult<Uuid> {
        get(self, column)
    }
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        get(self, column)
    }
    fn object(&self, column: &str) -> StoreResult<Map<String, Value>> {
        get::<Json<Map<String, Value>>>(self, column).map(|Json(map)| map)
    }
    fn opt_json(&self, column: &str) -> StoreResult<Option<Value>> {
        get::<Option<Json<Value>>>(self, column).map(|json| json.map(|Json(value)| value))
    }
}

runners!(db: Postgres, dialect: PostgresDb, row: PgRow, pool: PgPoolExec, tx: PgTx);

impl Dialect for PostgresDb {
    const INDEX: usize = 1;
    const ROW_LOCKS: bool = true;
    const MAX_PARAMETERS: usize = 65_535;
    const INSERT_BLANK_LIMIT: &'static str = r#"ON CONFLICT ("key") DO UPDATE SET until_ms = rate_limits.until_ms"#;
    const ANALYZE_ACCOUNTS: Option<&'static str> = Some("ANALYZE accounts");
    const SEARCH_INDEX: Option<&'static str> = None;
    /// The one trigram index of the three fields (`0013_account_search.sql`).
    const SEARCH_PREFILTER: Option<&'static str> =
        Some("account_search_text(email_normalized, username_normalized, name) LIKE ? ESCAPE '!'");
    /// Pages taken at random, as many as hold about 4,000 accounts by the planner's count
    /// (all of them while it has none), the first 2,000 accounts on them.
    const SEARCH_SAMPLE: Option<&'static str> = Some(
        "SELECT account_search_text(email_normalized, username_normalized, name) AS t \
         FROM accounts TABLESAMPLE SYSTEM ((SELECT LEAST(100, 400000.0 / GREATEST(reltuples, 1)) \
         FROM pg_class WHERE oid = 'accounts'::regclass)) LIMIT 2000",
    );

    const ADDITIVE: &'static [Additive] = migrations::POSTGRES;
    /// A transaction-scoped advisory lock (the key spells "gatehous"), given back at commit.
    const MIGRATION_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(7449363237540164979)");
    const MIGRATION_UNLOCK: Option<&'static str> = None;

    type Row = PgRow;
    type Pool<'a> = PgPoolExec<'a>;
    type Tx = PgTx;

    fn prepare(shared: &str) -> String {
        numbered_placeholders(shared)
    }

    fn skip_duplicates(_key_column: &str) -> String {
        "ON CONFLICT DO NOTHING".into()
    }

    fn pool(&self) -> PgPoolExec<'_> {
        PgPoolExec(&self.pool)
    }

    async fn begin(&self) -> StoreResult<PgTx> {
        self.pool.begin().await.map(PgTx).map_err(map_err)
    }

    fn is_deadlock(error: &StoreError) -> bool {
        let StoreError::Unavailable(cause) = error else { return false };
        let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() else { return false };
        db.code().as_deref() == Some(DEADLOCK_DETECTED)
    }
}
