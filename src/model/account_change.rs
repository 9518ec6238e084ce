//! What an account is written from: a new account ([`NewAccount`]) and the editable fields
//! after an update ([`ProfileChange`]).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::account::{Role, Status};

/// A new account, its fields already parsed.
#[derive(Debug)]
pub struct NewAccount {
    pub id: Uuid,
    pub email: String,
    pub email_normalized: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub app_data: serde_json::Map<String, serde_json::Value>,
    pub password_hash: String,
    pub role: Role,
    pub status: Status,
    pub email_verified: bool,
    /// The language of its emails (from the browser that signed up); `None`: the default.
    pub locale: Option<super::locale::Locale>,
    pub now: DateTime<Utc>,
}

/// The editable fields of an account, as they are to be after an update.
#[derive(Debug)]
pub struct ProfileChange {
    pub username: Option<String>,
    pub name: Option<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub app_data: serde_json::Map<String, serde_json::Value>,
    pub role: Role,
    pub status: Status,
    pub locale: Option<super::locale::Locale>,
    pub now: DateTime<Utc>,
}
