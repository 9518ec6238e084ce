//! Organizations as the store keeps them: the organizations (a slug unique among them), their
//! memberships (one per account and organization, with its role), and the last-owner guard,
//! inside the transaction of any change that could leave an organization without an owner.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::org::{
    Member, MemberChange, MemberCursor, Membership, NewOrganization, OrgActor, OrgChange, OrgKey, Organization,
};
use crate::model::outcome::Effects;

#[async_trait]
pub trait OrgStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores an organization with its creator as its owner, atomically;
    /// [`StoreError::SlugTaken`] when another has the slug.
    ///
    /// [`StoreError::SlugTaken`]: super::error::StoreError::SlugTaken
    async fn insert_org(&self, org: &NewOrganization, effects: &Effects) -> StoreResult<Organization>;
    async fn find_org(&self, key: OrgKey<'_>) -> StoreResult<Option<Organization>>;
    /// Every organization, newest first (by id, which is time-ordered), before the cursor, at
    /// most `limit`; with `q`, those whose name or slug holds it (any case).
    async fn list_orgs(&self, q: Option<&str>, before: Option<Uuid>, limit: u32) -> StoreResult<Vec<Organization>>;
    /// Replaces the editable fields; `None` when there is no such organization.
    async fn update_org(&self, id: Uuid, change: &OrgChange, effects: &Effects) -> StoreResult<Option<Organization>>;
    /// Deletes an organization with its memberships; whether there was one.
    async fn delete_org(&self, id: Uuid, effects: &Effects) -> StoreResult<bool>;
    /// The account's memberships, the oldest first.
    async fn memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>>;
    /// The account's membership of the organization, read fresh: what every check of a
    /// member's rights asks.
    async fn membership(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>>;
    /// The account's membership of the organization, suspended or not
    /// ([`Membership::suspended`]): what a rule about the membership itself reads (an admin
    /// changing or removing it, who may be linked or provisioned), never a check of its rights.
    async fn membership_record(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<Membership>>;
    /// Every membership of the account, suspended ones too (see [`Self::membership_record`]).
    async fn all_memberships(&self, account_id: Uuid) -> StoreResult<Vec<Membership>>;
    /// The members, in the order they joined (then by account id), after the cursor (the
    /// place of the previous page's last), at most `limit`.
    async fn list_members(&self, org_id: Uuid, after: Option<MemberCursor>, limit: u32) -> StoreResult<Vec<Member>>;
    /// The organizations the account alone owns that have other members: what deleting it
    /// would leave without an owner.
    async fn orgs_only_owned_by(&self, account_id: Uuid) -> StoreResult<Vec<Uuid>>;
    /// How many members the organization has.
    async fn count_members(&self, org_id: Uuid) -> StoreResult<u64>;
    /// Adds a member; `false` (and nothing changes) when the account is one already.
    async fn add_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool>;
    /// Gives a member another role, if `actor` may (its own role read in this transaction),
    /// unless that leaves the organization without an owner.
    async fn set_member_role(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        role: &str,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange>;
    /// Removes a member, if `actor` may (the member itself may leave), unless it is the last
    /// owner.
    async fn remove_member(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        actor: OrgActor,
        effects: &Effects,
    ) -> StoreResult<MemberChange>;
}
