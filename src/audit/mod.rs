//! The audit trail: every security event, with when, who, from where and which request.
//!
//! What a change did is written in the change's own transaction (its outcomes' audit rows: see
//! [`crate::model::outcome`]). What changed nothing (a refused login, a rate limit) comes here:
//! the account rules hand its [`AuditEvent`] to the [`AuditLog`], whose `record` queues it
//! without waiting (a flood of refused attempts costs no write each), and the [`AuditWriter`]
//! task writes what is queued in batches, holding events in memory while the database refuses
//! them.

mod event;
mod writer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

pub use self::event::{AuditEvent, AuditStore, EventFilter, SHORT_TEXT_MAX, USER_AGENT_MAX, clip};
pub use self::writer::AuditWriter;
use self::writer::{Message, Settings, chain, dropped};
use crate::model::error::StoreResult;
use crate::priority::Pace;

/// The audit trail's front: queues events for the [`AuditWriter`], writes urgent ones at once,
/// and reads them back for admins.
#[derive(Clone, Debug)]
pub struct AuditLog {
    store: Arc<dyn AuditStore>,
    queue: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
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

    /// Deletes the events older than `before`, at `pace`; how many.
    pub async fn purge(&self, before: DateTime<Utc>, pace: Pace) -> StoreResult<u64> {
        self.store.purge_events(before, pace).await
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicU32;

    use std::time::Duration;

    use async_trait::async_trait;
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    use uuid::Uuid;

    use super::*;
    use crate::model::error::StoreError;
    use crate::model::outcome::Kind;

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
        async fn purge_events(&self, before: DateTime<Utc>, _pace: Pace) -> StoreResult<u64> {
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
        (0..n).map(|i| AuditEvent::new(Kind::LoginFailed.as_str()).detail(json!({ "n": i }))).collect()
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
        log.record(AuditEvent::new(Kind::Signup.as_str()));
        log.record(AuditEvent::new("poison"));
        log.record(AuditEvent::new(Kind::Activation.as_str()));
        log.flush().await;
        assert_eq!(store.kinds(), [Kind::Signup.as_str(), Kind::Activation.as_str()]);
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
        log.record(AuditEvent::new(Kind::Logout.as_str()));
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
        log.record(AuditEvent::new(Kind::Logout.as_str()));
        log.flush().await;
        for _ in 0..200 {
            if !store.events.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(store.kinds(), [Kind::Logout.as_str()]);
    }

    #[test]
    fn the_builder_sets_every_field() {
        let (account, actor) = (Uuid::now_v7(), Uuid::now_v7());
        let event = AuditEvent::new(Kind::AdminAccountUpdated.as_str())
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
        assert!(AuditEvent::new(Kind::Signup.as_str()).id > event.id);
    }

    #[test]
    fn storable_events_fit_every_backend() {
        let event = AuditEvent::new(Kind::LoginFailed.as_str())
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
        let event = AuditEvent::new(Kind::LoginFailed.as_str());
        let filter = |kind: &str| EventFilter { kind: Some(kind.into()), limit: 10, ..EventFilter::default() };
        assert!(filter("login.").matches(&event));
        assert!(filter("login.failed").matches(&event));
        assert!(!filter("login").matches(&event));
        assert!(!filter("login.fail").matches(&event));
    }
}
