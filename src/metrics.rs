//! Prometheus metrics, through the `metrics` facade. The names:
//!
//! - `gatehouse_http_requests_total` and `gatehouse_http_request_duration_seconds`, by `method`,
//!   matched `route` and `status`;
//! - `gatehouse_signups_total`, `gatehouse_activations_total`, `gatehouse_logins_total{outcome}`,
//!   `gatehouse_refreshes_total{outcome}`, `gatehouse_logouts_total{scope}`;
//! - `gatehouse_emails_queued_total{kind}`, `gatehouse_emails_sent_total{kind}`,
//!   `gatehouse_emails_failed_total{kind}`, `gatehouse_email_retries_total{kind}`,
//!   `gatehouse_outbox_backlog`;
//! - `gatehouse_webhook_deliveries_total{outcome}` (`delivered`, `retried`, `failed`) and
//!   `gatehouse_webhook_backlog`;
//! - `gatehouse_jobs_waiting{kind}` and `gatehouse_jobs_oldest_seconds{kind}`: the job queue;
//! - `gatehouse_password_hash_queue_depth`, `gatehouse_password_hash_wait_seconds`,
//!   `gatehouse_password_hash_rejected_total`;
//! - `gatehouse_database_duration_seconds{op}` and `gatehouse_session_store_duration_seconds{op}`,
//!   timed inside every store call with [`timed!`].

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use axum::http::Method;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

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
        zeros();
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
    describe_counter!(
        "gatehouse_activations_total",
        "Accounts activated (by their emailed link, or by a login by email)"
    );
    describe_counter!("gatehouse_logins_total", "Login attempts by outcome");
    describe_counter!("gatehouse_refreshes_total", "Refresh attempts by outcome");
    describe_counter!("gatehouse_logouts_total", "Logouts by scope");
    describe_counter!("gatehouse_emails_queued_total", "Emails written to the outbox");
    describe_counter!("gatehouse_emails_sent_total", "Emails handed to the mail server");
    describe_counter!("gatehouse_emails_failed_total", "Emails given up on");
    describe_counter!("gatehouse_email_retries_total", "Delivery attempts that will be retried");
    describe_gauge!("gatehouse_outbox_backlog", "Emails queued and not yet delivered");
    describe_counter!("gatehouse_webhook_deliveries_total", "Webhook delivery attempts by outcome");
    describe_gauge!("gatehouse_webhook_backlog", "Webhook deliveries queued or being sent");
    describe_gauge!("gatehouse_jobs_waiting", "Jobs of a kind queued, held or being sent");
    describe_gauge!("gatehouse_jobs_oldest_seconds", "How long ago the oldest job of a kind still waiting was written");
    describe_gauge!(MAIL_SERVER_UP, "Whether the mail server answered its last check (readiness probes check it)");
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
    describe_gauge!("gatehouse_build_info", "Always 1; the version of the running build is its label");
}

/// Registers, at zero, the series that count failures and refusals, so that a dashboard or an
/// alert sees them from the start (a series that appears only with its first failure cannot be
/// told from one that is not exported), and states the build.
fn zeros() {
    use ::metrics::{counter, gauge};
    for outcome in ["success", "invalid_credentials", "not_activated", "disabled", "rate_limited", "busy", "error"] {
        counter!("gatehouse_logins_total", "outcome" => outcome).absolute(0);
    }
    for outcome in ["rotated", "replayed", "reused", "invalid", "rate_limited", "error"] {
        counter!("gatehouse_refreshes_total", "outcome" => outcome).absolute(0);
    }
    for action in ["login", "signup", "resend", "forgot", "refresh", "email", "login_lockout"] {
        counter!("gatehouse_rate_limited_total", "action" => action).absolute(0);
    }
    for kind in ["activation", "password_reset"] {
        counter!("gatehouse_emails_failed_total", "kind" => kind).absolute(0);
        counter!("gatehouse_email_retries_total", "kind" => kind).absolute(0);
    }
    for name in ["gatehouse_password_hash_rejected_total", "gatehouse_audit_dropped_total", "gatehouse_signups_total"] {
        counter!(name).absolute(0);
    }
    gauge!("gatehouse_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
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

/// Times `$call` (a future) into the histogram `$metric{op=$op}`, whose handle is registered
/// once per call site: registering builds the labels and looks them up in the recorder, which
/// would cost more than a cheap store call. The stores time each of their operations with it
/// (`gatehouse_database_duration_seconds`, `gatehouse_session_store_duration_seconds`).
macro_rules! timed {
    ($metric:expr, $op:literal, $call:expr) => {{
        static HISTOGRAM: std::sync::OnceLock<::metrics::Histogram> = std::sync::OnceLock::new();
        let started = std::time::Instant::now();
        let result = $call.await;
        HISTOGRAM
            .get_or_init(|| ::metrics::histogram!($metric, "op" => $op))
            .record(started.elapsed().as_secs_f64());
        result
    }};
}
pub(crate) use timed;

/// Whether the mail server answered its last check (1) or not (0).
pub(crate) const MAIL_SERVER_UP: &str = "gatehouse_mail_server_up";

/// The histogram of database calls, by operation.
pub(crate) const DATABASE: &str = "gatehouse_database_duration_seconds";
/// The histogram of session-store calls, by operation.
pub(crate) const SESSION_STORE: &str = "gatehouse_session_store_duration_seconds";
