//! The outbox: emails written in the same transaction as the change that causes them, as jobs
//! of the job queue ([`super::jobs`]), which claims and settles them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use super::jobs::{Job, JobKind, NewJob};
pub use crate::model::email::QueuedEmail;

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

impl NewEmail {
    /// The job that delivers it: its lane is its address, so one address's emails go out in
    /// the order written; its subject and Message-ID are kept, its bodies erased once sent.
    pub fn job(&self) -> NewJob {
        NewJob {
            id: self.id,
            kind: JobKind::Email,
            lane: format!("email {}", self.recipient.to_lowercase()),
            topic: self.kind.to_owned(),
            target: self.recipient.clone(),
            account_id: None,
            ref_id: None,
            payload: serde_json::json!({ "subject": self.subject, "message_id": self.message_id }).to_string(),
            body: Some(serde_json::json!({ "text": self.text_body, "html": self.html_body }).to_string()),
            created_at: self.created_at,
        }
    }
}

impl QueuedEmail {
    /// The email a claimed job carries; `None` when its stored form cannot be read (or its
    /// bodies were erased).
    pub fn from_job(job: &Job) -> Option<Self> {
        let payload: serde_json::Value = serde_json::from_str(&job.payload).ok()?;
        let body: serde_json::Value = serde_json::from_str(job.body.as_deref()?).ok()?;
        let text = |value: &serde_json::Value, key: &str| value.get(key)?.as_str().map(str::to_owned);
        Some(Self {
            id: job.id,
            kind: job.topic.clone(),
            recipient: job.target.clone(),
            subject: text(&payload, "subject")?,
            text_body: text(&body, "text")?,
            html_body: text(&body, "html")?,
            message_id: text(&payload, "message_id")?,
            attempts: job.attempts,
        })
    }
}

#[async_trait]
pub trait OutboxStore: Send + Sync + std::fmt::Debug + 'static {
    /// Queues an email that goes with no other change.
    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()>;
}
