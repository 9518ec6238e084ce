//! The JSON shapes of the contract's responses.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::accounts::TokenPair;
use crate::accounts::domain::Account;
use crate::sessions::SessionInfo;

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The account, as every endpoint shows it. The password hash is not part of it.
#[derive(Serialize, Debug)]
pub struct AccountBody {
    pub id: Uuid,
    pub email: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub data: serde_json::Map<String, serde_json::Value>,
    pub role: &'static str,
    pub status: &'static str,
    pub email_verified: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Account> for AccountBody {
    fn from(a: Account) -> Self {
        Self {
            id: a.id,
            created_at: rfc3339(&a.created_at),
            updated_at: rfc3339(&a.updated_at),
            email: a.email,
            username: a.username,
            name: a.name,
            data: a.data,
            role: a.role.as_str(),
            status: a.status.as_str(),
            email_verified: a.email_verified,
        }
    }
}

/// The answer to a login or a refresh.
#[derive(Serialize)]
pub struct TokenBody {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: AccountBody,
}

impl std::fmt::Debug for TokenBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBody").field("user", &self.user.id).finish_non_exhaustive()
    }
}

impl From<TokenPair> for TokenBody {
    fn from(pair: TokenPair) -> Self {
        use secrecy::ExposeSecret;
        Self {
            access_token: pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token.expose_secret().to_owned(),
            user: pair.account.into(),
        }
    }
}

/// One of the caller's sessions.
#[derive(Serialize, Debug)]
pub struct SessionBody {
    pub id: Uuid,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

impl SessionBody {
    pub fn new(s: SessionInfo, current: Uuid) -> Self {
        Self {
            id: s.id,
            created_at: rfc3339(&s.created_at),
            last_used_at: rfc3339(&s.last_used_at),
            expires_at: rfc3339(&s.expires_at),
            user_agent: s.user_agent,
            ip: s.ip,
            current: s.id == current,
        }
    }
}

/// A plain message, for answers with nothing else to say.
#[derive(Serialize, Debug)]
pub struct MessageBody {
    pub message: &'static str,
}
