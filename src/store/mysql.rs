//! The MySQL/MariaDB store (MySQL 8, MariaDB 10.6+): its schema in `migrations/mysql`, its SQL
//! and its error mapping. Every connection works in UTC (`time_zone = '+00:00'`), at READ
//! COMMITTED (no gap locks, so claimers of the outbox do not deadlock each other; this needs
//! row or mixed binary logging, the default of both servers), in strict SQL mode, and with the
//! configured timeout as lock-wait and statement limit. Neither server has `UPDATE …
//! RETURNING`, so a write that answers with rows is a transaction that writes, then reads back;
//! a spend of a single-use token is a conditional `UPDATE` or a `SELECT … FOR UPDATE`. A
//! transaction chosen as a deadlock victim is retried once.

mod admin;
mod audit;
mod email_change;
mod limits;

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{Connection, Executor, MySql, Row, Transaction};
use uuid::Uuid;

use super::{
    DbOptions, FullStore, NewAccount, NewEmail, NewOneTimeToken, OneTimeToken, ProfileChange, QueuedEmail, Store,
    StoreError, StoreResult, TokenPurpose,
};
use crate::accounts::domain::{Account, AccountKey, Credentials, Role, Status};
use crate::secret_url::SecretUrl;
use crate::sessions::{AccountRead, LiveSession, NewSession, Rotation, SessionInfo, SessionStore};
use crate::tokens::jwt::SigningKey;
use crate::tokens::opaque::TokenHash;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// How long expired one-time tokens are kept, so that a late click still hears "expired".
const EXPIRED_TOKEN_RETENTION: chrono::Duration = chrono::Duration::days(7);

const ACCOUNT_COLUMNS: &str =
    "id, email, username, name, data, password_hash, role, status, email_verified, created_at, updated_at";

/// The outbox rows due for a (first or renewed) claim; binds `now` twice.
const DUE: &str = "(status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_until <= ?)";

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

/// Opens the database and runs its migrations.
pub async fn open(url: &SecretUrl, options: &DbOptions) -> anyhow::Result<Arc<dyn FullStore>> {
    Ok(Arc::new(MySqlStore::connect(url, options).await?))
}

#[derive(Clone, Debug)]
pub struct MySqlStore {
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
        Ok(Self { pool })
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, MySql>> {
        self.pool.begin().await.map_err(map_err)
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

/// Turns a driver error into the store's terms: a duplicate email or username into "taken";
/// an unreachable, overloaded, locked, read-only or full database into "unavailable".
fn map_err(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            let Some(number) = db.try_downcast_ref::<MySqlDatabaseError>().map(MySqlDatabaseError::number) else {
                return StoreError::Other(error.into());
            };
            if matches!(number, code::DUPLICATE_ENTRY | code::DUPLICATE_ENTRY_WITH_KEY_NAME) {
                match duplicate_key(db.message()) {
                    Some(EMAIL_KEY) => return StoreError::EmailTaken,
                    Some(USERNAME_KEY) => return StoreError::UsernameTaken,
                    _ => {}
                }
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

/// Whether a store error is the server picking this transaction as a deadlock victim (and
/// rolling it back, so it may simply run again).
fn is_deadlock(error: &StoreError) -> bool {
    let StoreError::Unavailable(cause) = error else { return false };
    let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() else { return false };
    db.try_downcast_ref::<MySqlDatabaseError>().is_some_and(|e| e.number() == code::DEADLOCK)
}

/// Runs a transaction, and once more if the server rolled it back to break a deadlock.
async fn retrying<T, F, Fut>(transaction: F) -> StoreResult<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    match transaction().await {
        Err(error) if is_deadlock(&error) => {
            tracing::debug!("deadlock victim, retrying once");
            transaction().await
        }
        done => done,
    }
}

fn uuid(row: &MySqlRow, column: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(column).map_err(map_err)?;
    Uuid::parse_str(&text).map_err(|e| StoreError::Other(anyhow::anyhow!("bad uuid in {column}: {e}")))
}

/// The session columns `account_id, expires_at, last_used_at` of a row.
fn session_from_row(id: Uuid, row: &MySqlRow) -> StoreResult<LiveSession> {
    Ok(LiveSession {
        id,
        account_id: uuid(row, "account_id")?,
        expires_at: row.try_get("expires_at").map_err(map_err)?,
        last_used_at: row.try_get("last_used_at").map_err(map_err)?,
    })
}

fn account_from_row(row: &MySqlRow) -> StoreResult<Credentials> {
    let data: String = row.try_get("data").map_err(map_err)?;
    let data = serde_json::from_str(&data).map_err(|e| StoreError::Other(anyhow::anyhow!("bad data json: {e}")))?;
    let role: String = row.try_get("role").map_err(map_err)?;
    let status: String = row.try_get("status").map_err(map_err)?;
    let account = Account {
        id: uuid(row, "id")?,
        email: row.try_get("email").map_err(map_err)?,
        username: row.try_get("username").map_err(map_err)?,
        name: row.try_get("name").map_err(map_err)?,
        data,
        role: Role::parse(&role).ok_or_else(|| anyhow::anyhow!("bad role {role:?}"))?,
        status: Status::parse(&status).ok_or_else(|| anyhow::anyhow!("bad status {status:?}"))?,
        email_verified: row.try_get("email_verified").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        updated_at: row.try_get("updated_at").map_err(map_err)?,
    };
    Ok(Credentials { account, password_hash: row.try_get("password_hash").map_err(map_err)? })
}

fn json_text(data: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(data.clone()).to_string()
}

/// `?, ?, …` for an `IN` list of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

async fn read_account(tx: &mut Transaction<'static, MySql>, id: Uuid) -> StoreResult<Option<Credentials>> {
    let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?"))
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    row.as_ref().map(account_from_row).transpose()
}

async fn insert_email(tx: &mut Transaction<'static, MySql>, email: &NewEmail) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (id, kind, recipient, subject, body_text, body_html, message_id, status, attempts,
                             next_attempt_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
    )
    .bind(email.id.to_string())
    .bind(email.kind)
    .bind(&email.recipient)
    .bind(&email.subject)
    .bind(&email.text_body)
    .bind(&email.html_body)
    .bind(&email.message_id)
    .bind(email.created_at)
    .bind(email.created_at)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn insert_token(tx: &mut Transaction<'static, MySql>, token: &NewOneTimeToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO one_time_tokens (hash, account_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(token.hash.as_bytes().as_slice())
    .bind(token.account_id.to_string())
    .bind(token.purpose.as_str())
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Spends a one-time token of the given purpose; the account it belonged to, if it was live.
/// The conditional `UPDATE` takes the row lock: of two concurrent spends, the second waits,
/// then finds the token spent.
async fn spend_token(
    tx: &mut Transaction<'static, MySql>,
    hash: &TokenHash,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> StoreResult<Option<Uuid>> {
    let spent = sqlx::query(
        "UPDATE one_time_tokens SET used_at = ?
         WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
    )
    .bind(now)
    .bind(hash.as_bytes().as_slice())
    .bind(purpose.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    if spent.rows_affected() != 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT account_id FROM one_time_tokens WHERE hash = ?")
        .bind(hash.as_bytes().as_slice())
        .fetch_one(&mut **tx)
        .await
        .map_err(map_err)?;
    uuid(&row, "account_id").map(Some)
}

#[async_trait]
impl Store for MySqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<(&NewOneTimeToken, &NewEmail)>,
    ) -> StoreResult<Account> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name, data,
                                       password_hash, role, status, email_verified, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(account.id.to_string())
            .bind(&account.email)
            .bind(&account.email_normalized)
            .bind(&account.username)
            .bind(account.username.as_ref().map(|u| u.to_ascii_lowercase()))
            .bind(&account.name)
            .bind(json_text(&account.data))
            .bind(&account.password_hash)
            .bind(account.role.as_str())
            .bind(account.status.as_str())
            .bind(account.email_verified)
            .bind(account.now)
            .bind(account.now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            let stored = read_account(&mut tx, account.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the account just inserted is missing"))?;
            if let Some((token, email)) = link {
                insert_token(&mut tx, token).await?;
                insert_email(&mut tx, email).await?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(stored.account)
        })
        .await
    }

    async fn find_account(&self, key: &AccountKey) -> StoreResult<Option<Credentials>> {
        let (column, value) = match key {
            AccountKey::Id(id) => ("id", id.to_string()),
            AccountKey::Email(email) => ("email_normalized", email.to_lowercase()),
            AccountKey::Username(name) => ("username_normalized", name.to_ascii_lowercase()),
        };
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = ?"))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// One conditional update unless the change would take an active admin's rights away; then
    /// the last-admin guard decides under lock (see [`admin::refuse_last_admin`]).
    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> StoreResult<Option<Account>> {
        fn update<'q>(
            sql: &'q str,
            id: Uuid,
            change: &'q ProfileChange,
        ) -> sqlx::query::Query<'q, MySql, sqlx::mysql::MySqlArguments> {
            sqlx::query(sql)
                .bind(&change.username)
                .bind(change.username.as_ref().map(|u| u.to_ascii_lowercase()))
                .bind(&change.name)
                .bind(json_text(&change.data))
                .bind(change.role.as_str())
                .bind(change.status.as_str())
                .bind(change.now)
                .bind(id.to_string())
        }
        const UPDATE: &str = "UPDATE accounts SET username = ?, username_normalized = ?, name = ?, data = ?, role = ?, \
                              status = ?, updated_at = ? WHERE id = ?";
        let stays_active_admin = change.role == Role::Admin && change.status == Status::Active;
        let unguarded = format!("{UPDATE} AND (? OR NOT (role = 'admin' AND status = 'active'))");
        retrying(|| async {
            let mut tx = self.begin().await?;
            // The row lock this update takes makes its condition hold at the moment of the write.
            let mut updated = update(&unguarded, id, change)
                .bind(stays_active_admin)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if updated == 0 && !stays_active_admin {
                // No such account, or an active admin about to be demoted or disabled.
                admin::refuse_last_admin(&mut tx, id).await?;
                updated = update(UPDATE, id, change).execute(&mut *tx).await.map_err(map_err)?.rows_affected();
            }
            if updated == 0 {
                tx.rollback().await.map_err(map_err)?;
                return Ok(None);
            }
            let stored = read_account(&mut tx, id).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(stored.map(|c| c.account))
        })
        .await
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<()> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            sqlx::query("UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?")
                .bind(hash)
                .bind(now)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if let Some(notice) = notice {
                insert_email(&mut tx, notice).await?;
            }
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    /// One conditional delete unless the account is an active admin; then the last-admin guard
    /// decides under lock.
    async fn delete_account(&self, id: Uuid) -> StoreResult<bool> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            let done = sqlx::query("DELETE FROM accounts WHERE id = ? AND NOT (role = 'admin' AND status = 'active')")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let mut deleted = done.rows_affected() == 1;
            if !deleted {
                admin::refuse_last_admin(&mut tx, id).await?;
                let done = sqlx::query("DELETE FROM accounts WHERE id = ?")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                deleted = done.rows_affected() == 1;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(deleted)
        })
        .await
    }

    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            insert_email(&mut tx, email).await?;
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    async fn insert_link(&self, token: &NewOneTimeToken, email: &NewEmail) -> StoreResult<()> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            insert_token(&mut tx, token).await?;
            insert_email(&mut tx, email).await?;
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    async fn find_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        let row = sqlx::query("SELECT account_id, purpose, expires_at, used_at FROM one_time_tokens WHERE hash = ?")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let purpose: String = row.try_get("purpose").map_err(map_err)?;
        Ok(Some(OneTimeToken {
            account_id: uuid(&row, "account_id")?,
            purpose: TokenPurpose::parse(&purpose).ok_or_else(|| anyhow::anyhow!("bad purpose {purpose:?}"))?,
            expires_at: row.try_get("expires_at").map_err(map_err)?,
            used_at: row.try_get("used_at").map_err(map_err)?,
        }))
    }

    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::Activation, now).await? else {
                tx.rollback().await.map_err(map_err)?;
                return Ok(false);
            };
            sqlx::query(
                "UPDATE accounts SET email_verified = TRUE, updated_at = ?,
                                     status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
                 WHERE id = ?",
            )
            .bind(now)
            .bind(account_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn redeem_reset(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<bool> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::PasswordReset, now).await? else {
                tx.rollback().await.map_err(map_err)?;
                return Ok(false);
            };
            sqlx::query(
                "UPDATE accounts SET password_hash = ?, email_verified = TRUE, updated_at = ?,
                                     status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
                 WHERE id = ?",
            )
            .bind(password_hash)
            .bind(now)
            .bind(account_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query(
                "UPDATE one_time_tokens SET used_at = ?
                 WHERE account_id = ? AND purpose = 'password_reset' AND used_at IS NULL",
            )
            .bind(now)
            .bind(account_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            if let Some(notice) = notice {
                insert_email(&mut tx, notice).await?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(true)
        })
        .await
    }

    async fn claim_emails(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> StoreResult<Vec<QueuedEmail>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        // Most polls find nothing due: find that out without opening a transaction.
        let due: Option<i32> = sqlx::query_scalar(&format!("SELECT 1 FROM outbox WHERE {DUE} LIMIT 1"))
            .bind(now)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        retrying(|| async move {
            let mut tx = self.begin().await?;
            // Rows another replica is claiming right now are skipped, not waited for.
            let ids: Vec<String> = sqlx::query_scalar(&format!(
                "SELECT id FROM outbox WHERE {DUE} ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED"
            ))
            .bind(now)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(map_err)?;
            if ids.is_empty() {
                tx.rollback().await.map_err(map_err)?;
                return Ok(Vec::new());
            }
            let list = placeholders(ids.len());
            let sql = format!(
                "UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1 WHERE id IN ({list})"
            );
            let mut claim = sqlx::query(&sql).bind(until);
            for id in &ids {
                claim = claim.bind(id);
            }
            claim.execute(&mut *tx).await.map_err(map_err)?;
            let sql = format!(
                "SELECT id, kind, recipient, subject, body_text, body_html, message_id, attempts FROM outbox
                 WHERE id IN ({list}) ORDER BY next_attempt_at"
            );
            let mut read = sqlx::query(&sql);
            for id in &ids {
                read = read.bind(id);
            }
            let rows = read.fetch_all(&mut *tx).await.map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            rows.iter()
                .map(|row| {
                    Ok(QueuedEmail {
                        id: uuid(row, "id")?,
                        kind: row.try_get("kind").map_err(map_err)?,
                        recipient: row.try_get("recipient").map_err(map_err)?,
                        subject: row.try_get("subject").map_err(map_err)?,
                        text_body: row.try_get::<Option<String>, _>("body_text").map_err(map_err)?.unwrap_or_default(),
                        html_body: row.try_get::<Option<String>, _>("body_html").map_err(map_err)?.unwrap_or_default(),
                        message_id: row.try_get("message_id").map_err(map_err)?,
                        attempts: row.try_get::<i32, _>("attempts").map_err(map_err)?.try_into().unwrap_or(u32::MAX),
                    })
                })
                .collect()
        })
        .await
    }

    async fn email_sent(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = ?, body_text = NULL, body_html = NULL,
                               claimed_until = NULL, last_error = NULL
             WHERE id = ?",
        )
        .bind(now)
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn email_retry(&self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?, claimed_until = NULL
             WHERE id = ?",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn email_failed(&self, id: Uuid, _now: DateTime<Utc>, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET status = 'failed', last_error = ?, claimed_until = NULL WHERE id = ?")
            .bind(error)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn outbox_backlog(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(n.try_into().unwrap_or_default())
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        let rows = sqlx::query("SELECT kid, private_key, public_key, created_at FROM signing_keys ORDER BY generation")
            .fetch_all(&self.pool)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(SigningKey {
                    kid: row.try_get("kid").map_err(map_err)?,
                    private_pkcs8: row.try_get("private_key").map_err(map_err)?,
                    public_key: row.try_get("public_key").map_err(map_err)?,
                    created_at: row.try_get("created_at").map_err(map_err)?,
                })
            })
            .collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        // Generation 1 is unique: a replica that lost the race updates nothing. (Not `INSERT
        // IGNORE`, which would also turn a truncation or a bad value into a warning.)
        sqlx::query(
            "INSERT INTO signing_keys (kid, generation, private_key, public_key, created_at)
             VALUES (?, 1, ?, ?, ?) ON DUPLICATE KEY UPDATE kid = kid",
        )
        .bind(&key.kid)
        .bind(&key.private_pkcs8)
        .bind(&key.public_key)
        .bind(key.created_at)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let tokens = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at <= ?")
                .bind(now - EXPIRED_TOKEN_RETENTION)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let changes = sqlx::query("DELETE FROM email_changes WHERE expires_at <= ?")
                .bind(now - EXPIRED_TOKEN_RETENTION)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(sessions.rows_affected() + tokens.rows_affected() + changes.rows_affected())
        })
        .await
    }
}

#[async_trait]
impl SessionStore for MySqlStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            sqlx::query(
                "INSERT INTO sessions (id, account_id, created_at, last_used_at, expires_at, user_agent, ip)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(session.id.to_string())
            .bind(session.account_id.to_string())
            .bind(session.created_at)
            .bind(session.created_at)
            .bind(session.expires_at)
            .bind(&session.user_agent)
            .bind(&session.ip)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)")
                .bind(session.refresh_hash.as_bytes().as_slice())
                .bind(session.id.to_string())
                .bind(session.created_at)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        let row =
            sqlx::query("SELECT account_id, expires_at, last_used_at FROM sessions WHERE id = ? AND expires_at > ?")
                .bind(id.to_string())
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_err)?;
        row.map(|row| session_from_row(id, &row)).transpose()
    }

    async fn live_session_and_account(
        &self,
        id: Uuid,
        _account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(LiveSession, AccountRead)>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| crate::store::live_session_and_account_sql(ACCOUNT_COLUMNS, "?", "?"));
        let row = sqlx::query(&SQL).bind(id.to_string()).bind(now).fetch_optional(&self.pool).await.map_err(map_err)?;
        row.map(|row| Ok((session_from_row(id, &row)?, AccountRead::Current(account_from_row(&row)?.account))))
            .transpose()
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ? AND last_used_at < ?")
            .bind(now)
            .bind(id.to_string())
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> StoreResult<Rotation> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            // Locks the token and its session: a concurrent rotation with the same token waits
            // here, then finds it spent.
            let row = sqlx::query(
                "SELECT r.session_id, r.used_at, s.account_id, s.expires_at, s.last_used_at
                 FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
                 WHERE r.hash = ?
                 FOR UPDATE",
            )
            .bind(presented.as_bytes().as_slice())
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
            let Some(row) = row else {
                tx.rollback().await.map_err(map_err)?;
                return Ok(Rotation::Unknown);
            };
            let session_id = uuid(&row, "session_id")?;
            let account_id = uuid(&row, "account_id")?;
            let expires_at: DateTime<Utc> = row.try_get("expires_at").map_err(map_err)?;
            let used_at: Option<DateTime<Utc>> = row.try_get("used_at").map_err(map_err)?;
            if expires_at <= now {
                tx.rollback().await.map_err(map_err)?;
                return Ok(Rotation::Unknown);
            }
            if let Some(spent_at) = used_at {
                // A replay within the grace period: `next` must be the token this one was spent
                // for (created at that very instant) and still be the session's current token.
                if crate::sessions::spent_within(spent_at, now, grace) {
                    let created_at: Option<DateTime<Utc>> = sqlx::query_scalar(
                        "SELECT created_at FROM refresh_tokens WHERE hash = ? AND session_id = ? AND used_at IS NULL",
                    )
                    .bind(next.as_bytes().as_slice())
                    .bind(session_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    if created_at == Some(spent_at) {
                        tx.rollback().await.map_err(map_err)?;
                        let last_used_at = row.try_get("last_used_at").map_err(map_err)?;
                        return Ok(Rotation::Replayed(LiveSession {
                            id: session_id,
                            account_id,
                            expires_at,
                            last_used_at,
                        }));
                    }
                }
                sqlx::query("DELETE FROM sessions WHERE id = ?")
                    .bind(session_id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                return Ok(Rotation::Reused { session_id, account_id });
            }
            sqlx::query("UPDATE refresh_tokens SET used_at = ? WHERE hash = ?")
                .bind(now)
                .bind(presented.as_bytes().as_slice())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)")
                .bind(next.as_bytes().as_slice())
                .bind(session_id.to_string())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query("UPDATE sessions SET last_used_at = ? WHERE id = ?")
                .bind(now)
                .bind(session_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
            Ok(Rotation::Rotated(LiveSession { id: session_id, account_id, expires_at, last_used_at: now }))
        })
        .await
    }

    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        retrying(|| async move {
            let done = sqlx::query("DELETE FROM sessions WHERE id = ? AND account_id = ?")
                .bind(id.to_string())
                .bind(account_id.to_string())
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        retrying(|| async move {
            // `<=>` is equality that treats NULL as a value: no exception means none is spared.
            let done = sqlx::query("DELETE FROM sessions WHERE account_id = ? AND NOT (id <=> ?)")
                .bind(account_id.to_string())
                .bind(except.map(|id| id.to_string()))
                .execute(&self.pool)
                .await
                .map_err(map_err)?;
            Ok(done.rows_affected())
        })
        .await
    }

    async fn list_sessions(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions
             WHERE account_id = ? AND expires_at > ? ORDER BY created_at DESC",
        )
        .bind(account_id.to_string())
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(SessionInfo {
                    id: uuid(row, "id")?,
                    created_at: row.try_get("created_at").map_err(map_err)?,
                    last_used_at: row.try_get("last_used_at").map_err(map_err)?,
                    expires_at: row.try_get("expires_at").map_err(map_err)?,
                    user_agent: row.try_get("user_agent").map_err(map_err)?,
                    ip: row.try_get("ip").map_err(map_err)?,
                })
            })
            .collect()
    }

    async fn ping_sessions(&self) -> StoreResult<()> {
        self.ping().await
    }
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
}
