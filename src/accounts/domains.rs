//! An organization's email domains (`org:update`): it claims one, publishes the TXT record
//! gatehouse gives it at `_gatehouse-challenge.<domain>`, and asks for the check. Public mail
//! services are refused, and one organization at most holds a domain. A verified domain may
//! join accounts whose verified address is in it (`auto_join_role`, off until set): at their
//! next login, once, so a member who leaves or is removed is not joined again.

use rand::RngCore;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::access::matrix::Operation;
use super::orgs::OrgView;
use super::{Caller, ClientInfo, Error, Organizations, Result};
use crate::limits::Budget;
use crate::model::account::Account;
use crate::model::domain::{
    AutoJoin, AutoJoinChange, AutoJoined, DomainName, DomainVerification, MAX_ORG_DOMAINS, OrgDomain,
};
use crate::model::org::Permission;
use crate::model::org::{Held, OrgKey};
use crate::model::outcome::{Effects, Kind, Outcome};

/// How often one organization may have gatehouse ask DNS for its records.
const CHECK_BUDGET: Budget = Budget { count: 30, period: std::time::Duration::from_secs(3600) };

/// What the challenge's value starts with, so that it reads for what it is among a domain's
/// other TXT records.
const CHALLENGE_PREFIX: &str = "gatehouse-domain-verification=";

fn challenge() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{CHALLENGE_PREFIX}{value}")
}

/// Who offers an auto-join role: the calling member, or none for a gatehouse admin (whose
/// offer stands while it is one, as its invitations do).
fn offered_by(caller: &Caller, view: &OrgView) -> Option<Uuid> {
    (!view.standing.as_admin).then_some(caller.account_id)
}

/// A domain as given in a path: one that cannot be a domain names none.
fn named(domain: &str) -> Result<DomainName> {
    DomainName::parse(domain).map_err(|_| Error::NotFoundDomain)
}

impl Organizations {
    /// Whether organization `org_id` verified the domain of `address` (and so vouches for it).
    pub(super) async fn org_vouches(&self, org_id: Uuid, address: &str) -> Result<bool> {
        let Some(domain) = DomainName::of_email(address) else { return Ok(false) };
        let claim = self.store.find_org_domain(org_id, domain.as_str()).await?;
        Ok(claim.is_some_and(|c| c.verified_at.is_some()))
    }

    fn domain_outcome(&self, kind: Kind, caller: &Caller, org: &OrgView, domain: &str, client: &ClientInfo) -> Outcome {
        self.org_outcome(kind, caller, &org.org, client).with("domain", domain)
    }

    /// The organization, when the caller may manage its domains.
    async fn managing_domains(&self, caller: &Caller, key: &str) -> Result<OrgView> {
        self.org_with(caller, key, Permission::OrgUpdate).await
    }

    /// The organization's domains, by name.
    pub async fn org_domains(&self, caller: &Caller, key: &str) -> Result<Vec<OrgDomain>> {
        let view = self.managing_domains(caller, key).await?;
        Ok(self.store.org_domains(view.org.id).await?)
    }

    /// One of the organization's domains.
    pub async fn org_domain(&self, caller: &Caller, key: &str, domain: &str) -> Result<OrgDomain> {
        let view = self.managing_domains(caller, key).await?;
        let name = named(domain)?;
        self.store.find_org_domain(view.org.id, name.as_str()).await?.ok_or(Error::NotFoundDomain)
    }

    /// Claims a domain for the organization, with the record that will prove it, and the
    /// role accounts there are to join with once it is verified (none: they do not).
    pub async fn add_org_domain(
        &self,
        caller: &Caller,
        key: &str,
        domain: &str,
        auto_join_role: Option<String>,
        client: &ClientInfo,
    ) -> Result<OrgDomain> {
        let view = self.managing_domains(caller, key).await?;
        let name = DomainName::parse(domain).map_err(|why| Error::field("domain", why))?;
        if name.is_public_mail() {
            return Err(Error::PublicMailDomain);
        }
        if let Some(role) = &auto_join_role {
            self.may_offer(&view, role).await?;
        }
        // Whether another organization holds it is told only at verification, to a caller who
        // published the record: a claim is no way to learn which domains are customers'.
        let claim = OrgDomain {
            org_id: view.org.id,
            domain: name.as_str().to_owned(),
            challenge: challenge(),
            verified_at: None,
            auto_join_role: auto_join_role.clone(),
            auto_join_by: offered_by(caller, &view),
            created_at: self.now(),
        };
        let added = self.domain_outcome(Kind::OrgDomainAdded, caller, &view, name.as_str(), client);
        let effects = Effects::of(added.with("auto_join_role", auto_join_role));
        if !self.commit(&effects, self.store.insert_org_domain(&claim, MAX_ORG_DOMAINS, &effects)).await? {
            return match self.store.find_org_domain(view.org.id, name.as_str()).await? {
                Some(_) => Err(Error::DomainExists),
                None => Err(Error::field("domain", "an organization claims at most 50 domains")),
            };
        }
        Ok(claim)
    }

    /// Checks the domain's TXT record and, when it holds the challenge, marks the domain
    /// verified. Asking again once verified answers the domain as it is.
    pub async fn verify_org_domain(
        &self,
        caller: &Caller,
        key: &str,
        domain: &str,
        client: &ClientInfo,
    ) -> Result<OrgDomain> {
        self.admit(caller, Operation::DomainVerification).await?;
        let view = self.managing_domains(caller, key).await?;
        let name = named(domain)?;
        let claim = self.store.find_org_domain(view.org.id, name.as_str()).await?.ok_or(Error::NotFoundDomain)?;
        if claim.verified_at.is_some() {
            return Ok(claim);
        }
        self.throttle.per_org("domain_checks", view.org.id, CHECK_BUDGET).await?;
        let records = self.dns.txt(&name.challenge_name()).await.map_err(|e| {
            tracing::warn!(org_id = %view.org.id, domain = name.as_str(), error = %e, "domain verification could not ask DNS");
            Error::DnsUnavailable
        })?;
        let expected = claim.challenge.as_bytes();
        let published = records.iter().any(|record| bool::from(record.trim().as_bytes().ct_eq(expected)));
        if !published {
            tracing::info!(org_id = %view.org.id, domain = name.as_str(), records = records.len(), "domain not verified: the challenge is not published");
            return Err(Error::DomainNotVerified { records: records.len() });
        }
        let verified = self.domain_outcome(Kind::OrgDomainVerified, caller, &view, name.as_str(), client);
        let effects = Effects::of(verified);
        match self
            .commit(&effects, self.store.verify_org_domain(view.org.id, name.as_str(), self.now(), &effects))
            .await?
        {
            DomainVerification::Verified(domain) => {
                tracing::info!(org_id = %view.org.id, domain = name.as_str(), "domain verified");
                Ok(domain)
            }
            DomainVerification::NotFound => Err(Error::NotFoundDomain),
            DomainVerification::Taken => Err(Error::DomainTaken),
        }
    }

    /// Sets or clears the role the domain joins accounts with.
    pub async fn set_domain_auto_join(
        &self,
        caller: &Caller,
        key: &str,
        domain: &str,
        role: Option<String>,
        client: &ClientInfo,
    ) -> Result<OrgDomain> {
        self.admit(caller, Operation::DomainVerification).await?;
        let view = self.managing_domains(caller, key).await?;
        let name = named(domain)?;
        if let Some(role) = &role {
            self.may_offer(&view, role).await?;
        }
        let changed = self.domain_outcome(Kind::OrgDomainUpdated, caller, &view, name.as_str(), client);
        let effects = Effects::of(changed.with("auto_join_role", role.clone()));
        let by = offered_by(caller, &view);
        match self
            .commit(&effects, self.store.set_auto_join(view.org.id, name.as_str(), role.as_deref(), by, &effects))
            .await?
        {
            AutoJoinChange::Done(domain) => Ok(domain),
            AutoJoinChange::NotFound => Err(Error::NotFoundDomain),
            AutoJoinChange::UnknownRole => {
                Err(Error::field("auto_join_role", "no such role: admin, member or one of the organization's own"))
            }
        }
    }

    /// Removes the organization's claim of a domain, verified or not; accounts it joined stay
    /// members.
    pub async fn remove_org_domain(&self, caller: &Caller, key: &str, domain: &str, client: &ClientInfo) -> Result<()> {
        let view = self.managing_domains(caller, key).await?;
        let name = named(domain)?;
        let removed = self.domain_outcome(Kind::OrgDomainRemoved, caller, &view, name.as_str(), client);
        let effects = Effects::of(removed);
        if !self.commit(&effects, self.store.delete_org_domain(view.org.id, name.as_str(), &effects)).await? {
            return Err(Error::NotFoundDomain);
        }
        Ok(())
    }

    /// Refuses an auto-join role the caller could not give by invitation: it needs
    /// `members:invite` (joining people is inviting them), never `owner`, and nothing granting
    /// a permission it does not hold. Each join judges the offer again.
    async fn may_offer(&self, view: &OrgView, role: &str) -> Result<()> {
        self.may_grant_on_join(view, role, "auto_join_role").await
    }

    /// Whether the caller may have people join with `role` without it (a verified domain, a
    /// single sign-on connection): it may invite, the role is not `owner`, and its own role
    /// covers `role`. `field` names the setting in the answer.
    pub(super) async fn may_grant_on_join(&self, view: &OrgView, role: &str, field: &'static str) -> Result<()> {
        if !view.standing.may(Permission::MembersInvite) {
            return Err(Error::Forbidden);
        }
        if super::access::is_owner_role(role) {
            return Err(Error::field(field, "joining never makes owners; give admin, member or a custom role"));
        }
        let permissions = self.role_permissions(view.org.id, role).await?;
        let me = Held { role: &view.standing.role, permissions: &view.standing.permissions };
        match me.covers(&Held { role, permissions: &permissions }) {
            true => Ok(()),
            false => Err(Error::Forbidden),
        }
    }

    /// Joins an account whose verified address is in a domain an organization verified, with
    /// the domain's auto-join role: once, at a login, for the organization that holds the
    /// domain. A failure is logged and the login goes on without it (the next login tries again).
    pub(super) async fn join_by_domain(&self, account: &Account, client: &ClientInfo) {
        if let Err(error) = self.try_join_by_domain(account, client).await {
            tracing::warn!(account_id = %account.id, %error, "could not join the account by its domain");
        }
    }

    async fn try_join_by_domain(&self, account: &Account, client: &ClientInfo) -> Result<Option<Uuid>> {
        if !account.email_verified {
            return Ok(None);
        }
        let Some(name) = DomainName::of_email(&account.email) else { return Ok(None) };
        let Some(offer) = self.store.auto_join_offer(name.as_str(), account.id).await? else { return Ok(None) };
        let (Some(role), Some(org)) =
            (offer.auto_join_role.as_deref(), self.store.find_org(OrgKey::Id(offer.org_id)).await?)
        else {
            return Ok(None);
        };
        // A full organization is told apart before its row is locked: every login there asks.
        if self.store.count_members(org.id).await? >= self.policy.org_member_limit {
            return Ok(None);
        }
        let join = AutoJoin {
            org_id: org.id,
            account_id: account.id,
            domain: name.as_str(),
            role,
            now: self.now(),
            member_limit: self.policy.org_member_limit,
        };
        let added = self
            .outcome(Kind::OrgMemberAdded, Some(account.id), client)
            .with("org_id", org.id.to_string())
            .with("slug", org.slug.clone())
            .with("role", role)
            .with("via", "domain")
            .with("domain", name.as_str());
        let effects = Effects::of(added);
        match self.commit(&effects, self.store.auto_join(&join, &effects)).await? {
            AutoJoined::Joined(_) => {
                tracing::info!(org_id = %org.id, account_id = %account.id, role, "joined by a verified domain");
                Ok(Some(org.id))
            }
            AutoJoined::No => Ok(None),
        }
    }
}
