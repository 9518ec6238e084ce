//! The outbox's sender: how one email goes, for the job queue's worker ([`crate::jobs`]), which
//! claims queued emails, runs up to `GATEHOUSE_SMTP_CONNECTIONS` sends at once over as many
//! reused connections, renews its claims and settles the sends in batches. An email is sent,
//! retried later with exponential backoff, or failed for good; its bodies are erased once sent.
//! A recipient's domain that answers `4xx` is paused (and, with `GATEHOUSE_SMTP_DOMAIN_RATE`, no
//! domain is sent more than its rate): its emails wait, their attempts not counted.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::pace::{DomainPace, domain_of};
use super::{SendError, Transport};
use crate::jobs::{Pass, QueueSettings, Sender, Worker};
use crate::limits::Budget;
use crate::store::QueuedEmail;
use crate::store::jobs::{Job, JobKind, JobStore, Outcome};

/// The settings of the outbox; the defaults suit production.
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
    /// The most emails one claim takes.
    pub batch: u32,
    /// How long a woken worker waits for more emails before it claims, and the settler for
    /// more sends to end before it writes them.
    pub gather: Duration,
    /// The longest one delivery may take, whatever the transport; past it the attempt counts as
    /// a transient failure (a mail server that accepts and then hangs must not stall the queue).
    pub send_timeout: Duration,
    /// Emails sent at once (`GATEHOUSE_SMTP_CONNECTIONS`).
    pub connections: u32,
    /// The most emails one recipient domain is sent per period (`GATEHOUSE_SMTP_DOMAIN_RATE`).
    pub domain_rate: Option<Budget>,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            base_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(30 * 60),
            max_attempts: 15,
            batch: 256,
            gather: Duration::from_millis(10),
            send_timeout: Duration::from_secs(30),
            connections: 8,
            domain_rate: None,
        }
    }
}

impl OutboxSettings {
    fn queue(&self) -> QueueSettings {
        QueueSettings { lease: self.lease, poll: self.poll, max_claim: self.batch, gather: self.gather }
    }
}

/// How one email goes.
#[derive(Debug)]
pub struct EmailSender {
    transport: Arc<dyn Transport>,
    settings: OutboxSettings,
    pace: DomainPace,
}

impl Sender for EmailSender {
    fn kind(&self) -> JobKind {
        JobKind::Email
    }

    fn concurrency(&self) -> usize {
        self.settings.connections.max(1) as usize
    }

    async fn attempt(&self, job: Job) -> Outcome {
        let Some(email) = QueuedEmail::from_job(&job) else {
            tracing::error!(email_id = %job.id, "a queued email could not be read; failed");
            return Outcome::Failed { status: None, error: "the stored email could not be read".into() };
        };
        let domain = domain_of(&email.recipient);
        if let Err(wait) = self.pace.reserve(&domain, email.id) {
            tracing::debug!(email_id = %email.id, %domain, wait_ms = wait.as_millis() as u64, "email waits for its domain");
            return Outcome::Deferred {
                at: Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(1)),
            };
        }
        let sent = match tokio::time::timeout(self.settings.send_timeout, self.transport.send(&email)).await {
            Ok(sent) => sent,
            Err(_) => Err(SendError::Transient(format!(
                "the mail server did not finish within {}",
                humantime::format_duration(self.settings.send_timeout)
            ))),
        };
        let kind = email.kind.clone();
        match sent {
            Ok(()) => {
                self.pace.accepted(&domain);
                tracing::info!(email_id = %email.id, kind, attempts = email.attempts, "email delivered");
                ::metrics::counter!("gatehouse_emails_sent_total", "kind" => kind).increment(1);
                Outcome::Done { status: None }
            }
            Err(SendError::Permanent(error)) => self.failed(&email, error),
            Err(SendError::Transient(error) | SendError::Busy(error))
                if email.attempts >= self.settings.max_attempts =>
            {
                self.failed(&email, format!("gave up after {} attempts; last error: {error}", email.attempts))
            }
            Err(error) => {
                if matches!(error, SendError::Busy(_)) {
                    let pause = self.pace.busy(&domain);
                    tracing::warn!(%domain, pause = %humantime::format_duration(pause), "the mail server asked to slow down; pausing the domain");
                }
                let delay = self.backoff(email.attempts);
                tracing::warn!(
                    email_id = %email.id, kind, attempts = email.attempts,
                    retry_in = %humantime::format_duration(delay), %error,
                    "email not delivered; will retry"
                );
                ::metrics::counter!("gatehouse_email_retries_total", "kind" => kind).increment(1);
                let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(30));
                Outcome::Retry { at, status: None, error: error.to_string() }
            }
        }
    }
}

impl EmailSender {
    fn failed(&self, email: &QueuedEmail, error: String) -> Outcome {
        tracing::error!(email_id = %email.id, kind = %email.kind, %error, "email failed for good");
        ::metrics::counter!("gatehouse_emails_failed_total", "kind" => email.kind.clone()).increment(1);
        Outcome::Failed { status: None, error }
    }

    /// The delay before attempt `attempts + 1`: base × 2^(attempts−1), capped.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.settings.base_backoff.saturating_mul(factor).min(self.settings.max_backoff)
    }
}

/// The outbox: its worker and how it sends.
#[derive(Clone, Debug)]
pub struct Outbox {
    worker: Worker<EmailSender>,
    transport: Arc<dyn Transport>,
}

impl Outbox {
    pub fn new(jobs: Arc<dyn JobStore>, transport: Arc<dyn Transport>, settings: OutboxSettings) -> Self {
        let queue = settings.queue();
        let pace = DomainPace::new(settings.domain_rate);
        let sender = EmailSender { transport: transport.clone(), settings, pace };
        Self { worker: Worker::new(jobs, sender, queue), transport }
    }

    /// Tells the worker that an email was queued, so it need not wait for its next poll.
    pub fn wake(&self) {
        self.worker.wake();
    }

    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.transport
    }

    /// One pass: claims a batch of due emails, sends them and settles them.
    pub async fn deliver_due(&self) -> anyhow::Result<Pass> {
        self.worker.deliver_due().await
    }

    /// The delay before attempt `attempts + 1`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        self.worker.sender().backoff(attempts)
    }

    /// Delivers until `shutdown` is cancelled. Emails being sent when shutdown comes are
    /// finished and settled first; nothing is abandoned half-settled.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(transport = %self.transport.describe(), "outbox worker started");
        self.worker.run(shutdown).await;
        tracing::info!("outbox worker stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::jobs::JobStore;
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

        assert_eq!((pass.done, pass.abandoned), (1, 0));
        assert_eq!(slow.accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(store.job_backlog(JobKind::Email).await.unwrap().jobs, 0, "settled as sent");
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
