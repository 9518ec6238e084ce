//! Passwordless login as it is kept: the emailed link and code (only their keyed hashes), and
//! what a browser login's hand-off code is bound to.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::account_change::NewAccount;
use super::token::TokenHash;

/// What a browser login's hand-off code is bound to, from the start of the login that made it
/// (a login by email, or through a provider): the browser that started it, and an API client's
/// PKCE-style challenge. The exchange of the code (the accounts' hand-off exchange) needs one of
/// them, so a code carried to another browser, or to an app that did not start the login,
/// opens nothing there.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandoffBinding {
    /// The SHA-256 of the value of the hand-off cookie of the browser that started the login.
    pub browser: Option<TokenHash>,
    /// base64url(SHA-256(verifier)), as the client sent it at the start.
    pub challenge: Option<String>,
}

/// A hand-off code, spent: whose login, by which method, bound to what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpentHandoff {
    pub account_id: Uuid,
    pub method: String,
    pub binding: HandoffBinding,
}

/// A login by email about to be stored, with the email that carries its link and code.
#[derive(Debug)]
pub struct NewEmailLogin {
    pub id: Uuid,
    /// The address as requested, and normalized.
    pub email: String,
    pub email_normalized: String,
    /// `None`: no account has the address yet; using the link or code signs up.
    pub account_id: Option<Uuid>,
    pub link_hash: TokenHash,
    pub code_hash: TokenHash,
    /// What the hand-off code of a browser that follows the link will be bound to.
    pub handoff: HandoffBinding,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored login by email that may still be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailLogin {
    pub id: Uuid,
    pub email: String,
    pub account_id: Option<Uuid>,
    /// Read with the code's attempt: what the code must hash to.
    pub code_hash: TokenHash,
    pub handoff: HandoffBinding,
}

/// Whether a link names a login, and if so whether it may still be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    Live(EmailLogin),
    /// Used, ended by a newer request, or dead of wrong codes.
    Spent,
    Expired,
    Unknown,
}

/// What a stored login by email holds of its own state, as a store reads it with the login.
#[derive(Clone, Copy, Debug)]
pub struct LinkFacts {
    /// Used, or ended by a newer request.
    pub used: bool,
    /// The wrong codes tried so far.
    pub attempts: i64,
    pub expires_at: DateTime<Utc>,
}

impl LinkState {
    /// What a stored login's link may still do at `now`, `max_attempts` wrong codes ending it:
    /// the one judgement every store's read of a link asks.
    pub fn of(login: EmailLogin, facts: LinkFacts, max_attempts: u32, now: DateTime<Utc>) -> Self {
        if facts.used || facts.attempts >= i64::from(max_attempts) {
            LinkState::Spent
        } else if facts.expires_at <= now {
            LinkState::Expired
        } else {
            LinkState::Live(login)
        }
    }
}

/// What spending a login by email does to the account.
#[derive(Debug)]
pub enum Redeem<'a> {
    /// The login's account: its address is proven. A pending one becomes active, and its
    /// password (set by whoever signed up, not proven to be the owner) becomes `fresh_password`
    /// (given for a pending account).
    Existing { account_id: Uuid, fresh_password: Option<&'a str> },
    /// No account had the address: this one is made, active.
    New(&'a NewAccount),
}
