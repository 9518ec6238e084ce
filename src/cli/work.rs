//! `gatehouse work --once`: one round of the background work the server does on its own — the
//! emails, webhook deliveries and back-channel logout notices that are due, then the
//! housekeeping sweep — for a scheduler that runs it every minute (cron, a systemd timer, a
//! serverless schedule) beside or instead of a server's own workers. Safe beside running
//! servers: each job goes to one claimer.

use std::time::Duration;

use clap::Args;

use crate::app::Services;
use crate::config::Config;

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

/// Runs one round with `services` (see [`crate::app::round`]), closes them and prints one JSON
/// line of what it did.
pub async fn run(services: Services, config: &Config, args: WorkArgs) -> anyhow::Result<()> {
    debug_assert!(args.once);
    let (done, result) = crate::app::round(&services, args.within, Some(config.security.audit_retention)).await;
    services.close().await;
    println!("{}", serde_json::to_string(&done)?);
    result
}
