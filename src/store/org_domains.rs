//! The email domains organizations claim: a claim, its verification (a domain is verified by one
//! organization at most, the unique key deciding between two at once), the role a verified
//! domain joins accounts with, and the join itself, once per account and organization.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::domain::{AutoJoin, AutoJoinChange, AutoJoined, DomainVerification, OrgDomain};
use crate::model::outcome::Effects;

#[async_trait]
pub trait OrgDomainStore: Send + Sync + std::fmt::Debug + 'static {
    /// The organization's domains, by name.
    async fn org_domains(&self, org_id: Uuid) -> StoreResult<Vec<OrgDomain>>;
    async fn find_org_domain(&self, org_id: Uuid, domain: &str) -> StoreResult<Option<OrgDomain>>;
    /// Stores a claim; `false` (and nothing changes) when the organization has it already or
    /// already claims `max` domains.
    async fn insert_org_domain(&self, domain: &OrgDomain, max: usize, effects: &Effects) -> StoreResult<bool>;
    /// Marks a claimed domain verified at `now` (already verified: it stays as it was).
    async fn verify_org_domain(
        &self,
        org_id: Uuid,
        domain: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<DomainVerification>;
    /// Sets (or, with `None`, clears) the role the domain joins accounts with, offered by `by`
    /// (none: a gatehouse admin); a custom role must exist, read in the same transaction.
    async fn set_auto_join(
        &self,
        org_id: Uuid,
        domain: &str,
        role: Option<&str>,
        by: Option<Uuid>,
        effects: &Effects,
    ) -> StoreResult<AutoJoinChange>;
    /// Removes a claim, verified or not; whether there was one.
    async fn delete_org_domain(&self, org_id: Uuid, domain: &str, effects: &Effects) -> StoreResult<bool>;
    /// The organization's claim that verified the domain, if one did.
    async fn verified_domain(&self, domain: &str) -> StoreResult<Option<OrgDomain>>;
    /// The verified domain that would join the account, when it has an auto-join role and has
    /// not joined that account before: one read, what every login asks.
    async fn auto_join_offer(&self, domain: &str, account_id: Uuid) -> StoreResult<Option<OrgDomain>>;
    /// Joins the account with the role, in one transaction that locks the organization: only if
    /// the domain still offers that role, its maker still may (see the invitations' rule), the
    /// account has never been joined by it, is not a member, and the organization has room. It is remembered either way but the last, so a
    /// member who leaves is not joined again. `effects` commit only with a join.
    async fn auto_join(&self, join: &AutoJoin<'_>, effects: &Effects) -> StoreResult<AutoJoined>;
    /// The accounts the organization's domains joined, with when, oldest first: what a copy
    /// into another store carries, so that a member who left is not joined again there.
    async fn auto_joined(&self, org_id: Uuid) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>>;
    /// Remembers that a domain of the organization joined the account at `at` (a copy's write;
    /// the account is not joined again). Remembered already: nothing changes.
    async fn remember_auto_join(&self, org_id: Uuid, account_id: Uuid, at: DateTime<Utc>) -> StoreResult<()>;
}
