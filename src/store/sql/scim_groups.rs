//! An organization's SCIM groups (`scim_groups`, `scim_group_members`): each change locks the
//! organization's row, checks that the members named are its members, and rewrites the
//! touched memberships' `group_names` in its transaction.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use uuid::Uuid;

use super::org_roles::lock_org;
use super::outbox::insert_effects;
use super::scim::{exact_page, name_key, refresh_group_names};
use super::{Built, Dialect, Exec, Row, SqlStore, Transaction, args, placeholders, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::model::scim::MAX_GROUPS;
use crate::store::error::StoreResult;
use crate::store::scim::{GroupWrite, MembersChange, Page, ScimGroup, ScimGroupStore};

const GROUP_COLUMNS: &str = "id, org_id, display_name, external_id, created_at, updated_at";

/// The members of groups `ids`.
async fn group_members(tx: &mut impl Exec, ids: &[Uuid]) -> StoreResult<Vec<(Uuid, Uuid)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Built::new(format!(
        "SELECT group_id, account_id FROM scim_group_members WHERE group_id IN ({}) ORDER BY account_id",
        placeholders(ids.len())
    ));
    let values: Vec<_> = ids.iter().map(|id| super::Arg::from(*id)).collect();
    query.push("", &values);
    let rows = query.fetch_all(tx).await?;
    rows.iter().map(|row| Ok((row.id("group_id")?, row.id("account_id")?))).collect()
}

/// Groups, with their members when `members`.
async fn groups_of(tx: &mut impl Exec, rows: &[impl Row], members: bool) -> StoreResult<Vec<ScimGroup>> {
    let mut groups = rows
        .iter()
        .map(|row| {
            Ok(ScimGroup {
                id: row.id("id")?,
                org_id: row.id("org_id")?,
                display_name: row.text("display_name")?,
                external_id: row.opt_text("external_id")?,
                members: Vec::new(),
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    if members {
        let place: HashMap<Uuid, usize> = groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        let ids: Vec<Uuid> = groups.iter().map(|g| g.id).collect();
        for (group_id, account_id) in group_members(tx, &ids).await? {
            if let Some(&i) = place.get(&group_id) {
                groups[i].members.push(account_id);
            }
        }
    }
    Ok(groups)
}

/// The first of `ids` that is no member of the organization, asked a few hundred at a time.
async fn first_stranger(tx: &mut impl Exec, org_id: Uuid, ids: &[Uuid]) -> StoreResult<Option<Uuid>> {
    for chunk in ids.chunks(500) {
        let mut query = Built::new(format!(
            "SELECT account_id FROM memberships WHERE org_id = ? AND account_id IN ({})",
            placeholders(chunk.len())
        ));
        let values: Vec<_> = std::iter::once(org_id).chain(chunk.iter().copied()).map(super::Arg::from).collect();
        query.push("", &values);
        let found: HashSet<Uuid> =
            query.fetch_all(tx).await?.iter().map(|row| row.id("account_id")).collect::<StoreResult<_>>()?;
        if let Some(stranger) = chunk.iter().find(|id| !found.contains(id)) {
            return Ok(Some(*stranger));
        }
    }
    Ok(None)
}

/// Whether another group of the organization than `id` has the name.
async fn name_held(tx: &mut impl Exec, org_id: Uuid, key: &str, id: Uuid) -> StoreResult<bool> {
    let holder = sql!("SELECT id FROM scim_groups WHERE org_id = ? AND display_key = ?");
    let row = tx.fetch_optional(holder, args![org_id, key]).await?;
    Ok(row.map(|row| row.id("id")).transpose()?.is_some_and(|holder| holder != id))
}

/// Adds and removes a group's members, then rewrites every touched membership's names.
async fn change_members(
    tx: &mut impl Exec,
    group: &ScimGroup,
    members: &MembersChange,
    renamed: bool,
) -> StoreResult<GroupWrite> {
    let before: HashSet<Uuid> = {
        let rows =
            tx.fetch_all(sql!("SELECT account_id FROM scim_group_members WHERE group_id = ?"), args![group.id]).await?;
        rows.iter().map(|row| row.id("account_id")).collect::<StoreResult<_>>()?
    };
    let (add, remove): (Vec<Uuid>, Vec<Uuid>) = match members {
        MembersChange::Keep => (Vec::new(), Vec::new()),
        MembersChange::Replace(all) => {
            let all: HashSet<Uuid> = all.iter().copied().collect();
            (all.difference(&before).copied().collect(), before.difference(&all).copied().collect())
        }
        MembersChange::AddRemove { add, remove } => (
            add.iter().filter(|id| !before.contains(id)).copied().collect::<HashSet<_>>().into_iter().collect(),
            remove.iter().filter(|id| before.contains(id)).copied().collect::<HashSet<_>>().into_iter().collect(),
        ),
    };
    if let Some(stranger) = first_stranger(tx, group.org_id, &add).await? {
        return Ok(GroupWrite::UnknownMember(stranger));
    }
    let mut touched = Vec::new();
    for id in &add {
        tx.execute(
            sql!("INSERT INTO scim_group_members (group_id, org_id, account_id) VALUES (?, ?, ?)"),
            args![group.id, group.org_id, *id],
        )
        .await?;
        touched.push(*id);
    }
    for id in &remove {
        tx.execute(sql!("DELETE FROM scim_group_members WHERE group_id = ? AND account_id = ?"), args![group.id, *id])
            .await?;
        touched.push(*id);
    }
    if renamed {
        let removed: HashSet<&Uuid> = remove.iter().collect();
        touched.extend(before.iter().filter(|id| !removed.contains(id)));
    }
    touched.sort();
    touched.dedup();
    for id in touched {
        if !refresh_group_names(tx, group.org_id, id).await? {
            return Ok(GroupWrite::TooManyGroups(id));
        }
    }
    Ok(GroupWrite::Done)
}

#[async_trait]
impl<D: Dialect> ScimGroupStore for SqlStore<D> {
    async fn insert_scim_group(
        &self,
        group: &ScimGroup,
        members: &[Uuid],
        effects: &Effects,
    ) -> StoreResult<GroupWrite> {
        let key = name_key(&group.display_name);
        let key = key.as_str();
        timed!(
            DB,
            "insert_scim_group",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, group.org_id).await?;
                if name_held(&mut tx, group.org_id, key, group.id).await? {
                    return Ok(GroupWrite::NameTaken);
                }
                let counted = sql!("SELECT COUNT(*) AS n FROM scim_groups WHERE org_id = ?");
                let held = tx.fetch_optional(counted, args![group.org_id]).await?.map_or(Ok(0), |r| r.count("n"))?;
                if held >= MAX_GROUPS as u64 {
                    return Ok(GroupWrite::GroupLimit);
                }
                tx.execute(
                    sql!(
                        "INSERT INTO scim_groups (id, org_id, display_name, display_key, external_id, created_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        group.id,
                        group.org_id,
                        &group.display_name,
                        key,
                        &group.external_id,
                        group.created_at,
                        group.updated_at
                    ],
                )
                .await?;
                let written = change_members(&mut tx, group, &MembersChange::Replace(members.to_vec()), false).await?;
                if written != GroupWrite::Done {
                    return Ok(written);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(GroupWrite::Done)
            })
        )
    }

    async fn scim_group(&self, org_id: Uuid, id: Uuid) -> StoreResult<Option<ScimGroup>> {
        timed!(DB, "scim_group", async {
            let mut pool = self.db.pool();
            let rows = pool
                .fetch_all(
                    sql!("SELECT {GROUP_COLUMNS} FROM scim_groups WHERE org_id = ? AND id = ?"),
                    args![org_id, id],
                )
                .await?;
            Ok(groups_of(&mut pool, &rows, true).await?.into_iter().next())
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
        let key = display_name.map(name_key);
        timed!(DB, "scim_groups", async {
            let filtered = |columns: &str| {
                let mut query = Built::new(format!("SELECT {columns} FROM scim_groups WHERE org_id = ?"));
                query.push("", &[org_id.into()]);
                if let Some(key) = key.as_deref() {
                    query.and("display_key = ?", key);
                }
                if let Some(external_id) = external_id {
                    query.and("external_id = ?", external_id);
                }
                query
            };
            let mut pool = self.db.pool();
            if let Some(exact) = external_id {
                // As for Users: held to the exact `externalId` here, whatever the collation.
                let mut all = filtered(GROUP_COLUMNS);
                all.push(" ORDER BY created_at, id LIMIT 1000", &[]);
                let rows = all.fetch_all(&mut pool).await?;
                let exact_rows: Vec<_> = rows
                    .into_iter()
                    .filter(|row| matches!(row.opt_text("external_id"), Ok(Some(id)) if id == exact))
                    .collect();
                let groups = groups_of(&mut pool, &exact_rows, members).await?;
                return Ok(exact_page(groups, offset, limit));
            }
            let total = filtered("COUNT(*) AS n").fetch_optional(&mut pool).await?.map_or(Ok(0), |r| r.count("n"))?;
            let mut page = filtered(GROUP_COLUMNS);
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            page.push(" ORDER BY created_at, id LIMIT ? OFFSET ?", &[i64::from(limit).into(), offset.into()]);
            let rows = page.fetch_all(&mut pool).await?;
            Ok(Page { items: groups_of(&mut pool, &rows, members).await?, total })
        })
    }

    async fn update_scim_group(
        &self,
        group: &ScimGroup,
        members: &MembersChange,
        effects: &Effects,
    ) -> StoreResult<GroupWrite> {
        let key = name_key(&group.display_name);
        let key = key.as_str();
        timed!(
            DB,
            "update_scim_group",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, group.org_id).await?;
                let current = tx
                    .fetch_optional(
                        sql!("SELECT display_name FROM scim_groups WHERE org_id = ? AND id = ? FOR UPDATE"),
                        args![group.org_id, group.id],
                    )
                    .await?;
                let Some(current) = current else { return Ok(GroupWrite::NotFound) };
                if name_held(&mut tx, group.org_id, key, group.id).await? {
                    return Ok(GroupWrite::NameTaken);
                }
                let renamed = current.text("display_name")? != group.display_name;
                tx.execute(
                    sql!(
                        "UPDATE scim_groups SET display_name = ?, display_key = ?, external_id = ?, updated_at = ?
                         WHERE id = ?"
                    ),
                    args![&group.display_name, key, &group.external_id, group.updated_at, group.id],
                )
                .await?;
                let written = change_members(&mut tx, group, members, renamed).await?;
                if written != GroupWrite::Done {
                    return Ok(written);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(GroupWrite::Done)
            })
        )
    }

    async fn delete_scim_group(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_scim_group",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                let members = tx
                    .fetch_all(sql!("SELECT account_id FROM scim_group_members WHERE group_id = ?"), args![id])
                    .await?;
                let deleted =
                    tx.execute(sql!("DELETE FROM scim_groups WHERE org_id = ? AND id = ?"), args![org_id, id]).await?;
                if deleted != 1 {
                    return Ok(false);
                }
                for row in &members {
                    refresh_group_names(&mut tx, org_id, row.id("account_id")?).await?;
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }
}
