//! The delivery worker: claims due deliveries, posts each to its endpoint signed as Standard
//! Webhooks asks, and settles it — delivered on any 2xx, otherwise tried again on a schedule
//! that spans a day, then failed (an admin may replay it).
//!
//! At least once: a claim is a lease, and a delivery whose worker died (a crash, `kill -9`)
//! is claimed again once the lease runs out and sent with the same `webhook-id`, which is how
//! receivers recognise a repeat. In order per account and endpoint: the store never claims a
//! delivery while an earlier one of the same account to the same endpoint is still waiting,
//! so one in flight per account and endpoint at most. Every attempt runs in a task of its own
//! (at most [`IN_FLIGHT`] at once), so a receiver that takes its 10 s holds up nobody else.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use url::Host;
use uuid::Uuid;

use super::guard::Guard;
use super::signing::{Secret, sealed_place};
use crate::store::Store;
use crate::store::outbox::Claimer;
use crate::store::webhooks::{ClaimedDelivery, Settlement};
use crate::tokens::sealing::Sealer;

/// Turns the account as a delivery keeps it into the account as the API shows it (the JSON
/// shape lives with the HTTP layer, which hands this in); `None` when it cannot be read.
pub type RenderAccount = fn(serde_json::Value) -> Option<serde_json::Value>;

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

/// The settings of the worker; the defaults suit production.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// How long a claim lasts: longer than an attempt may take, so a live worker's deliveries
    /// are not claimed by another, and short enough that a dead worker's go out again soon.
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
            batch: 32,
            timeout: Duration::from_secs(10),
        }
    }
}

/// How one attempt ended.
#[derive(Debug)]
enum Outcome {
    Delivered(u16),
    Refused { status: Option<u16>, error: String },
}

/// The most attempts one process has under way at once.
const IN_FLIGHT: usize = 64;

#[derive(Clone, Debug)]
pub struct Deliverer {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    http: reqwest::Client,
    guard: Guard,
    render: RenderAccount,
    settings: DeliverySettings,
    claimer: Claimer,
    /// Rung when an attempt settles: the account's next event may be due now, and a slot is free.
    settled: Arc<Notify>,
}

impl Deliverer {
    pub fn new(
        store: Arc<dyn Store>,
        sealer: Arc<Sealer>,
        guard: Guard,
        render: RenderAccount,
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
        Ok(Self {
            store,
            sealer,
            http,
            guard,
            render,
            settings,
            claimer: Uuid::now_v7(),
            settled: Arc::new(Notify::new()),
        })
    }

    /// One pass: claims as many due deliveries as there are free slots, and sends each in a task
    /// of its own that settles it and frees its slot; answers how many it claimed. A slow
    /// receiver holds its slots for at most the attempt's timeout and never holds up the others.
    async fn pass(&self, slots: &Arc<Semaphore>) -> anyhow::Result<usize> {
        let free = u32::try_from(slots.available_permits()).unwrap_or(u32::MAX).min(self.settings.batch);
        if free == 0 {
            return Ok(0);
        }
        let claimed = self.store.claim_deliveries(self.claimer, Utc::now(), self.settings.lease, free).await?;
        let count = claimed.len();
        for delivery in claimed {
            let slot = slots.clone().acquire_owned().await?;
            let worker = self.clone();
            tokio::spawn(async move {
                let outcome = worker.attempt(&delivery).await;
                if let Err(error) = worker.settle(&delivery, outcome).await {
                    tracing::warn!(error = %format!("{error:#}"), "a webhook delivery could not be settled; its claim runs out and it goes again");
                }
                drop(slot);
                worker.settled.notify_one();
            });
        }
        if count > 0
            && let Ok(backlog) = self.store.webhook_backlog().await
        {
            ::metrics::gauge!("gatehouse_webhook_backlog").set(backlog as f64);
        }
        Ok(count)
    }

    async fn attempt(&self, delivery: &ClaimedDelivery) -> Outcome {
        let refused = |error: String| Outcome::Refused { status: None, error };
        let Some(body) = self.payload(delivery) else {
            return refused("the stored event could not be read".into());
        };
        let secret = match self.sealer.open(&delivery.secret_sealed, &sealed_place(delivery.endpoint_id)) {
            Ok(bytes) => Secret::from_bytes(bytes),
            Err(_) => return refused("the endpoint's secret does not open with the sealing keys".into()),
        };
        let url = match url::Url::parse(&delivery.url) {
            Ok(url) => url,
            Err(e) => return refused(format!("the URL no longer parses ({e})")),
        };
        // A name is checked by the resolver; an address in the URL never reaches it.
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !self.guard.allows(*ip)) {
            return refused(format!("{ip} is not a public address"));
        }
        let id = delivery.event_id.to_string();
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
            Ok(answer) if answer.status().is_success() => Outcome::Delivered(answer.status().as_u16()),
            Ok(answer) => {
                let status = answer.status();
                Outcome::Refused { status: Some(status.as_u16()), error: format!("the endpoint answered {status}") }
            }
            Err(e) if e.is_timeout() => refused(format!("no answer within {:?}", self.settings.timeout)),
            Err(e) => refused(format!("{:#}", anyhow::Error::from(e.without_url()))),
        }
    }

    /// `{"type","timestamp","data"}`, `data` holding the account as the API shows it and the
    /// event's details. The same bytes on every attempt.
    fn payload(&self, delivery: &ClaimedDelivery) -> Option<String> {
        let serde_json::Value::Object(mut data) = serde_json::from_str(&delivery.data).ok()? else { return None };
        let account = (self.render)(data.remove("account")?)?;
        data.insert("account".into(), account);
        let payload = serde_json::json!({
            "type": delivery.kind,
            "timestamp": delivery.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        });
        Some(payload.to_string())
    }

    async fn settle(&self, delivery: &ClaimedDelivery, outcome: Outcome) -> anyhow::Result<()> {
        let (endpoint, event) = (delivery.endpoint_id, delivery.event_id);
        let settlement = match outcome {
            Outcome::Delivered(status) => {
                ::metrics::counter!("gatehouse_webhook_deliveries_total", "outcome" => "delivered").increment(1);
                tracing::debug!(%endpoint, %event, kind = delivery.kind, status, "webhook delivered");
                Settlement::Delivered { at: Utc::now(), status }
            }
            Outcome::Refused { status, error } => match retry_delay(delivery.attempts) {
                Some(delay) => {
                    ::metrics::counter!("gatehouse_webhook_deliveries_total", "outcome" => "retried").increment(1);
                    tracing::warn!(%endpoint, %event, attempts = delivery.attempts, error, "webhook not delivered; will try again");
                    let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(8));
                    Settlement::Retry { at, status, error }
                }
                None => {
                    ::metrics::counter!("gatehouse_webhook_deliveries_total", "outcome" => "failed").increment(1);
                    tracing::error!(%endpoint, %event, attempts = delivery.attempts, error, "webhook given up after a day of attempts");
                    Settlement::Failed { status, error }
                }
            },
        };
        if !self.store.settle_delivery(self.claimer, endpoint, event, &settlement).await? {
            tracing::warn!(%endpoint, %event, "a webhook delivery's claim ran out before it was settled; it goes again");
        }
        Ok(())
    }

    /// Delivers until `shutdown` is cancelled, then waits for the attempts under way to settle.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!("webhook worker started");
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            let pause = match self.pass(&slots).await {
                Ok(claimed) if claimed as u32 >= self.settings.batch => Duration::ZERO,
                Ok(_) => self.settings.poll,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "webhook pass failed; will try again");
                    self.settings.poll
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.settled.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
        // Every slot back means every attempt settled (each ends within the timeout).
        let _ = slots.acquire_many(IN_FLIGHT as u32).await;
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
