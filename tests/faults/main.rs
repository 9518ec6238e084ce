//! The fault suite: gatehouse while what it depends on fails — the database absent at start-up,
//! the mail server down, hanging or refusing, the SQLite file unwritable — and under hostile
//! clients (slow-loris connections, oversized headers and tokens). Each test starts the real
//! application on port 0; tests that need a service or a privilege that is missing say so on
//! stderr and pass.

#[path = "../common/logs.rs"]
mod captured;
#[path = "../common/database.rs"]
mod database;
#[cfg(feature = "dynamodb")]
#[path = "../common/dynamodb.rs"]
mod dynamodb_engine;
#[path = "../api/smtp.rs"]
mod mail_server;
#[path = "../common/proxy.rs"]
mod proxy;

mod concurrency;
mod crash;
mod disk;
mod overload;
mod process;
mod signup_flood;
mod slowloris;
mod smtp;
mod startup;

use std::time::Duration;

use gatehouse::app::Application;
use gatehouse::config::Config;
use gatehouse::mail::outbox::OutboxSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery staple";

pub use crate::captured::logs;

fn init_logs() {
    crate::captured::capture("info,gatehouse=debug,sqlx=warn");
}

/// A configuration for one test: port 0, the given database, mail to the log unless `vars`
/// say otherwise, and otherwise the defaults but one: rate limits are off, because every
/// request of a test comes from 127.0.0.1 and a test sends more of them than one person would.
pub fn config(database_url: &str, vars: &[(&str, &str)]) -> Config {
    init_logs();
    let mut all = vec![
        ("GATEHOUSE_BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("GATEHOUSE_DATABASE_URL".to_owned(), database_url.to_owned()),
        ("GATEHOUSE_MAIL_FROM".to_owned(), "gatehouse <no-reply@gatehouse.test>".to_owned()),
        ("GATEHOUSE_RATE_LIMIT".to_owned(), "off".to_owned()),
    ];
    all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Config::from_vars(all).expect("a valid test configuration").config
}

/// Outbox timings for the tests that wait through failed deliveries: quick polls and retries
/// (the defaults wait 5 s, then 10 s, 20 s… between attempts), so that a test of three
/// failures followed by a delivery takes a second instead of a minute. The lease is the
/// default.
pub fn quick_outbox() -> OutboxSettings {
    OutboxSettings {
        poll: Duration::from_millis(100),
        base_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(1),
        ..OutboxSettings::default()
    }
}

/// A running server; stopped gracefully when dropped.
#[allow(missing_debug_implementations)]
pub struct Server {
    pub address: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Server {
    /// Builds and runs the application; panics if it does not build.
    pub async fn start(config: &Config, outbox: OutboxSettings) -> Self {
        let app = Application::build_with(config, outbox).await.expect("the app builds");
        Self::run(app)
    }

    pub fn run(app: Application) -> Self {
        let address = format!("http://{}", app.address());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self { address, client, stop: Some(stop), task: Some(task) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn socket_address(&self) -> std::net::SocketAddr {
        self.address.trim_start_matches("http://").parse().unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn sign_up(&self, email: &str) -> reqwest::Response {
        self.post_json("/user", &json!({"email": email, "password": PASSWORD})).await
    }

    /// Polls `path` until it answers `want`, for at most `within`.
    pub async fn until_status(&self, path: &str, want: StatusCode, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let status = self.client.get(self.url(path)).send().await.map(|r| r.status());
            if matches!(status, Ok(s) if s == want) {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{path} still answers {status:?}, not {want}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server gracefully and returns what `run_until` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Asserts a problem+json answer with `status` and `code`, and returns its body.
pub async fn assert_problem(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    body
}

/// Polls `check` every 50 ms until it holds, for at most `within`.
pub async fn eventually(within: Duration, what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
