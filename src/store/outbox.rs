//! The transactional outbox as the store keeps it: emails written in the same transaction as
//! the change that causes them, claimed by a delivery worker, settled once sent or given up.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;

/// An email to queue in the outbox, in the same transaction as the change that causes it.
#[derive(Clone)]
pub struct NewEmail {
    pub id: Uuid,
    pub kind: &'static str,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub message_id: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for NewEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies hold one-time links: never print them.
        f.debug_struct("NewEmail").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// An email claimed from the outbox for delivery.
#[derive(Clone)]
pub struct QueuedEmail {
    pub id: Uuid,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub message_id: String,
    pub attempts: u32,
}

impl std::fmt::Debug for QueuedEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueuedEmail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The worker holding a claim: each running worker draws its own at start, so a claim is
/// renewed and settled only by the worker that made it.
pub type Claimer = Uuid;

#[async_trait]
pub trait OutboxStore: Send + Sync + std::fmt::Debug + 'static {
    /// Queues an email that goes with no other change.
    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()>;
    /// Claims for `claimer`, until `now + lease`, up to `limit` emails that are due or whose
    /// claim has run out.
    async fn claim_emails(
        &self,
        claimer: Claimer,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<QueuedEmail>>;
    /// Extends every claim `claimer` still holds to `until`; answers how many it holds.
    async fn renew_claims(&self, claimer: Claimer, until: DateTime<Utc>) -> StoreResult<u64>;
    /// Marks an email delivered and erases its bodies. Each settlement applies only while
    /// `claimer` holds the claim, and answers whether it did.
    async fn email_sent(&self, claimer: Claimer, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn email_retry(
        &self,
        claimer: Claimer,
        id: Uuid,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool>;
    async fn email_failed(&self, claimer: Claimer, id: Uuid, now: DateTime<Utc>, error: &str) -> StoreResult<bool>;
    /// Emails queued and not yet delivered or failed.
    async fn outbox_backlog(&self) -> StoreResult<u64>;
}
