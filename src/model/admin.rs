//! What an admin asks to see: which accounts to list, and the outbox's emails (never their
//! bodies).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::account::{Role, Status};

/// Which accounts to list: newest first (by id, which is time-ordered), after the cursor.
#[derive(Clone, Debug, Default)]
pub struct AccountQuery {
    /// A case-insensitive substring of the email, username or name (already lower-cased).
    pub q: Option<String>,
    pub status: Option<Status>,
    pub role: Option<Role>,
    /// `created_at >= created_after`.
    pub created_after: Option<DateTime<Utc>>,
    /// `created_at < created_before`.
    pub created_before: Option<DateTime<Utc>>,
    /// Keyset cursor: only accounts with `id < before` (the last id of the previous page).
    pub before: Option<Uuid>,
    pub limit: u32,
}

/// One email in the outbox, as an admin sees it: never its body (which holds the link).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// `queued`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Which outbox rows to list: newest first, after the cursor.
#[derive(Clone, Debug, Default)]
pub struct OutboxQuery {
    pub status: Option<String>,
    /// Exact recipient, compared case-insensitively.
    pub recipient: Option<String>,
    /// Keyset cursor: only rows with `id < before`.
    pub before: Option<Uuid>,
    pub limit: u32,
}
