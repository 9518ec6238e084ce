//! One round of the background work a server does on its own: the emails, webhook deliveries
//! and back-channel logout notices that are due, pass after pass until a pass finds nothing or
//! the round's time is up, then (when asked) the housekeeping sweep. `gatehouse work --once`
//! runs one for a scheduler; the Lambda work function runs one per invocation.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{Services, sweep};
use crate::jobs::Pass;
use crate::priority::Pace;

/// What a round did.
#[derive(Debug, Default, Serialize)]
pub struct Round {
    pub emails: Pass,
    pub webhook_deliveries: Pass,
    pub logout_notices: Pass,
    /// Absent when the round did not sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swept: Option<SweptCounts>,
    pub seconds: f64,
}

/// What the sweep removed.
#[derive(Debug, Serialize)]
pub struct SweptCounts {
    pub expired: u64,
    pub audit_events: u64,
}

/// Delivers what is due until a pass finds nothing or `within` has gone by, then sweeps at
/// full pace when `audit_retention` is given (the audit events it keeps). Returns
/// what it did, with the first failure: a delivery pass that could not reach the store (the
/// sweep still runs), or a sweep that did not finish (logged; the next round tries again).
pub async fn round(
    services: &Services,
    within: Duration,
    audit_retention: Option<Duration>,
) -> (Round, anyhow::Result<()>) {
    let started = Instant::now();
    let mut done = Round::default();
    let delivered = async {
        loop {
            let emails = services.outbox.deliver_due().await?;
            let deliveries = services.webhooks.deliver_due().await?;
            let logouts = services.logouts.deliver_due().await?;
            let idle = emails.handled() == 0 && deliveries.handled() == 0 && logouts.handled() == 0;
            done.emails.add(&emails);
            done.webhook_deliveries.add(&deliveries);
            done.logout_notices.add(&logouts);
            if idle || started.elapsed() >= within {
                return anyhow::Ok(());
            }
        }
    }
    .await;
    let mut result = delivered;
    if let Some(retention) = audit_retention {
        let swept =
            sweep(services.backend.store.as_ref(), services.capabilities.accounts.audit(), retention, Pace::Full).await;
        if swept.failed && result.is_ok() {
            result =
                Err(anyhow::anyhow!("the sweep did not finish; the log above says why (the next round tries again)"));
        }
        done.swept = Some(SweptCounts { expired: swept.expired, audit_events: swept.audit_events });
    }
    done.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    (done, result)
}
