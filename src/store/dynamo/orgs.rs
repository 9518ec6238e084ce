//! Organizations: the organization item (`pk = O#<id>`, `sk = O`) with its version `ver`, its
//! slug's marker (`OS#<slug>`, put on condition that it does not exist: one organization per
//! slug), and everything it owns in its partition (members `M#<account>`, custom roles
//! `ROLE#<name>`, domains `D#<domain>`, invitations `I#<id>`, auto-joins `CJ#<account>`).
//!
//! Every change of what an organization's members may do (its members, their roles, its custom
//! roles, domains and invitations) reads the organization's `ver` first, then what it decides
//! on (strongly consistent), and writes in its transaction `SET #ver = #ver + 1` on condition
//! that `ver` is still what it read ([`turn`]): such changes of one organization take turns as
//! the SQL store's lock of the organization's row makes them, so the last-owner guard, the
//! member counts and the role checks are exact. A failed `ver` condition means "changed
//! meanwhile": the change reads again and decides again (up to [`ATTEMPTS`] times).
//!
//! The list of every organization is the `listing` index (`by_pk = ORGS`, `by_sk = <id>`), which lags
//! a write by a moment.

mod members;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use uuid::Uuid;

// What the other ports that change memberships (SCIM, the account deletion) build on.
#[allow(unused_imports)]
pub(super) use self::members::{MemberItem, Released, member_gone, member_key, member_writes, membership_of};
use super::items::{Item, Write, WriteError, id, item, key, n, names, number, s, sdk_error, stamp, text, time};
use super::{DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::org::{OWNER, OrgPolicy, Release, Slug, release};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::orgs::{
    Member, MemberChange, MemberCursor, Membership, NewOrganization, OrgActor, OrgChange, OrgKey, OrgStore,
    Organization,
};

/// How many times a change of an organization decides again when another came first.
pub(super) const ATTEMPTS: usize = 8;

/// The `listing` index partition listing every organization.
const ORGS: &str = "ORGS";

pub(super) fn org_key(id: Uuid) -> Item {
    key(super::owned::org_owner(id), "O")
}

fn slug_key(slug: &str) -> Item {
    key(format!("OS#{slug}"), "OS")
}

/// An organization as read for a change, with the version the change's transaction checks.
pub(super) struct OrgRead {
    pub org: Organization,
    pub ver: i64,
}

/// The write every change of an organization's members, roles, domains or invitations puts in
/// its transaction: the organization's version raised, on condition that it is still `ver` (so
/// two such changes of one organization never both decide on the same state). It fails too
/// when the organization is gone, so it also says that the organization exists.
pub(super) fn turn(tables: &Tables, org_id: Uuid, ver: i64) -> Write {
    Write::update(&tables.main, org_key(org_id), "SET #ver = #ver + :one")
        .when("#ver = :ver")
        .value("ver", n(ver))
        .value("one", n(1))
}

fn org_item(org: &Organization, ver: i64) -> StoreResult<Item> {
    let data = serde_json::to_string(&org.data).map_err(anyhow::Error::from)?;
    let policy = serde_json::to_string(&org.policy.to_map()).map_err(anyhow::Error::from)?;
    Ok(item(
        super::owned::org_owner(org.id),
        "O",
        vec![
            ("id", s(org.id.to_string())),
            ("name", s(org.name.as_str())),
            ("name_norm", s(org.name.to_lowercase())),
            ("slug", s(org.slug.as_str())),
            ("data", s(data)),
            ("policy", s(policy)),
            ("created", stamp(org.created_at)),
            ("updated", stamp(org.updated_at)),
            ("ver", n(ver)),
            ("by_pk", s(ORGS)),
            ("by_sk", s(org.id.to_string())),
        ],
    ))
}

pub(super) fn org_from_item(found: &Item) -> StoreResult<Organization> {
    let data = serde_json::from_str(text(found, "data")?).map_err(anyhow::Error::from)?;
    let policy = serde_json::from_str(text(found, "policy")?).map_err(anyhow::Error::from)?;
    Ok(Organization {
        id: id(found, "id")?,
        name: text(found, "name")?.to_owned(),
        slug: text(found, "slug")?.to_owned(),
        data,
        policy: OrgPolicy::from_stored(Some(policy)),
        created_at: time(found, "created")?,
        updated_at: time(found, "updated")?,
    })
}

/// The slug marker of `org`, new or already this organization's ([`StoreError::SlugTaken`]
/// when another holds it).
fn claim_slug(tables: &Tables, slug: &str, org_id: Uuid) -> Write {
    let marker = item(format!("OS#{slug}"), "OS", vec![("org", s(org_id.to_string()))]);
    Write::put(&tables.main, marker).when("attribute_not_exists(#pk) OR #org = :id").value("id", s(org_id.to_string()))
}

fn release_slug(tables: &Tables, slug: &str, org_id: Uuid) -> Write {
    Write::delete(&tables.main, slug_key(slug))
        .when("attribute_not_exists(#pk) OR #org = :id")
        .value("id", s(org_id.to_string()))
}

/// The organization `id`'s change could not be written: it kept changing meanwhile.
pub(super) fn busy(org_id: Uuid) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("the organization {org_id} kept changing while a change was written"))
}

impl DynamoStore {
    /// The organization `id` with its version (a strongly consistent read).
    pub(super) async fn read_org(&self, id: Uuid) -> StoreResult<Option<OrgRead>> {
        let Some(found) = self.get(&self.tables.main, org_key(id)).await? else { return Ok(None) };
        Ok(Some(OrgRead { org: org_from_item(&found)?, ver: number(&found, "ver")? }))
    }

    /// Writes `writes` and `told` in one transaction: `None` when written, else how it failed
    /// ([`WriteError::Condition`] with which conditions failed, or [`WriteError::Conflict`]: in
    /// either case the caller decides again unless a refusal of its own failed).
    pub(super) async fn commit(
        &self,
        writes: Vec<Write>,
        told: &[TransactWriteItem],
    ) -> StoreResult<Option<WriteError>> {
        let mut built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
        built.extend(told.iter().cloned());
        match self.transact(built).await {
            Ok(()) => Ok(None),
            Err(WriteError::Store(error)) => Err(error),
            Err(failed) => Ok(Some(failed)),
        }
    }

    /// What follows an organization's deletion: everything it owned, with their companions.
    pub(super) async fn drop_org(&self, org_id: Uuid) {
        if let Err(error) = self.drop_owned(&super::owned::org_owner(org_id)).await {
            // Unreachable without the organization; the deletion stands.
            tracing::warn!(org = %org_id, error = %error, "items of a deleted organization were left behind");
        }
    }

    /// The writes that delete the organization as read (on condition of its version) with its
    /// slug's marker and its verified domains' markers; the rest of its partition goes after
    /// the deletion commits ([`Self::drop_org`]).
    pub(super) async fn org_deletion(&self, read: &OrgRead) -> StoreResult<Vec<Write>> {
        let org_id = read.org.id;
        let gone = Write::delete(&self.tables.main, org_key(org_id)).when("#ver = :ver").value("ver", n(read.ver));
        let mut writes = vec![gone, release_slug(&self.tables, &read.org.slug, org_id)];
        writes.extend(self.verified_markers(org_id).await?.into_iter().map(|marker| {
            Write::delete(&self.tables.main, marker)
                .when("attribute_not_exists(#pk) OR #org = :id")
                .value("id", s(org_id.to_string()))
        }));
        Ok(writes)
    }
}

#[async_trait]
impl OrgStore for DynamoStore {
    async fn insert_org(&self, new: &NewOrganization, effects: &Effects) -> StoreResult<Organization> {
        timed!(DB, "insert_org", async {
            let org = Organization {
                id: new.id,
                name: new.name.clone(),
                slug: new.slug.as_str().to_owned(),
                data: new.data.clone(),
                policy: OrgPolicy::default(),
                created_at: new.now,
                updated_at: new.now,
            };
            let mut writes = vec![
                Write::put(&self.tables.main, org_item(&org, 1)?).when("attribute_not_exists(#pk)"),
                // The slug's marker: one organization per slug.
                Write::put(
                    &self.tables.main,
                    item(format!("OS#{}", org.slug), "OS", vec![("org", s(org.id.to_string()))]),
                )
                .when("attribute_not_exists(#pk)"),
            ];
            writes.extend(member_writes(&self.tables, org.id, new.owner, OWNER, new.now));
            let told = self.told_built(effects).await?;
            match self.commit(writes, &told).await? {
                None => Ok(org),
                Some(failed) if failed.failed(1) => Err(StoreError::SlugTaken),
                Some(WriteError::Conflict) => Err(StoreError::Conflict),
                Some(_) => Err(anyhow::anyhow!("insert_org: the organization exists, or its owner does not").into()),
            }
        })
    }

    async fn find_org(&self, key: OrgKey<'_>) -> StoreResult<Option<Organization>> {
        timed!(DB, "find_org", async {
            let id = match key {
                OrgKey::Id(id) => id,
                // What no slug can be names no organization.
                OrgKey::Slug(slug) if Slug::parse(slug).is_none() => return Ok(None),
                OrgKey::Slug(slug) => {
                    let Some(marker) = self.get(&self.tables.main, slug_key(slug)).await? else { return Ok(None) };
                    id(&marker, "org")?
                }
            };
            let found = self.read_org(id).await?.map(|read| read.org);
            Ok(found.filter(|org| !matches!(key, OrgKey::Slug(slug) if org.slug != slug)))
        })
    }

    async fn list_orgs(&self, q: Option<&str>, before: Option<Uuid>, limit: u32) -> StoreResult<Vec<Organization>> {
        timed!(DB, "list_orgs", async {
            // The `listing` index: it lags a new or changed organization by a moment.
            let condition = match before {
                Some(_) => "#by_pk = :pk AND #by_sk < :before",
                None => "#by_pk = :pk",
            };
            let filter = q.map(|_| "contains(#name_norm, :q) OR contains(#slug, :q)");
            let mut request = self
                .client
                .query()
                .table_name(&self.tables.main)
                .index_name("listing")
                .key_condition_expression(condition)
                .set_filter_expression(filter.map(str::to_owned))
                .set_expression_attribute_names(names(&[condition, filter.unwrap_or_default()]))
                .expression_attribute_values(":pk", s(ORGS))
                .scan_index_forward(false);
            if let Some(before) = before {
                request = request.expression_attribute_values(":before", s(before.to_string()));
            }
            if let Some(q) = q {
                request = request.expression_attribute_values(":q", s(q.to_lowercase()));
            }
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let mut listed = Vec::new();
            let mut items = request.into_paginator().items().send();
            while listed.len() < limit
                && let Some(found) = items.next().await
            {
                listed.push(org_from_item(&found.map_err(sdk_error)?)?);
            }
            Ok(listed)
        })
    }

    async fn update_org(&self, id: Uuid, change: &OrgChange, effects: &Effects) -> StoreResult<Option<Organization>> {
        timed!(DB, "update_org", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(id).await? else { return Ok(None) };
                let org = Organization {
                    name: change.name.clone(),
                    slug: change.slug.as_str().to_owned(),
                    data: change.data.clone(),
                    policy: change.policy.clone(),
                    updated_at: change.now,
                    ..read.org.clone()
                };
                // The organization on condition of its version (and raised with it).
                let written = Write::put(&self.tables.main, org_item(&org, read.ver + 1)?)
                    .when("#ver = :ver")
                    .value("ver", n(read.ver));
                let mut writes = vec![written];
                if org.slug != read.org.slug {
                    writes.push(claim_slug(&self.tables, &org.slug, id));
                    writes.push(release_slug(&self.tables, &read.org.slug, id));
                }
                match self.commit(writes, &told).await? {
                    None => return Ok(Some(org)),
                    Some(failed) if failed.failed(1) => return Err(StoreError::SlugTaken),
                    Some(_) => continue,
                }
            }
            Err(busy(id))
        })
    }

    async fn delete_org(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_org", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(id).await? else { return Ok(false) };
                let writes = self.org_deletion(&read).await?;
                match self.commit(writes, &told).await? {
                    None => {
                        self.drop_org(id).await;
                        return Ok(true);
                    }
                    Some(_) => continue,
                }
            }
            Err(busy(id))
        })
    }

    async fn memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>> {
        timed!(DB, "memberships", self.memberships_of(account_id, true))
    }

    async fn membership(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>> {
        timed!(DB, "membership", self.read_membership(org_id, account_id, true))
    }

    async fn membership_record(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>> {
        timed!(DB, "membership_record", self.read_membership(org_id, account_id, false))
    }

    async fn all_memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>> {
        timed!(DB, "all_memberships", self.memberships_of(account_id, false))
    }

    async fn list_members(&self, org_id: Uuid, after: Option<MemberCursor>, limit: u32) -> StoreResult<Vec<Member>> {
        timed!(DB, "list_members", self.members_page(org_id, after, limit))
    }

    async fn orgs_only_owned_by(&self, account_id: Uuid) -> StoreResult<Vec<Uuid>> {
        timed!(DB, "orgs_only_owned_by", async {
            let mut alone = Vec::new();
            for org_id in self.orgs_of(account_id).await? {
                let members = self.members(org_id).await?;
                if release(account_id, members.iter().map(|m| (m.account, m.role.as_str()))) == Release::LastOwner {
                    alone.push(org_id);
                }
            }
            alone.sort();
            Ok(alone)
        })
    }

    async fn count_members(&self, org_id: Uuid) -> StoreResult<u64> {
        timed!(DB, "count_members", self.count(&super::owned::org_owner(org_id), "M#"))
    }

    async fn add_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        now: chrono::DateTime<chrono::Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(DB, "add_member", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(org_id).await? else { return Ok(false) };
                if self.get(&self.tables.main, member_key(org_id, account_id)).await?.is_some() {
                    return Ok(false);
                }
                let mut writes = vec![turn(&self.tables, org_id, read.ver)];
                writes.extend(member_writes(&self.tables, org_id, account_id, role, now));
                match self.commit(writes, &told).await? {
                    None => return Ok(true),
                    // The account is gone.
                    Some(failed) if failed.failed(3) => return Ok(false),
                    Some(_) => continue,
                }
            }
            Err(busy(org_id))
        })
    }

    async fn set_member_role(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange> {
        timed!(DB, "set_member_role", self.change_member(org_id, account_id, Some(role), actor, effects))
    }

    async fn remove_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange> {
        timed!(DB, "remove_member", self.change_member(org_id, account_id, None, actor, effects))
    }
}
