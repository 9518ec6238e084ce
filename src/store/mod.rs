//! Persistence. [`Store`] is the narrow interface the account rules use; each database has one
//! file here and is the only place its SQL lives. A unique violation becomes
//! [`StoreError::EmailTaken`] or [`StoreError::UsernameTaken`] here, per backend, and an
//! unreachable or full database becomes [`StoreError::Unavailable`].

pub mod admin;
pub mod email_change;
pub mod mysql;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use self::admin::AdminStore;
use self::email_change::EmailChangeStore;
use crate::accounts::domain::{Account, AccountKey, Credentials, Role, Status};
use crate::audit::AuditStore;
use crate::limits::LimitStore;
use crate::secret_url::SecretUrl;
use crate::sessions::SessionStore;
use crate::tokens::jwt::SigningKey;
use crate::tokens::opaque::TokenHash;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the email address belongs to another account")]
    EmailTaken,
    #[error("the username belongs to another account")]
    UsernameTaken,
    /// The change would leave no active admin.
    #[error("the last active admin cannot be removed")]
    LastAdmin,
    /// The database cannot be reached, is locked past the busy timeout, or cannot write.
    #[error("the database is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A new account, its fields already parsed.
#[derive(Debug)]
pub struct NewAccount {
    pub id: Uuid,
    pub email: String,
    pub email_normalized: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub password_hash: String,
    pub role: Role,
    pub status: Status,
    pub email_verified: bool,
    pub now: DateTime<Utc>,
}

/// The editable fields of an account, as they are to be after an update.
#[derive(Debug)]
pub struct ProfileChange {
    pub username: Option<String>,
    pub name: Option<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub role: Role,
    pub status: Status,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    Activation,
    PasswordReset,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::Activation => "activation",
            TokenPurpose::PasswordReset => "password_reset",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "activation" => Some(TokenPurpose::Activation),
            "password_reset" => Some(TokenPurpose::PasswordReset),
            _ => None,
        }
    }
}

/// A one-time link token about to be stored (only its hash).
#[derive(Debug)]
pub struct NewOneTimeToken {
    pub hash: TokenHash,
    pub account_id: Uuid,
    pub purpose: TokenPurpose,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored one-time token.
#[derive(Debug)]
pub struct OneTimeToken {
    pub account_id: Uuid,
    pub purpose: TokenPurpose,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// An email to queue in the outbox, in the same transaction as the change that causes it.
#[derive(Clone)]
pub struct NewEmail {
    pub id: Uuid,
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub message_id: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies hold one-time links: never print them.
        f.debug_struct("NewEmail").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// An email claimed from the outbox for delivery.
#[derive(Clone)]
pub struct QueuedEmail {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub message_id: String,
    pub attempts: u32,
}

impl std::fmt::Debug for QueuedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedEmail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What the account rules need from a database. The audit trail, email changes and (when no
/// Redis is configured) rate limits live in the same database.
#[async_trait]
pub trait Store:
    AdminStore + AuditStore + EmailChangeStore + LimitStore + Send + Sync + std::fmt::Debug + 'static
{
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> StoreResult<()>;

    /// Inserts an account, with its first one-time token and the email carrying it, atomically.
    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<(&NewOneTimeToken, &NewEmail)>,
    ) -> StoreResult<Account>;
    async fn find_account(&self, key: &AccountKey) -> StoreResult<Option<Credentials>>;
    /// Replaces the editable fields; `None` when the account does not exist.
    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> StoreResult<Option<Account>>;
    /// Sets a new password hash and queues `notice` (telling the owner), atomically.
    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<()>;
    async fn delete_account(&self, id: Uuid) -> StoreResult<bool>;

    /// Stores a one-time token and queues the email that carries it, atomically.
    async fn insert_link(&self, token: &NewOneTimeToken, email: &NewEmail) -> StoreResult<()>;
    async fn find_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>>;
    /// Spends an activation token and activates its pending account. `false` when the token
    /// was already spent (by a concurrent request, say).
    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Spends a reset token, sets the password, spends the account's other reset tokens,
    /// activates a pending account (the link proved the address) and queues `notice`,
    /// atomically. `false` when already spent.
    async fn redeem_reset(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<bool>;
    /// Queues an email that goes with no other change.
    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()>;

    /// Claims up to `limit` due emails for `lease`; a claim not settled by then is retried.
    async fn claim_emails(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> StoreResult<Vec<QueuedEmail>>;
    /// Marks an email delivered and erases its bodies.
    async fn email_sent(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    async fn email_retry(&self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> StoreResult<()>;
    async fn email_failed(&self, id: Uuid, now: DateTime<Utc>, error: &str) -> StoreResult<()>;
    /// Emails queued and not yet delivered or failed.
    async fn outbox_backlog(&self) -> StoreResult<u64>;

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>>;
    /// Stores `key` as the first signing key unless one exists already (another replica may
    /// have won the race); afterwards every replica reads the same keys.
    async fn insert_first_signing_key(&self, key: &SigningKey) -> StoreResult<()>;

    /// Deletes expired sessions and tokens and the bodies-erased outbox rows past retention.
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

/// The statement that reads a live session and its account at once: `account_id, expires_at,
/// last_used_at`, then the account's `columns` (comma-separated, in that order), for the
/// session `id` unexpired at `now` (each a placeholder in the backend's syntax).
pub(crate) fn live_session_and_account_sql(columns: &str, id: &str, now: &str) -> String {
    let columns: Vec<String> = columns.split(',').map(|column| format!("a.{}", column.trim())).collect();
    format!(
        "SELECT s.account_id, s.expires_at, s.last_used_at, {} FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.id = {id} AND s.expires_at > {now}",
        columns.join(", ")
    )
}

/// How to connect to a database.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// The largest number of pooled connections.
    pub max_connections: u32,
    /// The bound on connecting, on waiting for a pooled connection, and on one statement.
    pub timeout: Duration,
}

/// Opens the database named by the URL and brings its schema up to date.
pub async fn connect(url: &SecretUrl, options: &DbOptions) -> anyhow::Result<Arc<dyn FullStore>> {
    Ok(match url.scheme() {
        "sqlite" => Arc::new(sqlite::SqliteStore::connect(url, options).await?),
        "postgres" | "postgresql" => postgres::open(url, options).await?,
        "mysql" => mysql::open(url, options).await?,
        other => anyhow::bail!("unsupported database scheme {other:?}"),
    })
}

/// A database store that also keeps sessions (used when no Redis is configured).
pub trait FullStore: Store + SessionStore {
    fn into_parts(self: Arc<Self>) -> (Arc<dyn Store>, Arc<dyn SessionStore>);
}

impl<T: Store + SessionStore> FullStore for T {
    fn into_parts(self: Arc<Self>) -> (Arc<dyn Store>, Arc<dyn SessionStore>) {
        (self.clone(), self)
    }
}

/// The store, and the session store it provides when no Redis is configured.
#[derive(Clone, Debug)]
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub sessions: Arc<dyn SessionStore>,
}
