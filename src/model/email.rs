//! An email on its way to the mail server: what a transport sends (its bodies hold one-time
//! links, so its `Debug` leaves them out).

use chrono::{DateTime, Utc};
use uuid::Uuid;

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

/// An email to queue with the change that causes it, in the same transaction as the change that causes it.
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
