//! An organization's SCIM groups, in its partition: `SG#<id>` (its name, `externalId`, times
//! and the string set `members` of account ids), its name held by the marker `SGN#<lower
//! case>`. A membership keeps its groups' names (`groups` of `M#<account>`), rewritten in the
//! transaction of every change of them, so that the `org` claim reads them with the
//! membership.
//!
//! An account is a group's member while it is in the group's set and its membership names the
//! group: a membership that ended another way (an admin removed it, the account was deleted)
//! takes its names with it, and a new one of the same account names none, as the SQL store's
//! cascade leaves them. Each change takes the organization's turn (see `scim.rs`), so the
//! counts, names and sets it read still hold when it is written.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::items::{Item, Write, id, item, key, opt_text, s, stamp, text, time};
use super::owned::org_owner;
use super::scim::{ATTEMPTS, Attempt, Member, member_key, name_key, org_turn, string_set};
use super::{DynamoStore, MAX_TRANSACTION, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::model::scim::{MAX_GROUP_NAME_BYTES, MAX_GROUPS, MAX_MEMBER_GROUPS};
use crate::store::error::{StoreError, StoreResult};
use crate::store::scim::{GroupWrite, MembersChange, Page, ScimGroup, ScimGroupStore};

pub(super) fn group_key(org_id: Uuid, id: Uuid) -> Item {
    key(org_owner(org_id), format!("SG#{id}"))
}

pub(super) fn group_name_marker(org_id: Uuid, name_key: &str) -> Item {
    key(org_owner(org_id), format!("SGN#{name_key}"))
}

/// A group as stored: without its members, and the set its members are found in.
struct Stored {
    group: ScimGroup,
    name_key: String,
    set: BTreeSet<Uuid>,
}

fn group_from(item: &Item, org_id: Uuid) -> StoreResult<Stored> {
    let set = string_set(item, "members")
        .iter()
        .map(|member| Uuid::parse_str(member).map_err(|_| anyhow::anyhow!("a group member that is no id").into()))
        .collect::<StoreResult<_>>()?;
    let group = ScimGroup {
        id: id(item, "id")?,
        org_id,
        display_name: text(item, "name")?.to_owned(),
        external_id: opt_text(item, "external")?.map(str::to_owned),
        members: Vec::new(),
        created_at: time(item, "created")?,
        updated_at: time(item, "updated")?,
    };
    Ok(Stored { group, name_key: text(item, "name_key")?.to_owned(), set })
}

fn group_write(tables: &Tables, group: &ScimGroup, members: &BTreeSet<Uuid>) -> Write {
    let mut attributes = vec![
        ("id", s(group.id.to_string())),
        ("name", s(&group.display_name)),
        ("name_key", s(name_key(&group.display_name))),
        ("created", stamp(group.created_at)),
        ("updated", stamp(group.updated_at)),
    ];
    if let Some(external) = &group.external_id {
        attributes.push(("external", s(external)));
    }
    if !members.is_empty() {
        attributes.push(("members", AttributeValue::Ss(members.iter().map(Uuid::to_string).collect())));
    }
    let mut written = item("", "", attributes);
    written.extend(group_key(group.org_id, group.id));
    Write::put(&tables.main, written)
}

fn name_claim(tables: &Tables, group: &ScimGroup) -> Write {
    let mut marker = item("", "", vec![("group", s(group.id.to_string()))]);
    marker.extend(group_name_marker(group.org_id, &name_key(&group.display_name)));
    Write::put(&tables.main, marker).when("attribute_not_exists(#pk)")
}

/// Those of `set` whose membership names the group `name`, in the order of their ids.
fn live(set: &BTreeSet<Uuid>, name: &str, members: &HashMap<Uuid, Member>) -> Vec<Uuid> {
    set.iter().filter(|id| members.get(id).is_some_and(|m| m.groups.contains(name))).copied().collect()
}

/// The ids in `ids`, each once, in their order.
fn once(ids: &[Uuid]) -> Vec<Uuid> {
    let mut seen = BTreeSet::new();
    ids.iter().filter(|id| seen.insert(**id)).copied().collect()
}

impl DynamoStore {
    /// Plans a change of a group's members (`old` its name as stored, none for a new group;
    /// `new` its name to be): the set to write, with the writes of every touched membership's
    /// names added to `writes`, or what refuses it.
    async fn members_change(
        &self,
        org_id: Uuid,
        old: Option<&str>,
        new: &str,
        set: &BTreeSet<Uuid>,
        change: &MembersChange,
        writes: &mut Vec<Write>,
    ) -> StoreResult<Result<BTreeSet<Uuid>, GroupWrite>> {
        let mut named: BTreeSet<Uuid> = set.clone();
        match change {
            MembersChange::Keep => {}
            MembersChange::Replace(all) => named.extend(all),
            MembersChange::AddRemove { add, remove } => named.extend(add.iter().chain(remove)),
        }
        let members = self.members_among(org_id, &named).await?;
        let before: BTreeSet<Uuid> =
            old.map(|name| live(set, name, &members)).unwrap_or_default().into_iter().collect();
        let (add, remove): (Vec<Uuid>, Vec<Uuid>) = match change {
            MembersChange::Keep => (Vec::new(), Vec::new()),
            MembersChange::Replace(all) => {
                let all_set: BTreeSet<Uuid> = all.iter().copied().collect();
                let add = once(all).into_iter().filter(|id| !before.contains(id)).collect();
                (add, before.difference(&all_set).copied().collect())
            }
            MembersChange::AddRemove { add, remove } => (
                once(add).into_iter().filter(|id| !before.contains(id)).collect(),
                once(remove).into_iter().filter(|id| before.contains(id)).collect(),
            ),
        };
        if let Some(stranger) = add.iter().find(|id| !members.contains_key(id)) {
            return Ok(Err(GroupWrite::UnknownMember(*stranger)));
        }
        let mut after = before.clone();
        after.retain(|id| !remove.contains(id));
        after.extend(&add);
        let mut touched: BTreeSet<Uuid> = add.iter().chain(&remove).copied().collect();
        if old.is_some_and(|old| old != new) {
            touched.extend(&after);
        }
        for account_id in touched {
            let Some(member) = members.get(&account_id) else { continue };
            let mut names = member.groups.clone();
            if let Some(old) = old {
                names.remove(old);
            }
            if after.contains(&account_id) {
                names.insert(new.to_owned());
            }
            let bytes: usize = names.iter().map(String::len).sum();
            if names.len() > MAX_MEMBER_GROUPS || bytes > MAX_GROUP_NAME_BYTES {
                return Ok(Err(GroupWrite::TooManyGroups(account_id)));
            }
            writes.push(names_write(&self.tables, org_id, account_id, names));
        }
        Ok(Ok(after))
    }

    /// The groups' members (those the groups' sets hold and whose memberships name them).
    async fn with_members(&self, org_id: Uuid, stored: Vec<Stored>) -> StoreResult<Vec<ScimGroup>> {
        let named: BTreeSet<Uuid> = stored.iter().flat_map(|g| g.set.iter().copied()).collect();
        let members = self.members_among(org_id, &named).await?;
        Ok(stored
            .into_iter()
            .map(|mut g| {
                g.group.members = live(&g.set, &g.group.display_name, &members);
                g.group
            })
            .collect())
    }

    async fn read_group(&self, org_id: Uuid, id: Uuid) -> StoreResult<Option<Stored>> {
        let found = self.get(&self.tables.main, group_key(org_id, id)).await?;
        found.as_ref().map(|item| group_from(item, org_id)).transpose()
    }

    /// The group holding the name's marker.
    async fn name_holder_group(&self, org_id: Uuid, name_key: &str) -> StoreResult<Option<Uuid>> {
        let found = self.get(&self.tables.main, group_name_marker(org_id, name_key)).await?;
        found.map(|marker| id(&marker, "group")).transpose()
    }
}

/// The membership's groups' names rewritten (none: the attribute goes).
fn names_write(tables: &Tables, org_id: Uuid, account_id: Uuid, names: BTreeSet<String>) -> Write {
    let member = member_key(org_id, account_id);
    let write = if names.is_empty() {
        Write::update(&tables.main, member, "REMOVE #groups")
    } else {
        Write::update(&tables.main, member, "SET #groups = :groups")
            .value("groups", AttributeValue::Ss(names.into_iter().collect()))
    };
    write.when("attribute_exists(#pk)")
}

/// What a change's attempt came to, as the trait answers it (`None`: decide again).
fn settled(attempt: Attempt, on_refusal: GroupWrite) -> Option<GroupWrite> {
    match attempt {
        Attempt::Written => Some(GroupWrite::Done),
        Attempt::Refused(_) => Some(on_refusal),
        Attempt::Again => None,
    }
}

/// The refusal of a change whose writes would not fit one transaction: each member whose groups'
/// names change is one write, beside a few of the change's own.
fn too_large(writes: &[Write]) -> Option<GroupWrite> {
    let overhead = 10;
    (writes.len() > MAX_TRANSACTION).then_some(GroupWrite::TooLarge { at_most: MAX_TRANSACTION - overhead })
}

fn kept_changing(org_id: Uuid) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("the organization {org_id} kept changing while its groups changed"))
}

#[async_trait]
impl ScimGroupStore for DynamoStore {
    async fn insert_scim_group(
        &self,
        group: &ScimGroup,
        members: &[Uuid],
        effects: &Effects,
    ) -> StoreResult<GroupWrite> {
        timed!(DB, "insert_scim_group", async {
            let org_id = group.org_id;
            let key = name_key(&group.display_name);
            for _ in 0..ATTEMPTS {
                let Some(version) = self.org_version(org_id).await? else {
                    return Err(anyhow::anyhow!("no organization {org_id} to hold a group").into());
                };
                if self.name_holder_group(org_id, &key).await?.is_some() {
                    return Ok(GroupWrite::NameTaken);
                }
                if self.partition(&self.tables.main, &org_owner(org_id), "SG#").await?.len() >= MAX_GROUPS {
                    return Ok(GroupWrite::GroupLimit);
                }
                // The name's marker carries its uniqueness; the group's own key is new.
                let mut writes = vec![org_turn(&self.tables, org_id, version), name_claim(&self.tables, group)];
                let change = MembersChange::Replace(members.to_vec());
                let empty = BTreeSet::new();
                let after =
                    match self.members_change(org_id, None, &group.display_name, &empty, &change, &mut writes).await? {
                        Ok(after) => after,
                        Err(refused) => return Ok(refused),
                    };
                writes.push(group_write(&self.tables, group, &after).when("attribute_not_exists(#pk)"));
                writes.extend(self.told(effects).await?);
                if let Some(refused) = too_large(&writes) {
                    return Ok(refused);
                }
                if let Some(done) = settled(self.attempt(writes, &[1]).await?, GroupWrite::NameTaken) {
                    return Ok(done);
                }
            }
            Err(kept_changing(org_id))
        })
    }

    async fn scim_group(&self, org_id: Uuid, id: Uuid) -> StoreResult<Option<ScimGroup>> {
        timed!(DB, "scim_group", async {
            let Some(stored) = self.read_group(org_id, id).await? else { return Ok(None) };
            Ok(self.with_members(org_id, vec![stored]).await?.into_iter().next())
        })
    }

    async fn scim_groups(
        &self,
        org_id: Uuid,
        display_name: Option<&str>,
        external_id: Option<&str>,
        offset: u64,
        limit: u32,
        members: bool,
    ) -> StoreResult<Page<ScimGroup>> {
        timed!(DB, "scim_groups", async {
            let key = display_name.map(name_key);
            let mut tests = Vec::new();
            let mut values = Vec::new();
            if let Some(key) = &key {
                tests.push("#name_key = :name_key");
                values.push(("name_key", s(key)));
            }
            if let Some(external) = external_id {
                tests.push("#external = :external");
                values.push(("external", s(external)));
            }
            let items = self.partition_where(&org_owner(org_id), "SG#", &tests.join(" AND "), values).await?;
            let mut stored = items.iter().map(|item| group_from(item, org_id)).collect::<StoreResult<Vec<_>>>()?;
            stored.retain(|g| {
                key.as_ref().is_none_or(|k| *k == g.name_key)
                    && external_id.is_none_or(|e| g.group.external_id.as_deref() == Some(e))
            });
            stored.sort_by_key(|g| (g.group.created_at, g.group.id));
            let total = stored.len() as u64;
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            let page: Vec<Stored> = stored.into_iter().skip(offset).take(limit as usize).collect();
            let items = match members {
                true => self.with_members(org_id, page).await?,
                false => page.into_iter().map(|g| g.group).collect(),
            };
            Ok(Page { items, total })
        })
    }

    async fn update_scim_group(
        &self,
        group: &ScimGroup,
        members: &MembersChange,
        effects: &Effects,
    ) -> StoreResult<GroupWrite> {
        timed!(DB, "update_scim_group", async {
            let org_id = group.org_id;
            let key = name_key(&group.display_name);
            for _ in 0..ATTEMPTS {
                let Some(version) = self.org_version(org_id).await? else { return Ok(GroupWrite::NotFound) };
                let Some(current) = self.read_group(org_id, group.id).await? else { return Ok(GroupWrite::NotFound) };
                if self.name_holder_group(org_id, &key).await?.is_some_and(|holder| holder != group.id) {
                    return Ok(GroupWrite::NameTaken);
                }
                let mut writes = vec![org_turn(&self.tables, org_id, version)];
                let mut refusals = Vec::new();
                if key != current.name_key {
                    let gone = Write::delete(&self.tables.main, group_name_marker(org_id, &current.name_key))
                        .when("#group = :id")
                        .value("id", s(group.id.to_string()));
                    writes.push(gone);
                    refusals.push(writes.len());
                    writes.push(name_claim(&self.tables, group));
                }
                let old = current.group.display_name.as_str();
                let after = match self
                    .members_change(org_id, Some(old), &group.display_name, &current.set, members, &mut writes)
                    .await?
                {
                    Ok(after) => after,
                    Err(refused) => return Ok(refused),
                };
                let changed = ScimGroup { created_at: current.group.created_at, ..group.clone() };
                writes.push(group_write(&self.tables, &changed, &after).when("attribute_exists(#pk)"));
                writes.extend(self.told(effects).await?);
                if let Some(refused) = too_large(&writes) {
                    return Ok(refused);
                }
                if let Some(done) = settled(self.attempt(writes, &refusals).await?, GroupWrite::NameTaken) {
                    return Ok(done);
                }
            }
            Err(kept_changing(org_id))
        })
    }

    async fn delete_scim_group(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_scim_group", async {
            let told = self.told(effects).await?;
            let mut conflicts = 0;
            // The members whose names an earlier turn of this delete took the group off, and the
            // organization's version that turn left: while no other change took a turn since,
            // they are not read again (a large group's turns would read it whole each time).
            let (mut done, mut after_turn) = (BTreeSet::new(), None);
            while conflicts < ATTEMPTS {
                let Some(version) = self.org_version(org_id).await? else { return Ok(false) };
                if after_turn != Some(version) {
                    done.clear();
                }
                let Some(current) = self.read_group(org_id, id).await? else { return Ok(false) };
                let mut writes = vec![org_turn(&self.tables, org_id, version)];
                let pending: BTreeSet<Uuid> = current.set.difference(&done).copied().collect();
                let members = self.members_among(org_id, &pending).await?;
                let name = current.group.display_name.as_str();
                let mut renamed = Vec::new();
                for account_id in live(&pending, name, &members) {
                    let Some(member) = members.get(&account_id) else { continue };
                    let mut names = member.groups.clone();
                    names.remove(name);
                    writes.push(names_write(&self.tables, org_id, account_id, names));
                    renamed.push(account_id);
                }
                // A group of more members than one transaction holds loses their names in
                // turns of their own first (each at the organization's turn, so no change
                // interleaves), and goes with the last.
                let last = writes.len() + 2 + told.len() <= MAX_TRANSACTION;
                if last {
                    writes.push(Write::delete(&self.tables.main, group_key(org_id, id)).when("attribute_exists(#pk)"));
                    writes.push(Write::delete(&self.tables.main, group_name_marker(org_id, &current.name_key)));
                    writes.extend(told.iter().cloned());
                } else {
                    writes.truncate(MAX_TRANSACTION);
                    renamed.truncate(MAX_TRANSACTION - 1);
                }
                match self.attempt(writes, &[]).await? {
                    Attempt::Written if last => return Ok(true),
                    Attempt::Written => {
                        done.extend(renamed);
                        after_turn = Some(version + 1);
                    }
                    Attempt::Again | Attempt::Refused(_) => conflicts += 1,
                }
            }
            Err(kept_changing(org_id))
        })
    }
}
