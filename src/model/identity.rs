//! An account's identity at a social login provider, as its owner and admins see it, and the
//! logins waiting at a provider as they are kept (only hashes of their `state`, of the cookie
//! binding them to a browser and of a link's start token; the PKCE verifier sealed).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::token::TokenHash;

/// An account's identity at a provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub id: Uuid,
    pub account_id: Uuid,
    /// The provider's configured name.
    pub provider: String,
    /// The address the provider gave when it was linked, for showing.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

/// What an identity is keyed on: the provider's issuer and its subject there. Written, and
/// looked up by; read back only by a copy into another store ([`Keyed`]). MySQL keeps them in
/// a binary collation, so that subjects differing only in case stay apart.
#[derive(Clone, Copy, Debug)]
pub struct IdentityKey<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
}

/// An identity with what it is keyed on, as a copy into another store reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyed {
    pub identity: Identity,
    pub issuer: String,
    pub subject: String,
}

impl Keyed {
    pub fn key(&self) -> IdentityKey<'_> {
        IdentityKey { issuer: &self.issuer, subject: &self.subject }
    }
}

/// What a login sent to a provider must keep to finish.
#[derive(Debug)]
pub struct Pending {
    pub state_hash: TokenHash,
    /// The hash of the cookie that binds the login to its browser.
    pub binding_hash: TokenHash,
    pub nonce: String,
    /// Sealed.
    pub pkce_verifier: Vec<u8>,
}

/// A login about to wait at a provider: `pending` now, or (a link started by an API call) when
/// the browser opens the URL of `start_hash`.
#[derive(Debug)]
pub struct NewOidcLogin {
    pub id: Uuid,
    pub provider: String,
    pub pending: Option<Pending>,
    pub start_hash: Option<TokenHash>,
    pub redirect_to: Option<String>,
    /// Linking to this account, not logging in.
    pub link_account_id: Option<Uuid>,
    /// What the hand-off code of the login will be bound to.
    pub handoff: super::email_login::HandoffBinding,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A login back from its provider, spent.
#[derive(Debug)]
pub struct OidcLogin {
    pub id: Uuid,
    pub binding_hash: TokenHash,
    pub nonce: String,
    pub pkce_verifier: Vec<u8>,
    pub redirect_to: Option<String>,
    pub link_account_id: Option<Uuid>,
    pub handoff: super::email_login::HandoffBinding,
}

/// What removing an identity came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlink {
    Removed,
    /// It is the account's last way in: kept.
    LastWayIn,
    NotFound,
}
