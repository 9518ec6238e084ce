//! The background sweep: expired sessions, links and rate-limit state, audit events past
//! retention, old webhook deliveries, and the gauges that count what is left.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::audit::AuditLog;
use crate::store::{Pace, Store};

/// How often expired sessions and tokens are swept away.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// What one sweep removed.
#[derive(Clone, Copy, Debug, Default)]
pub struct Swept {
    /// Expired sessions, links, codes and challenges, and old webhook deliveries.
    pub expired: u64,
    /// Audit events past retention.
    pub audit_events: u64,
    /// Whether a part failed (it was logged).
    pub failed: bool,
}

/// Sweeps expired sessions, links and rate-limit state, and audit events past retention,
/// every [`HOUSEKEEPING_EVERY`] from the start, at [`Pace::Background`]: a backlog goes over
/// several sweeps' time rather than in a burst the requests would feel.
pub(super) async fn housekeeping(store: Arc<dyn Store>, audit: AuditLog, retention: Duration, stop: CancellationToken) {
    loop {
        sweep(store.as_ref(), &audit, retention, Pace::Background).await;
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(HOUSEKEEPING_EVERY) => {}
        }
    }
}

/// One sweep at `pace` (the server's, or `gatehouse purge`'s). A part that fails is logged and
/// left for the next sweep; the others go on.
pub async fn sweep(store: &dyn Store, audit: &AuditLog, retention: Duration, pace: Pace) -> Swept {
    let now = Utc::now();
    let mut swept = Swept::default();
    let purged = match store.maintenance() {
        Some(maintenance) => maintenance.purge_expired(now, pace).await,
        None => Ok(0),
    };
    match purged {
        Ok(0) => {}
        Ok(n) => {
            swept.expired = n;
            tracing::info!(removed = n, "expired sessions and links removed");
        }
        Err(error) => {
            swept.failed = true;
            tracing::warn!(%error, "housekeeping failed; will try again");
        }
    }
    if let Err(error) = store.purge_limits(now.timestamp_millis()).await {
        swept.failed = true;
        tracing::warn!(%error, "sweeping rate-limit state failed; will try again");
    }
    let cutoff = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::days(90));
    match audit.purge(cutoff, pace).await {
        Ok(0) => {}
        Ok(n) => {
            swept.audit_events = n;
            tracing::info!(removed = n, "audit events past retention removed");
        }
        Err(error) => {
            swept.failed = true;
            tracing::warn!(%error, "removing old audit events failed; will try again");
        }
    }
    crate::accounts::import::count_imported_hashes(store).await;
    swept
}
