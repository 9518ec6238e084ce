//! A session's active organization: chosen at login (`"org"`) or switched to
//! (`POST /auth/org`), kept in the session, and carried by its access tokens as the `org`
//! claim, read from the membership each time a token is signed. What must act on a removal at
//! once (gatehouse's own organization routes, forward-auth, introspection, userinfo) reads the
//! membership at the request instead of trusting the claim.
//!
//! Every door that grants or states an organization (the organization routes, forward-auth,
//! access and ID tokens, userinfo, introspection, the code and device grants, token exchange, a
//! member's API key) asks [`Organizations::admitted`]: the membership read now, and the organization's
//! policy (`mfa_required`, `login_methods`) held against how the caller proved itself.

use serde_json::json;
use uuid::Uuid;

use super::mfa::Reauthenticated;
use super::{Authentication, Caller, ClientInfo, Error, Organizations, Result};
use crate::model::account::Account;
use crate::model::org::{Membership, OrgKey};
use crate::model::org_policy::Admission;
use crate::model::outcome::Kind;
use crate::sessions::SessionAuth;
use crate::tokens::jwt::OrgClaim;

/// The access token a switch answers with, and the organization it is now in.
#[derive(Debug)]
pub struct Switched {
    pub token: Reauthenticated,
    pub membership: Option<Membership>,
}

impl From<&Membership> for OrgClaim {
    fn from(membership: &Membership) -> Self {
        OrgClaim {
            id: membership.org.id,
            slug: membership.org.slug.clone(),
            role: membership.role.clone(),
            permissions: membership.permissions.clone(),
            groups: membership.groups.clone(),
        }
    }
}

/// An organization's policy's answer, as the caller is told it.
pub(super) fn admitted(admission: Admission) -> Result<()> {
    match admission {
        Admission::Admitted => Ok(()),
        Admission::EnrolmentRequired => Err(Error::MfaEnrolmentRequired),
        Admission::StepUpRequired => Err(Error::ReauthenticationRequired),
        Admission::MethodNotAllowed => Err(Error::LoginMethodNotAllowed),
    }
}

impl Organizations {
    /// Whether the organization's policy admits a caller that proved itself as `auth` says (a
    /// session's methods and level; an API key's `key`): the one question every door that grants
    /// or states an organization asks ([`Self::admitted`]). Whether the account has a second
    /// factor is read only when it tells a step-up from an enrolment.
    pub(super) async fn admission(&self, membership: &Membership, (amr, aal): (&[String], u8)) -> Result<Admission> {
        Ok(match membership.org.policy.admits(amr, aal, true) {
            Admission::StepUpRequired if !self.store.factors(membership.account_id).await?.any() => {
                Admission::EnrolmentRequired
            }
            admission => admission,
        })
    }

    /// The membership as the doors show it: none when there is none, or when the
    /// organization's policy does not admit `auth` (a member without the second factor it
    /// requires, or logged in a way it does not take, is granted and told no organization).
    pub(crate) async fn admitted(
        &self,
        membership: Option<Membership>,
        proved: (&[String], u8),
    ) -> Result<Option<Membership>> {
        let Some(membership) = membership else { return Ok(None) };
        Ok(match self.admission(&membership, proved).await? {
            Admission::Admitted => Some(membership),
            refused => {
                tracing::debug!(org_id = %membership.org.id, ?refused, "the organization's policy does not admit this session: no organization");
                None
            }
        })
    }

    /// The `org` claim of a token of a session of `account_id` (authenticated as `auth`) in
    /// organization `org_id`: its membership as it is now, when the policy admits the session
    /// (none once it has ended).
    pub(super) async fn org_claim(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        auth: &SessionAuth,
    ) -> Result<Option<OrgClaim>> {
        let membership = self.admitted(self.store.membership(org_id, account_id).await?, (&auth.amr, auth.aal)).await?;
        Ok(membership.as_ref().map(OrgClaim::from))
    }

    /// The `org` claim of a client session granted the `org` scope (OpenID Connect): its
    /// organization's membership as it is now, when the policy admits the session (none once
    /// the account has left it).
    pub(super) async fn org_claim_of(
        &self,
        session: &crate::sessions::LiveSession,
        scopes: &[String],
    ) -> Result<Option<serde_json::Value>> {
        let (true, Some(org_id)) = (scopes.iter().any(|s| s == "org"), session.auth.org) else { return Ok(None) };
        let claim = self.org_claim(org_id, session.account_id, &session.auth).await?;
        Ok(claim.map(|claim| json!(claim)))
    }

    /// The membership of the organization `key` names (`NotFoundOrg`), which the account must
    /// hold (`NotAMember`): an admin too enters only organizations it belongs to.
    async fn membership_in(&self, account_id: Uuid, key: &str) -> Result<Membership> {
        let org = self.store.find_org(OrgKey::of(key)).await?.ok_or(Error::NotFoundOrg)?;
        self.store.membership(org.id, account_id).await?.ok_or(Error::NotAMember)
    }

    /// The account's membership of the organization `key` names, read now, as a caller
    /// authenticated as `auth` is granted it; `None` when there is no such organization, the
    /// account is not a member, or the policy does not admit it (forward-auth's `org:` rules).
    pub async fn membership_of(
        &self,
        account_id: Uuid,
        key: &str,
        proved: (&[String], u8),
    ) -> Result<Option<Membership>> {
        match self.membership_in(account_id, key).await {
            Ok(membership) => self.admitted(Some(membership), proved).await,
            Err(Error::NotFoundOrg | Error::NotAMember) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The organization a grant of the `org` scope names: `hint`'s (`org_hint`) when the
    /// person is a member, else the browser session's active one while a member, else their only
    /// membership; none when they belong to several and named none of them, or to none, and
    /// none that the organization's policy does not admit the session to.
    pub(crate) async fn grant_org(&self, caller: &Caller, hint: Option<&str>) -> Result<Option<Uuid>> {
        if let Some(hint) = hint
            && let Some(membership) = self.membership_of(caller.account_id, hint, caller.proved()).await?
        {
            return Ok(Some(membership.org.id));
        }
        if let Some(membership) = self.active_membership(caller).await? {
            return Ok(Some(membership.org.id));
        }
        let memberships = self.store.memberships(caller.account_id).await?;
        let only = match memberships.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        Ok(self.admitted(only, caller.proved()).await?.map(|m| m.org.id))
    }

    /// The caller's active organization, read now: `None` when the session has none, the
    /// caller is no longer a member, or the policy no longer admits the session.
    pub async fn active_membership(&self, caller: &Caller) -> Result<Option<Membership>> {
        match caller.org() {
            Some(org_id) => {
                self.admitted(self.store.membership(org_id, caller.account_id).await?, caller.proved()).await
            }
            None => Ok(None),
        }
    }
}

impl Authentication {
    /// The organization a login names, checked once the account is known: a member may enter
    /// it when its policy takes the login's methods (`amr`) at level `aal`.
    pub(super) async fn login_org(
        &self,
        account: &Account,
        key: Option<&str>,
        amr: &[String],
        aal: u8,
    ) -> Result<Option<Uuid>> {
        let Some(key) = key else { return Ok(None) };
        let membership = self.membership_in(account.id, key).await?;
        admitted(self.admission(&membership, (amr, aal)).await?)?;
        Ok(Some(membership.org.id))
    }

    /// Makes the organization `key` names the session's active one (`None`: none), and answers
    /// a new access token of the same session carrying it; the refresh token stays.
    pub async fn switch_org(&self, caller: &Caller, key: Option<&str>, client: &ClientInfo) -> Result<Switched> {
        let session = caller.session()?;
        let account = self.me(caller).await?;
        let membership = match key {
            Some(key) => Some(self.membership_in(account.id, key).await?),
            None => None,
        };
        if let Some(membership) = &membership {
            admitted(self.admission(membership, caller.proved()).await?)?;
        }
        let auth = SessionAuth { org: membership.as_ref().map(|m| m.org.id), ..session.auth.clone() };
        if !self.sessions.set_session_auth(session.id, &auth).await? {
            return Err(Error::Unauthorized);
        }
        self.note(
            self.outcome(Kind::OrgSwitched, Some(account.id), client)
                .detail(json!({ "session_id": session.id, "org_id": auth.org })),
        );
        // The new token lives no longer than the one presented: switching is no way to keep a
        // stolen access token alive without the refresh token.
        let now = self.now();
        let end = session.token_expires_at.map_or(session.expires_at, |t| t.min(session.expires_at));
        let (access_token, expires_in) = self.sign_access_token(&account, session.id, end, &auth, now).await?;
        Ok(Switched { token: Reauthenticated { access_token, expires_in }, membership })
    }
}
