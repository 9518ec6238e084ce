//! The store that keeps the audit trail.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub use crate::model::audit::{AuditEvent, EventFilter, SHORT_TEXT_MAX, USER_AGENT_MAX, clip};
use crate::model::error::StoreResult;
use crate::priority::Pace;

/// Where events are kept.
#[async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug + 'static {
    /// Appends events, all in one transaction. An event whose id is stored already is skipped,
    /// so a write retried after a lost answer does not fail.
    async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Lists events matching the filter, newest first, at most `filter.limit`.
    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>>;
    /// Deletes events older than `before`, at `pace`.
    async fn purge_events(&self, before: DateTime<Utc>, pace: Pace) -> StoreResult<u64>;
}
