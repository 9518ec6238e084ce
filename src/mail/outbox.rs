//! The outbox worker: claims due emails from the database, hands them to the transport, and
//! settles each one — sent (bodies erased), retry later with exponential backoff, or failed
//! for good.
//!
//! Claims are short leases held by one worker. While it sends, the worker renews its claims
//! every third of the lease; an email whose worker died is claimed by another (or by the
//! restarted process) once the lease runs out — seconds — and resent with the same Message-ID
//! and link. A live worker never sends an email it may have lost: it stops a fifth of a lease
//! before its last successful renewal runs out (see `docs/RELIABILITY.md`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{SendError, Transport};
use crate::store::outbox::Claimer;
use crate::store::{QueuedEmail, Store};

/// The settings of the worker; the defaults suit production.
#[derive(Clone, Debug)]
pub struct OutboxSettings {
    /// How long a claim lasts unless its worker renews it (every third of it) — so how soon
    /// another worker takes over the emails of one that died.
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
            lease: Duration::from_secs(15),
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
    /// This worker's name on its claims.
    claimer: Claimer,
}

/// What one pass over the due emails did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    /// Left unsent because the claim could not be renewed in time: another worker takes them
    /// when the lease runs out.
    pub abandoned: usize,
}

impl Pass {
    pub fn handled(&self) -> usize {
        self.sent + self.retried + self.failed + self.abandoned
    }
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>, transport: Arc<dyn Transport>, settings: OutboxSettings) -> Self {
        Self { store, transport, wake: Arc::new(Notify::new()), settings, claimer: uuid::Uuid::now_v7() }
    }

    /// Tells the worker that an email was queued, so it need not wait for its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// One pass: claims a batch of due emails and settles each, renewing the claims meanwhile.
    pub async fn deliver_due(&self) -> anyhow::Result<Pass> {
        let asked = Instant::now();
        let lease = self.settings.lease;
        let mut claimed = self.store.claim_emails(self.claimer, Utc::now(), lease, self.settings.batch).await?;
        // In the order they were written (the ids are UUIDv7): a batch claimed at once comes
        // back from some databases in no particular order, and whoever asks for a second
        // email (a reset link after the activation) expects it after the first.
        claimed.sort_by_key(|email| email.id);
        let mut pass = Pass::default();
        if !claimed.is_empty() {
            // Until when the claims are surely held: measured from before the request that
            // made or renewed them, so the database's `claimed_until` is never earlier.
            let (held_until, held) = watch::channel(asked + lease);
            let delivering = async {
                for (sent, email) in claimed.iter().enumerate() {
                    if !self.deliver(email, &mut pass, held.clone()).await? {
                        pass.abandoned = claimed.len() - sent;
                        tracing::warn!(
                            emails = pass.abandoned,
                            "outbox claims could not be renewed; their emails are left to the next claim"
                        );
                        break;
                    }
                }
                anyhow::Ok(())
            };
            tokio::select! {
                delivered = delivering => delivered?,
                never = self.keep_claims(held_until) => match never {},
            }
        }
        if let Ok(backlog) = self.store.outbox_backlog().await {
            ::metrics::gauge!("gatehouse_outbox_backlog").set(backlog as f64);
        }
        Ok(pass)
    }

    /// Renews this worker's claims every third of the lease, for as long as it is polled, and
    /// publishes until when they are held.
    async fn keep_claims(&self, held_until: watch::Sender<Instant>) -> Infallible {
        let lease = self.settings.lease;
        loop {
            tokio::time::sleep(lease / 3).await;
            let asked = Instant::now();
            let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(15));
            match self.store.renew_claims(self.claimer, until).await {
                Ok(_) => {
                    held_until.send_replace(asked + lease);
                }
                Err(error) => tracing::warn!(%error, "could not renew the outbox claims; will try again"),
            }
        }
    }

    /// Resolves a fifth of a lease before the claims run out unrenewed: the margin covers the
    /// last exchange with the mail server and the clocks of the replicas disagreeing a little.
    async fn claims_lapsing(&self, mut held: watch::Receiver<Instant>) {
        let margin = self.settings.lease / 5;
        loop {
            let until = *held.borrow_and_update();
            tokio::select! {
                () = tokio::time::sleep_until(until.checked_sub(margin).unwrap_or(until)) => return,
                changed = held.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Sends one email and settles it; answers `false`, leaving it unsettled, when the claim
    /// lapsed before the mail server answered.
    async fn deliver(
        &self,
        email: &QueuedEmail,
        pass: &mut Pass,
        held: watch::Receiver<Instant>,
    ) -> anyhow::Result<bool> {
        let sending = tokio::time::timeout(self.settings.send_timeout, self.transport.send(email));
        let sent = tokio::select! {
            biased;
            () = self.claims_lapsing(held) => return Ok(false),
            sent = sending => match sent {
                Ok(sent) => sent,
                Err(_) => Err(SendError::Transient(format!(
                    "the mail server did not finish within {}",
                    humantime::format_duration(self.settings.send_timeout)
                ))),
            },
        };
        let (settled, outcome) = match sent {
            Ok(()) => {
                let settled = self.store.email_sent(self.claimer, email.id, Utc::now()).await?;
                tracing::info!(email_id = %email.id, kind = %email.kind, attempts = email.attempts, "email delivered");
                ::metrics::counter!("gatehouse_emails_sent_total", "kind" => email.kind.clone()).increment(1);
                pass.sent += 1;
                (settled, "sent")
            }
            Err(SendError::Permanent(error)) => {
                let settled = self.store.email_failed(self.claimer, email.id, Utc::now(), &error).await?;
                tracing::error!(email_id = %email.id, kind = %email.kind, %error, "email failed for good");
                ::metrics::counter!("gatehouse_emails_failed_total", "kind" => email.kind.clone()).increment(1);
                pass.failed += 1;
                (settled, "failed")
            }
            Err(SendError::Transient(error)) if email.attempts >= self.settings.max_attempts => {
                let error = format!("gave up after {} attempts; last error: {error}", email.attempts);
                let settled = self.store.email_failed(self.claimer, email.id, Utc::now(), &error).await?;
                tracing::error!(email_id = %email.id, kind = %email.kind, %error, "email failed for good");
                ::metrics::counter!("gatehouse_emails_failed_total", "kind" => email.kind.clone()).increment(1);
                pass.failed += 1;
                (settled, "failed")
            }
            Err(SendError::Transient(error)) => {
                let delay = self.backoff(email.attempts);
                let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(30));
                let settled = self.store.email_retry(self.claimer, email.id, next, &error).await?;
                tracing::warn!(
                    email_id = %email.id, kind = %email.kind, attempts = email.attempts,
                    retry_in = %humantime::format_duration(delay), %error,
                    "email not delivered; will retry"
                );
                ::metrics::counter!("gatehouse_email_retries_total", "kind" => email.kind.clone()).increment(1);
                pass.retried += 1;
                (settled, "retry")
            }
        };
        if !settled {
            // Only when the process stalled for longer than a lease in the middle of a send.
            tracing::warn!(email_id = %email.id, outcome, "the outbox claim was taken over before the email was settled");
        }
        Ok(true)
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
    use crate::store::outbox::OutboxStore;

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

    /// A mail server that takes `delay` to accept each message, and counts them.
    #[derive(Debug)]
    struct Slow {
        delay: Duration,
        accepted: std::sync::atomic::AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Transport for Slow {
        async fn send(&self, _: &QueuedEmail) -> Result<(), SendError> {
            tokio::time::sleep(self.delay).await;
            self.accepted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
        async fn ping(&self) -> Result<(), SendError> {
            Ok(())
        }
        fn describe(&self) -> String {
            "slow".into()
        }
    }

    async fn store(dir: &tempfile::TempDir) -> Arc<crate::store::sqlite::SqliteStore> {
        let url = crate::secret_url::SecretUrl::new(&format!("sqlite://{}", dir.path().join("t.db").display()));
        let options = crate::store::DbOptions { max_connections: 2, timeout: Duration::from_secs(5) };
        Arc::new(crate::store::sqlite::SqliteStore::connect(&url, &options).await.unwrap())
    }

    /// The shortest lease there is (3 s, renewed every second) and a mail server taking 4.5 s:
    /// another worker polling meanwhile finds nothing to claim, and the email goes out once.
    #[tokio::test]
    async fn a_live_worker_keeps_its_claim_however_long_the_mail_server_takes() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let email = crate::store::NewEmail {
            id: uuid::Uuid::now_v7(),
            kind: "activation",
            recipient: "ann@example.com".into(),
            subject: "Confirm".into(),
            text_body: "link".into(),
            html_body: "<p>link</p>".into(),
            message_id: "<1@x.example>".into(),
            created_at: Utc::now(),
        };
        store.queue_email(&email).await.unwrap();
        let slow = Arc::new(Slow { delay: Duration::from_millis(4500), accepted: Default::default() });
        let settings = OutboxSettings { lease: Duration::from_secs(3), ..OutboxSettings::default() };
        let outbox = Outbox::new(store.clone(), slow.clone(), settings.clone());

        let sending = tokio::spawn(async move { outbox.deliver_due().await.unwrap() });
        let other = Outbox::new(store.clone(), slow.clone(), settings);
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(other.deliver_due().await.unwrap(), Pass::default(), "the claim is still held");
        }
        let pass = sending.await.unwrap();

        assert_eq!((pass.sent, pass.abandoned), (1, 0));
        assert_eq!(slow.accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(store.outbox_backlog().await.unwrap(), 0, "settled as sent");
    }

    #[tokio::test]
    async fn backoff_doubles_and_is_capped() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(store(&dir).await, Arc::new(Never), OutboxSettings::default());
        assert_eq!(outbox.backoff(1), Duration::from_secs(5));
        assert_eq!(outbox.backoff(2), Duration::from_secs(10));
        assert_eq!(outbox.backoff(4), Duration::from_secs(40));
        assert_eq!(outbox.backoff(40), Duration::from_secs(30 * 60));
    }
}
