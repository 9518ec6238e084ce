//! Memberships: the item `pk = O#<org>`, `sk = M#<account>` (`account`, `role`, `joined`, and,
//! kept by SCIM, `suspended` and `groups`) with its companion `pk = A#<account>`, `sk =
//! OM#<org>` (`org`), each naming the other, so that either owner's deletion takes both. The
//! last-owner guard judges a change on the organization's members as read in its turn (see
//! [`super::turn`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::DynamoStore;
use super::super::Tables;
use super::super::items::{Item, Write, id, item, key, opt_time, s, stamp, text, time};
use super::super::org_roles::{role_from_item, role_key};
use super::super::owned::{account_owner, org_owner, owner_exists, with_companion};
use super::super::plan::stored_from_item;
use super::{ATTEMPTS, busy, org_from_item, org_key, turn};
use crate::model::org::{
    MemberFacts, OWNER, Release, another_owner, builtin_permissions, member_change, permissions_of, release,
};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::orgs::{Member, MemberChange, MemberCursor, Membership, OrgActor, Organization};

pub(in crate::store::dynamo) fn member_key(org_id: Uuid, account_id: Uuid) -> Item {
    key(org_owner(org_id), format!("M#{account_id}"))
}

fn membership_key(account_id: Uuid, org_id: Uuid) -> Item {
    key(account_owner(account_id), format!("OM#{org_id}"))
}

/// A membership as stored in the organization's partition.
#[derive(Clone, Debug)]
pub(in crate::store::dynamo) struct MemberItem {
    pub account: Uuid,
    pub role: String,
    pub joined: DateTime<Utc>,
    pub suspended: Option<DateTime<Utc>>,
    pub groups: Vec<String>,
}

pub(in crate::store::dynamo) fn member_from_item(found: &Item) -> StoreResult<MemberItem> {
    let groups = match found.get("groups") {
        Some(AttributeValue::Ss(names)) => names.clone(),
        _ => Vec::new(),
    };
    Ok(MemberItem {
        account: id(found, "account")?,
        role: text(found, "role")?.to_owned(),
        joined: time(found, "joined")?,
        suspended: opt_time(found, "suspended")?,
        groups,
    })
}

/// The writes of a new membership, to go with the organization's [`turn`] (which says that the
/// organization exists): the membership (on condition that there is none), its companion in
/// the account's partition, and the condition that the account exists (the third write).
pub(in crate::store::dynamo) fn member_writes(
    tables: &Tables,
    org_id: Uuid,
    account_id: Uuid,
    role: &str,
    joined: DateTime<Utc>,
) -> [Write; 3] {
    let (member, companion) = (member_key(org_id, account_id), membership_key(account_id, org_id));
    let mut written =
        item("", "", vec![("account", s(account_id.to_string())), ("role", s(role)), ("joined", stamp(joined))]);
    written.extend(member.clone());
    let mut back = item("", "", vec![("org", s(org_id.to_string()))]);
    back.extend(companion.clone());
    [
        Write::put(&tables.main, with_companion(written, &companion)).when("attribute_not_exists(#pk)"),
        Write::put(&tables.main, with_companion(back, &member)),
        owner_exists(tables, &account_owner(account_id)),
    ]
}

/// The writes that end a membership (the first on condition that it is there).
pub(in crate::store::dynamo) fn member_gone(tables: &Tables, org_id: Uuid, account_id: Uuid) -> [Write; 2] {
    [
        Write::delete(&tables.main, member_key(org_id, account_id)).when("attribute_exists(#pk)"),
        Write::delete(&tables.main, membership_key(account_id, org_id)),
    ]
}

/// What a change of `account_id`'s membership (its role changed to `role`, or, with `None`, its
/// removal) by `actor` may do: the model's decision ([`member_change`]) on the organization's
/// members and custom roles as read in the change's turn, as the SQL store's member guard asks
/// it. The second of two owners demoting each other at once finds the first's change in its turn.
fn decide(
    members: &[MemberItem],
    custom: &HashMap<String, Vec<String>>,
    account_id: Uuid,
    role: Option<&str>,
    actor: OrgActor,
) -> MemberChange {
    let role_of = |who: Uuid| members.iter().find(|m| m.account == who).map(|m| m.role.as_str());
    let actor_role = match actor {
        OrgActor::AsOwner => Some(OWNER),
        OrgActor::Member(actor) => role_of(actor),
    };
    let another_owner = another_owner(members.iter().map(|m| (m.account, m.role.as_str())), account_id);
    let facts = MemberFacts { actor_role, current: role_of(account_id), another_owner, custom };
    member_change(facts, role, actor == OrgActor::Member(account_id))
}

pub(in crate::store::dynamo) fn membership_of(
    org: &Organization,
    member: &MemberItem,
    custom: Option<Vec<String>>,
) -> Membership {
    Membership {
        org: org.clone(),
        account_id: member.account,
        permissions: permissions_of(&member.role, custom),
        role: member.role.clone(),
        joined_at: member.joined,
        groups: member.groups.clone(),
        suspended: member.suspended.is_some(),
    }
}

/// What deleting an account does to the organizations it owns: the writes for the deletion's
/// transaction, and the organizations deleted with it (what follows their deletion, see
/// [`DynamoStore::drop_org`], is for after it commits).
#[allow(dead_code)] // Until the account deletion calls it.
pub(in crate::store::dynamo) struct Released {
    pub writes: Vec<Write>,
    pub dropped: Vec<Uuid>,
}

impl DynamoStore {
    /// The organization's members (strongly consistent), in account order.
    pub(in crate::store::dynamo) async fn members(&self, org_id: Uuid) -> StoreResult<Vec<MemberItem>> {
        let found = self.partition(&self.tables.main, &org_owner(org_id), "M#").await?;
        found.iter().map(member_from_item).collect()
    }

    /// The organizations the account is a member of, by their companions in its partition.
    pub(in crate::store::dynamo) async fn orgs_of(&self, account_id: Uuid) -> StoreResult<Vec<Uuid>> {
        let found = self.partition(&self.tables.main, &account_owner(account_id), "OM#").await?;
        found.iter().map(|companion| id(companion, "org")).collect()
    }

    /// The account's membership of the organization with its role's permissions; with
    /// `granting`, only one that grants them (not suspended).
    pub(in crate::store::dynamo) async fn read_membership(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        granting: bool,
    ) -> StoreResult<Option<Membership>> {
        let Some(found) = self.get(&self.tables.main, member_key(org_id, account_id)).await? else { return Ok(None) };
        let member = member_from_item(&found)?;
        if granting && member.suspended.is_some() {
            return Ok(None);
        }
        let Some(read) = self.read_org(org_id).await? else { return Ok(None) };
        let custom = match builtin_permissions(&member.role) {
            Some(_) => None,
            None => self
                .get(&self.tables.main, role_key(org_id, &member.role))
                .await?
                .map(|r| role_from_item(&r))
                .transpose()?
                .map(|r| r.permissions),
        };
        Ok(Some(membership_of(&read.org, &member, custom)))
    }

    /// The account's memberships (with `granting`, the unsuspended ones), the oldest first.
    pub(in crate::store::dynamo) async fn memberships_of(
        &self,
        account_id: Uuid,
        granting: bool,
    ) -> StoreResult<Vec<Membership>> {
        let orgs = self.orgs_of(account_id).await?;
        let keys = orgs.iter().flat_map(|org| [org_key(*org), member_key(*org, account_id)]).collect();
        let (mut found_orgs, mut found_members) = (HashMap::new(), Vec::new());
        for found in self.batch_get(keys).await? {
            match text(&found, "sk")? {
                "O" => {
                    let org = org_from_item(&found)?;
                    found_orgs.insert(org.id, org);
                }
                _ => {
                    let org_id =
                        Uuid::parse_str(text(&found, "pk")?.trim_start_matches("O#")).map_err(anyhow::Error::from)?;
                    found_members.push((org_id, member_from_item(&found)?));
                }
            }
        }
        found_members.retain(|(org, member)| found_orgs.contains_key(org) && !(granting && member.suspended.is_some()));
        let roles: Vec<Item> = found_members
            .iter()
            .filter(|(_, member)| builtin_permissions(&member.role).is_none())
            .map(|(org, member)| role_key(*org, &member.role))
            .collect();
        let mut custom = HashMap::new();
        for found in self.batch_get(roles).await? {
            let org_id = Uuid::parse_str(text(&found, "pk")?.trim_start_matches("O#")).map_err(anyhow::Error::from)?;
            let role = role_from_item(&found)?;
            custom.insert((org_id, role.name), role.permissions);
        }
        let mut memberships: Vec<Membership> = found_members
            .iter()
            .filter_map(|(org_id, member)| {
                let org = found_orgs.get(org_id)?;
                Some(membership_of(org, member, custom.get(&(*org_id, member.role.clone())).cloned()))
            })
            .collect();
        memberships.sort_by_key(|m| (m.joined_at, m.org.id));
        Ok(memberships)
    }

    /// A page of the organization's members in the order they joined (then by account id),
    /// after the cursor's place, with their accounts' addresses and names (read with them).
    pub(in crate::store::dynamo) async fn members_page(
        &self,
        org_id: Uuid,
        after: Option<MemberCursor>,
        limit: u32,
    ) -> StoreResult<Vec<Member>> {
        let mut members = self.members(org_id).await?;
        members.sort_by_key(|m| (m.joined, m.account));
        if let Some(after) = after {
            members.retain(|m| (m.joined, m.account) > (after.joined_at, after.account_id));
        }
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut page = Vec::new();
        // An account deleted a moment ago may still have its membership: it is left out, as
        // the SQL store's join leaves it out.
        for chunk in members.chunks(limit.clamp(1, 100)) {
            let keys = chunk.iter().map(|m| key(account_owner(m.account), "A")).collect();
            let mut accounts = HashMap::new();
            for found in self.batch_get(keys).await? {
                let stored = stored_from_item(&found)?;
                accounts.insert(stored.account.id, stored.account);
            }
            for member in chunk {
                if page.len() >= limit {
                    return Ok(page);
                }
                let Some(account) = accounts.get(&member.account) else { continue };
                page.push(Member {
                    account_id: member.account,
                    email: account.email.clone(),
                    name: account.name.clone(),
                    role: member.role.clone(),
                    joined_at: member.joined,
                    suspended: member.suspended.is_some(),
                });
            }
            if page.len() >= limit {
                break;
            }
        }
        Ok(page)
    }

    /// Changes `account_id`'s membership (to `role`, or, with `None`, removes it) if the guard
    /// lets it, in the organization's turn.
    pub(in crate::store::dynamo) async fn change_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: Option<&str>,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange> {
        let told = self.told_built(effects).await?;
        for _ in 0..ATTEMPTS {
            let Some(read) = self.read_org(org_id).await? else { return Ok(MemberChange::NotFound) };
            let members = self.members(org_id).await?;
            let custom = self.custom_roles(org_id).await?;
            let allowed = decide(&members, &custom, account_id, role, actor);
            if allowed != MemberChange::Done {
                return Ok(allowed);
            }
            let mut writes = vec![turn(&self.tables, org_id, read.ver)];
            match role {
                Some(role) => writes.push(
                    Write::update(&self.tables.main, member_key(org_id, account_id), "SET #role = :role")
                        .when("attribute_exists(#pk)")
                        .value("role", s(role)),
                ),
                None => writes.extend(member_gone(&self.tables, org_id, account_id)),
            }
            // Any failed condition: the organization changed meanwhile, or the member's account
            // is being deleted; decide again.
            if self.commit(writes, &told).await?.is_none() {
                return Ok(MemberChange::Done);
            }
        }
        Err(busy(org_id))
    }

    /// For the deletion of the account `account_id`: the organizations it owns go with it when
    /// it is their only member (deleted on condition of their version); from those it owns with
    /// another owner its membership goes in the organization's turn (so no change of their
    /// members counts it as an owner meanwhile); one it alone owns with other members refuses
    /// the deletion ([`StoreError::LastOwner`]). A failed condition of these writes means an
    /// organization changed meanwhile: compute them again.
    #[allow(dead_code)] // Until the account deletion calls it.
    pub(in crate::store::dynamo) async fn released_orgs(&self, account_id: Uuid) -> StoreResult<Released> {
        let mut orgs = self.orgs_of(account_id).await?;
        orgs.sort();
        let mut released = Released { writes: Vec::new(), dropped: Vec::new() };
        for org_id in orgs {
            let Some(read) = self.read_org(org_id).await? else { continue };
            let members = self.members(org_id).await?;
            match release(account_id, members.iter().map(|m| (m.account, m.role.as_str()))) {
                Release::Dropped => {
                    released.writes.extend(self.org_deletion(&read).await?);
                    released.dropped.push(org_id);
                }
                Release::LastOwner => return Err(StoreError::LastOwner),
                Release::NotOwner => {}
                Release::Leaves => {
                    released.writes.push(turn(&self.tables, org_id, read.ver));
                    released.writes.extend(member_gone(&self.tables, org_id, account_id));
                }
            }
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(account: Uuid, role: &str) -> MemberItem {
        MemberItem { account, role: role.to_owned(), joined: Utc::now(), suspended: None, groups: Vec::new() }
    }

    #[test]
    fn the_guard_keeps_an_owner_and_reads_the_actor_s_role() {
        let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let none = HashMap::new();
        let alone = [member(ann, OWNER), member(bob, "member")];
        assert_eq!(decide(&alone, &none, ann, Some("admin"), OrgActor::AsOwner), MemberChange::LastOwner);
        assert_eq!(decide(&alone, &none, ann, None, OrgActor::Member(ann)), MemberChange::LastOwner);
        assert_eq!(decide(&alone, &none, ann, Some("nobody"), OrgActor::AsOwner), MemberChange::UnknownRole);
        assert_eq!(decide(&alone, &none, ann, Some("admin"), OrgActor::Member(bob)), MemberChange::Forbidden);
        assert_eq!(decide(&alone, &none, Uuid::now_v7(), None, OrgActor::AsOwner), MemberChange::NotFound);
        let two = [member(ann, OWNER), member(bob, OWNER)];
        assert_eq!(decide(&two, &none, ann, Some("member"), OrgActor::Member(bob)), MemberChange::Done);
    }
}
