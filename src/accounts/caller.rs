//! Who is calling: a valid token (or a browser session's cookie, or an API key) whose session
//! is live.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::access::matrix::{self, Cell, Credential, Operation};
use super::{Core, Error, Result};
use crate::sessions::{AccountRead, SessionAuth};

/// An authenticated person: who they are and how they proved it. A session and an API key are
/// told apart here, once: a key is never dressed as a session, so what needs a session (a
/// step-up, an organization to act in, logging out) asks [`Caller::session`] and a key meets
/// `ApiKeyForbidden` there.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: Uuid,
    /// What the session store read of the account with the session: the account itself (this
    /// request's read), its copy (only ever shown to its owner), or nothing.
    pub account: AccountRead,
    /// How the caller proved who they are.
    pub via: Via,
}

/// How a person proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    /// A live session of theirs, through one of its access tokens or the browser's cookie.
    Session(CallerSession),
    /// One of their API keys: no session, no login method, no organization to act in.
    Key(CallerKey),
}

/// A live session a caller came through.
#[derive(Debug, Clone)]
pub struct CallerSession {
    pub id: Uuid,
    pub expires_at: DateTime<Utc>,
    /// How the session was last authenticated (for step-up), its organization and
    /// impersonator.
    pub auth: SessionAuth,
    /// When the access token presented expires (none for a browser session's cookie): a new
    /// access token handed out on its strength alone lives no longer.
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// A person's API key a caller came with.
#[derive(Debug, Clone)]
pub struct CallerKey {
    pub id: Uuid,
    pub expires_at: Option<DateTime<Utc>>,
    /// What its holder said it is for (the app behind forward-auth reads them).
    pub scopes: Vec<String>,
}

impl Caller {
    /// The caller, unless its session is good only for enrolling a second factor.
    pub(super) fn enrolled(self) -> Result<Self> {
        match self.aal() {
            super::mfa::ENROLMENT_ONLY => Err(Error::MfaEnrolmentRequired),
            _ => Ok(self),
        }
    }

    /// The session the caller came through; `ApiKeyForbidden` for a key, which has none.
    pub fn session(&self) -> Result<&CallerSession> {
        match &self.via {
            Via::Session(session) => Ok(session),
            Via::Key(_) => Err(Error::ApiKeyForbidden),
        }
    }

    /// The id of the session the caller came through (none for a key).
    pub fn session_id(&self) -> Option<Uuid> {
        self.session().ok().map(|session| session.id)
    }

    /// The level of assurance of the caller's proof: a key proves one factor.
    pub fn aal(&self) -> u8 {
        self.session().map_or(1, |session| session.auth.aal)
    }

    /// The admin acting as the account, if the caller is one.
    pub fn impersonator(&self) -> Option<Uuid> {
        self.session().ok().and_then(|session| session.auth.act)
    }

    /// The organization the caller acts in: its session's active one (a key acts in none).
    pub fn org(&self) -> Option<Uuid> {
        self.session().ok().and_then(|session| session.auth.org)
    }

    /// The login methods (RFC 8176) and level the caller proved, as an organization's policy
    /// reads them: a key proves no login method, at level 1.
    pub fn proved(&self) -> (&[String], u8) {
        match &self.via {
            Via::Session(session) => (&session.auth.amr, session.auth.aal),
            Via::Key(_) => (&[], 1),
        }
    }

    /// The kind of credential it came with, as the credential matrix names it.
    pub fn credential(&self) -> Credential {
        match &self.via {
            Via::Key(_) => Credential::PersonalKey,
            Via::Session(session) => match (session.auth.act, session.auth.aal) {
                (Some(_), _) => Credential::Impersonation,
                (None, aal) if aal >= 2 => Credential::SessionAal2,
                (None, _) => Credential::Session,
            },
        }
    }

    /// Refuses what only the account's owner, logged in, may do (manage keys, change
    /// credentials, second factors or the address, step up, delete the account): not with an
    /// API key, and not as an admin impersonating the account. Answers the session.
    pub(super) fn own_session(&self) -> Result<&CallerSession> {
        let session = self.session()?;
        self.refuse_impersonation()?;
        Ok(session)
    }

    /// As [`Self::own_session`], where the session itself is not needed.
    pub(super) fn refuse_key(&self) -> Result<()> {
        self.own_session().map(|_| ())
    }

    /// Refuses an admin impersonating the account.
    pub(super) fn refuse_impersonation(&self) -> Result<()> {
        match self.impersonator() {
            Some(_) => Err(Error::ImpersonationForbidden),
            None => Ok(()),
        }
    }
}

impl Core {
    /// Whether the caller's credential may perform `operation`, by the credential matrix: a
    /// refusal, or for a fresh-only operation a session that authenticated recently enough.
    pub(super) async fn admit(&self, caller: &Caller, operation: Operation) -> Result<()> {
        match matrix::cell(operation, caller.credential()) {
            Cell::Allowed => Ok(()),
            Cell::Fresh => self.require_step_up(caller, Some(self.store.factors(caller.account_id).await?)),
            Cell::Refused(refusal) => Err(refusal.into()),
        }
    }
}
