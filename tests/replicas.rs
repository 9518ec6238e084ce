//! Several gatehouse processes on one PostgreSQL + Redis, and outages of both under a running
//! server. Needs `GATEHOUSE_TEST_POSTGRES_URL` and `GATEHOUSE_TEST_REDIS_URL`; without them the
//! tests are skipped and say so. What replicas share (keys, sessions, the outbox, budgets,
//! memberships, API keys) is also proven on one DynamoDB with no Redis, on the engine of
//! `common/dynamodb.rs`.

#[path = "common/database.rs"]
mod database;
#[cfg(feature = "dynamodb")]
#[path = "common/dynamodb.rs"]
mod dynamodb_engine;
#[path = "common/proxy.rs"]
mod proxy;
#[path = "api/smtp.rs"]
mod smtp;

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use database::{Kind, TestDatabase};
use proxy::Proxy;
use reqwest::StatusCode;
use serde_json::{Value, json};
use smtp::SmtpServer;

const PASSWORD: &str = "correct horse battery staple";

/// The servers these tests need, or `None` (and a note on stderr) when they are not configured.
fn servers() -> Option<(String, String)> {
    match (std::env::var("GATEHOUSE_TEST_POSTGRES_URL"), std::env::var("GATEHOUSE_TEST_REDIS_URL")) {
        (Ok(pg), Ok(redis)) if !pg.is_empty() && !redis.is_empty() => Some((pg, redis)),
        _ => {
            let what = "the replica and outage tests (PostgreSQL and Redis together)";
            for (backend, variable) in
                [("postgres", "GATEHOUSE_TEST_POSTGRES_URL"), ("redis", "GATEHOUSE_TEST_REDIS_URL")]
            {
                if std::env::var(variable).map_or(true, |url| url.is_empty()) {
                    database::skip(backend, variable, what);
                }
            }
            None
        }
    }
}

/// What the replicas of a test share: a database, and Redis or not.
struct Shared {
    db: TestDatabase,
    redis: Option<String>,
}

/// PostgreSQL and Redis, or `None` when they are not configured.
async fn on_postgres_and_redis() -> Option<Shared> {
    let (postgres, redis) = servers()?;
    Some(Shared { db: TestDatabase::create_on(Kind::Postgres, &postgres).await, redis: Some(redis) })
}

/// Tables of their own on the DynamoDB engine, with no Redis, or `None` (and a note on stderr)
/// when no engine is configured.
async fn on_dynamodb() -> Option<Shared> {
    let Some(endpoint) = Kind::Dynamodb.server_url() else {
        database::skip("dynamodb", Kind::Dynamodb.env_var(), "the replica tests on DynamoDB");
        return None;
    };
    Some(Shared { db: TestDatabase::create_on(Kind::Dynamodb, &endpoint).await, redis: None })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One gatehouse process; killed when dropped.
struct Replica {
    child: Child,
    url: String,
}

impl Replica {
    fn start(port: u16, env: &HashMap<String, String>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command.arg("serve").env_clear().stdout(Stdio::null()).stderr(Stdio::null());
        // LLVM_PROFILE_FILE: a coverage run counts what the spawned binary ran.
        for key in ["PATH", "HOME", "LLVM_PROFILE_FILE"] {
            if let Ok(value) = std::env::var(key) {
                command.env(key, value);
            }
        }
        command.envs(env).env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"));
        let child = command.spawn().expect("starting gatehouse");
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }

    /// SIGKILL: no graceful anything.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A proxy in front of the Redis at `redis` (a URL).
async fn redis_proxy(redis: &str) -> Proxy {
    let target = url::Url::parse(redis).unwrap();
    Proxy::start(format!("{}:{}", target.host_str().unwrap(), target.port().unwrap_or(6379))).await
}

/// Polls `url` until it answers `want` (at most 30 s).
async fn until_status(client: &reqwest::Client, url: &str, token: Option<&str>, want: StatusCode) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut request = client.get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Ok(response) = request.send().await
            && response.status() == want
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{url} never answered {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The defaults a user gets, pointed at the servers of the test, with one change: the sign-up
/// budget per address is raised, because every request here comes from 127.0.0.1 and the tests
/// sign up more accounts than one person would in a minute (the budget test sets its own).
fn base_env(db: &TestDatabase, redis: &str, smtp: &SmtpServer, public_url: &str) -> HashMap<String, String> {
    let mut env = shared_env(db, None, smtp, public_url);
    env.insert("GATEHOUSE_REDIS_URL".into(), redis.to_owned());
    env.insert("GATEHOUSE_REDIS_PREFIX".into(), format!("gh-replicas-{}:", uuid::Uuid::now_v7().simple()));
    env
}

/// [`base_env`] for what `shared` holds (sessions in the database when there is no Redis).
fn shared_env(db: &TestDatabase, redis: Option<&str>, smtp: &SmtpServer, public_url: &str) -> HashMap<String, String> {
    if let Some(redis) = redis {
        return base_env(db, redis, smtp, public_url);
    }
    let mut env = HashMap::from([
        ("GATEHOUSE_DATABASE_URL".into(), db.url.clone()),
        ("GATEHOUSE_SMTP_URL".into(), smtp.url()),
        ("GATEHOUSE_PUBLIC_URL".into(), public_url.to_owned()),
        ("GATEHOUSE_LOG".into(), "warn".into()),
        ("GATEHOUSE_RATE_LIMIT_SIGNUP".into(), "1000/1m".into()),
    ]);
    // The AWS SDK's settings for a DynamoDB database (credentials, region).
    for (name, value) in std::env::vars().filter(|(name, _)| name.starts_with("AWS_")) {
        env.insert(name, value);
    }
    env
}

async fn post(client: &reqwest::Client, url: &str, body: Value, token: Option<&str>) -> reqwest::Response {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn log_in(client: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let response = post(client, &format!("{base}/auth"), json!({"email": email, "password": password}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

/// The activation link of `email`'s first message, pointed at `base`.
async fn activate(client: &reqwest::Client, smtp: &SmtpServer, email: &str, base: &str) {
    let link = smtp.nth_to(email, 1).await.link("/activate?token=");
    let token = link.split("token=").nth(1).unwrap();
    let response = client.get(format!("{base}/activate?token={token}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_keys_sessions_and_the_outbox_on_postgres_and_redis() {
    let Some(shared) = on_postgres_and_redis().await else { return };
    three_replicas_share_keys_sessions_and_the_outbox(shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_keys_sessions_and_the_outbox_on_dynamodb() {
    let Some(shared) = on_dynamodb().await else { return };
    three_replicas_share_keys_sessions_and_the_outbox(shared).await;
}

async fn three_replicas_share_keys_sessions_and_the_outbox(shared: Shared) {
    let Shared { db, redis } = shared;
    let smtp = SmtpServer::start().await;
    let ports = [free_port(), free_port(), free_port()];
    let env = shared_env(&db, redis.as_deref(), &smtp, &format!("http://127.0.0.1:{}", ports[0]));
    // Started together on an empty database: they race to create the signing key.
    let mut replicas: Vec<Replica> = ports.iter().map(|port| Replica::start(*port, &env)).collect();
    let client = reqwest::Client::new();
    for replica in &replicas {
        until_status(&client, &format!("{}/readyz", replica.url), None, StatusCode::OK).await;
    }
    let [a, b, c] = [replicas[0].url.clone(), replicas[1].url.clone(), replicas[2].url.clone()];

    // One signing key for all.
    let mut kids = Vec::new();
    for base in [&a, &b, &c] {
        let jwks: Value =
            client.get(format!("{base}/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap();
        kids.push(jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].clone()).collect::<Vec<_>>());
    }
    assert_eq!(kids[0].len(), 1);
    assert!(kids.iter().all(|k| *k == kids[0]), "{kids:?}");

    // Log in on A; the token works on B and C; log out on B and A refuses it.
    let signed_up =
        post(&client, &format!("{a}/user"), json!({"email": "ann@example.com", "password": PASSWORD}), None).await;
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    activate(&client, &smtp, "ann@example.com", &b).await;
    let token = log_in(&client, &a, "ann@example.com", PASSWORD).await;
    for base in [&b, &c] {
        let response = client.get(format!("{base}/protected")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let logout = client.delete(format!("{b}/auth")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let refused = client.get(format!("{a}/protected")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // GET /user on B (which keeps a copy of the account in Redis), a change on C: A and B
    // show it on the next read.
    let token = log_in(&client, &a, "ann@example.com", PASSWORD).await;
    let me = |base: String, token: String| {
        let client = client.clone();
        async move {
            let response = client.get(format!("{base}/user")).bearer_auth(&token).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    for base in [&b, &b, &a] {
        assert_eq!(me(base.clone(), token.clone()).await["data"], json!({}));
    }
    let patched = client
        .patch(format!("{c}/user/ann@example.com"))
        .bearer_auth(&token)
        .json(&json!({"data": {"plan": "pro"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    for base in [&a, &b] {
        assert_eq!(me(base.clone(), token.clone()).await["data"], json!({"plan": "pro"}), "on {base}");
    }

    // A password change on C ends the sessions made on A and B.
    let on_a = log_in(&client, &a, "ann@example.com", PASSWORD).await;
    let on_b = log_in(&client, &b, "ann@example.com", PASSWORD).await;
    let change =
        json!({"email": "ann@example.com", "current_password": PASSWORD, "new_password": "a brand new passphrase"});
    assert_eq!(post(&client, &format!("{c}/password/change"), change, None).await.status(), StatusCode::NO_CONTENT);
    for (base, token) in [(&a, &on_a), (&b, &on_b)] {
        let response = client.get(format!("{base}/protected")).bearer_auth(token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    // 100 sign-ups spread over the three, one replica killed half way: every acknowledged
    // sign-up gets its email, and any email sent twice is the identical message.
    let mut acknowledged = Vec::new();
    let mut killed_at = None;
    for n in 0..100 {
        if n == 50 {
            replicas[2].kill();
            killed_at = Some(tokio::time::Instant::now());
        }
        let email = format!("user{n}@example.com");
        let mut targets = vec![&a, &b, &c];
        targets.rotate_left(n % 3);
        for base in targets {
            let sent =
                client.post(format!("{base}/user")).json(&json!({"email": email, "password": PASSWORD})).send().await;
            match sent {
                Ok(response) if response.status() == StatusCode::CREATED => {
                    acknowledged.push(email.clone());
                    break;
                }
                Ok(response) => panic!("sign-up of {email} on {base} answered {}", response.status()),
                Err(_) => continue, // the killed replica: nothing was acknowledged, try the next one
            }
        }
    }
    assert_eq!(acknowledged.len(), 100);
    // At the default lease the emails the dead replica had claimed are taken over within 30 s.
    let killed_at = killed_at.unwrap();
    loop {
        let waiting = acknowledged.iter().filter(|email| smtp.messages_to(email).is_empty()).count();
        if waiting == 0 {
            break;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(30), "{waiting} email(s) undelivered 30 s after the kill");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "replicas: every acknowledged sign-up's email delivered {:.1} s after the kill",
        killed_at.elapsed().as_secs_f64()
    );
    for email in &acknowledged {
        let received = smtp.wait_for(email, 1).await;
        let first = &received[0];
        for again in &received[1..] {
            assert_eq!(again.message_id(), first.message_id(), "a resend of {email} must be identical");
            assert_eq!(again.text(), first.text());
        }
    }
    let activation_links: std::collections::HashSet<String> =
        acknowledged.iter().flat_map(|e| smtp.messages_to(e)).map(|m| m.link("/activate?token=")).collect();
    assert_eq!(activation_links.len(), 100, "one distinct link per account, never a second one");
    drop(replicas);
}

/// A budget and the login lockout are shared: requests spread over two processes on one Redis (or
/// one DynamoDB) count together.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_one_rate_limit_and_one_lockout_on_postgres_and_redis() {
    let Some(shared) = on_postgres_and_redis().await else { return };
    two_replicas_share_one_rate_limit_and_one_lockout(shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_share_one_rate_limit_and_one_lockout_on_dynamodb() {
    let Some(shared) = on_dynamodb().await else { return };
    two_replicas_share_one_rate_limit_and_one_lockout(shared).await;
}

async fn two_replicas_share_one_rate_limit_and_one_lockout(shared: Shared) {
    let Shared { db, redis } = shared;
    let smtp = SmtpServer::start().await;
    let ports = [free_port(), free_port()];
    let mut env = shared_env(&db, redis.as_deref(), &smtp, &format!("http://127.0.0.1:{}", ports[0]));
    env.insert("GATEHOUSE_RATE_LIMIT_SIGNUP".into(), "4/1m".into());
    let replicas: Vec<Replica> = ports.iter().map(|port| Replica::start(*port, &env)).collect();
    let client = reqwest::Client::new();
    for replica in &replicas {
        until_status(&client, &format!("{}/readyz", replica.url), None, StatusCode::OK).await;
    }
    let (a, b) = (replicas[0].url.clone(), replicas[1].url.clone());

    let mut statuses = Vec::new();
    for n in 0..6 {
        let base = if n % 2 == 0 { &a } else { &b };
        let body = json!({"email": format!("budget{n}@example.com"), "password": PASSWORD});
        statuses.push(post(&client, &format!("{base}/user"), body, None).await.status());
    }
    assert_eq!(&statuses[..4], [StatusCode::CREATED; 4]);
    assert_eq!(&statuses[4..], [StatusCode::TOO_MANY_REQUESTS; 2], "the budget is one for both replicas");

    // Failed logins for one name alternate between the replicas; the lockout still comes.
    let mut first_429 = None;
    for n in 0..12 {
        let base = if n % 2 == 0 { &a } else { &b };
        let body = json!({"email": "target@example.com", "password": "wrong password!"});
        if post(&client, &format!("{base}/auth"), body, None).await.status() == StatusCode::TOO_MANY_REQUESTS {
            first_429 = Some(n + 1);
            break;
        }
    }
    assert_eq!(first_429, Some(7), "five free failures, a sixth that locks, the seventh refused");
    drop(replicas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_outage_refuses_everyone_and_service_resumes_by_itself() {
    let Some((postgres, redis)) = servers() else { return };
    let db = TestDatabase::create_on(Kind::Postgres, &postgres).await;
    let smtp = SmtpServer::start().await;
    let proxy = redis_proxy(&redis).await;
    let port = free_port();
    let env = base_env(&db, &format!("redis://127.0.0.1:{}", proxy.port), &smtp, &format!("http://127.0.0.1:{port}"));
    let replica = Replica::start(port, &env);
    let client = reqwest::Client::new();
    let base = replica.url.clone();
    until_status(&client, &format!("{base}/readyz"), None, StatusCode::OK).await;
    post(&client, &format!("{base}/user"), json!({"email": "ben@example.com", "password": PASSWORD}), None).await;
    activate(&client, &smtp, "ben@example.com", &base).await;
    let token = log_in(&client, &base, "ben@example.com", PASSWORD).await;

    proxy.cut().await;

    // Fail closed: the token is not honoured while its session cannot be checked.
    until_status(&client, &format!("{base}/protected"), Some(&token), StatusCode::SERVICE_UNAVAILABLE).await;
    let response = client.get(format!("{base}/protected")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "unavailable");
    let login =
        post(&client, &format!("{base}/auth"), json!({"email": "ben@example.com", "password": PASSWORD}), None).await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    until_status(&client, &format!("{base}/readyz"), None, StatusCode::SERVICE_UNAVAILABLE).await;

    proxy.restore();

    until_status(&client, &format!("{base}/protected"), Some(&token), StatusCode::OK).await;
    until_status(&client, &format!("{base}/readyz"), None, StatusCode::OK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_outage_answers_503_writes_nothing_half_and_recovers() {
    let Some((postgres, redis)) = servers() else { return };
    let db = TestDatabase::create_on(Kind::Postgres, &postgres).await;
    let smtp = SmtpServer::start().await;
    let target = url::Url::parse(&db.url).unwrap();
    let proxy = Proxy::start(format!("{}:{}", target.host_str().unwrap(), target.port().unwrap_or(5432))).await;
    let mut proxied = target.clone();
    proxied.set_port(Some(proxy.port)).unwrap();
    let port = free_port();
    let mut env = base_env(&db, &redis, &smtp, &format!("http://127.0.0.1:{port}"));
    env.insert("GATEHOUSE_DATABASE_URL".into(), proxied.to_string());
    let replica = Replica::start(port, &env);
    let client = reqwest::Client::new();
    let base = replica.url.clone();
    until_status(&client, &format!("{base}/readyz"), None, StatusCode::OK).await;
    post(&client, &format!("{base}/user"), json!({"email": "cat@example.com", "password": PASSWORD}), None).await;
    activate(&client, &smtp, "cat@example.com", &base).await;
    let token = log_in(&client, &base, "cat@example.com", PASSWORD).await;

    proxy.cut().await;

    let signup =
        post(&client, &format!("{base}/user"), json!({"email": "dan@example.com", "password": PASSWORD}), None).await;
    assert_eq!(signup.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(signup.json::<Value>().await.unwrap()["code"], "unavailable");
    let me = client.get(format!("{base}/user")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::SERVICE_UNAVAILABLE);
    until_status(&client, &format!("{base}/readyz"), None, StatusCode::SERVICE_UNAVAILABLE).await;

    proxy.restore();

    until_status(&client, &format!("{base}/user"), Some(&token), StatusCode::OK).await;
    until_status(&client, &format!("{base}/readyz"), None, StatusCode::OK).await;
    assert_eq!(
        db.count("SELECT COUNT(*) FROM accounts WHERE email = 'dan@example.com'").await,
        0,
        "nothing half-written"
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND target = 'dan@example.com'").await, 0);
    let again =
        post(&client, &format!("{base}/user"), json!({"email": "dan@example.com", "password": PASSWORD}), None).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    smtp.wait_for("dan@example.com", 1).await;
}

/// GET /user on `base` with `token`: its status.
async fn me_status(client: &reqwest::Client, base: &str, token: &str) -> StatusCode {
    client.get(format!("{base}/user")).bearer_auth(token).send().await.unwrap().status()
}

/// Every replica remembers the sessions it checked (at the default memory), and still a
/// logout answered by one is refused by every replica on the very next request: round after
/// round, the logout made on each replica in turn, the checks sent all at once. A replica cut
/// off from Redis without an error (its packets dropped) answers from memory for at most a
/// second; a logout made meanwhile on another replica is answered only once that second is
/// over, and then the cut-off replica no longer answers from memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_holds_on_every_replica_at_once_though_each_remembers_sessions() {
    let Some((postgres, redis)) = servers() else { return };
    let db = TestDatabase::create_on(Kind::Postgres, &postgres).await;
    let smtp = SmtpServer::start().await;
    let proxy = redis_proxy(&redis).await;
    let ports = [free_port(), free_port(), free_port()];
    let env = base_env(&db, &redis, &smtp, &format!("http://127.0.0.1:{}", ports[0]));
    let mut proxied = env.clone();
    proxied.insert("GATEHOUSE_REDIS_URL".into(), format!("redis://127.0.0.1:{}", proxy.port));
    let replicas = [Replica::start(ports[0], &env), Replica::start(ports[1], &env), Replica::start(ports[2], &proxied)];
    let client = reqwest::Client::new();
    for replica in &replicas {
        until_status(&client, &format!("{}/readyz", replica.url), None, StatusCode::OK).await;
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let (a, c) = (&bases[0], &bases[2]);
    post(&client, &format!("{a}/user"), json!({"email": "eve@example.com", "password": PASSWORD}), None).await;
    activate(&client, &smtp, "eve@example.com", a).await;

    let mut answered_in = Vec::new();
    for round in 0..24 {
        let token = log_in(&client, a, "eve@example.com", PASSWORD).await;
        for _ in 0..2 {
            for base in &bases {
                assert_eq!(me_status(&client, base, &token).await, StatusCode::OK);
            }
        }
        let out = &bases[round % 3];
        let started = std::time::Instant::now();
        let logout = client.delete(format!("{out}/auth")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        answered_in.push(started.elapsed());
        let mut checks = Vec::new();
        for base in &bases {
            for path in ["/user", "/protected"] {
                let (client, token, url) = (client.clone(), token.clone(), format!("{base}{path}"));
                checks.push(tokio::spawn(async move {
                    let status = client.get(&url).bearer_auth(token).send().await.unwrap().status();
                    (url, status)
                }));
            }
        }
        for check in checks {
            let (url, status) = check.await.unwrap();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "round {round}: {url} after the logout on {out}");
        }
    }
    answered_in.sort();
    eprintln!(
        "replicas: a logout answered in {:.1} ms (median of {}), {:.1} ms at most",
        answered_in[answered_in.len() / 2].as_secs_f64() * 1000.0,
        answered_in.len(),
        answered_in.last().unwrap().as_secs_f64() * 1000.0
    );

    // C's link to Redis drops every packet: C answers from memory, and A's logout waits for it.
    let token = log_in(&client, a, "eve@example.com", PASSWORD).await;
    for _ in 0..2 {
        assert_eq!(me_status(&client, c, &token).await, StatusCode::OK);
    }
    proxy.stall();
    assert_eq!(me_status(&client, c, &token).await, StatusCode::OK, "from memory: Redis is out of C's reach");
    let started = std::time::Instant::now();
    let logout = client.delete(format!("{a}/auth")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "the logout waited for C: {waited:?}");
    assert!(waited < Duration::from_secs(3), "but not longer than C can trust its memory: {waited:?}");
    assert_eq!(
        me_status(&client, c, &token).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "C no longer answers from memory, and cannot ask Redis"
    );
    proxy.restore();
    until_status(&client, &format!("{c}/user"), Some(&token), StatusCode::UNAUTHORIZED).await;
    eprintln!("replicas: a logout with one replica cut off from Redis answered in {} ms", waited.as_millis());
    drop(replicas);
}

/// A removal from an organization made on one replica refuses the removed member on another at
/// the very next request, with the token it already holds: the organization's routes and
/// forward-auth's `org:` rule read the membership there, and a promotion made on one replica
/// is a permission on another at once. Round after round, the change made on each in turn:
/// four rounds, so that bob gets no more invitations than one address may in an hour
/// (`GATEHOUSE_RATE_LIMIT_EMAIL`, 5, with his activation email).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removal_from_an_organization_holds_on_every_replica_at_the_next_request_on_postgres_and_redis() {
    let Some(shared) = on_postgres_and_redis().await else { return };
    a_removal_from_an_organization_holds_on_every_replica_at_the_next_request(shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_removal_from_an_organization_holds_on_every_replica_at_the_next_request_on_dynamodb() {
    let Some(shared) = on_dynamodb().await else { return };
    a_removal_from_an_organization_holds_on_every_replica_at_the_next_request(shared).await;
}

async fn a_removal_from_an_organization_holds_on_every_replica_at_the_next_request(shared: Shared) {
    let Shared { db, redis } = shared;
    let smtp = SmtpServer::start().await;
    let ports = [free_port(), free_port()];
    let mut env = shared_env(&db, redis.as_deref(), &smtp, &format!("http://127.0.0.1:{}", ports[0]));
    env.insert("GATEHOUSE_TRUSTED_PROXIES".into(), "127.0.0.1".into());
    env.insert("GATEHOUSE_FORWARD_RULES".into(), "app.test=org:acme".into());
    let replicas = [Replica::start(ports[0], &env), Replica::start(ports[1], &env)];
    let client = reqwest::Client::new();
    for replica in &replicas {
        until_status(&client, &format!("{}/readyz", replica.url), None, StatusCode::OK).await;
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    for email in ["owner@example.com", "bob@example.com"] {
        post(&client, &format!("{}/user", bases[0]), json!({"email": email, "password": PASSWORD}), None).await;
        activate(&client, &smtp, email, &bases[0]).await;
    }
    let owner = log_in(&client, &bases[0], "owner@example.com", PASSWORD).await;
    let created =
        post(&client, &format!("{}/orgs", bases[0]), json!({"name": "Acme", "slug": "acme"}), Some(&owner)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let bob_id = client
        .get(format!("{}/user", bases[0]))
        .bearer_auth(log_in(&client, &bases[0], "bob@example.com", PASSWORD).await);
    let bob_id = bob_id.send().await.unwrap().json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let forward = |base: &str, token: &str| {
        client
            .get(format!("{base}/auth/forward"))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "app.test")
            .header("x-forwarded-uri", "/")
            .bearer_auth(token.to_owned())
            .send()
    };

    for round in 0..4 {
        let (on, other) = (&bases[round % 2], &bases[(round + 1) % 2]);
        let bob = log_in(&client, other, "bob@example.com", PASSWORD).await;
        // Bob joins by invitation, accepted on the other replica.
        let invited = post(
            &client,
            &format!("{on}/orgs/acme/invitations"),
            json!({"email": "bob@example.com", "role": "member"}),
            Some(&owner),
        )
        .await;
        assert_eq!(invited.status(), StatusCode::CREATED, "round {round}");
        let link = smtp.nth_to("bob@example.com", 2 + round).await.link("/invitations/accept?token=");
        let token = link.split("token=").nth(1).unwrap();
        let accepted = post(&client, &format!("{other}/invitations/accept"), json!({"token": token}), Some(&bob)).await;
        assert_eq!(accepted.status(), StatusCode::OK, "round {round}");
        for base in &bases {
            let read = client.get(format!("{base}/orgs/acme")).bearer_auth(&bob).send().await.unwrap();
            assert_eq!(read.status(), StatusCode::OK, "round {round}: {base}");
            assert_eq!(forward(base, &bob).await.unwrap().status(), StatusCode::OK, "round {round}: {base}");
        }
        // Promoted on one replica: the permission works on the other at once.
        let member = format!("{on}/orgs/acme/members/{bob_id}");
        let promoted = client.patch(&member).bearer_auth(&owner).json(&json!({"role": "admin"})).send().await.unwrap();
        assert_eq!(promoted.status(), StatusCode::OK, "round {round}");
        let listed = client.get(format!("{other}/orgs/acme/invitations")).bearer_auth(&bob).send().await.unwrap();
        assert_eq!(listed.status(), StatusCode::OK, "round {round}: an admin's permission, on {other}");
        // Removed on one replica: refused on both at the next request.
        let removed = client.delete(&member).bearer_auth(&owner).send().await.unwrap();
        assert_eq!(removed.status(), StatusCode::NO_CONTENT, "round {round}");
        for base in &bases {
            let read = client.get(format!("{base}/orgs/acme")).bearer_auth(&bob).send().await.unwrap();
            assert_eq!(read.status(), StatusCode::FORBIDDEN, "round {round}: {base} after the removal on {on}");
            assert_eq!(forward(base, &bob).await.unwrap().status(), StatusCode::FORBIDDEN, "round {round}: {base}");
        }
    }
}

/// An API key made on one replica opens the API on the other; revoked on either, it is refused
/// by both at the next request, round after round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_api_key_is_refused_by_every_replica_at_the_next_request_on_postgres_and_redis() {
    let Some(shared) = on_postgres_and_redis().await else { return };
    a_revoked_api_key_is_refused_by_every_replica_at_the_next_request(shared).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_api_key_is_refused_by_every_replica_at_the_next_request_on_dynamodb() {
    let Some(shared) = on_dynamodb().await else { return };
    a_revoked_api_key_is_refused_by_every_replica_at_the_next_request(shared).await;
}

async fn a_revoked_api_key_is_refused_by_every_replica_at_the_next_request(shared: Shared) {
    let Shared { db, redis } = shared;
    let smtp = SmtpServer::start().await;
    let ports = [free_port(), free_port()];
    let env = shared_env(&db, redis.as_deref(), &smtp, &format!("http://127.0.0.1:{}", ports[0]));
    let replicas = [Replica::start(ports[0], &env), Replica::start(ports[1], &env)];
    let client = reqwest::Client::new();
    for replica in &replicas {
        until_status(&client, &format!("{}/readyz", replica.url), None, StatusCode::OK).await;
    }
    let bases: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    post(&client, &format!("{}/user", bases[0]), json!({"email": "ann@example.com", "password": PASSWORD}), None).await;
    activate(&client, &smtp, "ann@example.com", &bases[0]).await;
    let token = log_in(&client, &bases[0], "ann@example.com", PASSWORD).await;
    for round in 0..4 {
        let (on, other) = (&bases[round % 2], &bases[(round + 1) % 2]);
        let url = format!("{on}/user/api-keys");
        let made: Value =
            post(&client, &url, json!({"name": format!("round {round}")}), Some(&token)).await.json().await.unwrap();
        let key = made["key"].as_str().unwrap();
        for base in &bases {
            assert_eq!(me_status(&client, base, key).await, StatusCode::OK, "round {round}: {base}");
        }
        let revoked = client
            .delete(format!("{other}/user/api-keys/{}", made["id"].as_str().unwrap()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(revoked.status(), StatusCode::NO_CONTENT, "round {round}");
        for base in &bases {
            assert_eq!(me_status(&client, base, key).await, StatusCode::UNAUTHORIZED, "round {round}: {base}");
        }
    }
}
