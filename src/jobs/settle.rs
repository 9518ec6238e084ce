//! Settling attempts in batches: what ends within a few milliseconds of the first is written in
//! one transaction. A settlement that fails (the database briefly away) is tried again while
//! the claims may still be held; past that the jobs go again when their lease runs out.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

use crate::store::jobs::{Claimer, JobStore, Settled};

/// The most settlements one transaction writes.
const MOST: usize = 512;
/// How long a failed settlement is tried again.
const RETRY_FOR: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(super) struct Settler {
    store: Arc<dyn JobStore>,
    claimer: Claimer,
    gather: Duration,
    /// Rung after each batch: the next job of a settled one's lane may be due now.
    wake: Arc<Notify>,
}

impl Settler {
    pub(super) fn new(store: Arc<dyn JobStore>, claimer: Claimer, gather: Duration, wake: Arc<Notify>) -> Self {
        Self { store, claimer, gather, wake }
    }

    /// Settles what arrives until every sender of `settled` is gone.
    pub(super) async fn run(self, mut settled: mpsc::UnboundedReceiver<Settled>) {
        while let Some(first) = settled.recv().await {
            let mut batch = vec![first];
            let deadline = Instant::now() + self.gather;
            while batch.len() < MOST {
                match tokio::time::timeout_at(deadline, settled.recv()).await {
                    Ok(Some(next)) => batch.push(next),
                    Ok(None) | Err(_) => break,
                }
            }
            if let Err(error) = settle_now(self.store.as_ref(), self.claimer, &batch).await {
                tracing::warn!(jobs = batch.len(), error = %format!("{error:#}"), "jobs could not be settled; they go again when their claims run out");
            }
            self.wake.notify_one();
        }
    }
}

/// Writes the settlements, trying again for a while if the database fails.
pub(super) async fn settle_now(store: &dyn JobStore, claimer: Claimer, settled: &[Settled]) -> anyhow::Result<()> {
    let started = Instant::now();
    for chunk in settled.chunks(MOST) {
        let mut pause = Duration::from_millis(50);
        loop {
            match store.settle_jobs(claimer, chunk).await {
                Ok(applied) => {
                    if applied < chunk.len() as u64 {
                        // Only when the worker stalled for longer than a lease in mid-attempt.
                        tracing::warn!(
                            settled = applied,
                            of = chunk.len(),
                            "some job claims were taken over before their attempts were settled"
                        );
                    }
                    break;
                }
                Err(error) if started.elapsed() < RETRY_FOR => {
                    tracing::debug!(%error, "settling jobs failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}
