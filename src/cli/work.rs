//! `gatehouse work --once`: one round of the background work the server does on its own — the
//! emails, webhook deliveries and back-channel logout notices that are due, then the
//! housekeeping sweep — for a scheduler
//! that runs it every minute (cron, a systemd timer, a serverless schedule) beside or instead
//! of a server's own workers. Safe beside running servers: each job goes to one claimer.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use crate::app::Services;
use crate::config::Config;
use crate::jobs::Pass;
use crate::priority::Pace;

#[derive(Args, Debug)]
pub struct WorkArgs {
    /// One round, then exit (what a scheduler runs). Required: a process that keeps working
    /// is `gatehouse serve`.
    #[arg(long, required = true)]
    once: bool,
    /// The most time the round spends delivering before it sweeps and exits, so that a round
    /// fits its schedule's interval.
    #[arg(long, value_name = "DURATION", default_value = "50s", value_parser = humantime::parse_duration)]
    within: Duration,
}

/// Delivers what is due with `services`, pass after pass until a pass finds nothing or
/// `within` has gone by, sweeps once, closes them and prints one JSON line of what it did.
pub async fn run(services: Services, config: &Config, args: WorkArgs) -> anyhow::Result<()> {
    debug_assert!(args.once);
    let started = Instant::now();
    let (mut emails, mut deliveries, mut logouts) = (Pass::default(), Pass::default(), Pass::default());
    let delivered = async {
        loop {
            let email_pass = services.outbox.deliver_due().await?;
            let delivery_pass = services.webhooks.deliver_due().await?;
            let logout_pass = services.logouts.deliver_due().await?;
            let idle = email_pass.handled() == 0 && delivery_pass.handled() == 0 && logout_pass.handled() == 0;
            emails.add(&email_pass);
            deliveries.add(&delivery_pass);
            logouts.add(&logout_pass);
            if idle || started.elapsed() >= args.within {
                return anyhow::Ok(());
            }
        }
    }
    .await;
    let swept = crate::app::sweep(
        services.backend.store.as_ref(),
        services.accounts.audit(),
        config.security.audit_retention,
        Pace::Full,
    )
    .await;
    services.close().await;
    delivered?;
    let pass = |pass: &Pass| {
        json!({"done": pass.done, "retried": pass.retried, "failed": pass.failed, "deferred": pass.deferred,
               "abandoned": pass.abandoned})
    };
    println!(
        "{}",
        json!({
            "emails": pass(&emails),
            "webhook_deliveries": pass(&deliveries),
            "logout_notices": pass(&logouts),
            "swept": {"expired": swept.expired, "audit_events": swept.audit_events},
            "seconds": (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        })
    );
    anyhow::ensure!(!swept.failed, "the sweep did not finish; the log above says why (the next round tries again)");
    Ok(())
}
