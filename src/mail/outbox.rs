//! The outbox worker: claims due emails from the database, hands them to the transport, and
//! settles each one — sent (bodies erased), retry later with exponential backoff, or failed
//! for good. Claims are leases: an email claimed by a process that died is claimed again
//! once the lease runs out, and resent with the same Message-ID and link.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{SendError, Transport};
use crate::store::{QueuedEmail, Store};

/// The settings of the worker; the defaults suit production.
#[derive(Clone, Debug)]
pub struct OutboxSettings {
    /// How long a claim lasts before another worker may take the email over.
    pub lease: Duration,
    /// How often the worker looks for due emails when nobody wakes it.
    pub poll: Duration,
    /// The first retry delay; each further attempt doubles it, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// After this many attempts a transiently failing email is marked failed.
    pub max_attempts: u32,
    pub batch: u32,
    /// How long a woken worker waits for more emails before it claims: a delay nobody notices
    /// in an inbox, which spares the database a claim per email when many come at once.
    pub gather: Duration,
    /// The longest one delivery may take, whatever the transport; past it the attempt counts as
    /// a transient failure (a mail server that accepts and then hangs must not stall the queue).
    pub send_timeout: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(120),
            poll: Duration::from_secs(2),
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30 * 60),
            max_attempts: 15,
            batch: 16,
            gather: Duration::from_millis(50),
            send_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Outbox {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    wake: Arc<Notify>,
    settings: OutboxSettings,
}

/// What one pass over the due emails did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl Pass {
    pub fn handled(&self) -> usize {
        self.sent + self.retried + self.failed
    }
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>, transport: Arc<dyn Transport>, settings: OutboxSettings) -> Self {
        Self { store, transport, wake: Arc::new(Notify::new()), settings }
    }

    /// Tells the worker that an email was queued, so it need not wait for its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// One pass: claims a batch of due emails and settles each.
    pub async fn deliver_due(&self) -> anyhow::Result<Pass> {
        let mut claimed = self.store.claim_emails(Utc::now(), self.settings.lease, self.settings.batch).await?;
        // In the order they were written (the ids are UUIDv7): a batch claimed at once comes
        // back from some databases in no particular order, and whoever asks for a second
        // email (a reset link after the activation) expects it after the first.
        claimed.sort_by_key(|email| email.id);
        let mut pass = Pass::default();
        for email in claimed {
            self.deliver(&email, &mut pass).await?;
        }
        if let Ok(backlog) = self.store.outbox_backlog().await {
            ::metrics::gauge!("gatehouse_outbox_backlog").set(backlog as f64);
        }
        Ok(pass)
    }

    async fn deliver(&self, email: &QueuedEmail, pass: &mut Pass) -> anyhow::Result<()> {
        let sent = match tokio::time::timeout(self.settings.send_timeout, self.transport.send(email)).await {
            Ok(sent) => sent,
            Err(_) => Err(SendError::Transient(format!(
                "the mail server did not finish within {}",
                humantime::format_duration(self.settings.send_timeout)
            ))),
        };
        match sent {
            Ok(()) => {
                self.store.email_sent(email.id, Utc::now()).await?;
                tracing::info!(email_id = %email.id, kind = %email.kind, attempts = email.attempts, "email delivered");
                ::metrics::counter!("gatehouse_emails_sent_total", "kind" => email.kind.clone()).increment(1);
                pass.sent += 1;
            }
            Err(SendError::Permanent(error)) => {
                self.store.email_failed(email.id, Utc::now(), &error).await?;
                tracing::error!(email_id = %email.id, kind = %email.kind, %error, "email failed for good");
                ::metrics::counter!("gatehouse_emails_failed_total", "kind" => email.kind.clone()).increment(1);
                pass.failed += 1;
            }
            Err(SendError::Transient(error)) if email.attempts >= self.settings.max_attempts => {
                let error = format!("gave up after {} attempts; last error: {error}", email.attempts);
                self.store.email_failed(email.id, Utc::now(), &error).await?;
                tracing::error!(email_id = %email.id, kind = %email.kind, %error, "email failed for good");
                ::metrics::counter!("gatehouse_emails_failed_total", "kind" => email.kind.clone()).increment(1);
                pass.failed += 1;
            }
            Err(SendError::Transient(error)) => {
                let delay = self.backoff(email.attempts);
                let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(30));
                self.store.email_retry(email.id, next, &error).await?;
                tracing::warn!(
                    email_id = %email.id, kind = %email.kind, attempts = email.attempts,
                    retry_in = %humantime::format_duration(delay), %error,
                    "email not delivered; will retry"
                );
                ::metrics::counter!("gatehouse_email_retries_total", "kind" => email.kind.clone()).increment(1);
                pass.retried += 1;
            }
        }
        Ok(())
    }

    /// The delay before attempt `attempts + 1`: base × 2^(attempts−1), capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.settings.base_backoff.saturating_mul(factor).min(self.settings.max_backoff)
    }

    /// Delivers until `shutdown` is cancelled. An email being sent when shutdown comes is
    /// finished first; nothing is abandoned half-settled.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(transport = %self.transport.describe(), "outbox worker started");
        loop {
            let pause = match self.deliver_due().await {
                Ok(pass) if pass.handled() >= self.settings.batch as usize => Duration::ZERO,
                Ok(_) => self.settings.poll,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "outbox pass failed; will try again");
                    self.settings.poll
                }
            };
            if pause.is_zero() {
                if shutdown.is_cancelled() {
                    break;
                }
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {
                    // Emails queued in the next moments join this pass: under a stream of
                    // sign-ups one claim (and one backlog count) serves several emails, not one.
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(self.settings.gather) => {}
                    }
                }
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("outbox worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Never;

    #[async_trait::async_trait]
    impl Transport for Never {
        async fn send(&self, _: &QueuedEmail) -> Result<(), SendError> {
            Err(SendError::Transient("down".into()))
        }
        async fn ping(&self) -> Result<(), SendError> {
            Ok(())
        }
        fn describe(&self) -> String {
            "never".into()
        }
    }

    #[tokio::test]
    async fn backoff_doubles_and_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let url = crate::secret_url::SecretUrl::new(&format!("sqlite://{}", dir.path().join("t.db").display()));
        let options = crate::store::DbOptions { max_connections: 2, timeout: Duration::from_secs(5) };
        let store = Arc::new(crate::store::sqlite::SqliteStore::connect(&url, &options).await.unwrap());
        let outbox = Outbox::new(store, Arc::new(Never), OutboxSettings::default());
        assert_eq!(outbox.backoff(1), Duration::from_secs(5));
        assert_eq!(outbox.backoff(2), Duration::from_secs(10));
        assert_eq!(outbox.backoff(4), Duration::from_secs(40));
        assert_eq!(outbox.backoff(40), Duration::from_secs(30 * 60));
    }
}
