//! The PostgreSQL store, for several replicas sharing one database. Native types (UUID,
//! TIMESTAMPTZ, JSONB, BYTEA); a per-connection `statement_timeout`; transactions at READ
//! COMMITTED that lock what they read before they write it. Row locks are always taken parent
//! first (account before its tokens, session before its refresh tokens), the order in which a
//! cascading delete takes them, so concurrent requests queue instead of deadlocking. The outbox
//! is claimed with `FOR UPDATE SKIP LOCKED`, so each email goes to one replica.

mod admin;
mod audit;
mod email_change;
mod limits;

use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How long expired one-time tokens are kept, so that a late click still hears "expired".
const EXPIRED_TOKEN_RETENTION: chrono::Duration = chrono::Duration::days(7);

const ACCOUNT_COLUMNS: &str =
    "id, email, username, name, data, password_hash, role, status, email_verified, created_at, updated_at";

type Tx = Transaction<'static, Postgres>;
type JsonMap = serde_json::Map<String, serde_json::Value>;

#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
}

/// Opens the database and runs its migrations.
pub async fn open(url: &SecretUrl, options: &DbOptions) -> anyhow::Result<Arc<dyn FullStore>> {
    Ok(Arc::new(PostgresStore::connect(url, options).await?))
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
        Ok(Self { pool })
    }

    async fn tx(&self) -> StoreResult<Tx> {
        self.pool.begin().await.map_err(map_err)
    }
}

/// Turns a driver error into the store's terms: unique violations into "taken", an
/// unreachable, overloaded, shutting-down, timed-out or read-only database into "unavailable".
fn map_err(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if code == "23505" {
                match db.constraint() {
                    Some("accounts_email_normalized_key") => return StoreError::EmailTaken,
                    Some("accounts_username_normalized_key") => return StoreError::UsernameTaken,
                    _ => {}
                }
            }
            // 08 connection exception, 53 insufficient resources, 57 operator intervention
            // (shutdown; query_canceled by statement_timeout), 25006 read-only transaction.
            if code.starts_with("08") || code.starts_with("53") || code.starts_with("57") || code == "25006" {
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

/// One column of a row, in the store's error terms.
fn get<T>(row: &PgRow, column: &str) -> StoreResult<T>
where
    T: for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(map_err)
}

/// The session columns `account_id, expires_at, last_used_at` of a row.
fn session_from_row(id: Uuid, row: &PgRow) -> StoreResult<LiveSession> {
    Ok(LiveSession {
        id,
        account_id: get(row, "account_id")?,
        expires_at: get(row, "expires_at")?,
        last_used_at: get(row, "last_used_at")?,
    })
}

fn account_from_row(row: &PgRow) -> StoreResult<Credentials> {
    let Json(data): Json<JsonMap> = get(row, "data")?;
    let role: String = get(row, "role")?;
    let status: String = get(row, "status")?;
    let account = Account {
        id: get(row, "id")?,
        email: get(row, "email")?,
        username: get(row, "username")?,
        name: get(row, "name")?,
        data,
        role: Role::parse(&role).ok_or_else(|| anyhow::anyhow!("bad role {role:?}"))?,
        status: Status::parse(&status).ok_or_else(|| anyhow::anyhow!("bad status {status:?}"))?,
        email_verified: get(row, "email_verified")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
    };
    Ok(Credentials { account, password_hash: get(row, "password_hash")? })
}

async fn insert_email(tx: &mut Tx, email: &NewEmail) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO outbox (id, kind, recipient, subject, body_text, body_html, message_id, status, attempts,
                             next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', 0, $8, $8)",
    )
    .bind(email.id)
    .bind(email.kind)
    .bind(&email.recipient)
    .bind(&email.subject)
    .bind(&email.text_body)
    .bind(&email.html_body)
    .bind(&email.message_id)
    .bind(email.created_at)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

async fn insert_token(tx: &mut Tx, token: &NewOneTimeToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO one_time_tokens (hash, account_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token.hash.as_bytes().as_slice())
    .bind(token.account_id)
    .bind(token.purpose.as_str())
    .bind(token.created_at)
    .bind(token.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// Spends a one-time token of the given purpose; the account it belonged to, if it was live.
/// The account row is locked first (see the module comment); the conditional update then makes
/// the token single-use, since a concurrent spender re-checks `used_at IS NULL` after waiting.
async fn spend_token(
    tx: &mut Tx,
    hash: &TokenHash,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> StoreResult<Option<Uuid>> {
    sqlx::query(
        "SELECT 1 FROM accounts WHERE id = (SELECT account_id FROM one_time_tokens WHERE hash = $1)
         FOR NO KEY UPDATE",
    )
    .bind(hash.as_bytes().as_slice())
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    sqlx::query_scalar(
        "UPDATE one_time_tokens SET used_at = $1
         WHERE hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
         RETURNING account_id",
    )
    .bind(now)
    .bind(hash.as_bytes().as_slice())
    .bind(purpose.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(map_err)?;
        Ok(())
    }

    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<(&NewOneTimeToken, &NewEmail)>,
    ) -> StoreResult<Account> {
        let mut tx = self.tx().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name, data,
                                   password_hash, role, status, email_verified, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
             RETURNING {ACCOUNT_COLUMNS}"
        ))
        .bind(account.id)
        .bind(&account.email)
        .bind(&account.email_normalized)
        .bind(&account.username)
        .bind(account.username.as_ref().map(|u| u.to_ascii_lowercase()))
        .bind(&account.name)
        .bind(Json(&account.data))
        .bind(&account.password_hash)
        .bind(account.role.as_str())
        .bind(account.status.as_str())
        .bind(account.email_verified)
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
        let (column, text) = match key {
            AccountKey::Id(_) => ("id", None),
            AccountKey::Email(email) => ("email_normalized", Some(email.to_lowercase())),
            AccountKey::Username(name) => ("username_normalized", Some(name.to_ascii_lowercase())),
        };
        // PostgreSQL text cannot hold NUL, so no account has such a key; asking would be an error.
        if text.as_deref().is_some_and(|t| t.contains('\0')) {
            return Ok(None);
        }
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = $1");
        let query = match (key, text) {
            (AccountKey::Id(id), _) => sqlx::query(&sql).bind(*id),
            (_, text) => sqlx::query(&sql).bind(text),
        };
        let row = query.fetch_optional(&self.pool).await.map_err(map_err)?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// One statement unless the change would take an active admin's rights away; then the
    /// last-admin guard decides under lock (see [`admin::refuse_last_admin`]).
    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> StoreResult<Option<Account>> {
        fn bind<'q>(
            sql: &'q str,
            id: Uuid,
            change: &'q ProfileChange,
        ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
            sqlx::query(sql)
                .bind(&change.username)
                .bind(change.username.as_ref().map(|u| u.to_ascii_lowercase()))
                .bind(&change.name)
                .bind(Json(&change.data))
                .bind(change.role.as_str())
                .bind(change.status.as_str())
                .bind(change.now)
                .bind(id)
        }
        let update = |condition: &str| {
            format!(
                "UPDATE accounts SET username = $1, username_normalized = $2, name = $3, data = $4, role = $5,
                                     status = $6, updated_at = $7
                 WHERE id = $8{condition}
                 RETURNING {ACCOUNT_COLUMNS}"
            )
        };
        let stays_active_admin = change.role == Role::Admin && change.status == Status::Active;
        // The row lock this update takes makes its condition hold at the moment of the write.
        let unguarded = update(" AND ($9 OR NOT (role = 'admin' AND status = 'active'))");
        let row =
            bind(&unguarded, id, change).bind(stays_active_admin).fetch_optional(&self.pool).await.map_err(map_err)?;
        if row.is_some() || stays_active_admin {
            return Ok(row.as_ref().map(account_from_row).transpose()?.map(|c| c.account));
        }
        // No such account, or an active admin about to be demoted or disabled.
        let mut tx = self.tx().await?;
        admin::refuse_last_admin(&mut tx, id).await?;
        let row = bind(&update(""), id, change).fetch_optional(&mut *tx).await.map_err(map_err)?;
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
        let mut tx = self.tx().await?;
        sqlx::query("UPDATE accounts SET password_hash = $1, updated_at = $2 WHERE id = $3")
            .bind(hash)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(notice) = notice {
            insert_email(&mut tx, notice).await?;
        }
        tx.commit().await.map_err(map_err)
    }

    /// One statement unless the account is an active admin; then the last-admin guard decides
    /// under lock.
    async fn delete_account(&self, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM accounts WHERE id = $1 AND NOT (role = 'admin' AND status = 'active')")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        let mut tx = self.tx().await?;
        admin::refuse_last_admin(&mut tx, id).await?;
        let done =
            sqlx::query("DELETE FROM accounts WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()> {
        let mut tx = self.tx().await?;
        insert_email(&mut tx, email).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn insert_link(&self, token: &NewOneTimeToken, email: &NewEmail) -> StoreResult<()> {
        let mut tx = self.tx().await?;
        insert_token(&mut tx, token).await?;
        insert_email(&mut tx, email).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn find_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        let row = sqlx::query("SELECT account_id, purpose, expires_at, used_at FROM one_time_tokens WHERE hash = $1")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        let purpose: String = get(&row, "purpose")?;
        Ok(Some(OneTimeToken {
            account_id: get(&row, "account_id")?,
            purpose: TokenPurpose::parse(&purpose).ok_or_else(|| anyhow::anyhow!("bad purpose {purpose:?}"))?,
            expires_at: get(&row, "expires_at")?,
            used_at: get(&row, "used_at")?,
        }))
    }

    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        let mut tx = self.tx().await?;
        let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::Activation, now).await? else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE accounts SET email_verified = TRUE, updated_at = $1,
                                 status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
             WHERE id = $2",
        )
        .bind(now)
        .bind(account_id)
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
        let mut tx = self.tx().await?;
        let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::PasswordReset, now).await? else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, email_verified = TRUE, updated_at = $2,
                                 status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
             WHERE id = $3",
        )
        .bind(password_hash)
        .bind(now)
        .bind(account_id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query(
            "UPDATE one_time_tokens SET used_at = $1
             WHERE account_id = $2 AND purpose = 'password_reset' AND used_at IS NULL",
        )
        .bind(now)
        .bind(account_id)
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
            "UPDATE outbox SET status = 'sending', claimed_until = $1, attempts = attempts + 1
             WHERE id IN (SELECT id FROM outbox
                          WHERE (status = 'queued' AND next_attempt_at <= $2)
                             OR (status = 'sending' AND claimed_until <= $2)
                          ORDER BY next_attempt_at LIMIT $3
                          FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, recipient, subject, body_text, body_html, message_id, attempts",
        )
        .bind(until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(QueuedEmail {
                    id: get(row, "id")?,
                    kind: get(row, "kind")?,
                    recipient: get(row, "recipient")?,
                    subject: get(row, "subject")?,
                    text_body: get::<Option<String>>(row, "body_text")?.unwrap_or_default(),
                    html_body: get::<Option<String>>(row, "body_html")?.unwrap_or_default(),
                    message_id: get(row, "message_id")?,
                    attempts: get::<i32>(row, "attempts")?.try_into().unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    async fn email_sent(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $1, body_text = NULL, body_html = NULL,
                               claimed_until = NULL, last_error = NULL
             WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn email_retry(&self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'queued', next_attempt_at = $1, last_error = $2, claimed_until = NULL
             WHERE id = $3",
        )
        .bind(next_attempt_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn email_failed(&self, id: Uuid, _now: DateTime<Utc>, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1, claimed_until = NULL WHERE id = $2")
            .bind(error)
            .bind(id)
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
                    kid: get(row, "kid")?,
                    private_pkcs8: get(row, "private_key")?,
                    public_key: get(row, "public_key")?,
                    created_at: get(row, "created_at")?,
                })
            })
            .collect()
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, generation, private_key, public_key, created_at)
             VALUES ($1, 1, $2, $3, $4) ON CONFLICT DO NOTHING",
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
        let mut tx = self.tx().await?;
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let tokens = sqlx::query("DELETE FROM one_time_tokens WHERE expires_at <= $1")
            .bind(now - EXPIRED_TOKEN_RETENTION)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let changes = sqlx::query("DELETE FROM email_changes WHERE expires_at <= $1")
            .bind(now - EXPIRED_TOKEN_RETENTION)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(sessions.rows_affected() + tokens.rows_affected() + changes.rows_affected())
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        let mut tx = self.tx().await?;
        sqlx::query(
            "INSERT INTO sessions (id, account_id, created_at, last_used_at, expires_at, user_agent, ip)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(session.id)
        .bind(session.account_id)
        .bind(session.created_at)
        .bind(session.expires_at)
        .bind(&session.user_agent)
        .bind(&session.ip)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(session.refresh_hash.as_bytes().as_slice())
            .bind(session.id)
            .bind(session.created_at)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)
    }

    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        let row =
            sqlx::query("SELECT account_id, expires_at, last_used_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id)
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
            LazyLock::new(|| crate::store::live_session_and_account_sql(ACCOUNT_COLUMNS, "$1", "$2"));
        let row = sqlx::query(&SQL).bind(id).bind(now).fetch_optional(&self.pool).await.map_err(map_err)?;
        row.map(|row| Ok((session_from_row(id, &row)?, AccountRead::Current(account_from_row(&row)?.account))))
            .transpose()
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2 AND last_used_at < $1")
            .bind(now)
            .bind(id)
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
        let mut tx = self.tx().await?;
        // Lock the token's session first: concurrent presentations of its tokens queue here, and
        // the token is read afresh once the lock is held (a later statement sees their commits).
        let row = sqlx::query(
            "SELECT id, account_id, expires_at, last_used_at FROM sessions
             WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = $1)
             FOR NO KEY UPDATE",
        )
        .bind(presented.as_bytes().as_slice())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(Rotation::Unknown) };
        let session_id: Uuid = get(&row, "id")?;
        let account_id: Uuid = get(&row, "account_id")?;
        let expires_at: DateTime<Utc> = get(&row, "expires_at")?;
        if expires_at <= now {
            return Ok(Rotation::Unknown);
        }
        let used_at: Option<Option<DateTime<Utc>>> =
            sqlx::query_scalar("SELECT used_at FROM refresh_tokens WHERE hash = $1 FOR UPDATE")
                .bind(presented.as_bytes().as_slice())
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
        match used_at {
            None => return Ok(Rotation::Unknown),
            Some(Some(spent_at)) => {
                // A replay within the grace period: `next` must be the token this one was spent
                // for (created at that very instant) and still be the session's current token.
                if crate::sessions::spent_within(spent_at, now, grace) {
                    let created_at: Option<DateTime<Utc>> = sqlx::query_scalar(
                        "SELECT created_at FROM refresh_tokens
                         WHERE hash = $1 AND session_id = $2 AND used_at IS NULL",
                    )
                    .bind(next.as_bytes().as_slice())
                    .bind(session_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(map_err)?;
                    if created_at == Some(spent_at) {
                        tx.rollback().await.map_err(map_err)?;
                        let last_used_at = get(&row, "last_used_at")?;
                        return Ok(Rotation::Replayed(LiveSession {
                            id: session_id,
                            account_id,
                            expires_at,
                            last_used_at,
                        }));
                    }
                }
                sqlx::query("DELETE FROM sessions WHERE id = $1")
                    .bind(session_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
                return Ok(Rotation::Reused { session_id, account_id });
            }
            Some(None) => {}
        }
        sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE hash = $2")
            .bind(now)
            .bind(presented.as_bytes().as_slice())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(next.as_bytes().as_slice())
            .bind(session_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2")
            .bind(now)
            .bind(session_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(Rotation::Rotated(LiveSession { id: session_id, account_id, expires_at, last_used_at: now }))
    }

    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND ($2::uuid IS NULL OR id <> $2)")
            .bind(account_id)
            .bind(except)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    async fn list_sessions(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions
             WHERE account_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(account_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                Ok(SessionInfo {
                    id: get(row, "id")?,
                    created_at: get(row, "created_at")?,
                    last_used_at: get(row, "last_used_at")?,
                    expires_at: get(row, "expires_at")?,
                    user_agent: get(row, "user_agent")?,
                    ip: get(row, "ip")?,
                })
            })
            .collect()
    }

    async fn ping_sessions(&self) -> StoreResult<()> {
        self.ping().await
    }
}
