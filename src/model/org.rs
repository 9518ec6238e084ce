//! Organizations: a group of accounts of the one user pool, each member with a role there.
//! A person has one account and may belong to several organizations.
//!
//! A role grants permissions, strings `resource:action`: the built-in ones ([`PERMISSIONS`])
//! and any an app defines. Three roles are built in: `owner` (every permission), `admin` (all
//! but deleting the organization; changing an owner's role is an owner's alone, which the rules
//! check apart) and `member` (none: a member reads the organization and its members).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use super::org_policy::OrgPolicy;

/// The permissions gatehouse itself checks, a typed catalogue: the code names one of these,
/// never a string (an app's own permissions, `resource:action` strings, are granted and shown
/// but never checked by gatehouse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    OrgUpdate,
    OrgDelete,
    MembersInvite,
    MembersUpdate,
    MembersRemove,
    RolesManage,
    SsoManage,
    ApiKeysManage,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::OrgUpdate,
        Permission::OrgDelete,
        Permission::MembersInvite,
        Permission::MembersUpdate,
        Permission::MembersRemove,
        Permission::RolesManage,
        Permission::SsoManage,
        Permission::ApiKeysManage,
    ];

    /// Its name, as roles hold it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::OrgUpdate => "org:update",
            Permission::OrgDelete => "org:delete",
            Permission::MembersInvite => "members:invite",
            Permission::MembersUpdate => "members:update",
            Permission::MembersRemove => "members:remove",
            Permission::RolesManage => "roles:manage",
            Permission::SsoManage => "sso:manage",
            Permission::ApiKeysManage => "api_keys:manage",
        }
    }
}

/// The names of the permissions gatehouse itself checks.
pub const PERMISSIONS: [&str; 8] = {
    let mut names = [""; 8];
    let mut i = 0;
    while i < Permission::ALL.len() {
        names[i] = Permission::ALL[i].as_str();
        i += 1;
    }
    names
};

/// The built-in roles.
pub const OWNER: &str = "owner";
pub const ADMIN: &str = "admin";
pub const MEMBER: &str = "member";

/// The permissions a built-in role grants; `None` for any other name (a custom role, whose
/// permissions the organization keeps).
pub fn builtin_permissions(role: &str) -> Option<Vec<String>> {
    let all = PERMISSIONS.iter().map(|p| (*p).to_owned());
    match role {
        OWNER => Some(all.collect()),
        ADMIN => Some(all.filter(|p| p != "org:delete").collect()),
        MEMBER => Some(Vec::new()),
        _ => None,
    }
}

/// An organization's slug: lower-case letters, digits and hyphens, 2 to 48 of them, neither
/// starting nor ending with a hyphen, and never the shape of an id (`{org}` in a path is
/// either).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    pub fn parse(text: &str) -> Option<Self> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        let fits = (2..=48).contains(&text.len())
            && text.chars().all(allowed)
            && !text.starts_with('-')
            && !text.ends_with('-')
            && Uuid::parse_str(text).is_err();
        fits.then(|| Self(text.to_owned()))
    }

    /// A slug made from a name: lower case, each run of other characters one hyphen, cut to 48;
    /// `None` when too little is left (the caller then asks for one).
    pub fn from_name(name: &str) -> Option<Self> {
        let mut slug = String::new();
        for c in name.chars().flat_map(char::to_lowercase) {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(48);
        Self::parse(slug.trim_end_matches('-'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A role's name: a built-in one, or a custom one (letters, digits, `_` and `-`, 1 to 48,
/// starting with a letter).
pub fn valid_role_name(name: &str) -> bool {
    (1..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// An organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    /// Free JSON the organization's admins keep.
    pub data: Map<String, Value>,
    /// What it asks of the sessions that enter it.
    pub policy: OrgPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How an organization is named in a request: its id or its slug.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgKey<'a> {
    Id(Uuid),
    Slug(&'a str),
}

impl<'a> OrgKey<'a> {
    /// An id if the text is one, else a slug.
    pub fn of(text: &'a str) -> Self {
        Uuid::parse_str(text).map_or(Self::Slug(text), Self::Id)
    }
}

/// A new organization and its first owner.
#[derive(Clone, Debug)]
pub struct NewOrganization {
    pub id: Uuid,
    pub name: String,
    pub slug: Slug,
    pub data: Map<String, Value>,
    pub owner: Uuid,
    pub now: DateTime<Utc>,
}

/// An organization's editable fields, as they are to be.
#[derive(Clone, Debug)]
pub struct OrgChange {
    pub name: String,
    pub slug: Slug,
    pub data: Map<String, Value>,
    pub policy: OrgPolicy,
    pub now: DateTime<Utc>,
}

/// An account's place in an organization.
#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    pub org: Organization,
    pub account_id: Uuid,
    pub role: String,
    /// What the role grants, read with the membership (a custom role's as it is now).
    pub permissions: Vec<String>,
    pub joined_at: DateTime<Utc>,
    /// The names of its groups in the organization (kept by SCIM).
    pub groups: Vec<String>,
    /// Suspended by the organization's SCIM client: only the reads that include suspended
    /// memberships return such a one, and it grants nothing.
    pub suspended: bool,
}

/// A member as the organization's list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub account_id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    pub joined_at: DateTime<Utc>,
    /// Suspended by the organization's SCIM client (`active: false`): it grants nothing.
    pub suspended: bool,
}

/// Where a page of an organization's members starts: after the member who joined at
/// `joined_at` with `account_id` (the previous page's last). It names a place in the order,
/// not a member, so a page after one who has left since still comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberCursor {
    pub joined_at: DateTime<Utc>,
    pub account_id: Uuid,
}

impl MemberCursor {
    pub fn of(member: &Member) -> Self {
        Self { joined_at: member.joined_at, account_id: member.account_id }
    }

    /// `{unix nanoseconds}.{account id}`.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.joined_at.timestamp_nanos_opt().unwrap_or_default(), self.account_id)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (nanos, id) = text.trim().split_once('.')?;
        let joined_at = DateTime::from_timestamp_nanos(nanos.parse().ok()?);
        Some(Self { joined_at, account_id: Uuid::parse_str(id).ok()? })
    }
}

/// Who changes a membership: an account, by its own membership (read in the change's
/// transaction, so a role lost a moment before counts), or a gatehouse admin or the operator,
/// who act as an owner would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgActor {
    Member(Uuid),
    AsOwner,
}

/// A role with its permissions, as a change of membership weighs it.
#[derive(Clone, Copy, Debug)]
pub struct Held<'a> {
    pub role: &'a str,
    pub permissions: &'a [String],
}

impl Held<'_> {
    fn has(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }

    /// Whether this one holds every permission `other` grants: gatehouse's own as listed, and
    /// an app's own (`resource:action`) as listed or, for the built-in owner and admin, all of
    /// them (they run the organization, its app permissions included).
    pub fn covers(&self, other: &Held<'_>) -> bool {
        let runs_it = self.role == OWNER || self.role == ADMIN;
        other.permissions.iter().all(|p| self.has(p) || (runs_it && !PERMISSIONS.contains(&p.as_str())))
    }
}

/// Whether `actor` may give a member holding `target` the role `new`, or (`None`) remove it;
/// `leaving` when the actor is that member. Owners alone touch owners, and nobody gives or
/// takes away a permission it does not hold ([`Held::covers`]): a custom role with
/// `members:update` cannot make anyone (itself included) an admin, nor hand out an app
/// permission it lacks.
pub fn may_change(actor: Held<'_>, target: Held<'_>, new: Option<Held<'_>>, leaving: bool) -> bool {
    let owner = actor.role == OWNER;
    let touches_owner = target.role == OWNER || new.is_some_and(|new| new.role == OWNER);
    match new {
        None if leaving => true,
        None => actor.has("members:remove") && (target.role != OWNER || owner) && actor.covers(&target),
        Some(new) => {
            actor.has("members:update") && (!touches_owner || owner) && actor.covers(&target) && actor.covers(&new)
        }
    }
}

/// Whether `role` is the owner role, which only an owner gives, takes or touches.
pub fn is_owner(role: &str) -> bool {
    role == OWNER
}

/// Whether an owner besides `member` remains among `members` (each an account and its role).
pub fn another_owner<'a>(members: impl IntoIterator<Item = (Uuid, &'a str)>, member: Uuid) -> bool {
    members.into_iter().any(|(account, role)| account != member && is_owner(role))
}

/// Whether an organization's directory (its SCIM client) must leave a member alone: its owner,
/// or a server admin (`account_role`), whom no organization's directory changes.
pub fn directory_spares(org_role: &str, account_role: super::account::Role) -> bool {
    is_owner(org_role) || account_role.is_admin()
}

/// Who made an invitation, as its acceptance reads it in its turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maker<'a> {
    /// No maker on record: the organization's own (an operator's, or one whose account is
    /// deleted since, as a SQL store forgets it).
    Unrecorded,
    /// A member, holding this role now.
    Member(&'a str),
    /// No longer a member, or suspended.
    Gone,
}

/// Whether an offer of the role `offered` still stands: the role exists, and the maker still
/// holds `members:invite` and every permission the role grants now (only an owner offers
/// `owner`). A removed, suspended or demoted maker's offers, and a role widened since, are
/// void. `custom`: the organization's custom roles, their permissions by name.
pub fn offer_stands(offered: &str, maker: Maker<'_>, custom: &HashMap<String, Vec<String>>) -> bool {
    let known = |role: &str| builtin_permissions(role).or_else(|| custom.get(role).cloned());
    let Some(granted) = known(offered) else { return false };
    let role = match maker {
        Maker::Unrecorded => return true,
        Maker::Gone => return false,
        Maker::Member(role) => role,
    };
    let held = known(role).unwrap_or_default();
    let maker = Held { role, permissions: &held };
    held.iter().any(|p| p == "members:invite")
        && (!is_owner(offered) || is_owner(role))
        && maker.covers(&Held { role: offered, permissions: &granted })
}

/// What deleting an account does to an organization it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// Not an owner there: its membership just goes.
    NotOwner,
    /// One of several owners: its membership goes in the organization's turn, so that no
    /// change of the members counts it as an owner meanwhile.
    Leaves,
    /// Its only member: the organization goes with it.
    Dropped,
    /// Its only owner, with other members: the deletion is refused, so that no organization is
    /// left without an owner.
    LastOwner,
}

/// What deleting `account` does to the organization whose members (each an account and its
/// role, the account's own among them) are `members`, as read in the deletion's turn.
pub fn release<'a>(account: Uuid, members: impl IntoIterator<Item = (Uuid, &'a str)> + Clone) -> Release {
    let owns = members.clone().into_iter().any(|(member, role)| member == account && is_owner(role));
    let others = members.clone().into_iter().filter(|(member, _)| *member != account).count();
    match (owns, others) {
        (false, _) => Release::NotOwner,
        (true, 0) => Release::Dropped,
        (true, _) if !another_owner(members, account) => Release::LastOwner,
        (true, _) => Release::Leaves,
    }
}

/// One organization's memberships as a change of one of them reads them in its turn (its
/// transaction's locking reads, or the items its conditional writes depend on): what
/// [`member_change`] decides on. Each store reads them its own way; the decision is this one.
#[derive(Clone, Copy, Debug)]
pub struct MemberFacts<'a> {
    /// The actor's role now: an owner's for the organization acting as owner, `None` when the
    /// actor is no longer a member.
    pub actor_role: Option<&'a str>,
    /// The member's role now (`None`: not a member).
    pub current: Option<&'a str>,
    /// An owner besides the member remains.
    pub another_owner: bool,
    /// The organization's custom roles: their permissions by name.
    pub custom: &'a HashMap<String, Vec<String>>,
}

/// What a change of a member's role to `role` (or, with `None`, its removal) may do, the
/// actor's right judged on its role as it is now ([`may_change`]; `leaving` when the actor is
/// that member), and never leaving the organization without an owner.
pub fn member_change(facts: MemberFacts<'_>, role: Option<&str>, leaving: bool) -> MemberChange {
    let Some(current) = facts.current else { return MemberChange::NotFound };
    let known = |role: &str| builtin_permissions(role).or_else(|| facts.custom.get(role).cloned());
    let new_permissions = match role {
        Some(role) => match known(role) {
            Some(permissions) => Some(permissions),
            None => return MemberChange::UnknownRole,
        },
        None => None,
    };
    let Some(actor_role) = facts.actor_role else { return MemberChange::Forbidden };
    let (actor_permissions, current_permissions) =
        (known(actor_role).unwrap_or_default(), known(current).unwrap_or_default());
    let held = |role, permissions| Held { role, permissions };
    let new = role.zip(new_permissions.as_deref()).map(|(role, permissions)| held(role, permissions));
    if !may_change(held(actor_role, &actor_permissions), held(current, &current_permissions), new, leaving) {
        return MemberChange::Forbidden;
    }
    if is_owner(current) && !role.is_some_and(is_owner) && !facts.another_owner {
        return MemberChange::LastOwner;
    }
    MemberChange::Done
}

/// The permissions of a role: a built-in one's, else the custom role's (`custom`, what the
/// organization keeps for that name), else none.
pub fn permissions_of(role: &str, custom: Option<Vec<String>>) -> Vec<String> {
    builtin_permissions(role).or(custom).unwrap_or_default()
}

/// Whether `permission` may be granted by a custom role: a built-in one, or an app's own
/// `resource:action` (each part 1 to 64 of lower-case letters, digits, `_`, `-` and `.`). The
/// resource `group` is not one: forward-auth's `org:SLUG:group:NAME` names a SCIM group.
pub fn valid_permission(permission: &str) -> bool {
    let part = |p: &str| {
        (1..=64).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c))
    };
    match permission.split_once(':') {
        Some((resource, action)) => resource != "group" && part(resource) && part(action),
        None => false,
    }
}

/// The most permissions one custom role grants, and the most bytes they take together (they
/// ride in every access token of its holders, which must fit a proxy's header buffer).
pub const MAX_ROLE_PERMISSIONS: usize = 100;
pub const MAX_ROLE_PERMISSION_BYTES: usize = 2048;

/// A role an organization defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgRole {
    pub name: String,
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What removing a custom role came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleRemoval {
    Done,
    NotFound,
    /// Members hold it: nothing changed.
    InUse,
}

/// What a change of a member's role or a removal came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberChange {
    Done,
    /// Not a member.
    NotFound,
    /// The actor may not make this change (any more: its own role is read in the change's
    /// transaction).
    Forbidden,
    /// It would leave the organization without an owner: nothing changed.
    LastOwner,
    /// The new role is neither a built-in one nor one of the organization's.
    UnknownRole,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_an_account_drops_the_organizations_it_alone_is_in_and_keeps_an_owner_elsewhere() {
        let (ann, bob, cy) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(release(ann, [(ann, OWNER)]), Release::Dropped);
        assert_eq!(release(ann, [(ann, OWNER), (bob, "admin")]), Release::LastOwner);
        assert_eq!(release(ann, [(ann, OWNER), (bob, "admin"), (cy, OWNER)]), Release::Leaves);
        assert_eq!(release(bob, [(ann, OWNER), (bob, "admin")]), Release::NotOwner);
        // A member alone but not an owner (no such organization should exist) does not drop it.
        assert_eq!(release(bob, [(bob, "member")]), Release::NotOwner);
    }

    #[test]
    fn an_offer_stands_while_its_maker_may_still_make_it() {
        let none = HashMap::new();
        assert!(offer_stands("admin", Maker::Unrecorded, &none));
        assert!(!offer_stands("nobody", Maker::Unrecorded, &none));
        assert!(offer_stands("member", Maker::Member("admin"), &none));
        assert!(!offer_stands(OWNER, Maker::Member("admin"), &none));
        assert!(offer_stands(OWNER, Maker::Member(OWNER), &none));
        assert!(!offer_stands("member", Maker::Member("member"), &none));
        assert!(!offer_stands("member", Maker::Gone, &none));
        let custom = HashMap::from([("recruiter".to_owned(), vec!["members:invite".to_owned()])]);
        assert!(offer_stands("member", Maker::Member("recruiter"), &custom));
        assert!(!offer_stands("admin", Maker::Member("recruiter"), &custom));
    }

    #[test]
    fn a_member_change_keeps_an_owner_and_reads_the_actor_s_role_as_it_is_now() {
        let none = HashMap::new();
        let facts =
            |actor_role, current, another_owner| MemberFacts { actor_role, current, another_owner, custom: &none };
        let owner = Some(OWNER);
        // The last owner neither demotes itself nor leaves; another owner lets it.
        assert_eq!(member_change(facts(owner, owner, false), Some("admin"), false), MemberChange::LastOwner);
        assert_eq!(member_change(facts(owner, owner, false), None, true), MemberChange::LastOwner);
        assert_eq!(member_change(facts(owner, owner, true), Some("member"), false), MemberChange::Done);
        assert_eq!(
            member_change(facts(owner, Some("member"), false), Some("nobody"), false),
            MemberChange::UnknownRole
        );
        assert_eq!(member_change(facts(owner, None, true), None, false), MemberChange::NotFound);
        // An actor removed or demoted a moment ago is judged on that.
        assert_eq!(member_change(facts(None, Some("member"), true), None, false), MemberChange::Forbidden);
        assert_eq!(member_change(facts(Some("member"), Some("member"), true), None, false), MemberChange::Forbidden);
        // An admin touches no owner and makes none.
        assert_eq!(member_change(facts(Some("admin"), owner, true), Some("member"), false), MemberChange::Forbidden);
        assert_eq!(member_change(facts(Some("admin"), Some("member"), true), owner, false), MemberChange::Forbidden);
        assert_eq!(member_change(facts(Some("admin"), Some("member"), true), None, false), MemberChange::Done);
        // A custom role's holder grants nothing it lacks.
        let custom = HashMap::from([("lead".to_owned(), vec!["members:update".to_owned()])]);
        let lead =
            MemberFacts { actor_role: Some("lead"), current: Some("member"), another_owner: true, custom: &custom };
        assert_eq!(member_change(lead, Some("admin"), false), MemberChange::Forbidden);
    }

    #[test]
    fn slugs_are_short_lower_case_words_joined_by_hyphens_and_never_an_id() {
        for good in ["ab", "acme", "acme-corp", "a1-b2", &"x".repeat(48)] {
            assert!(Slug::parse(good).is_some(), "{good}");
        }
        let id = Uuid::now_v7().to_string();
        for bad in ["a", "Acme", "acme_corp", "-acme", "acme-", "ac me", "açme", &"x".repeat(49), id.as_str()] {
            assert!(Slug::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Slug::from_name("Acme, Inc.").unwrap().as_str(), "acme-inc");
        assert_eq!(Slug::from_name("  Über Café 2 ").unwrap().as_str(), "ber-caf-2");
        assert!(Slug::from_name("!").is_none());
    }

    #[test]
    fn the_built_in_roles_grant_everything_all_but_deletion_and_nothing() {
        assert_eq!(builtin_permissions(OWNER).unwrap().len(), PERMISSIONS.len());
        let admin = builtin_permissions(ADMIN).unwrap();
        assert!(!admin.iter().any(|p| p == "org:delete") && admin.len() == PERMISSIONS.len() - 1);
        assert!(builtin_permissions(MEMBER).unwrap().is_empty());
        assert!(builtin_permissions("billing").is_none());
    }

    fn held(role: &str) -> (String, Vec<String>) {
        let permissions = match role {
            "hr" => vec!["members:update".to_owned(), "members:remove".to_owned(), "docs:read".to_owned()],
            "editor" => vec!["docs:write".to_owned()],
            other => permissions_of(other, None),
        };
        (role.to_owned(), permissions)
    }

    fn may(actor: &str, target: &str, new: Option<&str>, leaving: bool) -> bool {
        let (actor, target, new) = (held(actor), held(target), new.map(held));
        fn as_held((role, permissions): &(String, Vec<String>)) -> Held<'_> {
            Held { role, permissions }
        }
        may_change(as_held(&actor), as_held(&target), new.as_ref().map(as_held), leaving)
    }

    #[test]
    fn owners_alone_touch_owners_and_anyone_may_leave() {
        assert!(may(OWNER, OWNER, Some(ADMIN), false) && may(OWNER, MEMBER, None, false));
        assert!(may(ADMIN, MEMBER, Some(ADMIN), false) && may(ADMIN, MEMBER, None, false));
        assert!(!may(ADMIN, OWNER, Some(MEMBER), false), "an admin demotes no owner");
        assert!(!may(ADMIN, OWNER, None, false), "an admin removes no owner");
        assert!(!may(ADMIN, MEMBER, Some(OWNER), false), "an admin makes no owner");
        assert!(!may(MEMBER, MEMBER, Some(ADMIN), false) && !may(MEMBER, MEMBER, None, false));
        assert!(may(MEMBER, MEMBER, None, true) && may(OWNER, OWNER, None, true), "leaving");
        assert!(!may("unknown", MEMBER, None, false), "an unknown role grants nothing");
    }

    #[test]
    fn a_custom_role_hands_out_no_permission_it_lacks_and_owners_and_admins_run_the_app_s() {
        assert!(!may("hr", MEMBER, Some("editor"), false), "hr lacks docs:write, so gives it to no one");
        assert!(!may("hr", "editor", None, false), "nor takes it away");
        assert!(may(ADMIN, MEMBER, Some("editor"), false) && may(OWNER, "editor", None, false));
        assert!(!may("hr", MEMBER, Some(ADMIN), false), "no admin made by a lesser role");
        assert!(!may("hr", "hr", Some(ADMIN), false), "nor itself");
        assert!(!may("hr", ADMIN, Some(MEMBER), false) && !may("hr", ADMIN, None, false), "nor an admin touched");
        assert!(may(ADMIN, "hr", Some(MEMBER), false) && may(ADMIN, MEMBER, Some("hr"), false));
        assert!(valid_permission("docs:write") && valid_permission("members:invite") && valid_permission("a.b:c-d"));
        for bad in [
            "docs",
            "docs:",
            ":write",
            "Docs:write",
            "docs:write:all",
            "docs :write",
            &format!("{}:x", "a".repeat(65)),
            "group:sre",
        ] {
            assert!(!valid_permission(bad), "{bad}");
        }
    }

    #[test]
    fn a_member_cursor_reads_back_what_it_wrote_and_nothing_else() {
        let cursor = MemberCursor { joined_at: Utc::now(), account_id: Uuid::now_v7() };
        assert_eq!(MemberCursor::parse(&cursor.encode()), Some(cursor));
        for bad in ["", "x", "12.not-an-id", &format!("x.{}", Uuid::now_v7()), &Uuid::now_v7().to_string()] {
            assert!(MemberCursor::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn an_org_is_named_by_its_id_or_its_slug() {
        let id = Uuid::now_v7();
        assert_eq!(OrgKey::of(&id.to_string()), OrgKey::Id(id));
        assert_eq!(OrgKey::of("acme"), OrgKey::Slug("acme"));
        assert!(valid_role_name("billing-admin") && !valid_role_name("Billing") && !valid_role_name("1st"));
    }
}
