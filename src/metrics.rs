//! Prometheus metrics, through the `metrics` facade. The names:
//!
//! - `gatehouse_http_requests_total` and `gatehouse_http_request_duration_seconds`, by `method`,
//!   matched `route` and `status`;
//! - `gatehouse_signups_total`, `gatehouse_activations_total`, `gatehouse_logins_total{outcome}`,
//!   `gatehouse_refreshes_total{outcome}`, `gatehouse_logouts_total{scope}`;
//! - `gatehouse_emails_queued_total{kind}`, `gatehouse_emails_sent_total{kind}`,
//!   `gatehouse_emails_failed_total{kind}`, `gatehouse_email_retries_total{kind}`,
//!   `gatehouse_outbox_backlog`;
//! - `gatehouse_password_hash_queue_depth`, `gatehouse_password_hash_wait_seconds`,
//!   `gatehouse_password_hash_rejected_total`;
//! - `gatehouse_database_duration_seconds{op}` and `gatehouse_session_store_duration_seconds{op}`,
//!   timed around every store call by the decorators below.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::Method;
use chrono::{DateTime, Utc};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use uuid::Uuid;

use crate::accounts::domain::{Account, AccountKey, Credentials};
use crate::sessions::{AccountRead, LiveSession, NewSession, Rotation, SessionInfo, SessionStore};
use crate::store::{
    NewAccount, NewEmail, NewOneTimeToken, OneTimeToken, ProfileChange, QueuedEmail, Store, StoreResult,
};
use crate::tokens::jwt::SigningKey;
use crate::tokens::opaque::TokenHash;

/// Buckets for request and store latencies: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often histogram samples are folded into their buckets. Until then each sample is kept
/// (8 bytes, two per token-checked request), so at tens of thousands of requests a second this
/// interval is about a megabyte of memory per second of it.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The process-wide recorder (installed once; every app in the process reports to it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may be installed already (a test harness, say); then this one only
        // renders what it records, which is nothing, and the other wins.
        let _ = ::metrics::set_global_recorder(recorder);
        describe();
        // Histogram samples pile up in the recorder until they are folded into the buckets,
        // which a scrape of /metrics does; without scrapes that would be a few dozen bytes
        // more memory per request, for ever. This folds them in every second regardless.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("gatehouse-metrics".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            })
            .expect("spawning the metrics upkeep thread");
        handle
    })
}

fn describe() {
    use ::metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("gatehouse_http_requests_total", "HTTP requests answered, by method, route and status");
    describe_histogram!("gatehouse_http_request_duration_seconds", "HTTP request latency");
    describe_counter!("gatehouse_signups_total", "Accounts signed up");
    describe_counter!("gatehouse_activations_total", "Accounts activated by their emailed link");
    describe_counter!("gatehouse_logins_total", "Login attempts by outcome");
    describe_counter!("gatehouse_refreshes_total", "Refresh attempts by outcome");
    describe_counter!("gatehouse_logouts_total", "Logouts by scope");
    describe_counter!("gatehouse_emails_queued_total", "Emails written to the outbox");
    describe_counter!("gatehouse_emails_sent_total", "Emails handed to the mail server");
    describe_counter!("gatehouse_emails_failed_total", "Emails given up on");
    describe_counter!("gatehouse_email_retries_total", "Delivery attempts that will be retried");
    describe_gauge!("gatehouse_outbox_backlog", "Emails queued and not yet delivered");
    describe_gauge!("gatehouse_password_hash_queue_depth", "Password-hash jobs waiting for a thread");
    describe_histogram!("gatehouse_password_hash_wait_seconds", "Time a hash job waited for a thread");
    describe_counter!("gatehouse_password_hash_rejected_total", "Hash jobs refused because the queue was full");
    describe_histogram!("gatehouse_database_duration_seconds", "Database call latency by operation");
    describe_histogram!("gatehouse_session_store_duration_seconds", "Session-store call latency by operation");
    describe_counter!(
        "gatehouse_rate_limited_total",
        "Requests refused by a rate limit or the login lockout, by action"
    );
    describe_counter!("gatehouse_audit_dropped_total", "Audit events dropped because the audit queue was full");
}

/// Records one answered HTTP request.
pub fn http_request(method: &Method, route: &str, status: u16, latency: Duration) {
    let recorded = |series: &RequestSeries| {
        series.requests.increment(1);
        series.duration.record(latency.as_secs_f64());
    };
    // Registering a series builds its labels and looks it up in the recorder, which costs more
    // than the rest of a cheap request; the handles are kept instead, one pair per method,
    // route and status (a few dozen in all: routes are the matched templates, not raw paths).
    static SERIES: OnceLock<RwLock<HashMap<Box<str>, Vec<RequestSeries>>>> = OnceLock::new();
    let series = SERIES.get_or_init(Default::default);
    let known = series.read().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = known.get(route).and_then(|s| s.iter().find(|s| s.is(method, status))) {
        return recorded(found);
    }
    drop(known);
    // Another request may have registered it since the look-up above.
    let mut known = series.write().unwrap_or_else(|poisoned| poisoned.into_inner());
    let for_route = known.entry(route.into()).or_default();
    match for_route.iter().find(|s| s.is(method, status)) {
        Some(found) => recorded(found),
        None => {
            let registered = RequestSeries::register(method, route, status);
            recorded(&registered);
            for_route.push(registered);
        }
    }
}

/// The registered request counter and latency histogram of one method, route and status.
struct RequestSeries {
    method: Method,
    status: u16,
    requests: ::metrics::Counter,
    duration: ::metrics::Histogram,
}

impl RequestSeries {
    fn register(method: &Method, route: &str, status: u16) -> Self {
        let labels =
            [("method", method.as_str().to_owned()), ("route", route.to_owned()), ("status", status.to_string())];
        Self {
            method: method.clone(),
            status,
            requests: ::metrics::counter!("gatehouse_http_requests_total", &labels),
            duration: ::metrics::histogram!("gatehouse_http_request_duration_seconds", &labels),
        }
    }

    fn is(&self, method: &Method, status: u16) -> bool {
        self.method == *method && self.status == status
    }
}

/// Counts an event of the account rules, with one label.
pub fn event(name: &'static str, label: &'static str, value: &'static str) {
    ::metrics::counter!(name, label => value).increment(1);
}

/// Counts an event with no label.
pub fn count(name: &'static str) {
    ::metrics::counter!(name).increment(1);
}

/// Times `$call` into the histogram `$metric{op=$op}`, registered once per call site.
macro_rules! timed {
    ($metric:literal, $op:literal, $call:expr) => {{
        static HISTOGRAM: OnceLock<::metrics::Histogram> = OnceLock::new();
        let started = Instant::now();
        let result = $call.await;
        HISTOGRAM
            .get_or_init(|| ::metrics::histogram!($metric, "op" => $op))
            .record(started.elapsed().as_secs_f64());
        result
    }};
}

/// A store that times every call.
#[derive(Debug)]
pub struct TimedStore(pub Arc<dyn Store>);

#[async_trait]
impl Store for TimedStore {
    async fn ping(&self) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "ping", self.0.ping())
    }
    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<(&NewOneTimeToken, &NewEmail)>,
    ) -> StoreResult<Account> {
        timed!("gatehouse_database_duration_seconds", "insert_account", self.0.insert_account(account, link))
    }
    async fn find_account(&self, key: &AccountKey) -> StoreResult<Option<Credentials>> {
        timed!("gatehouse_database_duration_seconds", "find_account", self.0.find_account(key))
    }
    async fn update_profile(&self, id: Uuid, change: &ProfileChange) -> StoreResult<Option<Account>> {
        timed!("gatehouse_database_duration_seconds", "update_profile", self.0.update_profile(id, change))
    }
    async fn set_password_hash(
        &self,
        id: Uuid,
        hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<()> {
        timed!(
            "gatehouse_database_duration_seconds",
            "set_password_hash",
            self.0.set_password_hash(id, hash, now, notice)
        )
    }
    async fn delete_account(&self, id: Uuid) -> StoreResult<bool> {
        timed!("gatehouse_database_duration_seconds", "delete_account", self.0.delete_account(id))
    }
    async fn insert_link(&self, token: &NewOneTimeToken, email: &NewEmail) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "insert_link", self.0.insert_link(token, email))
    }
    async fn find_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        timed!("gatehouse_database_duration_seconds", "find_token", self.0.find_token(hash))
    }
    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        timed!("gatehouse_database_duration_seconds", "redeem_activation", self.0.redeem_activation(hash, now))
    }
    async fn redeem_reset(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
    ) -> StoreResult<bool> {
        timed!(
            "gatehouse_database_duration_seconds",
            "redeem_reset",
            self.0.redeem_reset(hash, password_hash, now, notice)
        )
    }
    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "queue_email", self.0.queue_email(email))
    }
    async fn claim_emails(&self, now: DateTime<Utc>, lease: Duration, limit: u32) -> StoreResult<Vec<QueuedEmail>> {
        timed!("gatehouse_database_duration_seconds", "claim_emails", self.0.claim_emails(now, lease, limit))
    }
    async fn email_sent(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "email_sent", self.0.email_sent(id, now))
    }
    async fn email_retry(&self, id: Uuid, next_attempt_at: DateTime<Utc>, error: &str) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "email_retry", self.0.email_retry(id, next_attempt_at, error))
    }
    async fn email_failed(&self, id: Uuid, now: DateTime<Utc>, error: &str) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "email_failed", self.0.email_failed(id, now, error))
    }
    async fn outbox_backlog(&self) -> StoreResult<u64> {
        timed!("gatehouse_database_duration_seconds", "outbox_backlog", self.0.outbox_backlog())
    }
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        timed!("gatehouse_database_duration_seconds", "signing_keys", self.0.signing_keys())
    }
    async fn insert_first_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "insert_first_signing_key", self.0.insert_first_signing_key(key))
    }
    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        timed!("gatehouse_database_duration_seconds", "purge_expired", self.0.purge_expired(now))
    }
}

#[async_trait]
impl crate::limits::LimitStore for TimedStore {
    async fn take(
        &self,
        key: &str,
        budget: crate::limits::Budget,
        now_ms: i64,
    ) -> StoreResult<crate::limits::Decision> {
        timed!("gatehouse_database_duration_seconds", "rate_limit_take", self.0.take(key, budget, now_ms))
    }
    async fn failures(&self, key: &str, now_ms: i64) -> StoreResult<crate::limits::FailureState> {
        timed!("gatehouse_database_duration_seconds", "rate_limit_failures", self.0.failures(key, now_ms))
    }
    async fn record_failure(
        &self,
        key: &str,
        policy: &crate::limits::LockoutPolicy,
        now_ms: i64,
    ) -> StoreResult<crate::limits::FailureState> {
        timed!(
            "gatehouse_database_duration_seconds",
            "rate_limit_record_failure",
            self.0.record_failure(key, policy, now_ms)
        )
    }
    async fn clear(&self, key: &str) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "rate_limit_clear", self.0.clear(key))
    }
    async fn purge_limits(&self, now_ms: i64) -> StoreResult<u64> {
        timed!("gatehouse_database_duration_seconds", "purge_limits", self.0.purge_limits(now_ms))
    }
}

#[async_trait]
impl crate::audit::AuditStore for TimedStore {
    async fn insert_events(&self, events: &[crate::audit::AuditEvent]) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "insert_events", self.0.insert_events(events))
    }
    async fn list_events(&self, filter: &crate::audit::EventFilter) -> StoreResult<Vec<crate::audit::AuditEvent>> {
        timed!("gatehouse_database_duration_seconds", "list_events", self.0.list_events(filter))
    }
    async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        timed!("gatehouse_database_duration_seconds", "purge_events", self.0.purge_events(before))
    }
}

#[async_trait]
impl crate::store::email_change::EmailChangeStore for TimedStore {
    async fn insert_email_change(
        &self,
        change: &crate::store::email_change::NewEmailChange,
        email: &crate::store::NewEmail,
    ) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "insert_email_change", self.0.insert_email_change(change, email))
    }
    async fn find_email_change(
        &self,
        hash: &crate::tokens::opaque::TokenHash,
    ) -> StoreResult<Option<crate::store::email_change::EmailChangeToken>> {
        timed!("gatehouse_database_duration_seconds", "find_email_change", self.0.find_email_change(hash))
    }
    async fn redeem_email_change(
        &self,
        hash: &crate::tokens::opaque::TokenHash,
        revert: &crate::store::email_change::NewEmailChange,
        notice: &crate::store::NewEmail,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::store::email_change::Redeemed> {
        timed!(
            "gatehouse_database_duration_seconds",
            "redeem_email_change",
            self.0.redeem_email_change(hash, revert, notice, now)
        )
    }
    async fn redeem_email_revert(
        &self,
        hash: &crate::tokens::opaque::TokenHash,
        notice: Option<&crate::store::NewEmail>,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::store::email_change::Redeemed> {
        timed!(
            "gatehouse_database_duration_seconds",
            "redeem_email_revert",
            self.0.redeem_email_revert(hash, notice, now)
        )
    }
}

#[async_trait]
impl crate::store::admin::AdminStore for TimedStore {
    async fn list_accounts(
        &self,
        query: &crate::store::admin::AccountQuery,
    ) -> StoreResult<Vec<crate::accounts::domain::Account>> {
        timed!("gatehouse_database_duration_seconds", "list_accounts", self.0.list_accounts(query))
    }
    async fn count_accounts(&self, query: &crate::store::admin::AccountQuery) -> StoreResult<u64> {
        timed!("gatehouse_database_duration_seconds", "count_accounts", self.0.count_accounts(query))
    }
    async fn list_outbox(
        &self,
        query: &crate::store::admin::OutboxQuery,
    ) -> StoreResult<Vec<crate::store::admin::OutboxEntry>> {
        timed!("gatehouse_database_duration_seconds", "list_outbox", self.0.list_outbox(query))
    }
    async fn find_outbox(&self, id: Uuid) -> StoreResult<Option<crate::store::admin::OutboxEntry>> {
        timed!("gatehouse_database_duration_seconds", "find_outbox", self.0.find_outbox(id))
    }
    async fn retry_email(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<crate::store::admin::Retried> {
        timed!("gatehouse_database_duration_seconds", "retry_email", self.0.retry_email(id, now))
    }
    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        timed!("gatehouse_database_duration_seconds", "insert_signing_key", self.0.insert_signing_key(key))
    }
    async fn delete_signing_keys_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        timed!(
            "gatehouse_database_duration_seconds",
            "delete_signing_keys_before",
            self.0.delete_signing_keys_before(before)
        )
    }
    async fn seed_accounts(
        &self,
        prefix: &str,
        count: u64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        timed!(
            "gatehouse_database_duration_seconds",
            "seed_accounts",
            self.0.seed_accounts(prefix, count, password_hash, now)
        )
    }
}

/// A session store that times every call.
#[derive(Debug)]
pub struct TimedSessions(pub Arc<dyn SessionStore>);

#[async_trait]
impl SessionStore for TimedSessions {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        timed!("gatehouse_session_store_duration_seconds", "create", self.0.create_session(session))
    }
    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        timed!("gatehouse_session_store_duration_seconds", "check", self.0.live_session(id, now))
    }
    async fn live_session_and_account(
        &self,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(LiveSession, AccountRead)>> {
        timed!(
            "gatehouse_session_store_duration_seconds",
            "check",
            self.0.live_session_and_account(id, account_id, now)
        )
    }
    async fn keep_account_copy(&self, account: &Account, seen: &str) -> StoreResult<()> {
        timed!("gatehouse_session_store_duration_seconds", "keep_copy", self.0.keep_account_copy(account, seen))
    }
    async fn drop_account_copy(&self, account_id: Uuid) -> StoreResult<()> {
        timed!("gatehouse_session_store_duration_seconds", "drop_copy", self.0.drop_account_copy(account_id))
    }
    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!("gatehouse_session_store_duration_seconds", "touch", self.0.touch_session(id, now))
    }
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> StoreResult<Rotation> {
        timed!("gatehouse_session_store_duration_seconds", "rotate", self.0.rotate_refresh(presented, next, now, grace))
    }
    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        timed!("gatehouse_session_store_duration_seconds", "revoke", self.0.revoke_session(account_id, id))
    }
    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        timed!("gatehouse_session_store_duration_seconds", "revoke_all", self.0.revoke_all_sessions(account_id, except))
    }
    async fn list_sessions(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>> {
        timed!("gatehouse_session_store_duration_seconds", "list", self.0.list_sessions(account_id, now))
    }
    async fn ping_sessions(&self) -> StoreResult<()> {
        timed!("gatehouse_session_store_duration_seconds", "ping", self.0.ping_sessions())
    }
}
