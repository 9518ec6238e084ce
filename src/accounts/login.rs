//! What a login names (an email address or a username) and where its first factor leads (a
//! session, or the second step).

use super::mfa::MfaChallenge;

/// Who is logging in: an email address or a username.
#[derive(Debug, Clone)]
pub enum LoginId {
    Email(String),
    Username(String),
}

impl LoginId {
    /// What the login names, whichever field it came in: one holding `@` is an email address
    /// (a `username` as OAuth2 password-grant clients send it), one without is a username (an
    /// `email` field holding `ben`, as a client built for email logins sends it).
    pub fn from_fields(email: Option<String>, username: Option<String>) -> Option<Self> {
        let given = email.filter(|e| !e.trim().is_empty()).or(username.filter(|u| !u.trim().is_empty()));
        match given {
            Some(login) if login.contains('@') => Some(LoginId::Email(login)),
            Some(name) => Some(LoginId::Username(name)),
            None => None,
        }
    }
}

/// Where a first factor leads: a session, or the second step of a login.
#[derive(Debug)]
pub enum LoginStep {
    /// Logged in: the session's first token pair (boxed: it is far larger than a challenge).
    Session(Box<TokenPair>),
    /// The account has a second factor: the challenge its second step answers.
    SecondFactor(MfaChallenge),
}

/// What a login or refresh hands out.
pub use crate::model::session::TokenPair;
