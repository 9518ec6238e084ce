//! Real `gatehouse serve` processes for the fault tests: start one on a fixed port, kill it
//! with SIGKILL, start it again on the same database and port, and wait until it is ready.
//! Also the backends a test runs on: SQLite always, PostgreSQL (and Redis) when configured.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::database::{Kind, TestDatabase};
use crate::mail_server::SmtpServer;

/// A password that passes the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// Held by a test for its whole run so that tests which load the machine, or measure
/// latency, do not run at the same time as each other.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// What a test runs against: a fresh database and, optionally, a Redis URL for sessions.
#[derive(Debug)]
pub struct Backend {
    pub name: &'static str,
    pub db: TestDatabase,
    pub redis: Option<String>,
}

impl Backend {
    /// SQLite always; PostgreSQL when `GATEHOUSE_TEST_POSTGRES_URL` is set (with Redis sessions
    /// when `GATEHOUSE_TEST_REDIS_URL` is set too and `with_redis` asks for it). Says on stderr
    /// what it skips.
    pub async fn all(test: &str, with_redis: bool) -> Vec<Backend> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        // A run that has had the SQLite part already (CI runs `cargo test` first) asks for the
        // servers alone.
        let mut backends = match env("GATEHOUSE_TEST_SKIP_SQLITE").as_deref() {
            Some("1") => Vec::new(),
            _ => vec![Backend { name: "sqlite", db: TestDatabase::create_sqlite(), redis: None }],
        };
        match env("GATEHOUSE_TEST_POSTGRES_URL") {
            Some(server) => {
                let redis = if with_redis { env("GATEHOUSE_TEST_REDIS_URL") } else { None };
                let name = if redis.is_some() { "postgres+redis" } else { "postgres" };
                let db = TestDatabase::create_on(Kind::Postgres, &server).await;
                backends.push(Backend { name, db, redis });
            }
            None => crate::database::skip("postgres", "GATEHOUSE_TEST_POSTGRES_URL", test),
        }
        backends
    }

    /// The settings every fault test starts from: this backend, the mail server at `smtp_url`,
    /// quiet logs, and the defaults but one: rate limits are off, because all the clients of a
    /// test share the address 127.0.0.1 and together send far more than one person would.
    pub fn env(&self, smtp_url: &str) -> HashMap<String, String> {
        let mut env = HashMap::from([
            ("GATEHOUSE_DATABASE_URL".to_owned(), self.db.url.clone()),
            ("GATEHOUSE_SMTP_URL".to_owned(), smtp_url.to_owned()),
            ("GATEHOUSE_MAIL_FROM".to_owned(), "gatehouse <no-reply@gatehouse.test>".to_owned()),
            ("GATEHOUSE_RATE_LIMIT".to_owned(), "off".to_owned()),
            ("GATEHOUSE_LOG".to_owned(), "error".to_owned()),
        ]);
        if let Some(redis) = &self.redis {
            env.insert("GATEHOUSE_REDIS_URL".to_owned(), redis.clone());
            env.insert("GATEHOUSE_REDIS_PREFIX".to_owned(), format!("gh-faults-{}:", uuid::Uuid::now_v7().simple()));
        }
        env
    }
}

/// One `gatehouse serve` process on a fixed port; killed when dropped.
#[derive(Debug)]
pub struct Server {
    pub port: u16,
    pub url: String,
    env: HashMap<String, String>,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
}

impl Server {
    /// Starts the server on a free port with exactly `env` (plus `PATH`, `HOME`, the bind
    /// address and the public URL) and waits until it is ready.
    pub async fn start(env: HashMap<String, String>) -> Self {
        let port = free_port();
        let mut server = Self {
            port,
            url: format!("http://127.0.0.1:{port}"),
            env,
            // An empty working directory: no stray `.env` or `gatehouse.toml` is read.
            dir: tempfile::tempdir().unwrap(),
            child: None,
            starts: 0,
        };
        server.spawn();
        server.wait_ready().await;
        server
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command.arg("serve").current_dir(self.dir.path()).env_clear().stdout(Stdio::null()).stderr(Stdio::null());
        // LLVM_PROFILE_FILE: a coverage run counts what the spawned binary ran.
        for key in ["PATH", "HOME", "LLVM_PROFILE_FILE"] {
            if let Ok(value) = std::env::var(key) {
                command.env(key, value);
            }
        }
        command
            .envs(&self.env)
            .env("GATEHOUSE_BIND", format!("127.0.0.1:{}", self.port))
            .env("GATEHOUSE_PUBLIC_URL", &self.url);
        self.child = Some(command.spawn().expect("starting gatehouse"));
        self.starts += 1;
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// SIGKILL: no graceful shutdown, no flushing, nothing.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same database and port, and waits until it is ready.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready().await;
    }

    /// Polls `/readyz` until it answers 200 (at most 30 s), failing if the process exits.
    pub async fn wait_ready(&mut self) {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!("gatehouse exited during start number {} with {status}", self.starts);
            }
            if let Ok(response) = client.get(format!("{}/readyz", self.url)).send().await
                && response.status() == StatusCode::OK
            {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "start number {} never became ready", self.starts);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The peak resident memory of the running server (`VmHWM`), in bytes.
    pub fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM in /proc/PID/status");
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The token of a link such as `http://…/activate?token=T`.
pub fn token_of(link: &str) -> String {
    link.split("token=").nth(1).expect("a link with a token").to_owned()
}

/// Signs up `email`, follows the emailed link, and returns the account's id.
pub async fn active_user(client: &reqwest::Client, server: &Server, mail: &SmtpServer, email: &str) -> String {
    let response =
        client.post(server.at("/user")).json(&json!({"email": email, "password": PASSWORD})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
    let id = response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let link = mail.nth_to(email, 1).await.link("/activate?token=");
    let activated = client.get(&link).send().await.unwrap();
    assert_eq!(activated.status(), StatusCode::OK);
    id
}

/// Logs in and returns the token response.
pub async fn log_in(client: &reqwest::Client, server: &Server, email: &str, password: &str) -> Value {
    let response =
        client.post(server.at("/auth")).json(&json!({"email": email, "password": password})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// The `q`-th quantile (0 to 1) of `samples`, which it sorts.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[index]
}
