//! An organization's custom roles (`roles:manage`): a name and the permissions it grants,
//! gatehouse's own and any an app defines (`resource:action`). Nobody defines or changes a
//! role to grant a permission it does not hold itself (owners and admins hold every app
//! permission), so `roles:manage` is no way around `members:update`'s limits.

use std::collections::BTreeSet;

use super::access::matrix::Operation;
use super::orgs::OrgView;
use super::{Caller, ClientInfo, Error, FieldError, Organizations, Result};
use crate::model::org::Permission;
use crate::model::org::{
    Held, MAX_ROLE_PERMISSION_BYTES, MAX_ROLE_PERMISSIONS, OrgRole, RoleRemoval, builtin_permissions, valid_permission,
    valid_role_name,
};
use crate::model::outcome::{Effects, Kind};

/// A role as listed: built in, or the organization's own.
#[derive(Clone, Debug)]
pub struct RoleView {
    pub name: String,
    pub permissions: Vec<String>,
    pub builtin: bool,
}

/// Refuses a role granting any of gatehouse's own permissions the caller does not hold.
fn within_reach(view: &OrgView, granted: &[String]) -> Result<()> {
    let me = Held { role: &view.standing.role, permissions: &view.standing.permissions };
    match me.covers(&Held { role: "", permissions: granted }) {
        true => Ok(()),
        false => Err(Error::Forbidden),
    }
}

/// The permissions given, checked, without repeats, in order.
fn check_permissions(given: Vec<String>) -> Result<Vec<String>> {
    if given.len() > MAX_ROLE_PERMISSIONS
        || given.iter().map(|p| p.len() + 1).sum::<usize>() > MAX_ROLE_PERMISSION_BYTES
    {
        return Err(Error::field("permissions", "a role grants at most 100 permissions, of 2 KiB together"));
    }
    if let Some(bad) = given.iter().find(|p| !valid_permission(p)) {
        let why = format!("{bad:?} is not a permission: write resource:action (a-z, 0-9, _, - and .)");
        return Err(Error::Validation(vec![FieldError::new("permissions", why)]));
    }
    Ok(given.into_iter().collect::<BTreeSet<_>>().into_iter().collect())
}

impl Organizations {
    /// The permissions of the role named `role` in the organization: a built-in one's or its
    /// own custom role's; a validation error for any other name.
    pub(super) async fn role_permissions(&self, org_id: uuid::Uuid, role: &str) -> Result<Vec<String>> {
        if let Some(permissions) = builtin_permissions(role) {
            return Ok(permissions);
        }
        let no_such = || Error::field("role", "no such role: owner, admin, member or one of the organization's own");
        if !valid_role_name(role) {
            return Err(no_such());
        }
        match self.store.find_org_role(org_id, role).await? {
            Some(custom) => Ok(custom.permissions),
            None => Err(no_such()),
        }
    }

    /// The organization with the caller's standing, when it may manage roles.
    async fn managing_roles(&self, caller: &Caller, key: &str) -> Result<OrgView> {
        self.org_with(caller, key, Permission::RolesManage).await
    }

    /// The roles of the organization: the built-in ones, then its own by name (`roles:manage`).
    pub async fn org_roles(&self, caller: &Caller, key: &str) -> Result<Vec<RoleView>> {
        let OrgView { org, .. } = self.managing_roles(caller, key).await?;
        let builtin =
            [crate::model::org::OWNER, crate::model::org::ADMIN, crate::model::org::MEMBER].map(|name| RoleView {
                name: name.to_owned(),
                permissions: builtin_permissions(name).unwrap_or_default(),
                builtin: true,
            });
        let custom = self.store.org_roles(org.id).await?.into_iter().map(|role| RoleView {
            name: role.name,
            permissions: role.permissions,
            builtin: false,
        });
        Ok(builtin.into_iter().chain(custom).collect())
    }

    /// Defines a custom role (`roles:manage`).
    pub async fn create_org_role(
        &self,
        caller: &Caller,
        key: &str,
        name: &str,
        permissions: Vec<String>,
        client: &ClientInfo,
    ) -> Result<OrgRole> {
        self.admit(caller, Operation::OrgRole).await?;
        if !valid_role_name(name) {
            let why = "a role's name is 1 to 48 of a-z, 0-9, _ and -, starting with a letter";
            return Err(Error::field("name", why));
        }
        if builtin_permissions(name).is_some() {
            return Err(Error::RoleTaken);
        }
        let permissions = check_permissions(permissions)?;
        let view = self.managing_roles(caller, key).await?;
        within_reach(&view, &permissions)?;
        let org = view.org;
        let now = self.now();
        let role = OrgRole { name: name.to_owned(), permissions, created_at: now, updated_at: now };
        let created = self
            .org_outcome(Kind::OrgRoleCreated, caller, &org, client)
            .with("role", name)
            .with("permissions", role.permissions.clone());
        let effects = Effects::of(created);
        if !self.commit(&effects, self.store.insert_org_role(org.id, &role, &effects)).await? {
            return Err(Error::RoleTaken);
        }
        Ok(role)
    }

    /// Replaces a custom role's permissions (`roles:manage`); its holders have the new ones at
    /// their next request.
    pub async fn update_org_role(
        &self,
        caller: &Caller,
        key: &str,
        name: &str,
        permissions: Vec<String>,
        client: &ClientInfo,
    ) -> Result<OrgRole> {
        self.admit(caller, Operation::OrgRole).await?;
        if builtin_permissions(name).is_some() {
            return Err(Error::Forbidden);
        }
        let permissions = check_permissions(permissions)?;
        let view = self.managing_roles(caller, key).await?;
        let current = self.store.find_org_role(view.org.id, name).await?.ok_or(Error::NotFoundRole)?;
        within_reach(&view, &permissions)?;
        within_reach(&view, &current.permissions)?;
        let org = view.org;
        let updated = self
            .org_outcome(Kind::OrgRoleUpdated, caller, &org, client)
            .with("role", name)
            .with("permissions", permissions.clone())
            .with("previous", current.permissions);
        let effects = Effects::of(updated);
        let stored = self
            .commit(&effects, self.store.update_org_role(org.id, name, &permissions, self.now(), &effects))
            .await?
            .ok_or(Error::NotFoundRole)?;
        Ok(stored)
    }

    /// Removes a custom role nobody holds and no invitation offers (`roles:manage`).
    pub async fn delete_org_role(&self, caller: &Caller, key: &str, name: &str, client: &ClientInfo) -> Result<()> {
        if builtin_permissions(name).is_some() {
            return Err(Error::Forbidden);
        }
        let view = self.managing_roles(caller, key).await?;
        let current = self.store.find_org_role(view.org.id, name).await?.ok_or(Error::NotFoundRole)?;
        within_reach(&view, &current.permissions)?;
        let org = view.org;
        let effects = Effects::of(self.org_outcome(Kind::OrgRoleDeleted, caller, &org, client).with("role", name));
        match self.commit(&effects, self.store.delete_org_role(org.id, name, self.now(), &effects)).await? {
            RoleRemoval::Done => {}
            RoleRemoval::NotFound => return Err(Error::NotFoundRole),
            RoleRemoval::InUse => return Err(Error::RoleInUse),
        }
        Ok(())
    }
}
