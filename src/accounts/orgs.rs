//! Organizations: creating one (its creator becomes its owner), the caller's memberships,
//! reading, changing and deleting an organization, its members, their roles and their removal.
//! Every check reads the caller's membership at the request (`access::org_standing`), so a
//! removal or a change of role acts at the very next request, whatever token the caller holds.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::access::matrix::Operation;
use super::access::{self, Standing};
use super::admin::MAX_PAGE;
use super::{Caller, ClientInfo, Error, Organizations, Result};
use crate::model::account::{AccountData, AccountKey, DisplayName};
use crate::model::org::Permission;
use crate::model::org::{
    Member, MemberChange, MemberCursor, Membership, NewOrganization, OrgActor, OrgChange, OrgKey, OrgPolicy,
    Organization, Slug,
};
use crate::model::outcome::{Effects, Kind, Outcome};

/// An organization as submitted on creation.
#[derive(Debug, Default)]
pub struct NewOrg {
    pub name: String,
    pub slug: Option<String>,
    pub data: Option<Map<String, Value>>,
}

/// A change of an organization; what is absent stays.
#[derive(Debug, Default)]
pub struct OrgEdit {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub data: Option<Map<String, Value>>,
    pub policy: Option<Value>,
}

/// An organization with what the caller may do there.
#[derive(Clone, Debug)]
pub struct OrgView {
    pub org: Organization,
    pub standing: Standing,
}

fn check_name(name: &str) -> Result<String> {
    match DisplayName::parse(name) {
        Ok(Some(name)) => Ok(name.as_str().to_owned()),
        Ok(None) => Err(Error::field("name", "an organization needs a name")),
        Err(problem) => Err(Error::Validation(vec![problem])),
    }
}

/// An organization's `data`: a JSON object of at most 16 KiB, without NUL, as an account's.
fn check_data(data: Map<String, Value>) -> Result<Map<String, Value>> {
    AccountData::from_map(data).map(|data| data.as_map().clone()).map_err(|problem| Error::Validation(vec![problem]))
}

/// Who acts on a membership: a gatehouse admin as an owner, anyone else by its own membership.
fn actor(caller: &Caller, standing: &Standing) -> OrgActor {
    match standing.as_admin {
        true => OrgActor::AsOwner,
        false => OrgActor::Member(caller.account_id),
    }
}

fn slug(slug: &str) -> Result<Slug> {
    Slug::parse(slug).ok_or_else(|| {
        Error::field("slug", "a slug is 2 to 48 lower-case letters, digits and hyphens, not at either end")
    })
}

/// The slug given, checked, or one made from the name.
fn new_slug(name: &str, given: Option<&str>) -> Result<Slug> {
    match given {
        Some(given) => slug(given),
        None => Slug::from_name(name)
            .ok_or_else(|| Error::field("slug", "the name makes no slug; give one (2 to 48 of a-z, 0-9 and -)")),
    }
}

/// What a change of a member came to, as the caller is answered.
pub(super) fn changed(change: MemberChange) -> Result<()> {
    match change {
        MemberChange::Done => Ok(()),
        MemberChange::NotFound => Err(Error::NotFound),
        MemberChange::Forbidden => Err(Error::Forbidden),
        MemberChange::LastOwner => Err(Error::LastOwner),
        MemberChange::UnknownRole => {
            Err(Error::field("role", "no such role: owner, admin, member or one of the organization's own"))
        }
    }
}

impl Organizations {
    pub(super) fn org_outcome(&self, kind: Kind, caller: &Caller, org: &Organization, client: &ClientInfo) -> Outcome {
        self.outcome(kind, Some(caller.account_id), client)
            .with("org_id", org.id.to_string())
            .with("slug", org.slug.clone())
    }

    /// Creates an organization with the caller as its owner.
    pub async fn create_org(&self, caller: &Caller, new: NewOrg, client: &ClientInfo) -> Result<Organization> {
        caller.refuse_impersonation()?;
        let me = self.me(caller).await?;
        if !access::may_create_org(&me, self.policy.org_creation_open) {
            return Err(Error::Forbidden);
        }
        self.found_org(me.id, new, self.outcome(Kind::OrgCreated, Some(me.id), client)).await
    }

    /// Stores a new organization owned by `owner`, its input checked, told as `created`.
    pub(super) async fn found_org(&self, owner: Uuid, new: NewOrg, created: Outcome) -> Result<Organization> {
        let name = check_name(&new.name)?;
        let slug = new_slug(&name, new.slug.as_deref())?;
        let org = NewOrganization {
            id: Uuid::now_v7(),
            name,
            slug,
            data: check_data(new.data.unwrap_or_default())?,
            owner,
            now: self.now(),
        };
        let created = created.with("org_id", org.id.to_string()).with("slug", org.slug.as_str());
        let effects = Effects::of(created);
        let stored = self.commit(&effects, self.store.insert_org(&org, &effects)).await?;
        Ok(stored)
    }

    /// The caller's memberships, with what each lets it do.
    pub async fn my_orgs(&self, caller: &Caller) -> Result<Vec<Membership>> {
        Ok(self.store.memberships(caller.account_id).await?)
    }

    /// The organization `key` names and the caller's standing there, read now: `NotFoundOrg`
    /// when there is none, `NotAMember` when the caller is not (or no longer) a member, and the
    /// organization's policy's refusal when it does not admit the caller's session (or key): a
    /// member works in an organization only as its policy allows.
    pub async fn org(&self, caller: &Caller, key: &str) -> Result<OrgView> {
        let (view, membership) = self.org_unchecked(caller, key).await?;
        if let (false, Some(membership)) = (view.standing.as_admin, membership) {
            super::org_session::admitted(self.admission(&membership, caller.proved()).await?)?;
        }
        Ok(view)
    }

    /// [`Self::org`] without the policy, with the caller's membership: for leaving, which a
    /// member the policy no longer admits may still do.
    async fn org_unchecked(&self, caller: &Caller, key: &str) -> Result<(OrgView, Option<Membership>)> {
        let org = self.store.find_org(OrgKey::of(key)).await?.ok_or(Error::NotFoundOrg)?;
        let me = self.me(caller).await?;
        let membership = self.store.membership(org.id, me.id).await?;
        let standing = access::org_standing(&me, membership.as_ref()).ok_or(Error::NotAMember)?;
        Ok((OrgView { org, standing }, membership))
    }

    /// The organization, when the caller's standing there has `permission`. Never to an admin
    /// impersonating the account: what a permission allows (members, roles, domains, single
    /// sign-on, keys, the organization itself) is the owner's to do.
    pub(super) async fn org_with(&self, caller: &Caller, key: &str, permission: Permission) -> Result<OrgView> {
        caller.refuse_impersonation()?;
        let view = self.org(caller, key).await?;
        if !view.standing.may(permission) {
            return Err(Error::Forbidden);
        }
        Ok(view)
    }

    /// Changes an organization's name, slug or data (`org:update`).
    pub async fn update_org(
        &self,
        caller: &Caller,
        key: &str,
        edit: OrgEdit,
        client: &ClientInfo,
    ) -> Result<Organization> {
        let OrgView { org, standing } = self.org_with(caller, key, Permission::OrgUpdate).await?;
        let change = OrgChange {
            name: edit.name.as_deref().map(check_name).transpose()?.unwrap_or_else(|| org.name.clone()),
            slug: match edit.slug.as_deref() {
                Some(given) => slug(given)?,
                None => Slug::parse(&org.slug).ok_or_else(|| anyhow::anyhow!("a stored slug does not parse"))?,
            },
            data: match edit.data {
                Some(data) => check_data(data)?,
                None => org.data.clone(),
            },
            policy: match edit.policy {
                Some(policy) => OrgPolicy::parse(policy).map_err(|why| Error::field("policy", why))?,
                None => org.policy.clone(),
            },
            now: self.now(),
        };
        if change.policy != org.policy {
            self.admit(caller, Operation::OrgPolicy).await?;
        }
        if change.policy.sso_required != org.policy.sso_required {
            self.may_switch_sso_required(&org, &standing, change.policy.sso_required).await?;
        }
        let changed: Vec<&str> = [
            ("name", change.name != org.name),
            ("slug", change.slug.as_str() != org.slug),
            ("data", change.data != org.data),
            ("policy", change.policy != org.policy),
        ]
        .into_iter()
        .filter_map(|(field, differs)| differs.then_some(field))
        .collect();
        let effects =
            Effects::of(self.org_outcome(Kind::OrgUpdated, caller, &org, client).with("changed", json!(changed)));
        let updated =
            self.commit(&effects, self.store.update_org(org.id, &change, &effects)).await?.ok_or(Error::NotFoundOrg)?;
        Ok(updated)
    }

    /// Deletes an organization with its memberships (`org:delete`).
    pub async fn delete_org(&self, caller: &Caller, key: &str, client: &ClientInfo) -> Result<()> {
        self.admit(caller, Operation::OrgDeletion).await?;
        let OrgView { org, .. } = self.org_with(caller, key, Permission::OrgDelete).await?;
        let effects = Effects::of(self.org_outcome(Kind::OrgDeleted, caller, &org, client));
        if !self.commit(&effects, self.store.delete_org(org.id, &effects)).await? {
            return Err(Error::NotFoundOrg);
        }
        // Its keys went with it: every replica forgets those it remembers before this answers.
        self.sessions.drop_account_copy(org.id).await?;
        Ok(())
    }

    /// A page of the members, in the order they joined, after the member `after` (any member).
    pub async fn org_members(
        &self,
        caller: &Caller,
        key: &str,
        after: Option<MemberCursor>,
        limit: u32,
    ) -> Result<Vec<Member>> {
        let OrgView { org, .. } = self.org(caller, key).await?;
        Ok(self.store.list_members(org.id, after, limit.clamp(1, MAX_PAGE)).await?)
    }

    /// Gives a member another role (`members:update`); an owner's role, and the owner role,
    /// are an owner's to give.
    pub async fn set_member_role(
        &self,
        caller: &Caller,
        key: &str,
        account_id: Uuid,
        new_role: &str,
        client: &ClientInfo,
    ) -> Result<Member> {
        let OrgView { org, standing } = self.org_with(caller, key, Permission::MembersUpdate).await?;
        let permissions = self.role_permissions(org.id, new_role).await?;
        if let Some(operation) =
            access::granting(new_role, &permissions, Operation::OwnershipGrant, Operation::MemberPromotion)
        {
            self.admit(caller, operation).await?;
        }
        let current = self.store.membership_record(org.id, account_id).await?.ok_or(Error::NotFound)?;
        if !standing.may_handle(&current.role) || !standing.may_handle(new_role) {
            return Err(Error::Forbidden);
        }
        let outcome = self.org_outcome(Kind::OrgMemberUpdated, caller, &org, client);
        let outcome = Outcome { account_id: Some(account_id), ..outcome }
            .actor(caller.account_id)
            .with("role", new_role)
            .with("previous", current.role.clone());
        let effects = Effects::of(outcome);
        changed(
            self.commit(
                &effects,
                self.store.set_member_role(org.id, account_id, new_role, actor(caller, &standing), &effects),
            )
            .await?,
        )?;
        self.member(org.id, account_id).await
    }

    /// Removes a member (`members:remove`), or the caller itself (leaving); an owner is removed
    /// only by an owner, and never the last.
    pub async fn remove_member(&self, caller: &Caller, key: &str, account_id: Uuid, client: &ClientInfo) -> Result<()> {
        caller.refuse_impersonation()?;
        let leaving = account_id == caller.account_id;
        let OrgView { org, standing } = match leaving {
            true => self.org_unchecked(caller, key).await?.0,
            false => self.org(caller, key).await?,
        };
        if !leaving && !standing.may(Permission::MembersRemove) {
            return Err(Error::Forbidden);
        }
        let current = self.store.membership_record(org.id, account_id).await?.ok_or(Error::NotFound)?;
        if !leaving && !standing.may_handle(&current.role) {
            return Err(Error::Forbidden);
        }
        let outcome = self.org_outcome(Kind::OrgMemberRemoved, caller, &org, client);
        let outcome =
            Outcome { account_id: Some(account_id), ..outcome }.actor(caller.account_id).with("left", leaving);
        let effects = Effects::of(outcome);
        changed(
            self.commit(&effects, self.store.remove_member(org.id, account_id, actor(caller, &standing), &effects))
                .await?,
        )?;
        Ok(())
    }

    /// Refuses, before any session is ended, deleting an account that alone owns an
    /// organization with other members (`LastOwner`). The store checks again inside the
    /// deletion's transaction, which is what decides a race.
    pub(super) async fn keep_org_owners(&self, account_id: Uuid) -> Result<()> {
        match self.store.orgs_only_owned_by(account_id).await?.is_empty() {
            true => Ok(()),
            false => Err(Error::LastOwner),
        }
    }

    /// One member as the list shows it.
    async fn member(&self, org_id: Uuid, account_id: Uuid) -> Result<Member> {
        let membership = self.store.membership_record(org_id, account_id).await?.ok_or(Error::NotFound)?;
        let found = self.store.find_account(&AccountKey::Id(account_id)).await?;
        let account = found.map(|c| c.account).ok_or(Error::NotFound)?;
        Ok(Member {
            account_id,
            email: account.email,
            name: account.name,
            role: membership.role,
            joined_at: membership.joined_at,
            suspended: membership.suspended,
        })
    }
}
