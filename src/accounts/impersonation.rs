//! An admin acting as an account (`POST /admin/users/{key}/impersonate`): support staff seeing
//! what a person sees. The admin steps up first and gives a reason; the answer is an access
//! token of the account's, for at most 15 minutes and with no refresh token, whose `act` claim
//! (RFC 8693) names the admin. Its session is an ordinary one of the account's, marked with the
//! admin (`SessionAuth::act`), so it is listed among the account's sessions, ends like any of
//! them, and every check that reads the caller's session refuses what only the owner may do
//! (credentials, second factors, the address, keys, deleting the account, admin routes, and
//! whatever an organization permission allows: `impersonation_forbidden`). An admin's account
//! cannot be impersonated: acting as an admin would lend that admin's power over others. The audit trail keeps the reason, and the owner is emailed
//! (`GATEHOUSE_IMPERSONATION_NOTICE`).

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::admin::Admin;
use super::{Error, Result};
use crate::model::account::Status;
use crate::model::outcome::{Effects, Kind};
use crate::sessions::{NewSession, SessionAuth};
use crate::tokens::opaque::OpaqueToken;

/// The longest an impersonation lasts.
pub const MAX_IMPERSONATION: Duration = Duration::minutes(15);
/// The longest reason kept.
const MAX_REASON: usize = 500;

/// An impersonation begun: the account's access token, and its session.
#[derive(Debug)]
pub struct Impersonation {
    pub access_token: String,
    pub expires_in: u64,
    pub session_id: Uuid,
    pub account_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl Admin<'_> {
    /// Begins acting as the account `key` names, for `reason`.
    pub async fn impersonate(&self, key: &str, reason: &str) -> Result<Impersonation> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(Error::field("reason", format!("say why, in 1 to {MAX_REASON} characters")));
        }
        self.admit(super::access::matrix::Operation::Impersonation).await?;
        let admin = self.actor_id().ok_or(Error::Forbidden)?;
        let target = self.find_user(key).await?;
        if target.id == admin {
            return Err(Error::field("key", "an admin cannot impersonate themselves"));
        }
        if target.status != Status::Active {
            return Err(Error::field("key", "only an active account can be impersonated"));
        }
        if crate::accounts::access::has_admin_role(&target) {
            return Err(Error::field("key", "an admin's account cannot be impersonated"));
        }
        let accounts = self.service();
        let now = accounts.now();
        let ttl = Duration::from_std(accounts.settings.access_token_ttl).unwrap_or(MAX_IMPERSONATION);
        let expires_at = now + ttl.min(MAX_IMPERSONATION);
        let auth = SessionAuth { act: Some(admin), amr: Vec::new(), ..SessionAuth::first_factor("", now) };
        let client = self.client_info();
        let session = NewSession {
            id: Uuid::now_v7(),
            account_id: target.id,
            // Never handed out: the impersonation cannot be refreshed.
            refresh_hash: OpaqueToken::generate().hash,
            created_at: now,
            expires_at,
            user_agent: client.user_agent.clone(),
            ip: client.ip.clone(),
            auth: auth.clone(),
        };
        accounts.sessions.create_session(&session).await?;
        let detail = json!({ "reason": reason, "session_id": session.id, "expires_at": expires_at });
        let mut effects = Effects::of(self.outcome(Kind::AdminImpersonated, Some(target.id)).detail(detail));
        if accounts.policy.impersonation_notice {
            let letter = accounts.policy.letters(target.locale).impersonation_notice(reason);
            effects = effects.email(accounts.email(&target.email, letter, now));
        }
        accounts.tell(effects).await?;
        let (access_token, expires_in) =
            accounts.sign_access_token(&target, session.id, expires_at, &auth, now).await?;
        tracing::info!(account_id = %target.id, admin_id = %admin, session_id = %session.id, "an admin began impersonating an account");
        Ok(Impersonation { access_token, expires_in, session_id: session.id, account_id: target.id, expires_at })
    }
}
