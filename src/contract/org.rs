//! An organization and its members, as the API shows them and the command line prints them.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::rfc3339;
use crate::model::org::{Member, Organization};

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
        }
    }
}
