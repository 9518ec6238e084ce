//! An organization's copy: the organization, its policy, roles, members, domains, SSO
//! connections and API keys, in the order the later ones need the earlier.

use uuid::Uuid;

use super::tally::{Copied, PAGE};
use crate::model::account::AccountKey;
use crate::model::api_key::KeyOwner;
use crate::model::domain::{AutoJoinChange, DomainVerification, OrgDomain};
use crate::model::org::{Member, MemberCursor, NewOrganization, OrgChange, Organization, Slug, is_owner};
use crate::model::outcome::Effects;
use crate::store::Store;

/// Every organization, newest first (a few pages at most, held at once).
pub(super) async fn all_orgs(store: &dyn Store) -> anyhow::Result<Vec<Organization>> {
    let (mut orgs, mut before) = (Vec::new(), None);
    loop {
        let page = store.list_orgs(None, before, PAGE).await?;
        let Some(last) = page.last() else { return Ok(orgs) };
        before = Some(last.id);
        orgs.extend(page);
    }
}

/// Every member of the organization, in the order they joined.
pub(super) async fn members_of(store: &dyn Store, org_id: Uuid) -> anyhow::Result<Vec<Member>> {
    let (mut members, mut after) = (Vec::new(), None);
    loop {
        let page = store.list_members(org_id, after, PAGE).await?;
        let Some(last) = page.last() else { return Ok(members) };
        after = Some(MemberCursor { joined_at: last.joined_at, account_id: last.account_id });
        members.extend(page);
    }
}

/// An organization with its policy, custom roles, members, domains, SSO connections and API
/// keys, written as it was and telling nobody.
pub(super) async fn copy_org(
    from: &dyn Store,
    to: &dyn Store,
    org: &Organization,
    copied: &mut Copied,
) -> anyhow::Result<()> {
    let quiet = Effects::none();
    let members = members_of(from, org.id).await?;
    let owner = members
        .iter()
        .find(|member| is_owner(&member.role))
        .ok_or_else(|| anyhow::anyhow!("organization {} has no owner", org.slug))?;
    let slug = Slug::parse(&org.slug).ok_or_else(|| anyhow::anyhow!("organization {}: its slug is not one", org.id))?;
    let new = NewOrganization {
        id: org.id,
        name: org.name.clone(),
        slug: slug.clone(),
        data: org.data.clone(),
        owner: owner.account_id,
        now: org.created_at,
    };
    to.insert_org(&new, &quiet).await?;
    if org.policy != Default::default() || org.updated_at != org.created_at {
        let change = OrgChange {
            name: org.name.clone(),
            slug,
            data: org.data.clone(),
            policy: org.policy.clone(),
            now: org.updated_at,
        };
        to.update_org(org.id, &change, &quiet).await?;
    }
    copied.organizations += 1;
    // The roles before the members and domains that name them.
    for role in from.org_roles(org.id).await? {
        if !to.insert_org_role(org.id, &role, &quiet).await? {
            anyhow::bail!("organization {}: the target refused its role {}", org.slug, role.name);
        }
        copied.org_roles += 1;
    }
    for member in &members {
        if member.account_id != owner.account_id
            && !to.add_member(org.id, member.account_id, &member.role, member.joined_at, &quiet).await?
        {
            anyhow::bail!("organization {}: the target refused a member", org.slug);
        }
        copied.memberships += 1;
    }
    for domain in from.org_domains(org.id).await? {
        let claim = OrgDomain { verified_at: None, auto_join_role: None, auto_join_by: None, ..domain.clone() };
        if !to.insert_org_domain(&claim, usize::MAX, &quiet).await? {
            anyhow::bail!("organization {}: the target refused its domain {}", org.slug, domain.domain);
        }
        if let Some(at) = domain.verified_at
            && !matches!(
                to.verify_org_domain(org.id, &domain.domain, at, &quiet).await?,
                DomainVerification::Verified(_)
            )
        {
            anyhow::bail!("organization {}: its domain {} could not be verified again", org.slug, domain.domain);
        }
        if let Some(role) = &domain.auto_join_role
            && !matches!(
                to.set_auto_join(org.id, &domain.domain, Some(role), domain.auto_join_by, &quiet).await?,
                AutoJoinChange::Done(_)
            )
        {
            anyhow::bail!("organization {}: the role its domain {} joins with was refused", org.slug, domain.domain);
        }
        copied.org_domains += 1;
    }
    // Whom the domains joined: one who left is not joined again. (An account deleted since has
    // nothing to remember; DynamoDB keeps the memory after it.)
    for (account_id, at) in from.auto_joined(org.id).await? {
        if from.find_account(&AccountKey::Id(account_id)).await?.is_some() {
            to.remember_auto_join(org.id, account_id, at).await?;
        }
    }
    for connection in from.sso_connections(org.id).await? {
        if !to.insert_sso_connection(&connection, usize::MAX, &quiet).await? {
            anyhow::bail!("organization {}: the target refused its SSO connection {}", org.slug, connection.name);
        }
        copied.sso_connections += 1;
    }
    for key in from.api_keys_with_hashes(KeyOwner::Org(org.id)).await? {
        if !to.insert_api_key(&key, usize::MAX, &quiet).await? {
            anyhow::bail!("organization {}: the target refused an API key", org.slug);
        }
        if let Some(used) = key.key.last_used_at {
            to.api_key_used(key.key.id, used).await?;
        }
        copied.api_keys += 1;
    }
    Ok(())
}
