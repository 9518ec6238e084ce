//! An organization's custom roles, each a name and the permissions it grants. The built-in
//! roles are not stored; a member's role is read with its permissions (see
//! [`super::orgs::OrgStore::membership`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::org::{OrgRole, RoleRemoval};
use crate::model::outcome::Effects;

#[async_trait]
pub trait OrgRoleStore: Send + Sync + std::fmt::Debug + 'static {
    /// The organization's custom roles, by name.
    async fn org_roles(&self, org_id: Uuid) -> StoreResult<Vec<OrgRole>>;
    async fn find_org_role(&self, org_id: Uuid, name: &str) -> StoreResult<Option<OrgRole>>;
    /// Stores a custom role; `false` (and nothing changes) when the organization has one of
    /// that name.
    async fn insert_org_role(&self, org_id: Uuid, role: &OrgRole, effects: &Effects) -> StoreResult<bool>;
    /// Replaces a custom role's permissions; `None` when there is no such role.
    async fn update_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        permissions: &[String],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Option<OrgRole>>;
    /// Removes a custom role, unless a member holds it, an invitation not yet expired by `now`
    /// offers it (expired ones go with it) or a domain joins accounts with it. A name that no role can have names none.
    async fn delete_org_role(
        &self,
        org_id: Uuid,
        name: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<RoleRemoval>;
}
