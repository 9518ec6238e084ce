//! The device authorization grant's requests (RFC 8628), kept by the hashes of their codes.
//! Every change of state is one conditional write, so on any replica a code is approved or
//! denied once, its tokens are handed out once, and two polls at once are told apart.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::StoreResult;
pub use crate::model::device::{DeviceCode, DeviceDecision, DeviceState};
use crate::model::token::TokenHash;

#[async_trait]
pub trait DeviceStore: Send + Sync + std::fmt::Debug + 'static {
    async fn insert_device_code(&self, code: &DeviceCode) -> StoreResult<()>;
    /// The pending, live request of this user code, counted as shown once more; `None` when there
    /// is none, or it has been shown `max_views` times already.
    async fn view_device_code(
        &self,
        user_hash: &TokenHash,
        max_views: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeviceCode>>;
    /// Records the person's answer, if the request is still pending and live; `false` otherwise.
    async fn decide_device_code(
        &self,
        device_hash: &TokenHash,
        decision: &DeviceDecision,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn device_code(&self, device_hash: &TokenHash) -> StoreResult<Option<DeviceCode>>;
    /// Records a poll, if no other was recorded since the one `seen` counted (`polls`), with the
    /// interval the device must keep from now on; `false` when another poll came in between.
    async fn record_poll(
        &self,
        device_hash: &TokenHash,
        seen: i64,
        interval_secs: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Marks an approved request spent; `true` for the one poll that does it.
    async fn spend_device_code(&self, device_hash: &TokenHash) -> StoreResult<bool>;
}
