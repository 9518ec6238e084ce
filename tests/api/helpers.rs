//! `spawn_app()`: the real application on port 0, with a fresh database and a real SMTP
//! server, plus one helper per endpoint.

use std::sync::Arc;
use std::time::Duration;

use gatehouse::app::Application;
use gatehouse::clock::Clock;
use gatehouse::config::Config;
use gatehouse::mail::outbox::OutboxSettings;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::database::TestDatabase;
use crate::smtp::SmtpServer;
use crate::stored::{Jobs, Stored};

/// A password that passes the policy; tests that need another say so.
pub const PASSWORD: &str = "correct horse battery staple";

fn init_logs() {
    crate::captured::capture("debug,hyper=info,h2=info,sqlx=info,tower=info");
}

/// Settings a test may change before the app starts.
#[derive(Default, Clone)]
pub struct Options {
    pub vars: Vec<(String, String)>,
}

impl Options {
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub smtp: SmtpServer,
    pub db: Arc<TestDatabase>,
    /// The clock the server's rules go by: a test moves it on instead of sleeping through a
    /// lockout or a window (a restart keeps it).
    pub clock: Clock,
    config: Config,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

/// The app on the backend chosen by the environment (see `tests/common/database.rs`); with
/// `GATEHOUSE_TEST_REDIS_URL` set, sessions live in Redis under a key prefix of the test's own.
pub async fn spawn_app_with(options: Options) -> TestApp {
    try_spawn_app_with(options).await.expect("the app builds")
}

/// [`spawn_app_with`], or why the app did not start (a port taken meanwhile, say).
pub async fn try_spawn_app_with(options: Options) -> anyhow::Result<TestApp> {
    init_logs();
    let db = Arc::new(TestDatabase::create().await);
    let smtp = SmtpServer::start().await;
    let mut vars = vec![
        ("GATEHOUSE_BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("GATEHOUSE_DATABASE_URL".to_owned(), db.url.clone()),
        ("GATEHOUSE_SMTP_URL".to_owned(), smtp.url()),
        ("GATEHOUSE_MAIL_FROM".to_owned(), "gatehouse <no-reply@gatehouse.test>".to_owned()),
        ("GATEHOUSE_HASH_QUEUE".to_owned(), "256".to_owned()),
        ("GATEHOUSE_HASH_MAX_WAIT".to_owned(), "5m".to_owned()),
    ];
    let redis = std::env::var("GATEHOUSE_TEST_REDIS_URL").ok().filter(|url| !url.is_empty());
    assert!(
        redis.is_some() || !crate::database::required("redis"),
        "GATEHOUSE_TEST_REQUIRE names redis but GATEHOUSE_TEST_REDIS_URL is not set"
    );
    if let Some(redis) = redis {
        vars.push(("GATEHOUSE_REDIS_URL".to_owned(), redis));
        vars.push(("GATEHOUSE_REDIS_PREFIX".to_owned(), format!("gh-test-{}:", uuid::Uuid::now_v7().simple())));
    }
    vars.extend(options.vars);
    let config = Config::from_vars(vars).expect("a valid test configuration").config;
    try_start(config, smtp, db, Clock::system()).await
}

fn outbox_settings() -> OutboxSettings {
    OutboxSettings {
        poll: Duration::from_millis(100),
        base_backoff: Duration::from_millis(200),
        ..OutboxSettings::default()
    }
}

async fn start(config: Config, smtp: SmtpServer, db: Arc<TestDatabase>, clock: Clock) -> TestApp {
    try_start(config, smtp, db, clock).await.expect("the app builds")
}

async fn try_start(config: Config, smtp: SmtpServer, db: Arc<TestDatabase>, clock: Clock) -> anyhow::Result<TestApp> {
    let app = Application::build_on(&config, outbox_settings(), clock.clone()).await?;
    let address = format!("http://127.0.0.1:{}", app.port());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Ok(TestApp { address, client, smtp, db, clock, config, stop: Some(stop), server: Some(server) })
}

impl TestApp {
    /// Stops the server gracefully and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        self.restart_changing(|_| {}).await
    }

    /// Like [`TestApp::restart`], with the configuration changed first.
    pub async fn restart_changing(mut self, change: impl FnOnce(&mut Config)) -> TestApp {
        self.stop.take().unwrap().send(()).unwrap();
        self.server.take().unwrap().await.unwrap().unwrap();
        let mut config = self.config.clone();
        change(&mut config);
        // Keep the address, so links in emails sent before the restart still work.
        config.bind = self.address.trim_start_matches("http://").parse().unwrap();
        config.public_url = self.address.parse().unwrap();
        start(config, self.smtp.clone(), self.db.clone(), self.clock.clone()).await
    }

    /// A second replica of this app, as behind a load balancer: its own server on its own
    /// port, with the same database, session store, public URL (so the same issuer) and clock.
    /// None on SQLite, which one server holds alone.
    pub async fn replica(&self) -> Option<TestApp> {
        if self.db.url.starts_with("sqlite") {
            return None;
        }
        let mut config = self.config.clone();
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.public_url = self.address.parse().unwrap();
        Some(start(config, self.smtp.clone(), self.db.clone(), self.clock.clone()).await)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.client.request(method, self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn sign_up(&self, body: Value) -> Response {
        self.post_json("/user", &body, None).await
    }

    /// The activation link from the `nth` email to `email`.
    pub async fn activation_link(&self, email: &str, nth: usize) -> String {
        self.smtp.nth_to(email, nth).await.link("/activate?token=")
    }

    pub async fn reset_link(&self, email: &str, nth: usize) -> String {
        self.smtp.nth_to(email, nth).await.link("/password/reset?token=")
    }

    /// Signs up, follows the emailed link, and returns the account.
    pub async fn active_user(&self, email: &str, username: Option<&str>) -> Value {
        let mut body = json!({"email": email, "password": PASSWORD});
        if let Some(username) = username {
            body["username"] = username.into();
        }
        let response = self.sign_up(body).await;
        assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
        let link = self.activation_link(email, 1).await;
        let response = self.client.get(&link).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["user"].clone()
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Response {
        self.post_json("/auth", &json!({"email": email, "password": password}), None).await
    }

    /// Logs in and returns the token response.
    pub async fn tokens(&self, email: &str, password: &str) -> Value {
        let response = self.log_in(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
        response.json().await.unwrap()
    }

    /// An active user, logged in: `(account, access token)`.
    pub async fn logged_in_user(&self, email: &str) -> (Value, String) {
        let account = self.active_user(email, None).await;
        let tokens = self.tokens(email, PASSWORD).await;
        (account, tokens["access_token"].as_str().unwrap().to_owned())
    }

    /// The account service an operator's command would use, on this app's database.
    pub async fn services(&self) -> gatehouse::app::Services {
        gatehouse::app::Services::open(
            &self.config,
            self.address.parse().unwrap(),
            OutboxSettings::default(),
            false,
            self.clock.clone(),
        )
        .await
        .unwrap()
    }

    /// An admin made from the command line's account service, logged in.
    pub async fn admin(&self, email: &str) -> String {
        self.services()
            .await
            .capabilities
            .accounts
            .create_active_account(
                email,
                None,
                secrecy::SecretString::from(PASSWORD.to_owned()),
                gatehouse::model::account::Role::Admin,
            )
            .await
            .unwrap();
        self.tokens(email, PASSWORD).await["access_token"].as_str().unwrap().to_owned()
    }

    /// Waits (at most ten seconds) until the outbox holds nothing queued or being sent: every
    /// email written so far has been delivered or given up on.
    pub async fn outbox_settled(&self) {
        let pending = Stored::Jobs(Jobs { statuses: &["queued", "sending"], ..Jobs::of("email") });
        eventually("an outbox with nothing queued or being sent", Duration::from_secs(10), || async {
            (self.count(pending).await == 0).then_some(())
        })
        .await
    }
}

/// Asserts a problem+json answer with the given status and code; returns the body.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "wrong status for expected {code}");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
    body
}

/// Decodes the payload of a JWT without verifying it.
pub fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Polls `check` every 20 ms until it gives a value, and fails naming `what` if `within` goes by
/// first: for what happens after an answer (background writes, deliveries), never a fixed sleep.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "waited {within:?} for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
