//! The background sweep: expired sessions, links and rate-limit state, audit events past
//! retention, old webhook deliveries, and the gauges that count what is left.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::store::Store;

/// How often expired sessions and tokens are swept away.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// Sweeps expired sessions, links and rate-limit state, and audit events past retention.
pub(super) async fn housekeeping(store: Arc<dyn Store>, audit: AuditLog, retention: Duration, stop: CancellationToken) {
    loop {
        let now = Utc::now();
        match store.purge_expired(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired sessions and links removed"),
            Err(error) => tracing::warn!(%error, "housekeeping failed; will try again"),
        }
        if let Err(error) = store.purge_limits(now.timestamp_millis()).await {
            tracing::warn!(%error, "sweeping rate-limit state failed; will try again");
        }
        let cutoff = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(90));
        match audit.purge(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "audit events past retention removed"),
            Err(error) => tracing::warn!(%error, "removing old audit events failed; will try again"),
        }
        crate::accounts::import::count_imported_hashes(store.as_ref()).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(HOUSEKEEPING_EVERY) => {}
        }
    }
}
