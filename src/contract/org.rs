//! An organization and its members, as the API shows them and the command line prints them.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::rfc3339;
use crate::model::domain::{CHALLENGE_LABEL, OrgDomain};
use crate::model::invitation::{Addressed, Invitation};
use crate::model::org::{Member, Membership, Organization};

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgBody {
    id: Uuid,
    name: String,
    /// Lower-case letters, digits and hyphens; names the organization in paths, like its id.
    slug: String,
    /// Free JSON the organization's admins keep.
    #[schema(value_type = Object)]
    data: Map<String, Value>,
    /// What the organization asks of sessions that enter it: `mfa_required`, `login_methods`
    /// (`password`, `passkey`, `email`, `social`); `{}` asks for nothing more.
    #[schema(value_type = Object)]
    policy: Map<String, Value>,
    created_at: String,
    updated_at: String,
}

impl From<Organization> for OrgBody {
    fn from(org: Organization) -> Self {
        Self {
            id: org.id,
            name: org.name,
            slug: org.slug,
            data: org.data,
            policy: org.policy.to_map(),
            created_at: rfc3339(&org.created_at),
            updated_at: rfc3339(&org.updated_at),
        }
    }
}

/// A member of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    account: MemberAccount,
    role: String,
    joined_at: String,
    /// Suspended by the organization's SCIM client (`active: false`): the membership grants
    /// nothing until it is made active again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    suspended: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberAccount {
    id: Uuid,
    email: String,
    name: Option<String>,
}

impl From<Member> for MemberBody {
    fn from(m: Member) -> Self {
        Self {
            account: MemberAccount { id: m.account_id, email: m.email, name: m.name },
            role: m.role,
            joined_at: rfc3339(&m.joined_at),
            suspended: m.suspended,
        }
    }
}

/// A pending invitation, as the organization lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationBody {
    id: Uuid,
    /// The invited address (lower case).
    email: String,
    role: String,
    /// Who invited (absent when an admin acting as owner or the operator did).
    #[serde(skip_serializing_if = "Option::is_none")]
    invited_by: Option<Uuid>,
    created_at: String,
    expires_at: String,
}

impl From<Invitation> for InvitationBody {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            created_at: rfc3339(&i.created_at),
            expires_at: rfc3339(&i.expires_at),
        }
    }
}

/// An organization as its invitations show it to the invited.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitingOrg {
    id: Uuid,
    name: String,
    slug: String,
}

/// An invitation addressed to the caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyInvitationBody {
    id: Uuid,
    org: InvitingOrg,
    role: String,
    created_at: String,
    expires_at: String,
}

impl From<Addressed> for MyInvitationBody {
    fn from(a: Addressed) -> Self {
        Self {
            id: a.invitation.id,
            org: InvitingOrg { id: a.org.id, name: a.org.name, slug: a.org.slug },
            role: a.invitation.role,
            created_at: rfc3339(&a.invitation.created_at),
            expires_at: rfc3339(&a.invitation.expires_at),
        }
    }
}

/// A role of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBody {
    name: String,
    permissions: Vec<String>,
    /// `owner`, `admin` and `member` are built in, and cannot be changed.
    builtin: bool,
}

impl RoleBody {
    pub fn new(name: String, permissions: Vec<String>, builtin: bool) -> Self {
        Self { name, permissions, builtin }
    }
}

/// An account's membership: the organization, its role there and what the role grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipBody {
    org: OrgBody,
    role: String,
    permissions: Vec<String>,
    joined_at: String,
}

impl From<Membership> for MembershipBody {
    fn from(m: Membership) -> Self {
        Self { org: m.org.into(), role: m.role, permissions: m.permissions, joined_at: rfc3339(&m.joined_at) }
    }
}

/// A domain an organization claims.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainBody {
    /// Lower case, in its ASCII form (`xn--…` for an international name).
    domain: String,
    verified: bool,
    verified_at: Option<String>,
    /// The role accounts whose verified address is here join with, at their next login, once;
    /// none: they do not join.
    auto_join_role: Option<String>,
    /// The DNS TXT record that proves the domain: publish `value` at `name`.
    challenge: ChallengeBody,
    created_at: String,
}

/// Where and what to publish.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeBody {
    /// `dns_txt`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// `_gatehouse-challenge.<domain>`.
    name: String,
    value: String,
}

impl From<OrgDomain> for DomainBody {
    fn from(d: OrgDomain) -> Self {
        let name = format!("{CHALLENGE_LABEL}.{}", d.domain);
        Self {
            verified: d.verified_at.is_some(),
            verified_at: d.verified_at.as_ref().map(rfc3339),
            auto_join_role: d.auto_join_role,
            challenge: ChallengeBody { kind: "dns_txt", name, value: d.challenge },
            created_at: rfc3339(&d.created_at),
            domain: d.domain,
        }
    }
}
