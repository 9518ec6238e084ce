//! Where an address logs in: the identity provider of the organization that verified its
//! domain (`POST /sso/discover`), asked by a login page before it asks for a password; and the
//! organization's policy `sso_required`, which refuses every other way in to such an address
//! (a password, an email link or code, a passkey, social login) with its login URL.
//!
//! The policy spares the organization's owners (a broken identity provider must not lock out
//! the people who can fix its connection) and gatehouse's admins; it ends no session itself.

use uuid::Uuid;

use super::access::{self, Standing};
use super::throttle::Action;
use super::{ClientInfo, Error, Organizations, Result};
use crate::model::account::{Account, Email};
use crate::model::domain::DomainName;
use crate::model::org::Permission;
use crate::model::org::{OrgKey, Organization};
use crate::model::outcome::Kind;
use crate::model::sso::SsoConnection;

/// A domain no organization can verify (`.invalid` is reserved): what an address without a
/// usable domain is looked up as, so every answer costs the same reads.
const NO_DOMAIN: &str = "invalid.invalid";

impl Organizations {
    /// The login URL of the first connection of the organization that verified the domain of
    /// `email` (with `redirect_to`, checked like every one, for the login to go on to), or
    /// [`Error::NotFoundConnection`]. Found or not, the answer takes the same two reads, so its
    /// time does not tell whether a domain is an organization's.
    pub async fn discover_sso(&self, email: &str, redirect_to: Option<&str>, client: &ClientInfo) -> Result<String> {
        self.per_ip(Action::Login, client).await?;
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let redirect = self.policy.redirect(redirect_to)?;
        let domain = DomainName::of_email(email.normalized());
        let claim = self.store.verified_domain(domain.as_ref().map_or(NO_DOMAIN, DomainName::as_str)).await?;
        let connections = self.store.sso_connections(claim.map_or(Uuid::nil(), |c| c.org_id)).await?;
        let connection = connections.first().ok_or(Error::NotFoundConnection)?;
        let mut login = url::Url::parse(&self.sso_login_url(connection))
            .map_err(|e| anyhow::anyhow!("a connection's login URL: {e}"))?;
        if let Some(redirect) = redirect {
            login.query_pairs_mut().append_pair("redirect_to", redirect.as_str());
        }
        Ok(login.to_string())
    }
}

impl Organizations {
    /// Whether any organization has a single sign-on connection (the hosted login page then
    /// asks for the address first).
    pub async fn sso_anywhere(&self) -> Result<bool> {
        Ok(self.store.any_sso_connection().await?)
    }

    /// Refuses a login of `account` by any way but its organization's identity provider, when
    /// the organization that verified its address's domain requires that, with that provider's
    /// login URL; `through` is the organization whose identity provider the login came through,
    /// if one did. One read for an address at no verified domain (most logins).
    pub(super) async fn sso_gate(&self, account: &Account, through: Option<Uuid>, client: &ClientInfo) -> Result<()> {
        let Some((org, connection)) = self.sso_requirer(account).await? else { return Ok(()) };
        if through == Some(org.id) {
            return Ok(());
        }
        tracing::info!(account_id = %account.id, org_id = %org.id, "login refused: the organization requires its single sign-on");
        let refused = self.outcome(Kind::LoginFailed, Some(account.id), client);
        self.note(refused.with("reason", "sso_required").with("org_id", org.id.to_string()));
        Err(Error::SsoRequired(self.sso_login_url(&connection)))
    }

    /// The organization that requires `account` to log in through its identity provider (it
    /// verified the address's domain and has `sso_required` on), with the connection to send it
    /// to; none for its owners and for server admins. One read for an address at no verified
    /// domain (most accounts).
    async fn sso_requirer(&self, account: &Account) -> Result<Option<(Organization, SsoConnection)>> {
        let Some(domain) = DomainName::of_email(&account.email) else { return Ok(None) };
        let Some(claim) = self.store.verified_domain(domain.as_str()).await? else { return Ok(None) };
        let Some(org) = self.store.find_org(OrgKey::Id(claim.org_id)).await? else { return Ok(None) };
        if !org.policy.sso_required {
            return Ok(None);
        }
        let membership = match access::has_admin_role(account) {
            true => None,
            false => self.store.membership_record(org.id, account.id).await?,
        };
        if access::spared_by_sso_required(account, membership.as_ref()) {
            return Ok(None);
        }
        // Without a connection (the last one removed) there is nowhere to send the person: the
        // policy waits for one rather than lock everyone out.
        let Some(connection) = self.store.sso_connections(org.id).await?.into_iter().next() else {
            tracing::warn!(org_id = %org.id, "sso_required is on but the organization has no connection: not enforced");
            return Ok(None);
        };
        Ok(Some((org, connection)))
    }

    /// Refuses to move `account` off an address its organization requires single sign-on for:
    /// at another address, its password would log it in again.
    pub(super) async fn address_kept_by_sso(&self, account: &Account) -> Result<()> {
        match self.sso_requirer(account).await? {
            None => Ok(()),
            Some((org, _)) => {
                tracing::info!(account_id = %account.id, org_id = %org.id, "address change refused: the organization requires its single sign-on");
                let why = "your organization manages this address and requires its single sign-on: the address stays";
                Err(Error::field("new_email", why))
            }
        }
    }

    /// Whether the caller (of `standing` in `org`) may switch `sso_required` to `on`: it takes
    /// `sso:manage`, and switching on takes a connection to send people to.
    pub(super) async fn may_switch_sso_required(
        &self,
        org: &Organization,
        standing: &Standing,
        on: bool,
    ) -> Result<()> {
        if !standing.may(Permission::SsoManage) {
            return Err(Error::Forbidden);
        }
        if on && self.store.sso_connections(org.id).await?.is_empty() {
            let why = "sso_required needs a single sign-on connection first (POST /orgs/{org}/sso/saml or /sso/oidc)";
            return Err(Error::field("policy", why));
        }
        Ok(())
    }
}
