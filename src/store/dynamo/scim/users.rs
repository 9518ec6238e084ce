//! Provisioning, changing and deprovisioning a member: each one transaction that takes the
//! organization's turn ([`org_turn`]), decided from what was read after the organization's
//! version, and decided again when that version moved.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::DynamoStore;
use super::super::accounts::new_account;
use super::super::items::{Item, Write, id, item, key, s, stamp, stamp_text};
use super::super::owned::{account_owner, org_owner, owner_exists};
use super::super::plan::{Plan, Stored};
use super::super::scim_groups::{group_key, group_name_marker};
use super::{
    ATTEMPTS, Attempt, Current, Record, disabled_key, member_key, membership_key, name_key, new_membership, org_turn,
    record_from, record_item, user_key, user_name_marker,
};
use crate::model::account::Status;
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::scim::{Provision, Provisioned, ScimUserChange, UserWrite};

/// The writes of a change, and for each write whose failed condition refuses the change, what
/// it means (the `userName` marker's: [`StoreError::Conflict`]).
#[derive(Default)]
struct Change {
    writes: Vec<Write>,
    refusals: Vec<(usize, fn() -> StoreError)>,
}

impl Change {
    fn refused_by(&mut self, write: Write, refusal: fn() -> StoreError) {
        self.refusals.push((self.writes.len(), refusal));
        self.writes.push(write);
    }

    /// Adds an account's plan: its writes, its refusals and what it tells.
    async fn with_plan(&mut self, store: &DynamoStore, mut plan: Plan<()>, effects: &Effects) -> StoreResult<()> {
        plan.tell(&store.tables, effects)?;
        let deliveries = store.deliveries_of(&plan.events, plan.account.as_ref()).await?;
        let base = self.writes.len();
        self.refusals.extend(plan.refusals.iter().map(|(i, refusal)| (base + i, *refusal)));
        self.writes.extend(plan.writes);
        self.writes.extend(deliveries);
        Ok(())
    }

    /// Writes it: `Ok(None)` when it is to be decided again.
    async fn write(self, store: &DynamoStore) -> StoreResult<Option<Result<(), StoreError>>> {
        let indexes: Vec<usize> = self.refusals.iter().map(|(i, _)| *i).collect();
        match store.attempt(self.writes, &indexes).await? {
            Attempt::Written => Ok(Some(Ok(()))),
            Attempt::Again => Ok(None),
            Attempt::Refused(at) => {
                let refusal = self.refusals.iter().find(|(i, _)| *i == at).map(|(_, r)| r());
                Ok(Some(Err(refusal.unwrap_or(StoreError::Conflict))))
            }
        }
    }
}

/// The `userName` marker of `name_key` for `account_id`, taken from a holder whose membership
/// ended (`stale`) or new: the marker carries the name's uniqueness.
fn claim_name(store: &DynamoStore, org_id: Uuid, name_key: &str, account_id: Uuid, stale: Option<Uuid>) -> Write {
    let marker = {
        let mut marker = item("", "", vec![("account", s(account_id.to_string()))]);
        marker.extend(user_name_marker(org_id, name_key));
        marker
    };
    let claim = Write::put(&store.tables.main, marker);
    match stale {
        Some(holder) => {
            claim.when("attribute_not_exists(#pk) OR #account = :holder").value("holder", s(holder.to_string()))
        }
        None => claim.when("attribute_not_exists(#pk)"),
    }
}

/// Puts the organization on the account's SCIM mark: its SCIM disabled the account.
fn mark_org(store: &DynamoStore, account_id: Uuid, org_id: Uuid) -> Write {
    let org = aws_sdk_dynamodb::types::AttributeValue::Ss(vec![org_id.to_string()]);
    Write::update(&store.tables.main, disabled_key(account_id), "ADD #orgs :org").value("org", org)
}

/// Takes the organization off the account's SCIM mark.
fn unmark_org(store: &DynamoStore, account_id: Uuid, org_id: Uuid) -> Write {
    let org = aws_sdk_dynamodb::types::AttributeValue::Ss(vec![org_id.to_string()]);
    Write::update(&store.tables.main, disabled_key(account_id), "DELETE #orgs :org")
        .when("attribute_exists(#pk)")
        .value("org", org)
}

impl DynamoStore {
    /// The account holding the `userName` marker, and whether its record is live.
    async fn name_holder(&self, org_id: Uuid, name_key: &str) -> StoreResult<Option<(Uuid, bool)>> {
        let found = self.get(&self.tables.main, user_name_marker(org_id, name_key)).await?;
        let Some(holder) = found.map(|m| id(&m, "account")).transpose()? else { return Ok(None) };
        Ok(Some((holder, self.live_record(org_id, holder).await?.is_some())))
    }

    /// Whether SCIM of `org_id` disabled the account.
    async fn marked_by(&self, account_id: Uuid, org_id: Uuid) -> StoreResult<bool> {
        Ok(self.disabled_by(account_id).await?.is_some_and(|orgs| orgs.contains(&org_id.to_string())))
    }

    /// Housekeeping of a record whose membership ended: gone (unless `written_over`) with its
    /// marker when it still holds it (unless the change claims that name).
    async fn drop_stale(
        &self,
        change: &mut Change,
        org_id: Uuid,
        record: &Item,
        keep_name: &str,
        written_over: bool,
    ) -> StoreResult<()> {
        let record = record_from(record)?;
        if !written_over {
            change.writes.push(Write::delete(&self.tables.main, user_key(org_id, record.account_id)));
        }
        if record.name_key != keep_name
            && let Some((holder, _)) = self.name_holder(org_id, &record.name_key).await?
            && holder == record.account_id
        {
            let gone = Write::delete(&self.tables.main, user_name_marker(org_id, &record.name_key))
                .when("#account = :me")
                .value("me", s(holder.to_string()));
            change.writes.push(gone);
        }
        Ok(())
    }

    pub(super) async fn provision(
        &self,
        p: &Provision<'_>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Provisioned> {
        let (org_id, account_id) = (p.org_id, p.account_id);
        let name = name_key(p.user_name);
        let attributes = serde_json::Value::Object(p.attributes.clone()).to_string();
        for _ in 0..ATTEMPTS {
            let Some(version) = self.org_version(org_id).await? else {
                return Err(anyhow::anyhow!("no organization {org_id} to provision into").into());
            };
            let mut change = Change::default();
            change.writes.push(org_turn(&self.tables, org_id, version));
            // The name's holder, or this account provisioned already: refused while its
            // membership lasts, written over once it ended.
            let holder = self.name_holder(org_id, &name).await?;
            if holder.is_some_and(|(_, live)| live) || self.live_record(org_id, account_id).await?.is_some() {
                return Ok(Provisioned::UserNameTaken);
            }
            let stale_holder = holder.map(|(holder, _)| holder);
            if let Some(holder) = stale_holder.filter(|h| *h != account_id)
                && let Some(record) = self.get(&self.tables.main, user_key(org_id, holder)).await?
            {
                self.drop_stale(&mut change, org_id, &record, &name, false).await?;
            }
            if let Some(own) = self.get(&self.tables.main, user_key(org_id, account_id)).await? {
                self.drop_stale(&mut change, org_id, &own, &name, true).await?;
            }
            change.refused_by(claim_name(self, org_id, &name, account_id, stale_holder), || StoreError::Conflict);

            let suspended = (!p.active).then_some(p.now);
            let joined = match self.member(org_id, account_id).await? {
                Some(member) => {
                    let written = match suspended {
                        Some(_) => "SET #suspended = :now",
                        None => "REMOVE #suspended",
                    };
                    let mut update = Write::update(&self.tables.main, member_key(org_id, account_id), written)
                        .when("attribute_exists(#pk)");
                    if suspended.is_some() {
                        update = update.value("now", stamp(p.now));
                    }
                    change.writes.push(update);
                    member.joined
                }
                None => {
                    let held = self.partition(&self.tables.main, &org_owner(org_id), "M#").await?.len() as u64;
                    if held >= member_limit {
                        // The SQL store makes the account first: a taken address answers first.
                        if let Some(new) = p.new_account
                            && self
                                .get(&self.tables.main, key(format!("E#{}", new.email_normalized), "E"))
                                .await?
                                .is_some()
                        {
                            return Ok(Provisioned::EmailTaken);
                        }
                        return Ok(Provisioned::MemberLimit);
                    }
                    change.writes.extend(new_membership(&self.tables, org_id, account_id, p.role, p.now, suspended));
                    if p.new_account.is_none() {
                        change.writes.push(owner_exists(&self.tables, &account_owner(account_id)));
                    }
                    stamp_text(p.now)
                }
            };
            let record = Record {
                account_id,
                user_name: p.user_name.to_owned(),
                name_key: name.clone(),
                external_id: p.external_id.map(str::to_owned),
                made: p.created_account,
                attributes: attributes.clone(),
                created: p.now,
                updated: p.now,
                joined,
            };
            change.writes.push(Write::put(&self.tables.main, record_item(org_id, &record)));
            match p.new_account {
                Some(new) => {
                    let plan = new_account(&self.tables, new)?;
                    let plan = plan.with_value(());
                    change.with_plan(self, plan, effects).await?;
                }
                None => {
                    match (self.marked_by(account_id, org_id).await?, p.disabled_account) {
                        (true, false) => change.writes.push(unmark_org(self, account_id, org_id)),
                        (false, true) => change.writes.push(mark_org(self, account_id, org_id)),
                        _ => {}
                    }
                    change.writes.extend(self.told(effects).await?);
                }
            }
            match change.write(self).await? {
                None => continue,
                Some(Ok(())) => return Ok(Provisioned::Done),
                Some(Err(StoreError::EmailTaken)) => return Ok(Provisioned::EmailTaken),
                Some(Err(StoreError::Conflict)) => return Ok(Provisioned::UserNameTaken),
                Some(Err(error)) => return Err(error),
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("the organization {org_id} kept changing while provisioning")))
    }

    pub(super) async fn change_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        change: &ScimUserChange<'_>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        let key = name_key(change.user_name);
        let attributes = serde_json::Value::Object(change.attributes.clone()).to_string();
        for _ in 0..ATTEMPTS {
            let Some(version) = self.org_version(org_id).await? else { return Ok(UserWrite::NotFound) };
            let (record, member, read) = match self.provisioned(org_id, account_id).await? {
                Current::Member(found) => *found,
                Current::Missing => return Ok(UserWrite::NotFound),
                Current::Protected => return Ok(UserWrite::Protected),
            };
            let mut writes = Change::default();
            writes.writes.push(org_turn(&self.tables, org_id, version));
            if key != record.name_key {
                let holder = self.name_holder(org_id, &key).await?;
                if holder.is_some_and(|(holder, live)| live && holder != account_id) {
                    return Ok(UserWrite::UserNameTaken);
                }
                let stale = holder.map(|(holder, _)| holder);
                if let Some(holder) = stale.filter(|h| *h != account_id)
                    && let Some(other) = self.get(&self.tables.main, user_key(org_id, holder)).await?
                {
                    self.drop_stale(&mut writes, org_id, &other, &key, false).await?;
                }
                let gone = Write::delete(&self.tables.main, user_name_marker(org_id, &record.name_key))
                    .when("#account = :me")
                    .value("me", s(account_id.to_string()));
                writes.writes.push(gone);
                writes.refused_by(claim_name(self, org_id, &key, account_id, stale), || StoreError::Conflict);
            }

            let marked = self.marked_by(account_id, org_id).await?;
            let mut account = read.account.clone();
            let mut disabled = marked;
            match change.account_enabled {
                Some(false) if account.status != Status::Disabled => {
                    account.status = Status::Disabled;
                    disabled = true;
                }
                Some(true) if marked => {
                    if account.status == Status::Disabled {
                        account.status = Status::Active;
                    }
                    disabled = false;
                }
                _ => {}
            }
            if let Some((name, email)) = change.profile {
                account.name = name.map(str::to_owned);
                account.email = email.to_owned();
            }
            let account_written = account.status != read.account.status || change.profile.is_some();
            match (marked, disabled) {
                // With the account's write, on condition of its version: it exists.
                (false, true) => writes.writes.push(mark_org(self, account_id, org_id)),
                (true, false) => writes.writes.push(unmark_org(self, account_id, org_id)),
                _ => {}
            }

            let suspension = match (change.active, member.suspended) {
                (true, Some(_)) => Some("REMOVE #suspended"),
                (false, None) => Some("SET #suspended = :now"),
                _ => None,
            };
            if let Some(expression) = suspension {
                let mut update = Write::update(&self.tables.main, member_key(org_id, account_id), expression)
                    .when("attribute_exists(#pk)");
                if !change.active {
                    update = update.value("now", stamp(change.now));
                }
                writes.writes.push(update);
            }
            let changed = Record {
                user_name: change.user_name.to_owned(),
                name_key: key.clone(),
                external_id: change.external_id.map(str::to_owned),
                attributes: attributes.clone(),
                updated: change.now,
                ..record
            };
            writes.writes.push(Write::put(&self.tables.main, record_item(org_id, &changed)));
            if account_written {
                account.updated_at = change.now;
                let plan = readdressed(self, &read, account)?;
                writes.with_plan(self, plan, effects).await?;
            } else {
                writes.writes.extend(self.told(effects).await?);
            }
            match writes.write(self).await? {
                None => continue,
                Some(Ok(())) => return Ok(UserWrite::Done),
                Some(Err(StoreError::Conflict)) => return Ok(UserWrite::UserNameTaken),
                Some(Err(error)) => return Err(error),
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("the organization {org_id} kept changing while a member changed")))
    }

    pub(super) async fn deprovision(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        disable_account: bool,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        let me = s(account_id.to_string());
        for _ in 0..ATTEMPTS {
            let Some(version) = self.org_version(org_id).await? else { return Ok(UserWrite::NotFound) };
            // An owner is protected: a deprovision never takes an organization's last owner.
            let (record, member, read) = match self.provisioned(org_id, account_id).await? {
                Current::Member(found) => *found,
                Current::Missing => return Ok(UserWrite::NotFound),
                Current::Protected => return Ok(UserWrite::Protected),
            };
            let main = &self.tables.main;
            let mut change = Change::default();
            change.writes.extend([
                org_turn(&self.tables, org_id, version),
                Write::delete(main, member_key(org_id, account_id)).when("attribute_exists(#pk)"),
                Write::delete(main, membership_key(org_id, account_id)),
                Write::delete(main, user_key(org_id, account_id)),
                Write::delete(main, user_name_marker(org_id, &record.name_key))
                    .when("#account = :me")
                    .value("me", me.clone()),
            ]);
            // Out of its groups' member sets (the membership's names of them go with it).
            for group in &member.groups {
                let Some(marker) = self.get(main, group_name_marker(org_id, &name_key(group))).await? else { continue };
                let member_of = aws_sdk_dynamodb::types::AttributeValue::Ss(vec![account_id.to_string()]);
                let out = Write::update(main, group_key(org_id, id(&marker, "group")?), "DELETE #members :me")
                    .when("attribute_exists(#pk)")
                    .value("me", member_of);
                change.writes.push(out);
            }
            if self.marked_by(account_id, org_id).await? {
                change.writes.push(unmark_org(self, account_id, org_id));
            }
            if disable_account {
                let mut account = read.account.clone();
                account.status = Status::Disabled;
                account.updated_at = now;
                let plan = Plan::new(&self.tables, &read, &account, &read.password_hash, ())?;
                change.with_plan(self, plan, effects).await?;
            } else {
                change.writes.extend(self.told(effects).await?);
            }
            match change.write(self).await? {
                None => continue,
                Some(Ok(())) => return Ok(UserWrite::Done),
                Some(Err(error)) => return Err(error),
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("the organization {org_id} kept changing while deprovisioning")))
    }
}

/// The account's plan, with its address's marker moved when the address changed
/// ([`StoreError::EmailTaken`] when another account has it).
fn readdressed(store: &DynamoStore, read: &Stored, account: crate::model::account::Account) -> StoreResult<Plan<()>> {
    let mut plan = Plan::new(&store.tables, read, &account, &read.password_hash, ())?;
    let (old, new) = (read.account.email.to_lowercase(), account.email.to_lowercase());
    if old != new {
        let me = s(read.account.id.to_string());
        let gone = Write::delete(&store.tables.main, key(format!("E#{old}"), "E"))
            .when("#account = :me")
            .value("me", me.clone());
        plan.writes.push(gone);
        let marker = item(format!("E#{new}"), "E", vec![("account", me.clone())]);
        let taken =
            Write::put(&store.tables.main, marker).when("attribute_not_exists(#pk) OR #account = :me").value("me", me);
        plan.refused_by(taken, || StoreError::EmailTaken);
    }
    Ok(plan)
}
