//! Webhooks as the store keeps them: the endpoints admins register, and the deliveries owed to
//! them. A delivery is written in the transaction of the change it tells of (the store methods
//! that make a change take its [`Event`]s), so it exists if and only if the change committed;
//! then, like the outbox's emails, it is a job of the job queue ([`super::jobs`]), claimed by a
//! delivery worker and settled.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::outcome::Effects;
pub use crate::model::webhook::{Delivery, DeliveryStatus, Endpoint, Event, EventType};

/// Which deliveries the log lists: one endpoint's, newest first, optionally of one status,
/// older than the cursor.
#[derive(Clone, Debug)]
pub struct DeliveryQuery {
    pub endpoint_id: Uuid,
    pub status: Option<DeliveryStatus>,
    pub before: Option<Uuid>,
    pub limit: u32,
}

#[async_trait]
pub trait WebhookStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores an endpoint with its sealed secret, and `effects` (what tells of it) in the same
    /// transaction, as every change of the registry.
    async fn insert_endpoint(&self, endpoint: &Endpoint, secret_sealed: &[u8], effects: &Effects) -> StoreResult<()>;
    /// Every endpoint, oldest first.
    async fn endpoints(&self) -> StoreResult<Vec<Endpoint>>;
    async fn endpoint(&self, id: Uuid) -> StoreResult<Option<Endpoint>>;
    /// Replaces the endpoint's url, events, description and enabled flag; `false` when it is gone.
    async fn update_endpoint(&self, endpoint: &Endpoint, effects: &Effects) -> StoreResult<bool>;
    /// Removes the endpoint and every delivery owed to it.
    async fn delete_endpoint(&self, id: Uuid, effects: &Effects) -> StoreResult<bool>;
    /// An endpoint with its sealed secret, for sending to it.
    async fn endpoint_with_secret(&self, id: Uuid) -> StoreResult<Option<(Endpoint, Vec<u8>)>>;
    async fn deliveries(&self, query: &DeliveryQuery) -> StoreResult<Vec<Delivery>>;
    async fn delivery(&self, endpoint_id: Uuid, event_id: Uuid) -> StoreResult<Option<Delivery>>;
    /// Queues a delivered or failed delivery again, due at `now`, its attempts counted afresh;
    /// `false` when there is none or it is still on its way.
    async fn replay_delivery(&self, endpoint_id: Uuid, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool>;
}
