//! Maintenance, an optional capability of a store: removing what has expired (sessions, links,
//! codes, challenges) and finished jobs past retention, in paced batches. A backend whose
//! database deletes expired items on its own (a time-to-live attribute) need not offer it;
//! every read checks expiry itself, so nothing expired is ever taken for live.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreResult;
use crate::priority::Pace;

#[async_trait]
pub trait MaintenanceStore: Send + Sync + std::fmt::Debug + 'static {
    /// Deletes expired sessions and tokens, and finished jobs past retention, at `pace`; how
    /// many rows went.
    async fn purge_expired(&self, now: DateTime<Utc>, pace: Pace) -> StoreResult<u64>;
}
