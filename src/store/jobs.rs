//! The job queue as the store keeps it: everything gatehouse delivers later (emails, webhook
//! deliveries), written in the transaction of the change that causes it, claimed by a worker
//! for a lease it renews while it works, and settled in batches. One implementation of the
//! claim, the renewal and the settlement serves every kind; what a job carries is its kind's
//! business (`payload`, `body`).
//!
//! Order: jobs of one lane go out one at a time, in the order they were written. A claim never
//! takes a job while an earlier job of its lane is still queued, held or being sent, so one
//! claim holds at most one job of each lane and its jobs may all go out at once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;

/// The worker holding a claim: each running worker draws its own at start, so a claim is
/// renewed and settled only by the worker that made it.
pub type Claimer = Uuid;

/// What a job delivers. The names are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobKind {
    Email,
    Webhook,
    /// A back-channel logout notice to a client app.
    Logout,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [JobKind::Email, JobKind::Webhook, JobKind::Logout];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Email => "email",
            JobKind::Webhook => "webhook",
            JobKind::Logout => "logout",
        }
    }
}

/// A job to write, in the transaction of the change that causes it.
#[derive(Clone)]
pub struct NewJob {
    /// A UUIDv7.
    pub id: Uuid,
    pub kind: JobKind,
    /// Jobs of one lane go out one at a time, in the order written.
    pub lane: String,
    /// The email's kind (`activation`…) or the event's type (`user.created`…).
    pub topic: String,
    /// Where it goes, as lists filter on it: the address, the endpoint's id.
    pub target: String,
    pub account_id: Option<Uuid>,
    /// The event's id, for a webhook delivery.
    pub ref_id: Option<Uuid>,
    /// What is kept once done (JSON).
    pub payload: String,
    /// What is erased once done (JSON), since it may hold a one-time link.
    pub body: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The jobs that deliver `event` to each of `receivers` (endpoint ids), carrying `account` as
/// the change left it: one event id for all, each in the lane of its endpoint and the account,
/// so one account's events reach an endpoint in the order they were written. Every store writes
/// these and decides nothing of them.
pub fn deliveries(
    event: &crate::model::webhook::Event,
    account: &crate::model::account::Account,
    receivers: impl IntoIterator<Item = String>,
) -> super::error::StoreResult<Vec<NewJob>> {
    let payload = event.payload(account).map_err(anyhow::Error::from)?;
    let (event_id, at) = (Uuid::now_v7(), Utc::now());
    Ok(receivers
        .into_iter()
        .map(|endpoint| NewJob {
            id: Uuid::now_v7(),
            kind: JobKind::Webhook,
            lane: format!("{endpoint} {}", event.account_id),
            topic: event.kind.as_str().to_owned(),
            target: endpoint,
            account_id: Some(event.account_id),
            ref_id: Some(event_id),
            payload: payload.clone(),
            body: None,
            created_at: at,
        })
        .collect())
}

impl std::fmt::Debug for NewJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewJob")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

/// A job claimed for delivery.
#[derive(Clone)]
pub struct Job {
    pub id: Uuid,
    pub kind: JobKind,
    pub topic: String,
    pub target: String,
    pub account_id: Option<Uuid>,
    pub ref_id: Option<Uuid>,
    pub payload: String,
    pub body: Option<String>,
    /// Attempts so far, this one included.
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("topic", &self.topic)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered (the receiver's status, when it has one); the body is erased.
    Done { status: Option<u16> },
    /// Not delivered; due again at `at`.
    Retry { at: DateTime<Utc>, status: Option<u16>, error: String },
    /// Given up.
    Failed { status: Option<u16>, error: String },
    /// Put back untried, due at `at`: the attempt does not count (a domain asked to slow down).
    Deferred { at: DateTime<Utc> },
}

/// One settled job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settled {
    pub id: Uuid,
    pub outcome: Outcome,
    /// When it ended.
    pub at: DateTime<Utc>,
}

/// What a kind has waiting: jobs queued, held or being sent, and when the oldest was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    pub jobs: u64,
    pub oldest: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait JobStore: Send + Sync + std::fmt::Debug + 'static {
    /// Writes jobs that go with no other change.
    async fn queue_jobs(&self, jobs: &[NewJob]) -> StoreResult<()>;
    /// Claims for `claimer`, until `now + lease`, up to `limit` jobs of `kind` that are due (or
    /// whose claim ran out) and that no earlier job of their lane is waiting for.
    async fn claim_jobs(
        &self,
        kind: JobKind,
        claimer: Claimer,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>>;
    /// Extends every claim on jobs of `kind` that `claimer` still holds to `until`; answers how
    /// many it holds.
    async fn renew_jobs(&self, kind: JobKind, claimer: Claimer, until: DateTime<Utc>) -> StoreResult<u64>;
    /// Records how attempts ended, in one transaction, for the jobs `claimer` still holds;
    /// answers how many it settled (fewer when a claim was taken over meanwhile).
    async fn settle_jobs(&self, claimer: Claimer, settled: &[Settled]) -> StoreResult<u64>;
    /// What `kind` has waiting.
    async fn job_backlog(&self, kind: JobKind) -> StoreResult<Backlog>;
}
