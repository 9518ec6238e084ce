//! SCIM provisioning: an organization's SCIM tokens and the members its SCIM client
//! provisioned, kept in the organization's partition (`O#<id>`):
//!
//! - a token: `ST#<id>` (its name, times and hash), found by its hash through the companion
//!   `STK#<hash>` and by its id through `DSI#<id>` (the companion of its second owned item,
//!   `STI#<id>`): all four go with the token, or with the organization;
//! - a provisioned member: `SU#<account>` (its SCIM names, its attributes, whether SCIM made the
//!   account, and the `joined` stamp of the membership it was provisioned into), its `userName`
//!   held by the marker `SUN#<lower case>`;
//! - the organizations whose SCIM disabled an account (and so may enable it again): the string
//!   set `orgs` of the item `DSCIM` in the account's partition, deleted by any other write of the
//!   account's status (see [`scim_unmark`]).
//!
//! Memberships are the organizations' items (`M#<account>` with the companion `OM#<org>`);
//! SCIM writes them as every membership change does. Every change of a provisioned member or a
//! group reads the organization's `ver` first and writes it raised on condition that it is
//! unchanged ([`org_turn`]): an organization's member changes take turns, as the SQL store's
//! lock of the organization's row makes them, so what a change read of the partition (member
//! counts, names held, the member's role) still holds when it is written.
//!
//! A provisioned member outlives its membership when the membership ends another way (an admin
//! removes it, the account is deleted): it counts only while the membership it was provisioned
//! into is there, with the same `joined` stamp (what the SQL store's cascade gives), and the
//! next provisioning of its name or account writes over it.

mod tokens;
mod users;

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::{Item, Write, WriteError, id, item, key, n, number, opt_text, opt_time, s};
use super::items::{stamp, text, time};
use super::owned::{account_owner, org_owner, with_companion};
use super::plan::Stored;
use super::{DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::org::directory_spares;
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::scim::{
    NewScimToken, Page, Provision, Provisioned, ScimStore, ScimToken, ScimUser, ScimUserChange, ScimUserFilter,
    UserWrite,
};
use crate::tokens::opaque::TokenHash;

/// How many times a change is decided again when the organization changed meanwhile.
pub(super) const ATTEMPTS: usize = 8;

/// Up to this many memberships are read one by one; more, by a query of the partition.
const FEW: usize = 16;

/// The key a `userName` or a group's name is unique and found by: its lower case.
pub(super) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub(super) fn org_key(org_id: Uuid) -> Item {
    key(org_owner(org_id), "O")
}

/// The organization's turn: its version raised, on condition that it is still `version`
/// (every change of its members writes it, so they take turns).
pub(super) fn org_turn(tables: &Tables, org_id: Uuid, version: i64) -> Write {
    Write::update(&tables.main, org_key(org_id), "SET #ver = #ver + :one")
        .when("#ver = :ver")
        .value("ver", n(version))
        .value("one", n(1))
}

pub(super) fn member_key(org_id: Uuid, account_id: Uuid) -> Item {
    key(org_owner(org_id), format!("M#{account_id}"))
}

/// The companion of a membership, in the account's partition.
pub(super) fn membership_key(org_id: Uuid, account_id: Uuid) -> Item {
    key(account_owner(account_id), format!("OM#{org_id}"))
}

fn user_key(org_id: Uuid, account_id: Uuid) -> Item {
    key(org_owner(org_id), format!("SU#{account_id}"))
}

fn user_name_marker(org_id: Uuid, name_key: &str) -> Item {
    key(org_owner(org_id), format!("SUN#{name_key}"))
}

/// The item of the organizations whose SCIM disabled the account.
fn disabled_key(account_id: Uuid) -> Item {
    key(account_owner(account_id), "DSCIM")
}

/// The write that, in the transaction of any other write of the account's status, takes SCIM's
/// mark off it: SCIM enables again only an account it disabled itself, and the status is now
/// whoever wrote it last (the SQL store's `UPDATE scim_users SET disabled_account = false`).
/// For the account's `update_profile`, to join its transaction.
pub(super) fn scim_unmark(tables: &Tables, account_id: Uuid) -> Write {
    Write::delete(&tables.main, disabled_key(account_id))
}

/// A string set attribute (none when absent).
pub(super) fn string_set(item: &Item, name: &str) -> BTreeSet<String> {
    match item.get(name) {
        Some(AttributeValue::Ss(values)) => values.iter().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// A membership as SCIM reads it.
pub(super) struct Member {
    pub role: String,
    pub joined: String,
    pub suspended: Option<DateTime<Utc>>,
    /// The names of its groups.
    pub groups: BTreeSet<String>,
}

fn member_from(item: &Item) -> StoreResult<Member> {
    Ok(Member {
        role: text(item, "role")?.to_owned(),
        joined: text(item, "joined")?.to_owned(),
        suspended: opt_time(item, "suspended")?,
        groups: string_set(item, "groups"),
    })
}

/// The new membership items of `account_id` in `org_id`: the member, and its companion.
pub(super) fn new_membership(
    tables: &Tables,
    org_id: Uuid,
    account_id: Uuid,
    role: &str,
    joined: DateTime<Utc>,
    suspended: Option<DateTime<Utc>>,
) -> [Write; 2] {
    let (member, companion) = (member_key(org_id, account_id), membership_key(org_id, account_id));
    let mut attributes = vec![("account", s(account_id.to_string())), ("role", s(role)), ("joined", stamp(joined))];
    if let Some(since) = suspended {
        attributes.push(("suspended", stamp(since)));
    }
    let mut written = item("", "", attributes);
    written.extend(member.clone());
    let mut mark = item("", "", vec![("org", s(org_id.to_string()))]);
    mark.extend(companion.clone());
    let fresh = "attribute_not_exists(#pk)";
    [
        Write::put(&tables.main, with_companion(written, &companion)).when(fresh),
        Write::put(&tables.main, with_companion(mark, &member)).when(fresh),
    ]
}

/// A provisioned member's own record.
#[derive(Clone)]
pub(super) struct Record {
    pub account_id: Uuid,
    pub user_name: String,
    pub name_key: String,
    pub external_id: Option<String>,
    pub made: bool,
    pub attributes: String,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    /// The `joined` stamp of the membership it was provisioned into.
    pub joined: String,
}

fn record_from(item: &Item) -> StoreResult<Record> {
    Ok(Record {
        account_id: id(item, "account")?,
        user_name: text(item, "user_name")?.to_owned(),
        name_key: text(item, "name_key")?.to_owned(),
        external_id: opt_text(item, "external")?.map(str::to_owned),
        made: matches!(item.get("made"), Some(AttributeValue::Bool(true))),
        attributes: opt_text(item, "attrs")?.unwrap_or("{}").to_owned(),
        created: time(item, "created")?,
        updated: time(item, "updated")?,
        joined: text(item, "joined")?.to_owned(),
    })
}

fn record_item(org_id: Uuid, record: &Record) -> Item {
    let mut attributes = vec![
        ("account", s(record.account_id.to_string())),
        ("user_name", s(&record.user_name)),
        ("name_key", s(&record.name_key)),
        ("made", AttributeValue::Bool(record.made)),
        ("attrs", s(&record.attributes)),
        ("created", stamp(record.created)),
        ("updated", stamp(record.updated)),
        ("joined", s(&record.joined)),
    ];
    if let Some(external) = &record.external_id {
        attributes.push(("external", s(external)));
    }
    let mut written = item("", "", attributes);
    written.extend(user_key(org_id, record.account_id));
    written
}

fn scim_user(org_id: Uuid, record: Record, member: &Member, stored: &Stored, disabled: bool) -> ScimUser {
    ScimUser {
        org_id,
        account_id: record.account_id,
        user_name: record.user_name,
        external_id: record.external_id,
        email: stored.account.email.clone(),
        name: stored.account.name.clone(),
        active: member.suspended.is_none(),
        created_account: record.made,
        disabled_account: disabled,
        attributes: serde_json::from_str(&record.attributes).unwrap_or_default(),
        created_at: record.created,
        updated_at: record.updated,
    }
}

/// A provisioned member as a change reads it, after the organization's version.
pub(super) enum Current {
    Member(Box<(Record, Member, Stored)>),
    Missing,
    /// The organization's owner, or a server admin's account: promoted since it was
    /// provisioned, and no longer SCIM's to change.
    Protected,
}

/// What one attempt at a change came to.
pub(super) enum Attempt {
    Written,
    /// Something it read changed meanwhile: decide again.
    Again,
    /// The condition of this write (one of those named as refusals) failed.
    Refused(usize),
}

impl DynamoStore {
    /// The organization's version, `None` when there is no such organization.
    pub(super) async fn org_version(&self, org_id: Uuid) -> StoreResult<Option<i64>> {
        let found = self.get(&self.tables.main, org_key(org_id)).await?;
        found.map(|org| number(&org, "ver")).transpose()
    }

    pub(super) async fn member(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Member>> {
        let found = self.get(&self.tables.main, member_key(org_id, account_id)).await?;
        found.as_ref().map(member_from).transpose()
    }

    /// The memberships of those of `ids` that are members of the organization.
    pub(super) async fn members_among(&self, org_id: Uuid, ids: &BTreeSet<Uuid>) -> StoreResult<HashMap<Uuid, Member>> {
        let mut found = HashMap::new();
        if ids.len() <= FEW {
            for account_id in ids {
                if let Some(member) = self.member(org_id, *account_id).await? {
                    found.insert(*account_id, member);
                }
            }
            return Ok(found);
        }
        for item in self.partition(&self.tables.main, &org_owner(org_id), "M#").await? {
            let account_id = id(&item, "account")?;
            if ids.contains(&account_id) {
                found.insert(account_id, member_from(&item)?);
            }
        }
        Ok(found)
    }

    /// Writes one attempt at a change of an organization (its [`org_turn`] among `writes`).
    pub(super) async fn attempt(&self, writes: Vec<Write>, refusals: &[usize]) -> StoreResult<Attempt> {
        let built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
        match self.transact(built).await {
            Ok(()) => Ok(Attempt::Written),
            Err(WriteError::Conflict) => Ok(Attempt::Again),
            Err(WriteError::Store(error)) => Err(error),
            Err(failed) => {
                Ok(refusals.iter().find(|i| failed.failed(**i)).map_or(Attempt::Again, |i| Attempt::Refused(*i)))
            }
        }
    }

    /// The record of the member provisioned as `account_id`, while its membership is the one
    /// it was provisioned into.
    async fn live_record(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<(Record, Member)>> {
        let found = self.get(&self.tables.main, user_key(org_id, account_id)).await?;
        let Some(record) = found.as_ref().map(record_from).transpose()? else { return Ok(None) };
        let member = self.member(org_id, account_id).await?;
        Ok(member.filter(|m| m.joined == record.joined).map(|m| (record, m)))
    }

    /// The provisioned member with its membership and account, as a change reads it.
    pub(super) async fn provisioned(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Current> {
        let Some((record, member)) = self.live_record(org_id, account_id).await? else { return Ok(Current::Missing) };
        let Some(stored) = self.read_account(account_id).await? else { return Ok(Current::Missing) };
        if directory_spares(&member.role, stored.account.role) {
            return Ok(Current::Protected);
        }
        Ok(Current::Member(Box::new((record, member, stored))))
    }

    /// The organizations whose SCIM disabled the account (their ids).
    pub(super) async fn disabled_by(&self, account_id: Uuid) -> StoreResult<Option<BTreeSet<String>>> {
        let found = self.get(&self.tables.main, disabled_key(account_id)).await?;
        Ok(found.map(|item| string_set(&item, "orgs")))
    }

    async fn read_user(&self, org_id: Uuid, record: Record, member: &Member) -> StoreResult<Option<ScimUser>> {
        let Some(stored) = self.read_account(record.account_id).await? else { return Ok(None) };
        let disabled =
            self.disabled_by(record.account_id).await?.is_some_and(|orgs| orgs.contains(&org_id.to_string()));
        Ok(Some(scim_user(org_id, record, member, &stored, disabled)))
    }
}

#[async_trait]
impl ScimStore for DynamoStore {
    async fn insert_scim_token(&self, new: &NewScimToken, max: usize, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "insert_scim_token", self.insert_token(new, max, effects))
    }

    async fn scim_tokens(&self, org_id: Uuid) -> StoreResult<Vec<ScimToken>> {
        timed!(DB, "scim_tokens", self.tokens_of(org_id))
    }

    async fn scim_tokens_with_hashes(&self, org_id: Uuid) -> StoreResult<Vec<NewScimToken>> {
        timed!(DB, "scim_tokens_with_hashes", self.tokens_with_hashes(org_id))
    }

    async fn scim_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<ScimToken>> {
        timed!(DB, "scim_token_by_hash", self.token_by_hash(hash))
    }

    async fn scim_token_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "scim_token_used", self.token_used(id, now))
    }

    async fn delete_scim_token(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_scim_token", self.delete_token(org_id, id, effects))
    }

    async fn scim_user(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<ScimUser>> {
        timed!(DB, "scim_user", async {
            let Some((record, member)) = self.live_record(org_id, account_id).await? else { return Ok(None) };
            self.read_user(org_id, record, &member).await
        })
    }

    async fn scim_users(
        &self,
        org_id: Uuid,
        filter: &ScimUserFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<ScimUser>> {
        timed!(DB, "scim_users", async {
            let user_name = filter.user_name.as_deref().map(name_key);
            let mut records = match &filter.email {
                // The address's marker names the one account that has it.
                Some(email) => {
                    let marker = self.get(&self.tables.main, key(format!("E#{}", email.to_lowercase()), "E")).await?;
                    let Some(account_id) = marker.map(|m| id(&m, "account")).transpose()? else {
                        return Ok(Page { items: Vec::new(), total: 0 });
                    };
                    let found = self.get(&self.tables.main, user_key(org_id, account_id)).await?;
                    found.as_ref().map(record_from).transpose()?.into_iter().collect()
                }
                None => {
                    let mut tests = Vec::new();
                    let mut values = Vec::new();
                    if let Some(key) = &user_name {
                        tests.push("#name_key = :name_key");
                        values.push(("name_key", s(key)));
                    }
                    if let Some(external) = &filter.external_id {
                        tests.push("#external = :external");
                        values.push(("external", s(external)));
                    }
                    let items = self.partition_where(&org_owner(org_id), "SU#", &tests.join(" AND "), values).await?;
                    items.iter().map(record_from).collect::<StoreResult<Vec<_>>>()?
                }
            };
            records.retain(|r| {
                user_name.as_ref().is_none_or(|k| *k == r.name_key)
                    && filter.external_id.as_ref().is_none_or(|e| r.external_id.as_ref() == Some(e))
            });
            let ids: BTreeSet<Uuid> = records.iter().map(|r| r.account_id).collect();
            let mut members = self.members_among(org_id, &ids).await?;
            records.retain(|r| members.get(&r.account_id).is_some_and(|m| m.joined == r.joined));
            records.sort_by_key(|r| (r.created, r.account_id));
            let total = records.len() as u64;
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            let mut items = Vec::new();
            for record in records.into_iter().skip(offset).take(limit as usize) {
                let Some(member) = members.remove(&record.account_id) else { continue };
                items.extend(self.read_user(org_id, record, &member).await?);
            }
            Ok(Page { items, total })
        })
    }

    async fn provision_scim_user(
        &self,
        provision: &Provision<'_>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Provisioned> {
        timed!(DB, "provision_scim_user", self.provision(provision, member_limit, effects))
    }

    async fn update_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        change: &ScimUserChange<'_>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        timed!(DB, "update_scim_user", self.change_user(org_id, account_id, change, effects))
    }

    async fn deprovision_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        disable_account: bool,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        timed!(DB, "deprovision_scim_user", self.deprovision(org_id, account_id, disable_account, now, effects))
    }
}
