//! The worker of the job queue, for every kind of job: it claims due jobs in batches sized to
//! what its sender finishes within a lease, runs up to the sender's concurrency of attempts at
//! once, renews its claims while it works, and settles the attempts in batches (one
//! transaction for all that ended within a few milliseconds). A kind brings only its
//! [`Sender`]: how one attempt goes.
//!
//! Claims are leases held by one worker (a UUID drawn at start). An attempt starts, and its
//! outcome is settled, only while the worker surely holds the claim: it stops a fifth of a lease
//! before its last successful renewal runs out, so a job whose claim another worker may take
//! over is never sent twice by live workers. A job whose worker died (a crash, `kill -9`) is
//! claimed again once its lease runs out, and sent again as it was (same Message-ID, same
//! `webhook-id`): the one documented duplicate. See `docs/RELIABILITY.md`.

mod settle;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use self::settle::{Settler, settle_now};
use crate::store::jobs::{Claimer, Job, JobKind, JobStore, Outcome, Settled};

/// How one kind's attempts go.
pub trait Sender: Send + Sync + std::fmt::Debug + 'static {
    fn kind(&self) -> JobKind;
    /// The most attempts under way at once.
    fn concurrency(&self) -> usize;
    /// One attempt at a claimed job. It logs and counts its own outcome; the worker settles it.
    fn attempt(&self, job: Job) -> impl Future<Output = Outcome> + Send;
}

/// The settings of a worker; the defaults suit production.
#[derive(Clone, Debug)]
pub struct QueueSettings {
    /// How long a claim lasts unless its worker renews it (every third of it): how soon another
    /// worker takes over the jobs of one that died.
    pub lease: Duration,
    /// How often the worker looks for due jobs when nobody wakes it.
    pub poll: Duration,
    /// The most jobs one claim takes.
    pub max_claim: u32,
    /// How long a woken worker waits for more jobs before it claims, and how long the settler
    /// gathers finished attempts before it writes them: a delay nobody notices, which spares
    /// the database a transaction per job when many come at once.
    pub gather: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15),
            poll: Duration::from_secs(1),
            max_claim: 256,
            gather: Duration::from_millis(10),
        }
    }
}

/// What one pass over the due jobs did ([`Worker::deliver_due`]).
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pass {
    pub done: usize,
    pub retried: usize,
    pub failed: usize,
    /// Put back untried (a domain asked to slow down, an endpoint switched off).
    pub deferred: usize,
    /// Left unsettled because the claim could not be renewed in time: another worker takes them
    /// when the lease runs out.
    pub abandoned: usize,
}

impl Pass {
    pub fn handled(&self) -> usize {
        self.done + self.retried + self.failed + self.deferred + self.abandoned
    }

    /// Adds another pass's counts to these.
    pub fn add(&mut self, other: &Pass) {
        self.done += other.done;
        self.retried += other.retried;
        self.failed += other.failed;
        self.deferred += other.deferred;
        self.abandoned += other.abandoned;
    }

    fn count(&mut self, outcome: Option<&Outcome>) {
        match outcome {
            Some(Outcome::Done { .. }) => self.done += 1,
            Some(Outcome::Retry { .. }) => self.retried += 1,
            Some(Outcome::Failed { .. }) => self.failed += 1,
            Some(Outcome::Deferred { .. }) => self.deferred += 1,
            None => self.abandoned += 1,
        }
    }
}

/// A kind's worker: its sender, and the claims it holds.
#[derive(Debug)]
pub struct Worker<S> {
    store: Arc<dyn JobStore>,
    sender: Arc<S>,
    settings: QueueSettings,
    claimer: Claimer,
    /// Rung when a job of this kind was queued, or an attempt settled (the next job of its lane
    /// may be due now, and a slot is free).
    wake: Arc<Notify>,
    /// Until when the claims are surely held: measured from before the request that made or
    /// renewed them, so the database's `claimed_until` is never earlier.
    held: watch::Sender<Instant>,
    /// Attempts finished, for sizing claims.
    finished: Arc<AtomicU64>,
}

impl<S> Clone for Worker<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            sender: self.sender.clone(),
            settings: self.settings.clone(),
            claimer: self.claimer,
            wake: self.wake.clone(),
            held: self.held.clone(),
            finished: self.finished.clone(),
        }
    }
}

impl<S: Sender> Worker<S> {
    pub fn new(store: Arc<dyn JobStore>, sender: S, settings: QueueSettings) -> Self {
        Self {
            store,
            sender: Arc::new(sender),
            settings,
            claimer: uuid::Uuid::now_v7(),
            wake: Arc::new(Notify::new()),
            held: watch::Sender::new(Instant::now()),
            finished: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn sender(&self) -> &S {
        &self.sender
    }

    /// Tells the worker that a job was queued, so it need not wait for its next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// One pass: claims up to a claim's worth of due jobs, attempts them (the sender's
    /// concurrency at once) while renewing the claims, and settles them. For tests and for a
    /// scheduler that runs the work once.
    pub async fn deliver_due(&self) -> anyhow::Result<Pass> {
        let asked = Instant::now();
        let claimed = self.claim(self.settings.max_claim).await?;
        let mut pass = Pass::default();
        if claimed.is_empty() {
            return Ok(pass);
        }
        self.held.send_replace(asked + self.settings.lease);
        let slots = Arc::new(Semaphore::new(self.sender.concurrency()));
        let attempts = claimed.into_iter().map(|job| {
            let (worker, slots) = (self.clone(), slots.clone());
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.ok()?;
                worker.attempt(job).await
            })
        });
        let attempts: Vec<_> = attempts.collect();
        let gathering = async {
            let mut settled = Vec::new();
            for attempt in attempts {
                let outcome = attempt.await?;
                pass.count(outcome.as_ref().map(|s| &s.outcome));
                settled.extend(outcome);
            }
            anyhow::Ok(settled)
        };
        let settled = tokio::select! {
            settled = gathering => settled?,
            never = self.keep_claims() => match never {},
        };
        settle_now(self.store.as_ref(), self.claimer, &settled).await?;
        self.backlog().await;
        Ok(pass)
    }

    /// Delivers until `shutdown` is cancelled. Attempts under way when it comes are finished and
    /// settled; jobs claimed but not started are put back, due at once, for another worker.
    pub async fn run(self, shutdown: CancellationToken) {
        let kind = self.sender.kind().as_str();
        tracing::info!(kind, "job worker started");
        let (settle_tx, settle_rx) = mpsc::unbounded_channel();
        let settler = Settler::new(self.store.clone(), self.claimer, self.settings.gather, self.wake.clone());
        let settling = tokio::spawn(settler.run(settle_rx));
        let slots = Arc::new(Semaphore::new(self.sender.concurrency()));
        let mut local: VecDeque<Job> = VecDeque::new();
        // Renewals go on until the last attempt has ended, shutdown or not.
        let renewals_stop = CancellationToken::new();
        let renewing = tokio::spawn({
            let worker = self.clone();
            let stop = renewals_stop.clone();
            async move {
                tokio::select! {
                    () = stop.cancelled() => {}
                    never = worker.keep_claims() => match never {},
                }
            }
        });
        let mut rate = Rate::new(self.finished.clone());
        let mut last_gauge = Instant::now() - Duration::from_secs(60);
        loop {
            let in_flight = self.sender.concurrency() - slots.available_permits();
            let mut polled = false;
            // Claims when less than a round of attempts is waiting here, as many as the senders
            // finish in a quarter of a lease.
            if local.len() < self.sender.concurrency() {
                let limit = rate.claim_size(&self.settings, self.sender.concurrency()).saturating_sub(local.len());
                let asked = Instant::now();
                match self.claim(limit as u32).await {
                    Ok(claimed) => {
                        // Only a claim while nothing else is held sets the hold: later ones are
                        // covered by the renewals, which run while anything is held.
                        if !claimed.is_empty() && local.is_empty() && in_flight == 0 {
                            self.held.send_replace(asked + self.settings.lease);
                        }
                        polled = claimed.len() < limit;
                        local.extend(claimed);
                    }
                    Err(error) => {
                        tracing::warn!(kind, error = %format!("{error:#}"), "claiming jobs failed; will try again");
                        polled = true;
                    }
                }
            }
            if last_gauge.elapsed() >= Duration::from_secs(1) {
                last_gauge = Instant::now();
                self.backlog().await;
            }
            // Starts what the free slots allow, while the claims are surely held.
            while !local.is_empty() {
                let Ok(slot) = slots.clone().try_acquire_owned() else { break };
                if !self.holds_claims() {
                    tracing::warn!(
                        kind,
                        jobs = local.len(),
                        "job claims could not be renewed; leaving them to the next claim"
                    );
                    local.clear();
                    break;
                }
                let job = local.pop_front().expect("not empty");
                self.spawn_attempt(job, slot, settle_tx.clone());
            }
            let busy = self.sender.concurrency() - slots.available_permits();
            let pause =
                if local.is_empty() && (polled || busy == 0) { self.settings.poll } else { Duration::from_secs(3600) };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {
                    if polled {
                        // Jobs queued in the next moments join this claim.
                        tokio::time::sleep(self.settings.gather).await;
                    }
                }
                () = tokio::time::sleep(pause) => {}
            }
        }
        // Claimed but not started: put back now, for whoever claims next.
        let now = Utc::now();
        for job in local.drain(..) {
            let _ = settle_tx.send(Settled { id: job.id, outcome: Outcome::Deferred { at: now }, at: now });
        }
        drop(settle_tx);
        // Every slot back means every attempt ended (each sender bounds its attempts' time).
        let _ = slots.acquire_many(self.sender.concurrency() as u32).await;
        let _ = settling.await;
        renewals_stop.cancel();
        let _ = renewing.await;
        tracing::info!(kind, "job worker stopped");
    }

    async fn claim(&self, limit: u32) -> anyhow::Result<Vec<Job>> {
        let kind = self.sender.kind();
        Ok(self.store.claim_jobs(kind, self.claimer, Utc::now(), self.settings.lease, limit.max(1)).await?)
    }

    /// An attempt in a task of its own, which hands its outcome to the settler and frees its
    /// slot.
    fn spawn_attempt(&self, job: Job, slot: OwnedSemaphorePermit, settle: mpsc::UnboundedSender<Settled>) {
        let worker = self.clone();
        tokio::spawn(async move {
            if let Some(settled) = worker.attempt(job).await {
                let _ = settle.send(settled);
            }
            drop(slot);
            worker.wake.notify_one();
        });
    }

    /// One attempt, unless the claims lapse first (`None`: left for the next claim).
    async fn attempt(&self, job: Job) -> Option<Settled> {
        let id = job.id;
        let outcome = tokio::select! {
            biased;
            () = self.claims_lapsing() => None,
            outcome = self.sender.attempt(job) => Some(outcome),
        };
        self.finished.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Some(outcome) => Some(Settled { id, outcome, at: Utc::now() }),
            None => {
                tracing::warn!(kind = self.sender.kind().as_str(), job = %id, "a job's claim could not be renewed before its attempt ended; it goes again");
                None
            }
        }
    }

    /// Whether the claims are held for longer than the margin yet.
    fn holds_claims(&self) -> bool {
        let until = *self.held.borrow();
        until.checked_sub(self.settings.lease / 5).is_some_and(|safe| Instant::now() < safe)
    }

    /// Renews this worker's claims every third of the lease, for as long as it is polled, and
    /// publishes until when they are held.
    async fn keep_claims(&self) -> std::convert::Infallible {
        let lease = self.settings.lease;
        let kind = self.sender.kind();
        loop {
            tokio::time::sleep(lease / 3).await;
            let asked = Instant::now();
            let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(15));
            match self.store.renew_jobs(kind, self.claimer, until).await {
                Ok(_) => {
                    self.held.send_replace(asked + lease);
                }
                Err(error) => {
                    tracing::warn!(kind = kind.as_str(), %error, "could not renew the job claims; will try again")
                }
            }
        }
    }

    /// Resolves a fifth of a lease before the claims run out unrenewed: the margin covers the
    /// last exchange with the receiver and the clocks of the replicas disagreeing a little.
    async fn claims_lapsing(&self) {
        let mut held = self.held.subscribe();
        let margin = self.settings.lease / 5;
        loop {
            let until = *held.borrow_and_update();
            tokio::select! {
                () = tokio::time::sleep_until(until.checked_sub(margin).unwrap_or(until)) => return,
                changed = held.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Publishes the kind's backlog: how many jobs wait, and how long the oldest has.
    async fn backlog(&self) {
        let kind = self.sender.kind();
        if let Ok(backlog) = self.store.job_backlog(kind).await {
            let age =
                backlog.oldest.map_or(0.0, |oldest| (Utc::now() - oldest).num_milliseconds().max(0) as f64 / 1000.0);
            ::metrics::gauge!("gatehouse_jobs_waiting", "kind" => kind.as_str()).set(backlog.jobs as f64);
            ::metrics::gauge!("gatehouse_jobs_oldest_seconds", "kind" => kind.as_str()).set(age);
            let legacy = match kind {
                JobKind::Email => Some("gatehouse_outbox_backlog"),
                JobKind::Webhook => Some("gatehouse_webhook_backlog"),
                JobKind::Logout => None,
            };
            if let Some(legacy) = legacy {
                ::metrics::gauge!(legacy).set(backlog.jobs as f64);
            }
        }
    }
}

/// How fast attempts finish, for sizing claims: a claim holds what the senders finish in a
/// quarter of a lease, between four rounds of attempts and [`QueueSettings::max_claim`].
#[derive(Debug)]
struct Rate {
    finished: Arc<AtomicU64>,
    since: Instant,
    counted: u64,
    per_second: f64,
}

impl Rate {
    /// How often the rate is measured again.
    const WINDOW: Duration = Duration::from_millis(250);

    fn new(finished: Arc<AtomicU64>) -> Self {
        let counted = finished.load(Ordering::Relaxed);
        Self { finished, since: Instant::now(), counted, per_second: 0.0 }
    }

    fn claim_size(&mut self, settings: &QueueSettings, concurrency: usize) -> usize {
        let elapsed = self.since.elapsed();
        if elapsed >= Self::WINDOW {
            let now = self.finished.load(Ordering::Relaxed);
            let measured = (now - self.counted) as f64 / elapsed.as_secs_f64();
            // Up at once, down gently: a pause between bursts must not shrink the next claim.
            self.per_second =
                if measured > self.per_second { measured } else { self.per_second * 0.75 + measured * 0.25 };
            (self.since, self.counted) = (Instant::now(), now);
        }
        let quarter_lease = (self.per_second * settings.lease.as_secs_f64() / 4.0) as usize;
        let least = concurrency * 4;
        quarter_lease.clamp(least, (settings.max_claim as usize).max(least))
    }
}
