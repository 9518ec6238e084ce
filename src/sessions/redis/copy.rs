//! The copy of an account kept beside its sessions for `GET /user` (see the store's keys).

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::account::{Account, Role, Status};
use crate::sessions::AccountRead;

/// How long a copy of an account (or the mark of its change) lives in Redis.
pub const ACCOUNT_COPY_TTL: Duration = Duration::from_secs(300);

pub(super) const COPY_PREFIX: &str = "s ";
pub(super) const MARK_PREFIX: &str = "x ";

/// An account as its copy in Redis holds it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct AccountCopy {
    id: Uuid,
    email: String,
    username: Option<String>,
    name: Option<String>,
    data: serde_json::Map<String, serde_json::Value>,
    /// Absent from copies written before it existed.
    #[serde(default)]
    app_data: serde_json::Map<String, serde_json::Value>,
    role: String,
    status: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(default)] // as `app_data`
    locale: Option<String>,
}

impl AccountCopy {
    pub(super) fn of(account: &Account) -> Self {
        Self {
            id: account.id,
            email: account.email.clone(),
            username: account.username.clone(),
            name: account.name.clone(),
            data: account.data.clone(),
            app_data: account.app_data.clone(),
            role: account.role.as_str().to_owned(),
            status: account.status.as_str().to_owned(),
            email_verified: account.email_verified,
            created_at: account.created_at,
            updated_at: account.updated_at,
            locale: account.locale.map(|l| l.as_str().to_owned()),
        }
    }

    fn into_account(self) -> Option<Account> {
        Some(Account {
            id: self.id,
            email: self.email,
            username: self.username,
            name: self.name,
            data: self.data,
            app_data: self.app_data,
            role: Role::parse(&self.role)?,
            status: Status::parse(&self.status)?,
            email_verified: self.email_verified,
            locale: self.locale.as_deref().and_then(crate::i18n::Locale::parse),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// What stood in the copy's place (`raw`, empty for nothing): the account when it is a
/// readable copy of `account_id`'s.
pub(super) fn read_copy(raw: String, account_id: Uuid) -> AccountRead {
    let copy = raw.strip_prefix(COPY_PREFIX).and_then(|json| serde_json::from_str::<AccountCopy>(json).ok());
    match copy.and_then(AccountCopy::into_account) {
        Some(account) if account.id == account_id => AccountRead::Copy(account),
        _ => AccountRead::Unread { seen: Some(raw) },
    }
}
