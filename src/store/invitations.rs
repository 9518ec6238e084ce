//! Invitations as the store keeps them: one pending invitation per organization and address,
//! its token only hashed, spent in the transaction that makes the membership.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::invitation::{Acceptance, Acceptor, Addressed, Invitation, InvitationKey, NewInvitation};
use crate::model::org::Organization;
use crate::model::outcome::Effects;

#[async_trait]
pub trait InvitationStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores an invitation, replacing any pending one of the same organization and address
    /// (whose link then no longer works).
    async fn insert_invitation(&self, invitation: &NewInvitation, effects: &Effects) -> StoreResult<Invitation>;
    /// The organization's pending invitations that have not expired by `now`, newest first.
    async fn org_invitations(&self, org_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>>;
    /// The invitations to `email` (normalized) that have not expired by `now`, newest first,
    /// with their organizations.
    async fn invitations_to(&self, email: &str, now: DateTime<Utc>) -> StoreResult<Vec<Addressed>>;
    /// The invitation the key names, whether or not it has expired.
    async fn find_invitation(&self, key: InvitationKey<'_>) -> StoreResult<Option<(Invitation, Organization)>>;
    /// Revokes a pending invitation of the organization; whether there was one.
    async fn revoke_invitation(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool>;
    /// Accepts the invitation the key names for `acceptor`, atomically: checks its address
    /// and expiry, the organization's room (`member_limit` members at most), makes the
    /// membership and spends the invitation.
    async fn accept_invitation(
        &self,
        key: InvitationKey<'_>,
        acceptor: Acceptor<'_>,
        now: DateTime<Utc>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Acceptance>;
}
