//! Who may reach what, decided in one place: an account's groups (its role, then the names in
//! its `app_data.roles`), whether it holds the admin capability, whether it may act on another
//! account, and whether a change to an account changes what it may reach. The admin
//! capability ([`super::Accounts::as_admin`]), account edits, the MFA policy and forward-auth's
//! `group:` rules all ask here; organization membership joins these rules here; and which kind
//! of credential may create lasting access is the table of [`matrix`].

use serde_json::{Map, Value};

pub mod matrix;

use crate::model::account::{Account, Role, Status};
use crate::model::org::{Membership, OWNER, Permission, builtin_permissions};

/// The account's groups, as forward-auth's `group:NAME` rules and its `Remote-Groups` header
/// see them: its role first, then the strings of `app_data.roles` (one holding a comma is
/// dropped: it could not be told apart in the header).
pub fn groups(account: &Account) -> Vec<String> {
    let mut groups = vec![account.role.as_str().to_owned()];
    if let Some(Value::Array(roles)) = account.app_data.get("roles") {
        groups.extend(roles.iter().filter_map(Value::as_str).filter(|r| !r.contains(',')).map(str::to_owned));
    }
    groups
}

/// Whether the account is in `group`.
pub fn in_group(account: &Account, group: &str) -> bool {
    groups(account).iter().any(|g| g == group)
}

/// Whether the account's role is admin (whatever its status): the MFA policy `admins` covers
/// it, and it may edit what only admins may (a disabled account has no session to do so).
pub fn has_admin_role(account: &Account) -> bool {
    account.role == Role::Admin
}

/// Whether the account holds the admin capability now: an admin, and active.
pub fn is_active_admin(account: &Account) -> bool {
    has_admin_role(account) && account.status == Status::Active
}

/// Whether `me` may read or change accounts other than its own: an admin may. Asked before the
/// other account is looked up, so that the answer tells nobody else whether it exists.
pub fn manages_others(me: &Account) -> bool {
    has_admin_role(me)
}

/// Whether changing `target` to `role` and `app_data` changes what it may reach: its role, or
/// the `app_data.roles` that [`groups`] reads. Such a change is lasting access, which only an
/// admin who authenticated recently may give.
pub fn grants_access(target: &Account, role: Role, app_data: &Map<String, Value>) -> bool {
    role != target.role || app_data.get("roles") != target.app_data.get("roles")
}

/// The group names among `asked` (forward-auth rules' `group:NAME`) that are also a role's
/// name: accounts of that role have them, and so do accounts whose `app_data.roles` lists them.
pub fn role_named<'a>(asked: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    asked.into_iter().filter(|group| Role::parse(group).is_some()).collect()
}

/// What an account may do in an organization, decided from its membership read at this request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    /// Its role there (`owner` for an admin acting as one).
    pub role: String,
    pub permissions: Vec<String>,
    /// A gatehouse admin acting as the organization's owner would, without being one.
    pub as_admin: bool,
}

impl Standing {
    pub fn may(&self, permission: Permission) -> bool {
        self.permissions.iter().any(|p| p == permission.as_str())
    }

    /// Whether it may change an owner's role, make an owner, or remove one: an owner's alone.
    pub fn is_owner(&self) -> bool {
        self.role == OWNER
    }

    /// Whether it may give, offer or take away `role`: the owner role is an owner's alone.
    pub fn may_handle(&self, role: &str) -> bool {
        !is_owner_role(role) || self.is_owner()
    }
}

/// The account's standing in an organization where its membership is `membership` (`None`:
/// not a member): an active admin acts everywhere as an owner would; anyone else has its role's
/// permissions (read with the membership), and a non-member none at all.
pub fn org_standing(account: &Account, membership: Option<&Membership>) -> Option<Standing> {
    if is_active_admin(account) {
        let permissions = builtin_permissions(OWNER).unwrap_or_default();
        let as_admin = membership.is_none_or(|m| m.role != OWNER);
        return Some(Standing { role: OWNER.to_owned(), permissions, as_admin });
    }
    let membership = membership?;
    Some(Standing { role: membership.role.clone(), permissions: membership.permissions.clone(), as_admin: false })
}

/// What giving a member the role `role` (which grants `permissions`) is, in the credential
/// matrix: making an owner (`owner`), granting any permission at all (`beyond`: a member's role
/// grants none), or (`None`) nothing it guards.
pub fn granting(
    role: &str,
    permissions: &[String],
    owner: matrix::Operation,
    beyond: matrix::Operation,
) -> Option<matrix::Operation> {
    match (role == OWNER, permissions.is_empty()) {
        (true, _) => Some(owner),
        (false, false) => Some(beyond),
        (false, true) => None,
    }
}

/// Whether `role` is the owner role, which only an owner gives, takes or touches.
pub fn is_owner_role(role: &str) -> bool {
    crate::model::org::is_owner(role)
}

/// Whether the account stays an active admin with `role` and `status`.
pub fn stays_active_admin(role: Role, status: Status) -> bool {
    crate::model::account::is_active_admin(role, status)
}

/// Whether giving `role` makes a server admin.
pub fn is_admin_role(role: Role) -> bool {
    role == Role::Admin
}

/// Whether an organization's own identity provider, or its SCIM client, may speak for `account`
/// in organization `org_id`, whose memberships (suspended ones too: a suspension is no way out
/// of this) are `memberships`: never a server admin, nor this organization's owner, nor a member
/// of any other organization.
pub fn org_may_speak_for(account: &Account, memberships: &[Membership], org_id: uuid::Uuid) -> bool {
    !has_admin_role(account) && memberships.iter().all(|m| m.org.id == org_id && !is_owner_role(&m.role))
}

/// Whether an organization's `sso_required` spares `account`, whose membership there is
/// `membership`: its owners and gatehouse's admins keep every way in, so a broken identity
/// provider locks out nobody who can fix it.
pub fn spared_by_sso_required(account: &Account, membership: Option<&Membership>) -> bool {
    has_admin_role(account) || membership.is_some_and(|m| is_owner_role(&m.role))
}

/// Whether a membership meets what a forward-auth `org:` rule asks beyond membership: a role's
/// name, a permission (holding a `:`), or `group:NAME` (any letter case, as SCIM compares).
pub fn meets(membership: &Membership, need: Option<&str>) -> bool {
    match need {
        None => true,
        Some(need) if need.starts_with("group:") => {
            let group = need["group:".len()..].to_lowercase();
            membership.groups.iter().any(|g| g.to_lowercase() == group)
        }
        Some(need) if need.contains(':') => membership.permissions.iter().any(|p| p == need),
        Some(role) => membership.role == role,
    }
}

/// Whether the account may create an organization: anyone may when creation is open, else
/// admins only.
pub fn may_create_org(account: &Account, open: bool) -> bool {
    (open && account.status == Status::Active) || is_active_admin(account)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn account(role: Role, status: Status, app_data: Value) -> Account {
        Account {
            id: uuid::Uuid::nil(),
            email: "ann@example.com".into(),
            username: None,
            name: None,
            data: Map::new(),
            app_data: app_data.as_object().unwrap().clone(),
            role,
            status,
            email_verified: true,
            locale: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn groups_are_the_role_then_app_data_roles_without_commas() {
        let ann = account(Role::User, Status::Active, json!({"roles": ["staff", "a,b", 7, "ops"]}));
        assert_eq!(groups(&ann), ["user", "staff", "ops"]);
        assert!(in_group(&ann, "staff") && !in_group(&ann, "a,b") && !in_group(&ann, "admin"));
        let none = account(Role::Admin, Status::Active, json!({"roles": "staff"}));
        assert_eq!(groups(&none), ["admin"]);
    }

    #[test]
    fn the_admin_capability_needs_the_role_and_an_active_account() {
        assert!(is_active_admin(&account(Role::Admin, Status::Active, json!({}))));
        assert!(!is_active_admin(&account(Role::Admin, Status::Disabled, json!({}))));
        assert!(!is_active_admin(&account(Role::User, Status::Active, json!({"roles": ["admin"]}))));
    }

    #[test]
    fn only_an_admin_manages_other_accounts() {
        assert!(manages_others(&account(Role::Admin, Status::Active, json!({}))));
        assert!(!manages_others(&account(Role::User, Status::Active, json!({"roles": ["admin"]}))));
    }

    #[test]
    fn a_change_of_role_or_app_data_roles_grants_access_and_nothing_else_does() {
        let ann = account(Role::User, Status::Active, json!({"roles": ["staff"], "theme": "dark"}));
        let same = json!({"roles": ["staff"], "theme": "light"});
        assert!(!grants_access(&ann, Role::User, same.as_object().unwrap()));
        assert!(grants_access(&ann, Role::Admin, same.as_object().unwrap()));
        assert!(grants_access(&ann, Role::User, json!({"roles": ["ops"]}).as_object().unwrap()));
        assert_eq!(role_named(["admin", "staff", "user"]), ["admin", "user"]);
    }

    #[test]
    fn a_member_has_its_role_s_permissions_an_admin_an_owner_s_and_anyone_else_none() {
        let user = account(Role::User, Status::Active, json!({"roles": ["owner"]}));
        let org = crate::model::org::Organization {
            id: uuid::Uuid::nil(),
            name: "Acme".into(),
            slug: "acme".into(),
            data: Map::new(),
            policy: Default::default(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let held = |role: &str, custom: Option<Vec<String>>| Membership {
            org: org.clone(),
            account_id: user.id,
            role: role.to_owned(),
            permissions: crate::model::org::permissions_of(role, custom),
            joined_at: chrono::Utc::now(),
            groups: Vec::new(),
            suspended: false,
        };
        let (member, admin, owner) = (held("member", None), held("admin", None), held("owner", None));
        let billing = held("billing", Some(vec!["invoices:read".into(), "members:invite".into()]));
        let custom = org_standing(&user, Some(&billing)).unwrap();
        assert!(custom.permissions.iter().any(|p| p == "invoices:read"));
        assert!(custom.may(Permission::MembersInvite) && !custom.may(Permission::MembersRemove));
        let member = org_standing(&user, Some(&member)).unwrap();
        assert!(!member.may(Permission::OrgUpdate) && !member.is_owner() && !member.as_admin);
        let admin_role = org_standing(&user, Some(&admin)).unwrap();
        assert!(
            admin_role.may(Permission::MembersRemove)
                && !admin_role.may(Permission::OrgDelete)
                && !admin_role.is_owner()
        );
        assert!(org_standing(&user, None).is_none(), "app_data.roles grants nothing in an organization");
        let admin = account(Role::Admin, Status::Active, json!({}));
        let acting = org_standing(&admin, None).unwrap();
        assert!(acting.may(Permission::OrgDelete) && acting.is_owner() && acting.as_admin);
        assert!(!org_standing(&admin, Some(&owner)).unwrap().as_admin);
        assert!(org_standing(&account(Role::Admin, Status::Disabled, json!({})), None).is_none());
        assert!(may_create_org(&user, true) && !may_create_org(&user, false) && may_create_org(&admin, false));
    }
}
