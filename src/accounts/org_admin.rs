//! Organizations for admins and operators: every organization listed and searched, one with
//! its member count, and, for the command line, creating one for an owner, adding or removing
//! members directly (the API adds members by invitation), and an organization's domains: which
//! organization holds a domain, and taking a claim back (a domain that changed hands, a
//! customer locked out of its DNS).

use uuid::Uuid;

use super::admin::{Admin, MAX_PAGE};
use super::orgs::{NewOrg, changed};
use super::{Error, Organizations, Result};
use crate::model::domain::{DomainName, OrgDomain};
use crate::model::org::{OrgActor, OrgKey, Organization};
use crate::model::outcome::{Effects, Kind, Outcome};

/// An organization as an admin looks it up: with how many members it has.
#[derive(Clone, Debug)]
pub struct OrgSummary {
    pub org: Organization,
    pub members: u64,
}

impl Admin<'_, Organizations> {
    /// Every organization, newest first, before the cursor; with `q`, those whose name or slug
    /// holds it.
    pub async fn orgs(&self, q: Option<&str>, before: Option<Uuid>, limit: u32) -> Result<Vec<Organization>> {
        let q = q.map(str::trim).filter(|q| !q.is_empty());
        Ok(self.service().store.list_orgs(q, before, limit.clamp(1, MAX_PAGE)).await?)
    }

    /// The organization `key` (its id or slug) names.
    pub async fn find_org(&self, key: &str) -> Result<OrgSummary> {
        let org = self.service().store.find_org(OrgKey::of(key)).await?.ok_or(Error::NotFoundOrg)?;
        let members = self.service().store.count_members(org.id).await?;
        Ok(OrgSummary { org, members })
    }

    fn org_outcome(&self, kind: Kind, account: Uuid, org: &Organization) -> Outcome {
        self.outcome(kind, Some(account)).with("org_id", org.id.to_string()).with("slug", org.slug.clone())
    }

    /// Creates an organization owned by the account `owner` names.
    pub async fn create_org_for(&self, owner: &str, new: NewOrg) -> Result<Organization> {
        let owner = self.find_user(owner).await?;
        self.service().found_org(owner.id, new, self.outcome(Kind::OrgCreated, Some(owner.id))).await
    }

    /// Adds the account `member` names to the organization with `role`; `false` when it is a
    /// member already (its role stays).
    pub async fn add_member(&self, key: &str, member: &str, role: &str) -> Result<bool> {
        let org = self.find_org(key).await?.org;
        let account = self.find_user(member).await?;
        self.service().role_permissions(org.id, role).await?;
        let effects = Effects::of(self.org_outcome(Kind::OrgMemberAdded, account.id, &org).with("role", role));
        let add = self.service().store.add_member(org.id, account.id, role, self.service().now(), &effects);
        Ok(self.service().commit(&effects, add).await?)
    }

    /// Removes the account `member` names from the organization; never its last owner.
    pub async fn remove_member(&self, key: &str, member: &str) -> Result<()> {
        let org = self.find_org(key).await?.org;
        let account = self.find_user(member).await?;
        let effects = Effects::of(self.org_outcome(Kind::OrgMemberRemoved, account.id, &org).with("left", false));
        changed(
            self.service()
                .commit(&effects, self.service().store.remove_member(org.id, account.id, OrgActor::AsOwner, &effects))
                .await?,
        )?;
        Ok(())
    }

    /// The organization's domains, by name.
    pub async fn org_domains_of(&self, key: &str) -> Result<(Organization, Vec<OrgDomain>)> {
        let org = self.find_org(key).await?.org;
        let domains = self.service().store.org_domains(org.id).await?;
        Ok((org, domains))
    }

    /// The organization that verified the domain, with its claim, if one did.
    pub async fn domain_holder(&self, domain: &str) -> Result<Option<(Organization, OrgDomain)>> {
        let name = DomainName::parse(domain).map_err(|why| Error::field("domain", why))?;
        let Some(claim) = self.service().store.verified_domain(name.as_str()).await? else { return Ok(None) };
        let org = self.service().store.find_org(OrgKey::Id(claim.org_id)).await?;
        Ok(org.map(|org| (org, claim)))
    }

    /// Takes the organization's claim of a domain back, verified or not (the accounts it
    /// joined stay members); another organization may then verify it.
    pub async fn release_domain(&self, key: &str, domain: &str) -> Result<()> {
        let org = self.find_org(key).await?.org;
        let name = DomainName::parse(domain).map_err(|why| Error::field("domain", why))?;
        let removed = self
            .outcome(Kind::OrgDomainRemoved, None)
            .with("org_id", org.id.to_string())
            .with("slug", org.slug.clone())
            .with("domain", name.as_str());
        let effects = Effects::of(removed);
        if !self
            .service()
            .commit(&effects, self.service().store.delete_org_domain(org.id, name.as_str(), &effects))
            .await?
        {
            return Err(Error::NotFoundDomain);
        }
        Ok(())
    }
}
