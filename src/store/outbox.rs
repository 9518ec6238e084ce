//! The outbox: emails written in the same transaction as the change that causes them, as jobs
//! of the job queue ([`super::jobs`]), which claims and settles them.

use super::error::StoreResult;
use super::jobs::{Job, JobKind, NewJob};
pub use crate::model::email::{NewEmail, QueuedEmail};
use crate::model::outcome::Effects;
use async_trait::async_trait;

/// The job that delivers an email: its lane is its address, so one address's emails go out in
/// the order written; its subject and Message-ID are kept, its bodies erased once sent.
pub fn email_job(email: &NewEmail) -> NewJob {
    NewJob {
        id: email.id,
        kind: JobKind::Email,
        lane: format!("email {}", email.recipient.to_lowercase()),
        topic: email.kind.to_owned(),
        target: email.recipient.clone(),
        account_id: None,
        ref_id: None,
        payload: serde_json::json!({ "subject": email.subject, "message_id": email.message_id }).to_string(),
        body: Some(serde_json::json!({ "text": email.text_body, "html": email.html_body }).to_string()),
        created_at: email.created_at,
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
    /// Writes, in one transaction, what goes with no change of the database's own (a session
    /// started or ended in the session store, which may be Redis; an admin's action on a
    /// registry): the outcomes' audit rows and webhook jobs, and the emails.
    async fn record(&self, effects: &Effects) -> StoreResult<()>;
}
