//! SCIM 2.0 provisioning as gatehouse keeps it: an organization's SCIM tokens (only their
//! hashes), the members its SCIM client provisioned (a membership with SCIM's own names for
//! it), and its groups.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::account_change::NewAccount;
use super::token::TokenHash;

/// The most SCIM tokens one organization holds: two, so one can replace the other.
pub const MAX_SCIM_TOKENS: usize = 2;
/// The most groups one organization holds.
pub const MAX_GROUPS: usize = 1000;
/// The most groups one member is in, and the most bytes their names take together: they ride
/// in every access token of the member's (a proxy's header buffer must hold it).
pub const MAX_MEMBER_GROUPS: usize = 20;
pub const MAX_GROUP_NAME_BYTES: usize = 2048;

/// A SCIM token, as its organization's admins see it (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimToken {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A provisioned member, read with its account and membership.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimUser {
    pub org_id: Uuid,
    pub account_id: Uuid,
    pub user_name: String,
    pub external_id: Option<String>,
    pub email: String,
    pub name: Option<String>,
    /// The membership is not suspended.
    pub active: bool,
    /// SCIM made the account (so it may change its profile, and disable it).
    pub created_account: bool,
    /// SCIM disabled the account (so it may enable it again).
    pub disabled_account: bool,
    /// The attributes the client last wrote, as it wrote them (never a password).
    pub attributes: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Which provisioned members a list asks for (SCIM's `filter`, the forms gatehouse takes).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ScimUserFilter {
    /// `userName eq` (any case).
    pub user_name: Option<String>,
    /// `externalId eq` (exact).
    pub external_id: Option<String>,
    /// `emails[type eq "work"].value eq` or `emails.value eq` (any case).
    pub email: Option<String>,
}

/// A member to provision: an account of the pool (made now when `new_account` is given) and
/// its membership (added with `role` unless it is one already).
#[derive(Debug)]
pub struct Provision<'a> {
    pub org_id: Uuid,
    pub account_id: Uuid,
    pub new_account: Option<&'a NewAccount>,
    pub role: &'a str,
    pub user_name: &'a str,
    pub external_id: Option<&'a str>,
    pub active: bool,
    pub attributes: &'a Map<String, Value>,
    /// SCIM made the account: `new_account.is_some()` when provisioning; in a copy into
    /// another store, what the source says.
    pub created_account: bool,
    /// SCIM disabled the account (so it may enable it again): `false` when provisioning; in a
    /// copy, what the source says.
    pub disabled_account: bool,
    pub now: DateTime<Utc>,
}

/// What provisioning came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Provisioned {
    Done,
    /// The organization has another member by this `userName`, or this account provisioned.
    UserNameTaken,
    /// Another account holds the address (a new account was to be made).
    EmailTaken,
    /// The organization is full.
    MemberLimit,
}

/// A change of a provisioned member, as it is to be.
#[derive(Debug)]
pub struct ScimUserChange<'a> {
    pub user_name: &'a str,
    pub external_id: Option<&'a str>,
    pub active: bool,
    /// The account's status to write (disabling or enabling it), when SCIM may and does.
    pub account_enabled: Option<bool>,
    /// The account's name and address to write, when SCIM made it.
    pub profile: Option<(Option<&'a str>, &'a str)>,
    pub attributes: &'a Map<String, Value>,
    pub now: DateTime<Utc>,
}

/// What a change of a provisioned member came to.
#[derive(Debug, PartialEq, Eq)]
pub enum UserWrite {
    Done,
    NotFound,
    /// The member is the organization's owner, or the account a server admin, as read in the
    /// change's transaction: no longer SCIM's to change.
    Protected,
    /// Another member has the `userName`.
    UserNameTaken,
}

/// An organization's group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimGroup {
    pub id: Uuid,
    pub org_id: Uuid,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Its members' account ids.
    pub members: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a change treats a group's members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembersChange {
    Keep,
    Replace(Vec<Uuid>),
    AddRemove { add: Vec<Uuid>, remove: Vec<Uuid> },
}

/// What a group's change or creation came to.
#[derive(Debug, PartialEq, Eq)]
pub enum GroupWrite {
    Done,
    NotFound,
    /// Another group of the organization has the name.
    NameTaken,
    /// A member named is no member of the organization.
    UnknownMember(Uuid),
    /// This member would be in more groups than it may ([`MAX_MEMBER_GROUPS`]).
    TooManyGroups(Uuid),
    /// The organization has [`MAX_GROUPS`] already.
    GroupLimit,
    /// The change would rewrite more memberships at once than the store can in one
    /// transaction (DynamoDB's 100 items): at most this many.
    TooLarge {
        at_most: usize,
    },
}

/// A token's hash with the token's row, to store.
#[derive(Debug)]
pub struct NewScimToken {
    pub token: ScimToken,
    pub hash: TokenHash,
}
