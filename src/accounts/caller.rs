//! Who is calling: a valid token (or a browser session's cookie, or an API key) whose session
//! is live.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::access::matrix::{self, Cell, Credential, Operation};
use super::{Accounts, Error, Result};
use crate::sessions::{AccountRead, SessionAuth};

/// An authenticated caller: a valid token whose session is live.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: Uuid,
    pub session_id: Uuid,
    pub session_expires_at: DateTime<Utc>,
    /// How the session was last authenticated (for step-up).
    pub auth: SessionAuth,
    /// What the session store read of the account with the session: the account itself (this
    /// request's read), its copy (only ever shown to its owner), or nothing.
    pub account: AccountRead,
    /// When the access token presented expires (none for a browser session's cookie): a new
    /// access token handed out on its strength alone lives no longer.
    pub token_expires_at: Option<DateTime<Utc>>,
    /// The API key presented, when the caller came with one (`session_id` is then the key's id).
    pub api_key: Option<Uuid>,
}

impl Caller {
    /// The caller, unless its session is good only for enrolling a second factor.
    pub(super) fn enrolled(self) -> Result<Self> {
        match self.auth.aal {
            super::mfa::ENROLMENT_ONLY => Err(Error::MfaEnrolmentRequired),
            _ => Ok(self),
        }
    }

    /// The kind of credential it came with, as the credential matrix names it.
    pub fn credential(&self) -> Credential {
        match (self.api_key, self.auth.act, self.auth.aal) {
            (Some(_), _, _) => Credential::PersonalKey,
            (None, Some(_), _) => Credential::Impersonation,
            (None, None, aal) if aal >= 2 => Credential::SessionAal2,
            (None, None, _) => Credential::Session,
        }
    }

    /// Refuses what only the account's owner, logged in, may do (manage keys, change
    /// credentials, second factors or the address, step up, delete the account): not with an
    /// API key, and not as an admin impersonating the account.
    pub(super) fn refuse_key(&self) -> Result<()> {
        if self.api_key.is_some() {
            return Err(Error::ApiKeyForbidden);
        }
        self.refuse_impersonation()
    }

    /// Refuses an admin impersonating the account.
    pub(super) fn refuse_impersonation(&self) -> Result<()> {
        match self.auth.act {
            Some(_) => Err(Error::ImpersonationForbidden),
            None => Ok(()),
        }
    }
}

impl Accounts {
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
