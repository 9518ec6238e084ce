//! How mail leaves: templates for each kind of email, the transports (SMTP, or the log when no
//! SMTP server is configured), and the outbox worker that delivers queued emails with retries.

mod connections;
pub mod outbox;
mod pace;
pub mod smtp;
pub mod templates;

use async_trait::async_trait;

use crate::store::QueuedEmail;

/// Why a delivery failed: worth retrying, or not.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server is unreachable or timed out: retry later.
    #[error("temporary failure: {0}")]
    Transient(String),
    /// The server answered 4xx (busy, greylisting, too many messages): retry later, and slow
    /// down towards that recipient's domain meanwhile.
    #[error("the mail server asked to try later: {0}")]
    Busy(String),
    /// The server refused the message for good (5xx): do not retry.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

/// Something that can deliver an email.
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug + 'static {
    async fn send(&self, email: &QueuedEmail) -> Result<(), SendError>;
    /// Whether the mail server can be reached right now (for readiness).
    async fn ping(&self) -> Result<(), SendError>;
    /// A short description for logs, secrets masked.
    fn describe(&self) -> String;
    /// Whether this sends to a mail server (the log does not).
    fn has_server(&self) -> bool {
        true
    }
}

/// The development transport: writes each whole email, link included, to the log.
#[derive(Debug, Default)]
pub struct LogTransport;

#[async_trait]
impl Transport for LogTransport {
    async fn send(&self, email: &QueuedEmail) -> Result<(), SendError> {
        tracing::info!(
            target: "gatehouse::mail",
            to = %email.recipient,
            subject = %email.subject,
            kind = %email.kind,
            "email (no GATEHOUSE_SMTP_URL set, so it is written here instead of sent):\n{}",
            email.text_body
        );
        Ok(())
    }

    async fn ping(&self) -> Result<(), SendError> {
        Ok(())
    }

    fn describe(&self) -> String {
        "the log (set GATEHOUSE_SMTP_URL to send real email)".into()
    }

    fn has_server(&self) -> bool {
        false
    }
}
