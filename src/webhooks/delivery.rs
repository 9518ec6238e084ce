//! The webhook sender: how one delivery goes, for the job queue's worker ([`crate::jobs`]),
//! which claims due deliveries, runs up to [`IN_FLIGHT`] attempts at once, renews its claims
//! and settles them in batches. An attempt posts the event to its endpoint signed as Standard
//! Webhooks asks; any 2xx delivers it, anything else tries it again on a schedule that spans a
//! day, then fails it (an admin may replay it).
//!
//! At least once: a delivery whose worker died (a crash, `kill -9`) is claimed again once its
//! lease runs out and sent with the same `webhook-id`, which is how receivers recognise a
//! repeat. In order per account and endpoint: a delivery's lane is its endpoint and account, and
//! the queue never claims one while an earlier one of its lane waits. A receiver that takes its
//! 10 s holds one slot, never the others.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use tokio_util::sync::CancellationToken;
use url::Host;
use uuid::Uuid;

use super::guard::Guard;
use super::signing::{Secret, sealed_place};
use crate::contract::account::stored_account;
use crate::jobs::{QueueSettings, Sender, Worker};
use crate::store::WebhookStore;
use crate::store::jobs::{Job, JobKind, JobStore, Outcome};
use crate::tokens::sealing::Sealer;

/// The delays before the second, third… attempt: about 24 hours in all, then the delivery fails.
const RETRY_DELAYS: [Duration; 10] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(2 * 60),
    Duration::from_secs(10 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(60 * 60),
    Duration::from_secs(2 * 60 * 60),
    Duration::from_secs(4 * 60 * 60),
    Duration::from_secs(8 * 60 * 60),
    Duration::from_secs(8 * 60 * 60),
];

/// How long a delivery to an endpoint that was switched off waits before it looks again.
const SWITCHED_OFF_WAIT: Duration = Duration::from_secs(60);

/// The settings of the worker; the defaults suit production.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// How long a claim lasts: how soon a dead worker's deliveries go out again.
    pub lease: Duration,
    /// How often the worker looks for due deliveries.
    pub poll: Duration,
    pub batch: u32,
    /// The longest one attempt may take, connection and answer together.
    pub timeout: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            batch: 256,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The most attempts one process has under way at once.
const IN_FLIGHT: usize = 64;

/// How one delivery goes.
#[derive(Debug)]
pub struct WebhookSender {
    endpoints: Arc<dyn WebhookStore>,
    sealer: Arc<Sealer>,
    http: reqwest::Client,
    guard: Guard,
    timeout: Duration,
}

/// What an attempt found wrong before or while posting.
struct Refused {
    status: Option<u16>,
    error: String,
}

impl Sender for WebhookSender {
    fn kind(&self) -> JobKind {
        JobKind::Webhook
    }

    fn concurrency(&self) -> usize {
        IN_FLIGHT
    }

    async fn attempt(&self, job: Job) -> Outcome {
        let (endpoint, event) = (job.target.clone(), job.ref_id.unwrap_or_default());
        let refused = match self.post(&job).await {
            Ok(Some(status)) => {
                ::metrics::counter!("gatehouse_webhook_deliveries_total", "outcome" => "delivered").increment(1);
                tracing::debug!(endpoint, %event, kind = job.topic, status, "webhook delivered");
                return Outcome::Done { status: Some(status) };
            }
            Ok(None) => {
                return Outcome::Deferred {
                    at: Utc::now() + chrono::Duration::from_std(SWITCHED_OFF_WAIT).unwrap_or_default(),
                };
            }
            Err(refused) => refused,
        };
        let Refused { status, error } = refused;
        match retry_delay(job.attempts) {
            Some(delay) => {
                ::metrics::counter!("gatehouse_webhook_deliveries_total", "outcome" => "retried").increment(1);
                tracing::warn!(endpoint, %event, attempts = job.attempts, error, "webhook not delivered; will try again");
                let at: DateTime<Utc> =
                    Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(8));
                Outcome::Retry { at, status, error }
            }
            None => {
                ::metrics::counter!("gatehouse_webhook_deliveries_total", "outcome" => "failed").increment(1);
                tracing::error!(endpoint, %event, attempts = job.attempts, error, "webhook given up after a day of attempts");
                Outcome::Failed { status, error }
            }
        }
    }
}

impl WebhookSender {
    /// Posts the delivery: its receiver's 2xx status, `None` when its endpoint is switched off
    /// (it waits, untried), or why it did not go.
    async fn post(&self, job: &Job) -> Result<Option<u16>, Refused> {
        let refused = |error: String| Refused { status: None, error };
        let endpoint_id = Uuid::parse_str(&job.target).map_err(|_| refused("the delivery names no endpoint".into()))?;
        let event_id = job.ref_id.ok_or_else(|| refused("the delivery names no event".into()))?;
        let (endpoint, sealed) = match self.endpoints.endpoint_with_secret(endpoint_id).await {
            Ok(Some(found)) => found,
            Ok(None) => return Err(refused("the endpoint is gone".into())),
            Err(error) => return Err(refused(format!("the endpoint could not be read ({error})"))),
        };
        if !endpoint.enabled {
            return Ok(None);
        }
        let body = self.payload(job).ok_or_else(|| refused("the stored event could not be read".into()))?;
        let secret = match self.sealer.open(&sealed, &sealed_place(endpoint_id)) {
            Ok(bytes) => Secret::from_bytes(bytes),
            Err(_) => return Err(refused("the endpoint's secret does not open with the sealing keys".into())),
        };
        let url = url::Url::parse(&endpoint.url).map_err(|e| refused(format!("the URL no longer parses ({e})")))?;
        // A name is checked by the resolver; an address in the URL never reaches it.
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !self.guard.allows(*ip)) {
            return Err(refused(format!("{ip} is not a public address")));
        }
        let id = event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", secret.sign(&id, timestamp, &body))
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) if answer.status().is_success() => Ok(Some(answer.status().as_u16())),
            Ok(answer) => {
                let status = answer.status();
                Err(Refused { status: Some(status.as_u16()), error: format!("the endpoint answered {status}") })
            }
            Err(e) if e.is_timeout() => Err(refused(format!("no answer within {:?}", self.timeout))),
            Err(e) => Err(refused(format!("{:#}", anyhow::Error::from(e.without_url())))),
        }
    }

    /// `{"type","timestamp","data"}`, `data` holding the account as the API shows it and the
    /// event's details. The same bytes on every attempt.
    fn payload(&self, job: &Job) -> Option<String> {
        let serde_json::Value::Object(mut data) = serde_json::from_str(&job.payload).ok()? else { return None };
        let account = stored_account(data.remove("account")?)?;
        data.insert("account".into(), account);
        let payload = serde_json::json!({
            "type": job.topic,
            "timestamp": job.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        });
        Some(payload.to_string())
    }
}

/// The webhook worker.
#[derive(Clone, Debug)]
pub struct Deliverer {
    worker: Worker<WebhookSender>,
}

impl Deliverer {
    /// `jobs` holds the deliveries, `endpoints` where they go and their sealed secrets.
    pub fn new(
        jobs: Arc<dyn JobStore>,
        endpoints: Arc<dyn WebhookStore>,
        sealer: Arc<Sealer>,
        guard: Guard,
        settings: DeliverySettings,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            // A redirect would lead the request past the guard; a receiver's 3xx is a failure.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would connect where the guard never looked.
            .no_proxy()
            .dns_resolver(guard.resolver())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .build()?;
        let sender = WebhookSender { endpoints, sealer, http, guard, timeout: settings.timeout };
        let queue = QueueSettings {
            lease: settings.lease,
            poll: settings.poll,
            max_claim: settings.batch,
            ..QueueSettings::default()
        };
        Ok(Self { worker: Worker::new(jobs, sender, queue) })
    }

    /// Tells the worker that deliveries were queued.
    pub fn wake(&self) {
        self.worker.wake();
    }

    /// One pass: claims a batch of due deliveries, sends them and settles them.
    pub async fn deliver_due(&self) -> anyhow::Result<crate::jobs::Pass> {
        self.worker.deliver_due().await
    }

    /// Delivers until `shutdown` is cancelled, then waits for the attempts under way to settle.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("webhook worker started");
        self.worker.run(shutdown).await;
        tracing::info!("webhook worker stopped");
    }
}

/// The delay before the next attempt after `attempts` have failed; `None` when the day is over.
fn retry_delay(attempts: u32) -> Option<Duration> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_DELAYS.get(index).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_span_about_a_day_then_stop() {
        let total: Duration = (1..).map_while(retry_delay).sum();
        assert!(total >= Duration::from_secs(23 * 3600) && total <= Duration::from_secs(25 * 3600), "{total:?}");
        assert_eq!(retry_delay(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_delay(11), None);
    }
}
