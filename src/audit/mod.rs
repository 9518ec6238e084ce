//! The audit trail: every security event, with when, who, from where and which request.
//!
//! The account rules build an [`AuditEvent`] and hand it to the [`AuditLog`]: `record` queues
//! it without waiting (a request never fails or slows down because of its audit event), and
//! the [`AuditWriter`] task writes what is queued in batches, holding events in memory while
//! the database refuses them. `record_now` writes at once, for the few events that must be
//! stored before the answer leaves.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::store::error::{StoreError, StoreResult};

/// The names of the events, as stored in `kind`.
pub mod kinds {
    pub const SIGNUP: &str = "signup";
    /// A sign-up attempt with an address that belongs to an account already.
    pub const SIGNUP_EXISTING_EMAIL: &str = "signup.existing_email";
    pub const ACTIVATION: &str = "activation";
    pub const ACTIVATION_RESEND_REQUESTED: &str = "activation.resend_requested";
    pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
    pub const LOGIN_FAILED: &str = "login.failed";
    /// A login refused by the lockout, before the password was checked.
    pub const LOGIN_LOCKED: &str = "login.locked";
    pub const LOGOUT: &str = "logout";
    pub const SESSION_ENDED: &str = "session.ended";
    /// A spent refresh token presented again: the session was ended.
    pub const REFRESH_REUSED: &str = "refresh.reused";
    pub const PASSWORD_CHANGED: &str = "password.changed";
    pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
    pub const PASSWORD_RESET: &str = "password.reset";
    pub const EMAIL_CHANGE_REQUESTED: &str = "email.change_requested";
    pub const EMAIL_CHANGED: &str = "email.changed";
    pub const EMAIL_CHANGE_REVERTED: &str = "email.change_reverted";
    pub const ACCOUNT_UPDATED: &str = "account.updated";
    pub const ACCOUNT_DELETED: &str = "account.deleted";
    pub const ADMIN_ACCOUNT_UPDATED: &str = "admin.account_updated";
    pub const ADMIN_ACCOUNT_DELETED: &str = "admin.account_deleted";
    pub const ADMIN_ACCOUNT_CREATED: &str = "admin.account_created";
    pub const ADMIN_SESSIONS_ENDED: &str = "admin.sessions_ended";
    /// An admin (or an operator at the command line) had a password-reset link sent.
    pub const ADMIN_PASSWORD_RESET_SENT: &str = "admin.password_reset_sent";
    /// An admin (or an operator) had the activation link sent again.
    pub const ADMIN_ACTIVATION_SENT: &str = "admin.activation_sent";
    /// An admin (or an operator) requeued a failed email.
    pub const ADMIN_EMAIL_RETRIED: &str = "admin.email_retried";
    /// An operator added a signing key.
    pub const ADMIN_KEY_ROTATED: &str = "admin.key_rotated";
    pub const RATE_LIMITED: &str = "rate_limited";
}

/// One security event.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// UUIDv7: sorts by time; the pagination cursor.
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// What happened, like `login.failed` (see [`kinds`]).
    pub kind: String,
    /// The account it happened to, when known.
    pub account_id: Option<Uuid>,
    /// The admin who did it, for admin actions.
    pub actor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// A small JSON object with the details (never a password, hash or token).
    pub detail: Option<serde_json::Value>,
}

/// The longest `kind`, `ip` and `request_id` the stores keep, in bytes (the MySQL columns).
pub const SHORT_TEXT_MAX: usize = 64;
/// The longest `user_agent` the stores keep, in bytes.
pub const USER_AGENT_MAX: usize = 512;

impl AuditEvent {
    /// An event of `kind` happening now, with a fresh id.
    pub fn new(kind: &str) -> Self {
        Self {
            id: Uuid::now_v7(),
            at: to_micros(Utc::now()),
            kind: kind.to_owned(),
            account_id: None,
            actor_id: None,
            ip: None,
            user_agent: None,
            request_id: None,
            detail: None,
        }
    }

    /// The account the event happened to.
    pub fn account(mut self, id: Uuid) -> Self {
        self.account_id = Some(id);
        self
    }

    /// The admin who acted.
    pub fn actor(mut self, id: Uuid) -> Self {
        self.actor_id = Some(id);
        self
    }

    /// Where the request came from.
    pub fn client(mut self, ip: Option<String>, user_agent: Option<String>, request_id: Option<String>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent;
        self.request_id = request_id;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The event as every store keeps it: the time at the microsecond, text cut to the column
    /// sizes (at a character boundary), and no NUL characters (PostgreSQL cannot store them in
    /// TEXT or JSONB), so that an odd user agent or login name never costs the event.
    pub fn storable(&self) -> AuditEvent {
        let text = |value: &str, max: usize| clip(&value.replace('\0', ""), max).to_owned();
        AuditEvent {
            id: self.id,
            at: to_micros(self.at),
            kind: text(&self.kind, SHORT_TEXT_MAX),
            account_id: self.account_id,
            actor_id: self.actor_id,
            ip: self.ip.as_deref().map(|ip| text(ip, SHORT_TEXT_MAX)),
            user_agent: self.user_agent.as_deref().map(|agent| text(agent, USER_AGENT_MAX)),
            request_id: self.request_id.as_deref().map(|id| text(id, SHORT_TEXT_MAX)),
            detail: self.detail.as_ref().map(without_nul),
        }
    }
}

/// A time at the microsecond, the precision every backend keeps.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn without_nul(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(s.replace('\0', "")),
        Value::Array(items) => Value::Array(items.iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.replace('\0', ""), without_nul(v))).collect()),
        other => other.clone(),
    }
}

/// Which events to list: newest first, before `before` (the previous page's last id).
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub account_id: Option<Uuid>,
    /// An exact kind (`login.failed`) or a prefix ending in `.` (`login.`).
    pub kind: Option<String>,
    pub ip: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before: Option<Uuid>,
    pub limit: u32,
}

impl EventFilter {
    /// Whether an event passes the filter (all but `limit`): the stores say the same in SQL.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        let kind = match self.kind.as_deref() {
            None => true,
            Some(prefix) if prefix.ends_with('.') => event.kind.starts_with(prefix),
            Some(kind) => event.kind == kind,
        };
        kind && self.account_id.is_none_or(|id| event.account_id == Some(id))
            && self.ip.as_deref().is_none_or(|ip| event.ip.as_deref() == Some(ip))
            && self.since.is_none_or(|since| event.at >= since)
            && self.until.is_none_or(|until| event.at < until)
            && self.before.is_none_or(|before| event.id < before)
    }
}

/// Where events are kept.
#[async_trait]
pub trait AuditStore: Send + Sync + std::fmt::Debug + 'static {
    /// Appends events, all in one transaction. An event whose id is stored already is skipped,
    /// so a write retried after a lost answer does not fail.
    async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Lists events matching the filter, newest first, at most `filter.limit`.
    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>>;
    /// Deletes events older than `before`.
    async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}

/// How the writer batches and retries.
#[derive(Clone, Debug)]
struct Settings {
    /// Events waiting for the writer; beyond this `record` drops them.
    queue: usize,
    /// The most events one write takes.
    batch: usize,
    /// The most events the writer holds while the database refuses them.
    held: usize,
    first_backoff: Duration,
    max_backoff: Duration,
    /// A batch refused this many times for a reason other than an unavailable database is
    /// written one event at a time, and an event refused once more is dropped.
    attempts: u32,
    /// How long, once stopped, the writer keeps trying to write what it holds.
    stop_grace: Duration,
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

enum Message {
    Event(AuditEvent),
    /// Answered once every event queued before it is written (or given up on).
    Flush(oneshot::Sender<()>),
}

/// The audit trail's front: queues events for the [`AuditWriter`], writes urgent ones at once,
/// and reads them back for admins.
#[derive(Clone, Debug)]
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
    queue: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

/// The task that writes what the [`AuditLog`] queued: run it with [`AuditWriter::run`].
#[derive(Debug)]
pub struct AuditWriter {
    store: Arc<dyn AuditStore>,
    queue: mpsc::Receiver<Message>,
    dropped: Arc<AtomicU64>,
    settings: Settings,
}

impl AuditLog {
    /// The log and its writer; nothing is written until the writer runs.
    pub fn start(store: Arc<dyn AuditStore>) -> (AuditLog, AuditWriter) {
        Self::start_with(store, Settings::default())
    }

    fn start_with(store: Arc<dyn AuditStore>, settings: Settings) -> (AuditLog, AuditWriter) {
        let (sender, receiver) = mpsc::channel(settings.queue);
        let dropped = Arc::new(AtomicU64::new(0));
        let log = AuditLog { store: store.clone(), queue: sender, dropped: dropped.clone() };
        (log, AuditWriter { store, queue: receiver, dropped, settings })
    }

    /// Queues an event; never waits and never fails. When the queue is full (the database has
    /// been refusing writes for a while) the event is dropped and counted in
    /// `gatehouse_audit_dropped_total`; once the writer has stopped it is written directly.
    pub fn record(&self, event: AuditEvent) {
        match self.queue.try_send(Message::Event(event)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(Message::Event(event))) => {
                tracing::debug!(event_id = %event.id, kind = %event.kind, "audit event dropped");
                dropped(&self.dropped, 1, "the audit queue is full");
            }
            Err(mpsc::error::TrySendError::Closed(Message::Event(event))) => self.write_detached(event),
            Err(_) => {}
        }
    }

    /// Writes an event before returning, for events that must be stored before the answer.
    pub async fn record_now(&self, event: AuditEvent) -> StoreResult<()> {
        let result = self.store.insert_events(std::slice::from_ref(&event)).await;
        if let Err(error) = &result {
            tracing::warn!(error = %chain(error), event_id = %event.id, kind = %event.kind, "writing an audit event failed");
        }
        result
    }

    /// Returns once every event recorded before the call has been written (or given up on),
    /// or at once when the writer is not running any more.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Events matching the filter, newest first.
    pub async fn list(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>> {
        self.store.list_events(filter).await
    }

    /// Deletes the events older than `before`; how many.
    pub async fn purge(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        self.store.purge_events(before).await
    }

    /// How many events were dropped since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// After the writer has stopped (shutdown), an event is written by a task of its own.
    fn write_detached(&self, event: AuditEvent) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!(event_id = %event.id, kind = %event.kind, "audit event dropped");
            dropped(&self.dropped, 1, "no runtime to write an audit event on");
            return;
        };
        let store = self.store.clone();
        let counter = self.dropped.clone();
        runtime.spawn(async move {
            if let Err(error) = store.insert_events(std::slice::from_ref(&event)).await {
                tracing::warn!(error = %chain(&error), event_id = %event.id, kind = %event.kind, "writing an audit event failed");
                dropped(&counter, 1, "an audit event could not be written");
            }
        });
    }
}

/// Counts dropped events; warns on the first and then on every thousandth.
fn dropped(counter: &AtomicU64, n: u64, why: &str) {
    let before = counter.fetch_add(n, Ordering::Relaxed);
    for _ in 0..n {
        crate::metrics::count("gatehouse_audit_dropped_total");
    }
    if before == 0 || (before + n) / 1000 > before / 1000 {
        tracing::warn!(dropped_total = before + n, "{why}; audit events dropped");
    }
}

/// A store error with its causes, for the log.
fn chain(error: &StoreError) -> String {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU32;

    use serde_json::json;

    use super::*;

    /// Events in memory; can refuse writes as an unavailable database, and refuses any event
    /// of the kind `poison` as a database error.
    #[derive(Debug, Default)]
    struct Memory {
        events: Mutex<Vec<AuditEvent>>,
        batches: Mutex<Vec<usize>>,
        unavailable_for: AtomicU32,
    }

    #[async_trait]
    impl AuditStore for Memory {
        async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
            if self.unavailable_for.load(Ordering::SeqCst) > 0 {
                self.unavailable_for.fetch_sub(1, Ordering::SeqCst);
                return Err(StoreError::Unavailable(anyhow::anyhow!("connection refused")));
            }
            if events.iter().any(|e| e.kind == "poison") {
                return Err(StoreError::Other(anyhow::anyhow!("value too long")));
            }
            let mut stored = self.events.lock().unwrap();
            for event in events {
                if !stored.iter().any(|e| e.id == event.id) {
                    stored.push(event.clone());
                }
            }
            self.batches.lock().unwrap().push(events.len());
            Ok(())
        }
        async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>> {
            let mut found: Vec<_> = self.events.lock().unwrap().iter().filter(|e| filter.matches(e)).cloned().collect();
            found.sort_by_key(|e| std::cmp::Reverse(e.id));
            found.truncate(filter.limit as usize);
            Ok(found)
        }
        async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
            let mut stored = self.events.lock().unwrap();
            let n = stored.len();
            stored.retain(|e| e.at >= before);
            Ok((n - stored.len()) as u64)
        }
    }

    impl Memory {
        fn kinds(&self) -> Vec<String> {
            self.events.lock().unwrap().iter().map(|e| e.kind.clone()).collect()
        }
    }

    fn quick() -> Settings {
        Settings {
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            stop_grace: Duration::from_millis(200),
            ..Settings::default()
        }
    }

    fn running(store: &Arc<Memory>, settings: Settings) -> (AuditLog, CancellationToken, tokio::task::JoinHandle<()>) {
        let (log, writer) = AuditLog::start_with(store.clone(), settings);
        let stop = CancellationToken::new();
        let task = tokio::spawn(writer.run(stop.clone()));
        (log, stop, task)
    }

    fn numbered(n: usize) -> Vec<AuditEvent> {
        (0..n).map(|i| AuditEvent::new(kinds::LOGIN_FAILED).detail(json!({ "n": i }))).collect()
    }

    #[tokio::test]
    async fn recorded_events_are_written_in_order_once_flushed() {
        let store = Arc::new(Memory::default());
        let (log, _stop, _task) = running(&store, quick());
        let events = numbered(20);
        for event in &events {
            log.record(event.clone());
        }
        log.flush().await;
        assert_eq!(*store.events.lock().unwrap(), events);
    }

    #[tokio::test]
    async fn a_backlog_is_written_in_batches_of_at_most_the_batch_size() {
        let store = Arc::new(Memory::default());
        let (log, writer) = AuditLog::start_with(store.clone(), Settings { batch: 7, ..quick() });
        for event in numbered(30) {
            log.record(event);
        }
        let stop = CancellationToken::new();
        tokio::spawn(writer.run(stop.clone()));
        log.flush().await;
        assert_eq!(store.events.lock().unwrap().len(), 30);
        let batches = store.batches.lock().unwrap().clone();
        assert!(batches.iter().all(|&n| n <= 7), "{batches:?}");
        assert!(batches.len() <= 5, "the backlog was not batched: {batches:?}");
    }

    #[tokio::test]
    async fn events_are_kept_while_the_database_is_down_and_written_when_it_is_back() {
        let store = Arc::new(Memory::default());
        store.unavailable_for.store(5, Ordering::SeqCst);
        let (log, _stop, _task) = running(&store, quick());
        let events = numbered(3);
        for event in &events {
            log.record(event.clone());
        }
        log.flush().await;
        assert_eq!(store.unavailable_for.load(Ordering::SeqCst), 0);
        assert_eq!(*store.events.lock().unwrap(), events);
        assert_eq!(log.dropped(), 0);
    }

    #[tokio::test]
    async fn an_event_the_database_refuses_is_dropped_and_the_others_are_written() {
        let store = Arc::new(Memory::default());
        let (log, _stop, _task) = running(&store, quick());
        log.record(AuditEvent::new(kinds::SIGNUP));
        log.record(AuditEvent::new("poison"));
        log.record(AuditEvent::new(kinds::ACTIVATION));
        log.flush().await;
        assert_eq!(store.kinds(), [kinds::SIGNUP, kinds::ACTIVATION]);
        assert_eq!(log.dropped(), 1);
    }

    #[tokio::test]
    async fn recording_never_waits_and_counts_what_a_full_queue_drops() {
        let store = Arc::new(Memory::default());
        let (log, writer) = AuditLog::start_with(store.clone(), Settings { queue: 4, ..quick() });
        for event in numbered(10) {
            log.record(event);
        }
        assert_eq!(log.dropped(), 6);
        let stop = CancellationToken::new();
        tokio::spawn(writer.run(stop.clone()));
        log.flush().await;
        assert_eq!(store.events.lock().unwrap().len(), 4);
    }

    #[tokio::test]
    async fn stopping_writes_what_is_queued() {
        let store = Arc::new(Memory::default());
        let (log, writer) = AuditLog::start_with(store.clone(), quick());
        for event in numbered(12) {
            log.record(event);
        }
        let stop = CancellationToken::new();
        stop.cancel();
        writer.run(stop).await;
        assert_eq!(store.events.lock().unwrap().len(), 12);
    }

    #[tokio::test]
    async fn stopping_gives_up_on_an_unavailable_database_after_the_grace_period() {
        let store = Arc::new(Memory::default());
        store.unavailable_for.store(u32::MAX, Ordering::SeqCst);
        let (log, writer) = AuditLog::start_with(store.clone(), quick());
        log.record(AuditEvent::new(kinds::LOGOUT));
        let stop = CancellationToken::new();
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), writer.run(stop)).await.expect("the writer stops");
        assert_eq!(log.dropped(), 1);
    }

    #[tokio::test]
    async fn after_the_writer_stopped_events_are_written_directly() {
        let store = Arc::new(Memory::default());
        let (log, writer) = AuditLog::start_with(store.clone(), quick());
        let stop = CancellationToken::new();
        stop.cancel();
        writer.run(stop).await;
        log.record(AuditEvent::new(kinds::LOGOUT));
        log.flush().await;
        for _ in 0..200 {
            if !store.events.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(store.kinds(), [kinds::LOGOUT]);
    }

    #[tokio::test]
    async fn record_now_writes_before_returning() {
        let store = Arc::new(Memory::default());
        let (log, _writer) = AuditLog::start(store.clone());
        log.record_now(AuditEvent::new(kinds::PASSWORD_RESET_REQUESTED)).await.unwrap();
        assert_eq!(store.kinds(), [kinds::PASSWORD_RESET_REQUESTED]);
        store.unavailable_for.store(1, Ordering::SeqCst);
        assert!(matches!(log.record_now(AuditEvent::new(kinds::LOGOUT)).await, Err(StoreError::Unavailable(_))));
    }

    #[test]
    fn the_builder_sets_every_field() {
        let (account, actor) = (Uuid::now_v7(), Uuid::now_v7());
        let event = AuditEvent::new(kinds::ADMIN_ACCOUNT_UPDATED)
            .account(account)
            .actor(actor)
            .client(Some("192.0.2.1".into()), Some("curl/8".into()), Some("req-1".into()))
            .detail(json!({ "role": "admin" }));
        assert_eq!(event.kind, "admin.account_updated");
        assert_eq!((event.account_id, event.actor_id), (Some(account), Some(actor)));
        assert_eq!(event.ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(event.user_agent.as_deref(), Some("curl/8"));
        assert_eq!(event.request_id.as_deref(), Some("req-1"));
        assert_eq!(event.at.timestamp_subsec_nanos() % 1000, 0);
        assert!(AuditEvent::new(kinds::SIGNUP).id > event.id);
    }

    #[test]
    fn storable_events_fit_every_backend() {
        let event = AuditEvent::new(kinds::LOGIN_FAILED)
            .client(Some("1".repeat(100)), Some(format!("{}\0é", "a".repeat(511))), Some("r".repeat(128)))
            .detail(json!({ "login\0": ["a\0b", { "c": "\0" }], "n": 1 }));
        let stored = event.storable();
        assert_eq!(stored.ip.unwrap().len(), 64);
        assert_eq!(stored.request_id.unwrap().len(), 64);
        assert_eq!(stored.user_agent.unwrap(), "a".repeat(511), "cut before the two-byte é");
        assert_eq!(stored.detail.unwrap(), json!({ "login": ["ab", { "c": "" }], "n": 1 }));
    }

    #[test]
    fn clip_cuts_at_a_character_boundary() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("héllo", 3), "hé");
        assert_eq!(clip("abc", 10), "abc");
        assert_eq!(clip("日本", 2), "");
    }

    #[test]
    fn filters_match_kinds_exactly_or_by_prefix() {
        let event = AuditEvent::new(kinds::LOGIN_FAILED);
        let filter = |kind: &str| EventFilter { kind: Some(kind.into()), limit: 10, ..EventFilter::default() };
        assert!(filter("login.").matches(&event));
        assert!(filter("login.failed").matches(&event));
        assert!(!filter("login").matches(&event));
        assert!(!filter("login.fail").matches(&event));
    }
}
