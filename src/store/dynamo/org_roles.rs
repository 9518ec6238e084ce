//! An organization's custom roles: `pk = O#<org>`, `sk = ROLE#<name>`, with its permissions (a
//! list). Every change takes the organization's turn (see [`super::orgs::turn`]), as the member
//! guard does, so a role is never removed while a member is being given it, and a change of its
//! permissions is seen whole by the next check.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::items::{Item, Write, item, key, s, stamp, time};
use super::orgs::{ATTEMPTS, busy, turn};
use super::owned::org_owner;
use crate::metrics::{DATABASE as DB, timed};
use crate::model::org::valid_role_name;
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::org_roles::{OrgRole, OrgRoleStore, RoleRemoval};

/// How many expired invitations offering a role go in the transaction that deletes it.
const EXPIRED_PER_CHANGE: usize = 30;

pub(super) fn role_key(org_id: Uuid, name: &str) -> Item {
    key(org_owner(org_id), format!("ROLE#{name}"))
}

fn permission_list(permissions: &[String]) -> AttributeValue {
    AttributeValue::L(permissions.iter().map(|p| s(p.as_str())).collect())
}

pub(super) fn role_from_item(found: &Item) -> StoreResult<OrgRole> {
    let sk = super::items::text(found, "sk")?;
    let permissions = match found.get("permissions") {
        Some(AttributeValue::L(list)) => list.iter().filter_map(|p| p.as_s().ok()).map(|p| p.to_owned()).collect(),
        _ => return Err(anyhow::anyhow!("a role without its permissions").into()),
    };
    Ok(OrgRole {
        name: sk.trim_start_matches("ROLE#").to_owned(),
        permissions,
        created_at: time(found, "created")?,
        updated_at: time(found, "updated")?,
    })
}

fn role_item(org_id: Uuid, role: &OrgRole) -> Item {
    let mut written = item(
        "",
        "",
        vec![
            ("permissions", permission_list(&role.permissions)),
            ("created", stamp(role.created_at)),
            ("updated", stamp(role.updated_at)),
        ],
    );
    written.extend(role_key(org_id, &role.name));
    written
}

impl DynamoStore {
    /// The organization's custom roles and their permissions (strongly consistent).
    pub(super) async fn custom_roles(&self, org_id: Uuid) -> StoreResult<HashMap<String, Vec<String>>> {
        let found = self.partition(&self.tables.main, &org_owner(org_id), "ROLE#").await?;
        found.iter().map(|r| role_from_item(r).map(|role| (role.name, role.permissions))).collect()
    }

    /// What no role's name can be names no role.
    async fn read_role(&self, org_id: Uuid, name: &str) -> StoreResult<Option<OrgRole>> {
        if !valid_role_name(name) {
            return Ok(None);
        }
        let found = self.get(&self.tables.main, role_key(org_id, name)).await?;
        found.as_ref().map(role_from_item).transpose()
    }
}

#[async_trait]
impl OrgRoleStore for DynamoStore {
    async fn org_roles(&self, org_id: Uuid) -> StoreResult<Vec<OrgRole>> {
        timed!(DB, "org_roles", async {
            // In the order of their sort keys: by name.
            let found = self.partition(&self.tables.main, &org_owner(org_id), "ROLE#").await?;
            found.iter().map(role_from_item).collect()
        })
    }

    async fn find_org_role(&self, org_id: Uuid, name: &str) -> StoreResult<Option<OrgRole>> {
        timed!(DB, "find_org_role", self.read_role(org_id, name))
    }

    async fn insert_org_role(&self, org_id: Uuid, role: &OrgRole, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "insert_org_role", async {
            if !valid_role_name(&role.name) {
                return Ok(false);
            }
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(org_id).await? else { return Ok(false) };
                let writes = vec![
                    turn(&self.tables, org_id, read.ver),
                    // One role of a name.
                    Write::put(&self.tables.main, role_item(org_id, role)).when("attribute_not_exists(#pk)"),
                ];
                match self.commit(writes, &told).await? {
                    None => return Ok(true),
                    Some(failed) if failed.failed(1) => return Ok(false),
                    Some(_) => continue,
                }
            }
            Err(busy(org_id))
        })
    }

    async fn update_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        permissions: &[String],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Option<OrgRole>> {
        timed!(DB, "update_org_role", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(org_id).await? else { return Ok(None) };
                let Some(stored) = self.read_role(org_id, name).await? else { return Ok(None) };
                let role = OrgRole { permissions: permissions.to_vec(), updated_at: now, ..stored };
                let writes = vec![
                    turn(&self.tables, org_id, read.ver),
                    Write::put(&self.tables.main, role_item(org_id, &role)).when("attribute_exists(#pk)"),
                ];
                if self.commit(writes, &told).await?.is_none() {
                    return Ok(Some(role));
                }
            }
            Err(busy(org_id))
        })
    }

    async fn delete_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<RoleRemoval> {
        timed!(DB, "delete_org_role", async {
            let told = self.told_built(effects).await?;
            for _ in 0..ATTEMPTS {
                let Some(read) = self.read_org(org_id).await? else { return Ok(RoleRemoval::NotFound) };
                if self.members(org_id).await?.iter().any(|m| m.role == name) {
                    return Ok(RoleRemoval::InUse);
                }
                let invitations = self.stored_invitations(org_id).await?;
                let offering: Vec<_> = invitations.iter().filter(|i| i.invitation.role == name).collect();
                if offering.iter().any(|i| i.invitation.expires_at > now) {
                    return Ok(RoleRemoval::InUse);
                }
                if self.claims(org_id).await?.iter().any(|d| d.auto_join_role.as_deref() == Some(name)) {
                    return Ok(RoleRemoval::InUse);
                }
                if self.read_role(org_id, name).await?.is_none() {
                    return Ok(RoleRemoval::NotFound);
                }
                let mut writes = vec![
                    turn(&self.tables, org_id, read.ver),
                    Write::delete(&self.tables.main, role_key(org_id, name)).when("attribute_exists(#pk)"),
                ];
                // Expired invitations offering it can no longer be accepted: they go with it.
                // (A few at a time, within the transaction; the rest expire away with the
                // invitations' `ttl` and can never be accepted.)
                for expired in offering.into_iter().take(EXPIRED_PER_CHANGE) {
                    writes.extend(super::invitations::invitation_gone(&self.tables, expired));
                }
                if self.commit(writes, &told).await?.is_none() {
                    return Ok(RoleRemoval::Done);
                }
            }
            Err(busy(org_id))
        })
    }
}
