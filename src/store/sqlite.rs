//! The SQLite store: the embedded default. WAL mode, `synchronous=FULL` (an acknowledged write
//! survives a crash of the process or the machine), a busy timeout, foreign keys on. Every
//! write transaction starts with `BEGIN IMMEDIATE`, so concurrent writers queue on the busy
//! timeout instead of failing on a lock upgrade.

mod admin;
mod audit;
mod email_change;
mod limits;
mod reader;

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
    SqliteTransactionManager,
};
use sqlx::{Row, Sqlite, Transaction, TransactionManager};
use uuid::Uuid;

use super::{
    DbOptions, NewAccount, NewEmail, NewOneTimeToken, OneTimeToken, ProfileChange, QueuedEmail, Store, StoreError,
    StoreResult, TokenPurpose,
};
use crate::accounts::domain::{Account, AccountKey, Credentials, Role, Status};
use crate::secret_url::SecretUrl;
use crate::sessions::{AccountRead, LiveSession, NewSession, Rotation, SessionInfo, SessionStore};
use crate::tokens::jwt::SigningKey;
use crate::tokens::opaque::TokenHash;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long expired one-time tokens are kept, so that a late click still hears "expired".
const EXPIRED_TOKEN_RETENTION: chrono::Duration = chrono::Duration::days(7);

const ACCOUNT_COLUMNS: &str =
    "id, email, username, name, data, password_hash, role, status, email_verified, created_at, updated_at";

#[derive(Clone, Debug)]
pub struct SqliteStore {
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
            .foreign_keys(true);
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
            // A COMMIT that fails on a full or read-only disk leaves sqlx counting the connection
            // as inside a transaction (SQLite has already rolled it back), and every later BEGIN
            // on it fails. Such a connection is closed instead of going back to the pool.
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
        Ok(Self { pool, reader })
    }

    async fn write_tx(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(map_err)
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

fn uuid(row: &SqliteRow, column: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(column).map_err(map_err)?;
    Uuid::parse_str(&text).map_err(|e| StoreError::Other(anyhow::anyhow!("bad uuid in {column}: {e}")))
}

/// The session columns `account_id, expires_at, last_used_at` of a row.
fn session_from_row(id: Uuid, row: &SqliteRow) -> StoreResult<LiveSession> {
    Ok(LiveSession {
        id,
        account_id: uuid(row, "account_id")?,
        expires_at: row.try_get("expires_at").map_err(map_err)?,
        last_used_at: row.try_get("last_used_at").map_err(map_err)?,
    })
}

/// An account's columns as stored, read by either driver.
struct AccountRow {
    id: String,
    email: String,
    username: Option<String>,
    name: Option<String>,
    data: String,
    password_hash: String,
    role: String,
    status: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl AccountRow {
    fn into_credentials(self) -> anyhow::Result<Credentials> {
        let account = Account {
            id: Uuid::parse_str(&self.id)?,
            email: self.email,
            username: self.username,
            name: self.name,
            data: serde_json::from_str(&self.data).map_err(|e| anyhow::anyhow!("bad data json: {e}"))?,
            role: Role::parse(&self.role).ok_or_else(|| anyhow::anyhow!("bad role {:?}", self.role))?,
            status: Status::parse(&self.status).ok_or_else(|| anyhow::anyhow!("bad status {:?}", self.status))?,
            email_verified: self.email_verified,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Ok(Credentials { account, password_hash: self.password_hash })
    }
}

fn account_from_row(row: &SqliteRow) -> StoreResult<Credentials> {
    let account = AccountRow {
        id: row.try_get("id").map_err(map_err)?,
        email: row.try_get("email").map_err(map_err)?,
        username: row.try_get("username").map_err(map_err)?,
        name: row.try_get("name").map_err(map_err)?,
        data: row.try_get("data").map_err(map_err)?,
        password_hash: row.try_get("password_hash").map_err(map_err)?,
        role: row.try_get("role").map_err(map_err)?,
        status: row.try_get("status").map_err(map_err)?,
        email_verified: row.try_get("email_verified").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        updated_at: row.try_get("updated_at").map_err(map_err)?,
    };
    Ok(account.into_credentials()?)
}

fn json_text(data: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(data.clone()).to_string()
}

async fn insert_email(tx: &mut Transaction<'static, Sqlite>, email: &NewEmail) -> StoreResult<()> {
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

async fn insert_token(tx: &mut Transaction<'static, Sqlite>, token: &NewOneTimeToken) -> StoreResult<()> {
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
async fn spend_token(
    tx: &mut Transaction<'static, Sqlite>,
    hash: &TokenHash,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> StoreResult<Option<Uuid>> {
    let row = sqlx::query(
        "UPDATE one_time_tokens SET used_at = ?
         WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?
         RETURNING account_id",
    )
    .bind(now)
    .bind(hash.as_bytes().as_slice())
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    row.map(|row| uuid(&row, "account_id")).transpose()
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<(&NewOneTimeToken, &NewEmail)>,
    ) -> StoreResult<Account> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name, data,
                                   password_hash, role, status, email_verified, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             RETURNING {ACCOUNT_COLUMNS}"
        ))
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
        .fetch_one(&mut *tx)
        .await
        .map_err(map_err)?;
        if let Some((token, email)) = link {
            insert_token(&mut tx, token).await?;
            insert_email(&mut tx, email).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(account_from_row(&row)?.account)
    }

    async fn find_account(&self, key: &AccountKey) -> StoreResult<Option<Credentials>> {
        if let Some(reader) = &self.reader {
            match reader.find_account(key) {
                Ok(found) => return Ok(found),
                Err(error) => tracing::debug!(%error, "in-place account read failed; reading through the pool"),
            }
        }
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

    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> StoreResult<Option<Account>> {
        let mut tx = self.write_tx().await?;
        if !(change.role == Role::Admin && change.status == Status::Active) {
            admin::refuse_last_admin(&mut tx, id).await?;
        }
        let row = sqlx::query(&format!(
            "UPDATE accounts SET username = ?, username_normalized = ?, name = ?, data = ?, role = ?, status = ?,
                                 updated_at = ?
             WHERE id = ?
             RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(&change.username)
        .bind(change.username.as_ref().map(|u| u.to_ascii_lowercase()))
        .bind(&change.name)
        .bind(json_text(&change.data))
        .bind(change.role.as_str())
        .bind(change.status.as_str())
        .bind(change.now)
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(row.as_ref().map(account_from_row).transpose()?.map(|c| c.account))
    }

    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
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
    }

    async fn delete_account(&self, id: Uuid) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        admin::refuse_last_admin(&mut tx, id).await?;
        let done = sqlx::query("DELETE FROM accounts WHERE id = ?")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_email(&mut tx, email).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn insert_link(&self, token: &NewOneTimeToken, email: &NewEmail) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        insert_token(&mut tx, token).await?;
        insert_email(&mut tx, email).await?;
        tx.commit().await.map_err(map_err)
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
        let mut tx = self.write_tx().await?;
        let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::Activation, now).await? else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE accounts SET email_verified = 1, updated_at = ?,
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
    }

    async fn redeem_reset(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<bool> {
        let mut tx = self.write_tx().await?;
        let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::PasswordReset, now).await? else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE accounts SET password_hash = ?, email_verified = 1, updated_at = ?,
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
    }

    async fn claim_emails(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> StoreResult<Vec<QueuedEmail>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let rows = sqlx::query(
            "UPDATE outbox SET status = 'sending', claimed_until = ?, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE (status = 'queued' AND next_attempt_at <= ?)
                             OR (status = 'sending' AND claimed_until <= ?)
                          ORDER BY next_attempt_at LIMIT ?)
             RETURNING id, kind, recipient, subject, body_text, body_html, message_id, attempts",
        )
        .bind(until)
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
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
                    attempts: row.try_get::<i64, _>("attempts").map_err(map_err)?.try_into().unwrap_or(u32::MAX),
                })
            })
            .collect()
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
        sqlx::query(
            "INSERT INTO signing_keys (kid, generation, private_key, public_key, created_at)
             VALUES (?, 1, ?, ?, ?) ON CONFLICT DO NOTHING",
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
        let mut tx = self.write_tx().await?;
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
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
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
    }

    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        if let Some(reader) = &self.reader {
            match reader.live_session(id, now) {
                Ok(found) => return Ok(found),
                Err(error) => tracing::debug!(%error, "in-place session read failed; reading through the pool"),
            }
        }
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
        if let Some(reader) = &self.reader {
            match reader.live_session_and_account(id, now) {
                Ok(found) => return Ok(found.map(|(session, account)| (session, AccountRead::Current(account)))),
                Err(error) => tracing::debug!(%error, "in-place session read failed; reading through the pool"),
            }
        }
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
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT r.session_id, r.used_at, s.account_id, s.expires_at, s.last_used_at
             FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id
             WHERE r.hash = ?",
        )
        .bind(presented.as_bytes().as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(Rotation::Unknown) };
        let session_id = uuid(&row, "session_id")?;
        let account_id = uuid(&row, "account_id")?;
        let expires_at: DateTime<Utc> = row.try_get("expires_at").map_err(map_err)?;
        let used_at: Option<DateTime<Utc>> = row.try_get("used_at").map_err(map_err)?;
        if expires_at <= now {
            return Ok(Rotation::Unknown);
        }
        if let Some(spent_at) = used_at {
            // A replay within the grace period: `next` must be the token this one was spent for
            // (created at that very instant) and still be the session's current token.
            if crate::sessions::spent_within(spent_at, now, grace) {
                let successor = sqlx::query(
                    "SELECT created_at FROM refresh_tokens WHERE hash = ? AND session_id = ? AND used_at IS NULL",
                )
                .bind(next.as_bytes().as_slice())
                .bind(session_id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
                let created_at: Option<DateTime<Utc>> =
                    successor.map(|row| row.try_get("created_at")).transpose().map_err(map_err)?;
                if created_at == Some(spent_at) {
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
    }

    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = ? AND account_id = ?")
            .bind(id.to_string())
            .bind(account_id.to_string())
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = ? AND id IS NOT ?")
            .bind(account_id.to_string())
            .bind(except.map(|id| id.to_string()))
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
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
