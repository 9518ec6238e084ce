//! The audit writer: the task that stores what the log queued, in batches, holding events in
//! memory while the database refuses them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::event::{AuditEvent, AuditStore};
use crate::model::error::StoreError;

/// How the writer batches and retries.
#[derive(Clone, Debug)]
pub(super) struct Settings {
    /// Events waiting for the writer; beyond this `record` drops them.
    pub(super) queue: usize,
    /// The most events one write takes.
    pub(super) batch: usize,
    /// The most events the writer holds while the database refuses them.
    pub(super) held: usize,
    pub(super) first_backoff: Duration,
    pub(super) max_backoff: Duration,
    /// A batch refused this many times for a reason other than an unavailable database is
    /// written one event at a time, and an event refused once more is dropped.
    pub(super) attempts: u32,
    /// How long, once stopped, the writer keeps trying to write what it holds.
    pub(super) stop_grace: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            queue: 10_000,
            batch: 500,
            held: 50_000,
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            attempts: 3,
            stop_grace: Duration::from_secs(5),
        }
    }
}

pub(super) enum Message {
    Event(AuditEvent),
    /// Answered once every event queued before it is written (or given up on).
    Flush(oneshot::Sender<()>),
}

/// The task that writes what the [`AuditLog`] queued: run it with [`AuditWriter::run`].
#[derive(Debug)]
pub struct AuditWriter {
    pub(super) store: Arc<dyn AuditStore>,
    pub(super) queue: mpsc::Receiver<Message>,
    pub(super) dropped: Arc<AtomicU64>,
    pub(super) settings: Settings,
}

/// Counts dropped events; warns on the first and then on every thousandth.
pub(super) fn dropped(counter: &AtomicU64, n: u64, why: &str) {
    let before = counter.fetch_add(n, Ordering::Relaxed);
    for _ in 0..n {
        crate::metrics::count("gatehouse_audit_dropped_total");
    }
    if before == 0 || (before + n) / 1000 > before / 1000 {
        tracing::warn!(dropped_total = before + n, "{why}; audit events dropped");
    }
}

/// A store error with its causes, for the log.
pub(super) fn chain(error: &StoreError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What the writer holds: events taken from the queue and not yet written, in order, and the
/// flushes waiting for them. Events are numbered as they are taken; `settled` counts those
/// written or given up on.
#[derive(Default)]
struct Held {
    events: VecDeque<AuditEvent>,
    taken: u64,
    settled: u64,
    flushes: Vec<(u64, oneshot::Sender<()>)>,
}

impl Held {
    fn take(&mut self, message: Message) {
        match message {
            Message::Event(event) => {
                self.events.push_back(event);
                self.taken += 1;
            }
            Message::Flush(done) if self.settled >= self.taken => {
                let _ = done.send(());
            }
            Message::Flush(done) => self.flushes.push((self.taken, done)),
        }
    }

    /// The first `n` events are written or given up on.
    fn settle(&mut self, n: usize) {
        self.events.drain(..n);
        self.settled += n as u64;
        let settled = self.settled;
        for (_, done) in self.flushes.extract_if(.., |(target, _)| *target <= settled) {
            let _ = done.send(());
        }
    }
}

/// What became of one write.
enum Outcome {
    Written,
    /// Try again after this long.
    Retry(Duration),
}

impl AuditWriter {
    /// Writes what is queued, up to a batch at a time, until `stop`; then writes what is left
    /// (trying for a few seconds if the database refuses) and returns.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut held = Held::default();
        let mut failures = 0;
        loop {
            if held.events.is_empty() {
                tokio::select! {
                    biased;
                    _ = stop.cancelled() => break,
                    message = self.queue.recv() => match message {
                        Some(message) => held.take(message),
                        None => break,
                    },
                }
            }
            self.take_waiting(&mut held);
            if held.events.is_empty() {
                continue;
            }
            if let Outcome::Retry(backoff) = self.write_front(&mut held, &mut failures).await {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
            }
        }
        self.finish(held, failures).await;
    }

    /// Takes what waits in the queue, without waiting, while the writer holds less than its bound.
    fn take_waiting(&mut self, held: &mut Held) {
        while held.events.len() < self.settings.held {
            match self.queue.try_recv() {
                Ok(message) => held.take(message),
                Err(_) => break,
            }
        }
    }

    /// Writes the oldest held events, one batch.
    async fn write_front(&self, held: &mut Held, failures: &mut u32) -> Outcome {
        let n = held.events.len().min(self.settings.batch);
        let batch = &held.events.make_contiguous()[..n];
        match self.store.insert_events(batch).await {
            Ok(()) => {
                held.settle(n);
                *failures = 0;
                Outcome::Written
            }
            Err(error) => {
                *failures += 1;
                tracing::warn!(
                    error = %chain(&error), events = n, held = held.events.len(), attempt = *failures,
                    "writing audit events failed; will retry"
                );
                if !matches!(error, StoreError::Unavailable(_)) && *failures >= self.settings.attempts {
                    *failures = 0;
                    return self.write_one_by_one(held, n).await;
                }
                let exponent = (*failures - 1).min(16);
                Outcome::Retry(self.settings.first_backoff.saturating_mul(1 << exponent).min(self.settings.max_backoff))
            }
        }
    }

    /// Writes the first `n` held events one at a time, dropping those the store refuses: one
    /// event the database cannot take must not hold up the others. Should the database become
    /// unavailable meanwhile, the rest are kept for the next attempt.
    async fn write_one_by_one(&self, held: &mut Held, n: usize) -> Outcome {
        for _ in 0..n {
            let Some(event) = held.events.front() else { break };
            match self.store.insert_events(std::slice::from_ref(event)).await {
                Ok(()) => {}
                Err(StoreError::Unavailable(_)) => return Outcome::Retry(self.settings.first_backoff),
                Err(error) => {
                    tracing::warn!(error = %chain(&error), event_id = %event.id, kind = %event.kind, "an audit event was refused");
                    dropped(&self.dropped, 1, "the database refused an audit event");
                }
            }
            held.settle(1);
        }
        Outcome::Written
    }

    /// After `stop`: writes what is queued and held, giving up after the grace period.
    async fn finish(mut self, mut held: Held, mut failures: u32) {
        self.queue.close();
        while let Ok(message) = self.queue.try_recv() {
            held.take(message);
        }
        let deadline = tokio::time::Instant::now() + self.settings.stop_grace;
        while !held.events.is_empty() {
            if let Outcome::Retry(backoff) = self.write_front(&mut held, &mut failures).await {
                if tokio::time::Instant::now() + backoff > deadline {
                    let lost = held.events.len();
                    dropped(&self.dropped, lost as u64, "the database refused audit events at shutdown");
                    held.settle(lost);
                    break;
                }
                tokio::time::sleep(backoff).await;
            }
        }
    }
}
