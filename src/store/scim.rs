//! SCIM provisioning as the store keeps it: an organization's SCIM tokens (by hash), its
//! provisioned members and its groups. Each change of a member or a group is one transaction
//! with its audit and webhook effects; a membership's groups' names are rewritten in the
//! transaction that changes them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::outcome::Effects;
pub use crate::model::scim::{
    GroupWrite, MembersChange, NewScimToken, Provision, Provisioned, ScimGroup, ScimToken, ScimUser, ScimUserChange,
    ScimUserFilter, UserWrite,
};
use crate::tokens::opaque::TokenHash;

/// A page of a list: its items and how many match in all.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

#[async_trait]
pub trait ScimStore: Send + Sync + std::fmt::Debug + 'static {
    /// Adds a token; `false` when the organization holds `max` already.
    async fn insert_scim_token(&self, token: &NewScimToken, max: usize, effects: &Effects) -> StoreResult<bool>;
    async fn scim_tokens(&self, org_id: Uuid) -> StoreResult<Vec<ScimToken>>;
    /// The tokens with their hashes, oldest first: what a copy into another store writes (a
    /// server never reads a hash back).
    async fn scim_tokens_with_hashes(&self, org_id: Uuid) -> StoreResult<Vec<NewScimToken>>;
    /// The token whose hash this is.
    async fn scim_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<ScimToken>>;
    async fn scim_token_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    /// Revokes a token of `org_id`; `false` when there is none.
    async fn delete_scim_token(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool>;

    async fn scim_user(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<ScimUser>>;
    /// The provisioned members matching, in the order they were provisioned, from `offset`.
    async fn scim_users(
        &self,
        org_id: Uuid,
        filter: &ScimUserFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<ScimUser>>;
    /// Provisions a member (the account made first when new), atomically.
    async fn provision_scim_user(
        &self,
        provision: &Provision<'_>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Provisioned>;
    /// Writes a provisioned member's change (and its account's, when given), unless the member
    /// is, by now, the organization's owner or a server admin;
    /// [`StoreError::EmailTaken`](super::StoreError::EmailTaken) when another account has the
    /// new address.
    async fn update_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        change: &ScimUserChange<'_>,
        effects: &Effects,
    ) -> StoreResult<UserWrite>;
    /// Ends a provisioned membership (and disables the account when `disable_account`), with
    /// the same guard.
    async fn deprovision_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        disable_account: bool,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<UserWrite>;
}

/// An organization's SCIM groups.
#[async_trait]
pub trait ScimGroupStore: Send + Sync + std::fmt::Debug + 'static {
    async fn insert_scim_group(
        &self,
        group: &ScimGroup,
        members: &[Uuid],
        effects: &Effects,
    ) -> StoreResult<GroupWrite>;
    async fn scim_group(&self, org_id: Uuid, id: Uuid) -> StoreResult<Option<ScimGroup>>;
    /// The groups, by name (any case) or `externalId` when given, in the order they were made;
    /// with their members when `members`.
    async fn scim_groups(
        &self,
        org_id: Uuid,
        display_name: Option<&str>,
        external_id: Option<&str>,
        offset: u64,
        limit: u32,
        members: bool,
    ) -> StoreResult<Page<ScimGroup>>;
    /// Renames a group and changes its members as told.
    async fn update_scim_group(
        &self,
        group: &ScimGroup,
        members: &MembersChange,
        effects: &Effects,
    ) -> StoreResult<GroupWrite>;
    async fn delete_scim_group(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool>;
}
