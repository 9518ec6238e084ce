//! Organizations (`organizations`) and their memberships (`memberships`); the last-owner guard
//! each change of a membership takes is in `member_guard.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::member_guard::guard_members;
use super::org_roles::split_permissions;
use super::outbox::insert_effects;
use super::{Built, Dialect, Exec, Row, SqlStore, Transaction, args, like_pattern, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::org::{MemberChange, OWNER, OrgActor, OrgPolicy, Release, Slug, permissions_of, release};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::orgs::{
    Member, MemberCursor, Membership, NewOrganization, OrgChange, OrgKey, OrgStore, Organization,
};

const ORG_COLUMNS: &str = "o.id, o.name, o.slug, o.data, o.policy, o.created_at, o.updated_at";
const MEMBER_COLUMNS: &str = "m.account_id, a.email, a.name, m.role, m.joined_at, m.suspended_at";
/// An account's memberships with their organizations.
/// A custom role's permissions come with it (`custom`: none for a built-in role's name), and its
/// groups' names. Every read of rights adds [`GRANTING`]: a suspended membership (SCIM's
/// `active: false`) grants nothing.
const MEMBERSHIPS: &str = "SELECT o.id, o.name, o.slug, o.data, o.policy, o.created_at, o.updated_at, m.account_id, m.role, \
                           m.joined_at, m.group_names, m.suspended_at, r.permissions AS custom FROM memberships m \
                           JOIN organizations o ON o.id = m.org_id \
                           LEFT JOIN org_roles r ON r.org_id = m.org_id AND r.name = m.role";
const GRANTING: &str = "m.suspended_at IS NULL";

fn org_from_row(row: &impl Row) -> StoreResult<Organization> {
    Ok(Organization {
        id: row.id("id")?,
        name: row.text("name")?,
        slug: row.text("slug")?,
        data: row.object("data")?,
        policy: OrgPolicy::from_stored(row.opt_json("policy")?),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn membership_from_row(row: &impl Row) -> StoreResult<Membership> {
    let role = row.text("role")?;
    let custom = row.opt_text("custom")?.map(|stored| split_permissions(&stored));
    Ok(Membership {
        org: org_from_row(row)?,
        account_id: row.id("account_id")?,
        permissions: permissions_of(&role, custom),
        role,
        joined_at: row.time("joined_at")?,
        groups: group_names(row.opt_text("group_names")?.as_deref()),
        suspended: row.opt_time("suspended_at")?.is_some(),
    })
}

/// A membership's groups' names as kept (a JSON array; none when NULL).
pub(super) fn group_names(stored: Option<&str>) -> Vec<String> {
    stored.and_then(|text| serde_json::from_str(text).ok()).unwrap_or_default()
}

/// A slug another organization holds, as the unique key reports it (a concurrent write took
/// it between the check and the insert).
fn slug_taken(error: StoreError) -> StoreError {
    match error {
        StoreError::Conflict => StoreError::SlugTaken,
        other => other,
    }
}

/// Whether another organization than `id` has the slug, inside the transaction that sets it.
async fn slug_held_by_another(tx: &mut impl Exec, slug: &str, id: Uuid) -> StoreResult<bool> {
    let holder = tx.fetch_optional(sql!("SELECT id FROM organizations WHERE slug = ?"), args![slug]).await?;
    Ok(holder.map(|row| row.id("id")).transpose()?.is_some_and(|holder| holder != id))
}

/// The account's membership of the organization, with its role's permissions.
pub(super) async fn read_membership(
    tx: &mut impl Exec,
    org_id: Uuid,
    account_id: Uuid,
) -> StoreResult<Option<Membership>> {
    let row = tx
        .fetch_optional(
            sql!("{MEMBERSHIPS} WHERE {GRANTING} AND m.org_id = ? AND m.account_id = ?"),
            args![org_id, account_id],
        )
        .await?;
    row.as_ref().map(membership_from_row).transpose()
}

async fn read_org(tx: &mut impl Exec, id: Uuid) -> StoreResult<Option<Organization>> {
    let row = tx.fetch_optional(sql!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = ?"), args![id]).await?;
    row.as_ref().map(org_from_row).transpose()
}

/// Inside the transaction that deletes account `account_id`: the organizations it owns alone
/// go with it when it is their only member; one with other members but no other owner refuses
/// the deletion ([`StoreError::LastOwner`]), so no organization is left without an owner. The
/// organizations' rows are locked in id order first, as the member guard locks them.
pub(super) async fn release_owned_orgs(tx: &mut impl Exec, account_id: Uuid) -> StoreResult<()> {
    let owned = tx
        .fetch_all(
            sql!("SELECT org_id FROM memberships WHERE account_id = ? AND role = ? ORDER BY org_id"),
            args![account_id, OWNER],
        )
        .await?;
    for row in owned {
        let org_id = row.id("org_id")?;
        tx.lock(sql!("SELECT id FROM organizations WHERE id = ? FOR UPDATE"), args![org_id]).await?;
        let rows = tx
            .fetch_all(sql!("SELECT account_id, role FROM memberships WHERE org_id = ? FOR UPDATE"), args![org_id])
            .await?;
        let members =
            rows.iter().map(|row| Ok((row.id("account_id")?, row.text("role")?))).collect::<StoreResult<Vec<_>>>()?;
        match release(account_id, members.iter().map(|(member, role)| (*member, role.as_str()))) {
            Release::Dropped => {
                tx.execute(sql!("DELETE FROM organizations WHERE id = ?"), args![org_id]).await?;
            }
            Release::LastOwner => return Err(StoreError::LastOwner),
            Release::NotOwner | Release::Leaves => {}
        }
    }
    Ok(())
}

#[async_trait]
impl<D: Dialect> OrgStore for SqlStore<D> {
    async fn insert_org(&self, org: &NewOrganization, effects: &Effects) -> StoreResult<Organization> {
        timed!(
            DB,
            "insert_org",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                if slug_held_by_another(&mut tx, org.slug.as_str(), org.id).await? {
                    return Err(StoreError::SlugTaken);
                }
                tx.execute(
                    sql!(
                        "INSERT INTO organizations (id, name, slug, data, policy, created_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![org.id, &org.name, org.slug.as_str(), &org.data, &serde_json::Map::new(), org.now, org.now],
                )
                .await
                .map_err(slug_taken)?;
                tx.execute(
                    sql!("INSERT INTO memberships (org_id, account_id, role, joined_at) VALUES (?, ?, ?, ?)"),
                    args![org.id, org.owner, OWNER, org.now],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                let stored = read_org(&mut tx, org.id).await?;
                tx.commit().await?;
                stored.ok_or_else(|| anyhow::anyhow!("the inserted organization was not found").into())
            })
        )
    }

    async fn find_org(&self, key: OrgKey<'_>) -> StoreResult<Option<Organization>> {
        timed!(DB, "find_org", async {
            let row = match key {
                OrgKey::Id(id) => {
                    let by_id = sql!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.id = ?");
                    self.db.pool().fetch_optional(by_id, args![id]).await?
                }
                // What no slug can be names no organization (on every database alike, whatever
                // its collation).
                OrgKey::Slug(slug) if Slug::parse(slug).is_none() => return Ok(None),
                OrgKey::Slug(slug) => {
                    let by_slug = sql!("SELECT {ORG_COLUMNS} FROM organizations o WHERE o.slug = ?");
                    self.db.pool().fetch_optional(by_slug, args![slug]).await?
                }
            };
            row.as_ref().map(org_from_row).transpose()
        })
    }

    async fn list_orgs(&self, q: Option<&str>, before: Option<Uuid>, limit: u32) -> StoreResult<Vec<Organization>> {
        timed!(DB, "list_orgs", async {
            let mut sql = Built::new(format!("SELECT {ORG_COLUMNS} FROM organizations o WHERE TRUE"));
            let pattern = q.map(|q| like_pattern(&q.to_lowercase(), false));
            if let Some(pattern) = &pattern {
                sql.push(" AND (lower(o.name) LIKE ? ESCAPE '!' OR o.slug LIKE ? ESCAPE '!')", args![pattern, pattern]);
            }
            if let Some(before) = before {
                sql.and("o.id < ?", before);
            }
            sql.push(" ORDER BY o.id DESC LIMIT ?", args![i64::from(limit)]);
            let rows = sql.fetch_all(&mut self.db.pool()).await?;
            rows.iter().map(org_from_row).collect()
        })
    }

    async fn update_org(&self, id: Uuid, change: &OrgChange, effects: &Effects) -> StoreResult<Option<Organization>> {
        timed!(
            DB,
            "update_org",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                if slug_held_by_another(&mut tx, change.slug.as_str(), id).await? {
                    return Err(StoreError::SlugTaken);
                }
                let updated = tx
                    .execute(
                        sql!(
                            "UPDATE organizations SET name = ?, slug = ?, data = ?, policy = ?, updated_at = ? WHERE id = ?"
                        ),
                        args![&change.name, change.slug.as_str(), &change.data, &change.policy.to_map(), change.now, id],
                    )
                    .await
                    .map_err(slug_taken)?;
                if updated == 0 {
                    return Ok(None);
                }
                insert_effects(&mut tx, effects).await?;
                let stored = read_org(&mut tx, id).await?;
                tx.commit().await?;
                Ok(stored)
            })
        )
    }

    async fn delete_org(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_org",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.lock(sql!("SELECT id FROM organizations WHERE id = ? FOR UPDATE"), args![id]).await?;
                insert_effects(&mut tx, effects).await?;
                // The memberships go with it (a cascading delete), on every database.
                if tx.execute(sql!("DELETE FROM organizations WHERE id = ?"), args![id]).await? == 0 {
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>> {
        timed!(DB, "memberships", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!("{MEMBERSHIPS} WHERE {GRANTING} AND m.account_id = ? ORDER BY m.joined_at, o.id"),
                    args![account_id],
                )
                .await?;
            rows.iter().map(membership_from_row).collect()
        })
    }

    async fn membership(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>> {
        timed!(DB, "membership", read_membership(&mut self.db.pool(), org_id, account_id))
    }

    async fn membership_record(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>> {
        timed!(DB, "membership_record", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("{MEMBERSHIPS} WHERE m.org_id = ? AND m.account_id = ?"),
                    args![org_id, account_id],
                )
                .await?;
            row.as_ref().map(membership_from_row).transpose()
        })
    }

    async fn all_memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>> {
        timed!(DB, "all_memberships", async {
            let rows = self
                .db
                .pool()
                .fetch_all(sql!("{MEMBERSHIPS} WHERE m.account_id = ? ORDER BY m.joined_at, o.id"), args![account_id])
                .await?;
            rows.iter().map(membership_from_row).collect()
        })
    }

    async fn list_members(&self, org_id: Uuid, after: Option<MemberCursor>, limit: u32) -> StoreResult<Vec<Member>> {
        timed!(DB, "list_members", async {
            let rows = match after {
                None => {
                    let first = sql!(
                        "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN accounts a ON a.id = m.account_id
                         WHERE m.org_id = ? ORDER BY m.joined_at, m.account_id LIMIT ?"
                    );
                    self.db.pool().fetch_all(first, args![org_id, i64::from(limit)]).await?
                }
                Some(after) => {
                    // The page after a place: those who joined later, or at the same moment
                    // with a greater id.
                    let next = sql!(
                        "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN accounts a ON a.id = m.account_id
                         WHERE m.org_id = ?
                           AND (m.joined_at > ? OR (m.joined_at = ? AND m.account_id > ?))
                         ORDER BY m.joined_at, m.account_id LIMIT ?"
                    );
                    let (at, id) = (after.joined_at, after.account_id);
                    self.db.pool().fetch_all(next, args![org_id, at, at, id, i64::from(limit)]).await?
                }
            };
            rows.iter()
                .map(|row| {
                    Ok(Member {
                        account_id: row.id("account_id")?,
                        email: row.text("email")?,
                        name: row.opt_text("name")?,
                        role: row.text("role")?,
                        joined_at: row.time("joined_at")?,
                        suspended: row.opt_time("suspended_at")?.is_some(),
                    })
                })
                .collect()
        })
    }

    async fn orgs_only_owned_by(&self, account_id: Uuid) -> StoreResult<Vec<Uuid>> {
        timed!(DB, "orgs_only_owned_by", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT m.org_id FROM memberships m WHERE m.account_id = ? AND m.role = ?
                           AND NOT EXISTS (SELECT 1 FROM memberships o
                                           WHERE o.org_id = m.org_id AND o.account_id <> m.account_id AND o.role = ?)
                           AND EXISTS (SELECT 1 FROM memberships x WHERE x.org_id = m.org_id AND x.account_id <> m.account_id)
                         ORDER BY m.org_id"
                    ),
                    args![account_id, OWNER, OWNER],
                )
                .await?;
            rows.iter().map(|row| row.id("org_id")).collect()
        })
    }

    async fn count_members(&self, org_id: Uuid) -> StoreResult<u64> {
        timed!(DB, "count_members", async {
            let counted = sql!("SELECT COUNT(*) AS n FROM memberships WHERE org_id = ?");
            let row = self.db.pool().fetch_optional(counted, args![org_id]).await?;
            row.map_or(Ok(0), |row| row.count("n"))
        })
    }

    async fn add_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(
            DB,
            "add_member",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let member = sql!("SELECT role FROM memberships WHERE org_id = ? AND account_id = ? FOR UPDATE");
                if tx.fetch_optional(member, args![org_id, account_id]).await?.is_some() {
                    return Ok(false);
                }
                let inserted = tx
                    .execute(
                        sql!("INSERT INTO memberships (org_id, account_id, role, joined_at) VALUES (?, ?, ?, ?)"),
                        args![org_id, account_id, role, now],
                    )
                    .await;
                match inserted {
                    // A concurrent request added it first.
                    Err(StoreError::Conflict) => return Ok(false),
                    other => other?,
                };
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn set_member_role(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange> {
        timed!(
            DB,
            "set_member_role",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let allowed = guard_members(&mut tx, org_id, account_id, Some(role), actor).await?;
                if allowed != MemberChange::Done {
                    return Ok(allowed);
                }
                tx.execute(
                    sql!("UPDATE memberships SET role = ? WHERE org_id = ? AND account_id = ?"),
                    args![role, org_id, account_id],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(MemberChange::Done)
            })
        )
    }

    async fn remove_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange> {
        timed!(
            DB,
            "remove_member",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let allowed = guard_members(&mut tx, org_id, account_id, None, actor).await?;
                if allowed != MemberChange::Done {
                    return Ok(allowed);
                }
                tx.execute(
                    sql!("DELETE FROM memberships WHERE org_id = ? AND account_id = ?"),
                    args![org_id, account_id],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(MemberChange::Done)
            })
        )
    }
}
