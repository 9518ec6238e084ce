//! The webhook registry: admins (the API, the console) and operators (the command line)
//! register, change and remove endpoints at runtime, read each endpoint's delivery log and
//! replay a delivery. An endpoint's signing secret is made here, shown once, and kept sealed
//! (the worker must read it back to sign). Its URL passes the guard against private networks
//! when it is registered or changed, and again at each delivery (`webhooks::guard`).

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use crate::accounts::admin::{Admin, MAX_PAGE};
use crate::accounts::{Error, FieldError, Result};
use crate::model::outcome::{Effects, Kind};
use crate::store::webhooks::{Delivery, DeliveryQuery, DeliveryStatus, Endpoint, EventType};
use crate::webhooks::signing::sealed_place;
use crate::webhooks::{Guard, Secret};

/// An endpoint as submitted; on a change, what is absent stays.
#[derive(Debug, Default)]
pub struct WebhookSpec {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// An endpoint just registered, with its secret: shown this once.
pub use crate::model::webhook::EndpointWithSecret;

/// Applies `spec` to `endpoint` and checks the result whole; every problem comes back at once.
async fn apply(mut endpoint: Endpoint, spec: WebhookSpec, guard: Guard) -> Result<Endpoint> {
    let mut problems = Vec::new();
    if let Some(url) = spec.url {
        match guard.check(url.trim()).await {
            Ok(url) => endpoint.url = url.to_string(),
            Err(why) => problems.push(FieldError::new("url", why)),
        }
    }
    if let Some(names) = spec.events {
        let mut events = Vec::new();
        for name in &names {
            match EventType::parse(name) {
                Some(kind) if !events.contains(&kind) => events.push(kind),
                Some(_) => {}
                None => {
                    let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                    let why = format!("unknown event {name:?}; the events are {}", known.join(", "));
                    problems.push(FieldError::new("events", why));
                }
            }
        }
        endpoint.events = events;
    }
    if endpoint.events.is_empty() {
        problems.push(FieldError::new("events", "an endpoint receives at least one event"));
    }
    if let Some(description) = spec.description {
        endpoint.description = description.trim().to_owned();
    }
    if endpoint.description.chars().count() > 200 || endpoint.description.chars().any(char::is_control) {
        problems.push(FieldError::new("description", "at most 200 characters, none of them a control character"));
    }
    if let Some(enabled) = spec.enabled {
        endpoint.enabled = enabled;
    }
    if problems.is_empty() { Ok(endpoint) } else { Err(Error::Validation(problems)) }
}

impl Admin<'_> {
    fn guard(&self) -> Guard {
        Guard::new(self.service().settings.webhooks_allow_private)
    }

    /// Registers an endpoint with a new secret, shown this once.
    pub async fn create_webhook(&self, spec: WebhookSpec) -> Result<EndpointWithSecret> {
        if spec.url.is_none() {
            return Err(Error::field("url", "an endpoint needs its URL"));
        }
        self.admit(crate::accounts::access::matrix::Operation::Webhook).await?;
        let now = Utc::now();
        let blank = Endpoint {
            id: Uuid::now_v7(),
            url: String::new(),
            events: Vec::new(),
            description: String::new(),
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        let endpoint = apply(blank, spec, self.guard()).await?;
        let secret = Secret::generate();
        let sealed = self.service().sealer.seal(secret.bytes(), &sealed_place(endpoint.id));
        let created = Effects::of(self.outcome(Kind::AdminWebhookCreated, None).detail(describe(&endpoint)));
        self.service().commit(&created, self.service().store.insert_endpoint(&endpoint, &sealed, &created)).await?;
        tracing::info!(webhook_id = %endpoint.id, "webhook endpoint registered");
        Ok(EndpointWithSecret { endpoint, secret: secret.display() })
    }

    pub async fn webhooks(&self) -> Result<Vec<Endpoint>> {
        Ok(self.service().store.endpoints().await?)
    }

    pub async fn webhook(&self, id: Uuid) -> Result<Endpoint> {
        self.service().store.endpoint(id).await?.ok_or(Error::NotFoundWebhook)
    }

    /// Changes what `spec` names; the rest stays. A disabled endpoint is written nothing new;
    /// what it was owed waits, and goes once it is enabled again.
    pub async fn update_webhook(&self, id: Uuid, spec: WebhookSpec) -> Result<Endpoint> {
        let before = self.webhook(id).await?;
        let endpoint = apply(before.clone(), spec, self.guard()).await?;
        // Where every account's changes are sent, and which, is lasting access.
        if endpoint.url != before.url || endpoint.events != before.events || (endpoint.enabled && !before.enabled) {
            self.require_recent().await?;
        }
        let endpoint = Endpoint { updated_at: Utc::now(), ..endpoint };
        let updated = Effects::of(self.outcome(Kind::AdminWebhookUpdated, None).detail(describe(&endpoint)));
        if !self.service().commit(&updated, self.service().store.update_endpoint(&endpoint, &updated)).await? {
            return Err(Error::NotFoundWebhook);
        }
        Ok(endpoint)
    }

    /// Removes an endpoint and every delivery still owed to it.
    pub async fn delete_webhook(&self, id: Uuid) -> Result<Endpoint> {
        let endpoint = self.webhook(id).await?;
        let deleted = Effects::of(self.outcome(Kind::AdminWebhookDeleted, None).detail(describe(&endpoint)));
        if !self.service().commit(&deleted, self.service().store.delete_endpoint(id, &deleted)).await? {
            return Err(Error::NotFoundWebhook);
        }
        Ok(endpoint)
    }

    /// The endpoint's deliveries, newest first: `limit` (at most [`MAX_PAGE`] + 1) older than
    /// `before`, optionally of one status.
    pub async fn webhook_deliveries(
        &self,
        id: Uuid,
        status: Option<DeliveryStatus>,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Delivery>> {
        self.webhook(id).await?;
        let query = DeliveryQuery { endpoint_id: id, status, before, limit: limit.clamp(1, MAX_PAGE + 1) };
        Ok(self.service().store.deliveries(&query).await?)
    }

    /// Sends a delivered or failed delivery again, now, with the same `webhook-id` and body, and
    /// another day of attempts.
    pub async fn replay_webhook(&self, id: Uuid, event_id: Uuid) -> Result<Delivery> {
        let store = &self.service().store;
        let delivery = store.delivery(id, event_id).await?.ok_or(Error::NotFoundDelivery)?;
        if !store.replay_delivery(id, event_id, Utc::now()).await? {
            let why =
                format!("the delivery is {}; only a delivered or failed one is replayed", delivery.status.as_str());
            return Err(Error::field("status", why));
        }
        self.audit(
            self.outcome(Kind::AdminWebhookReplayed, Some(delivery.account_id))
                .detail(json!({ "webhook_id": id, "event_id": event_id })),
        )
        .await?;
        store.delivery(id, event_id).await?.ok_or(Error::NotFoundDelivery)
    }
}

fn describe(endpoint: &Endpoint) -> serde_json::Value {
    let events: Vec<&str> = endpoint.events.iter().map(|t| t.as_str()).collect();
    json!({ "webhook_id": endpoint.id, "url": endpoint.url, "events": events, "enabled": endpoint.enabled })
}
