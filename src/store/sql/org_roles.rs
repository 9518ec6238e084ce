//! An organization's custom roles (`org_roles`). Every change locks the organization's row
//! first, as the member guard does, so a role is never removed while a member is being given
//! it, and a change of its permissions is seen whole by the next check.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::insert_effects;
use super::{Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::org::valid_role_name;
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::org_roles::{OrgRole, OrgRoleStore, RoleRemoval};

const ROLE_COLUMNS: &str = "name, permissions, created_at, updated_at";

fn role_from_row(row: &impl Row) -> StoreResult<OrgRole> {
    Ok(OrgRole {
        name: row.text("name")?,
        permissions: split_permissions(&row.text("permissions")?),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

pub(super) async fn lock_org(tx: &mut impl Exec, org_id: Uuid) -> StoreResult<()> {
    tx.lock(sql!("SELECT id FROM organizations WHERE id = ? FOR UPDATE"), args![org_id]).await
}

/// A custom role's permissions as stored: space-separated (no permission holds a space).
pub(super) fn split_permissions(stored: &str) -> Vec<String> {
    stored.split(' ').filter(|p| !p.is_empty()).map(str::to_owned).collect()
}

/// The organization's custom roles and their permissions, read inside a transaction that
/// locked its row (so no role changes meanwhile).
pub(super) async fn custom_roles(tx: &mut impl Exec, org_id: Uuid) -> StoreResult<HashMap<String, Vec<String>>> {
    let rows = tx.fetch_all(sql!("SELECT name, permissions FROM org_roles WHERE org_id = ?"), args![org_id]).await?;
    rows.iter().map(|row| Ok((row.text("name")?, split_permissions(&row.text("permissions")?)))).collect()
}

/// What no role's name can be names no role (on every database alike, whatever its collation:
/// MariaDB/MySQL would match `BILLING` or `billing ` to `billing`, and PostgreSQL refuses NUL).
pub(super) async fn read_role(tx: &mut impl Exec, org_id: Uuid, name: &str) -> StoreResult<Option<OrgRole>> {
    if !valid_role_name(name) {
        return Ok(None);
    }
    let row = tx
        .fetch_optional(sql!("SELECT {ROLE_COLUMNS} FROM org_roles WHERE org_id = ? AND name = ?"), args![org_id, name])
        .await?;
    row.as_ref().map(role_from_row).transpose()
}

#[async_trait]
impl<D: super::Dialect> OrgRoleStore for SqlStore<D> {
    async fn org_roles(&self, org_id: Uuid) -> StoreResult<Vec<OrgRole>> {
        timed!(DB, "org_roles", async {
            let rows = self
                .db
                .pool()
                .fetch_all(sql!("SELECT {ROLE_COLUMNS} FROM org_roles WHERE org_id = ? ORDER BY name"), args![org_id])
                .await?;
            rows.iter().map(role_from_row).collect()
        })
    }

    async fn find_org_role(&self, org_id: Uuid, name: &str) -> StoreResult<Option<OrgRole>> {
        timed!(DB, "find_org_role", async { read_role(&mut self.db.pool(), org_id, name).await })
    }

    async fn insert_org_role(&self, org_id: Uuid, role: &OrgRole, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "insert_org_role",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                if read_role(&mut tx, org_id, &role.name).await?.is_some() {
                    return Ok(false);
                }
                let inserted = tx
                    .execute(
                        sql!(
                            "INSERT INTO org_roles (org_id, name, permissions, created_at, updated_at)
                             VALUES (?, ?, ?, ?, ?)"
                        ),
                        args![org_id, &role.name, &role.permissions.join(" "), role.created_at, role.updated_at],
                    )
                    .await;
                match inserted {
                    Err(StoreError::Conflict) => return Ok(false),
                    other => other?,
                };
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn update_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        permissions: &[String],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Option<OrgRole>> {
        timed!(
            DB,
            "update_org_role",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                let updated = tx
                    .execute(
                        sql!("UPDATE org_roles SET permissions = ?, updated_at = ? WHERE org_id = ? AND name = ?"),
                        args![&permissions.join(" "), now, org_id, name],
                    )
                    .await?;
                if updated == 0 {
                    return Ok(None);
                }
                insert_effects(&mut tx, effects).await?;
                let stored = read_role(&mut tx, org_id, name).await?;
                tx.commit().await?;
                Ok(stored)
            })
        )
    }

    async fn delete_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<RoleRemoval> {
        timed!(
            DB,
            "delete_org_role",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                let holders = sql!("SELECT account_id FROM memberships WHERE org_id = ? AND role = ? LIMIT 1");
                if tx.fetch_optional(holders, args![org_id, name]).await?.is_some() {
                    return Ok(RoleRemoval::InUse);
                }
                let pending =
                    sql!("SELECT id FROM org_invitations WHERE org_id = ? AND role = ? AND expires_at > ? LIMIT 1");
                if tx.fetch_optional(pending, args![org_id, name, now]).await?.is_some() {
                    return Ok(RoleRemoval::InUse);
                }
                let joining = sql!("SELECT domain FROM org_domains WHERE org_id = ? AND auto_join_role = ? LIMIT 1");
                if tx.fetch_optional(joining, args![org_id, name]).await?.is_some() {
                    return Ok(RoleRemoval::InUse);
                }
                // Expired invitations offering it can no longer be accepted: they go with it.
                tx.execute(sql!("DELETE FROM org_invitations WHERE org_id = ? AND role = ?"), args![org_id, name])
                    .await?;
                let deleted = tx
                    .execute(sql!("DELETE FROM org_roles WHERE org_id = ? AND name = ?"), args![org_id, name])
                    .await?;
                if deleted == 0 {
                    return Ok(RoleRemoval::NotFound);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(RoleRemoval::Done)
            })
        )
    }
}
