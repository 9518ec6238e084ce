//! Concurrency: fifty clients doing the same thing at the same instant — one email, one link,
//! one refresh token, a logout racing the requests of its own token. Each race has exactly the
//! outcome one careful client at a time would have had. SQLite always; PostgreSQL (with Redis
//! sessions when configured) too.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::mail_server::SmtpServer;
use crate::process::{Backend, PASSWORD, Server, active_user, exclusive, log_in, token_of};

const RACERS: usize = 50;
const ADMIN: &str = "admin@example.com";

/// One server on `backend`, with an admin, plus its mail server and a client. The hashing
/// queue is longer than the default's 64 waiting for at most 1 s: fifty sign-ups or resets
/// released at once hash their passwords for longer than a second on two cores, and the
/// default would refuse some with 503 before they reach the database — a smaller race, where
/// these tests want all fifty contenders to meet there.
async fn app(backend: &Backend, vars: &[(&str, &str)]) -> (Server, SmtpServer, reqwest::Client) {
    let mail = SmtpServer::start().await;
    let mut env = backend.env(&mail.url());
    env.insert("GATEHOUSE_HASH_QUEUE".into(), "256".into());
    env.insert("GATEHOUSE_HASH_MAX_WAIT".into(), "5m".into());
    env.insert("GATEHOUSE_ADMIN_EMAIL".into(), ADMIN.into());
    env.insert("GATEHOUSE_ADMIN_PASSWORD".into(), PASSWORD.into());
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let server = Server::start(env).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    (server, mail, client)
}

/// Runs `RACERS` copies of `request` released at the same instant; their statuses and bodies.
async fn race<F, Fut>(request: F) -> Vec<(StatusCode, Value)>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = reqwest::Result<reqwest::Response>> + Send + 'static,
{
    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (start, sent) = (start.clone(), request(i));
            tokio::spawn(async move {
                start.wait().await;
                let response = sent.await.unwrap();
                let status = response.status();
                (status, response.json::<Value>().await.unwrap_or(Value::Null))
            })
        })
        .collect();
    let mut answers = Vec::new();
    for racer in racers {
        answers.push(racer.await.unwrap());
    }
    answers
}

fn count(answers: &[(StatusCode, Value)], status: StatusCode, code: Option<&str>) -> usize {
    answers.iter().filter(|(s, body)| *s == status && code.is_none_or(|c| body["code"] == c)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_sign_ups_with_one_email_make_one_account() {
    let _alone = exclusive().await;
    for backend in Backend::all("concurrency", true).await {
        let (server, mail, client) = app(&backend, &[]).await;
        let url = server.at("/user");
        let answers =
            race(|_| client.post(&url).json(&json!({"email": "ann@example.com", "password": PASSWORD})).send()).await;

        assert_eq!(count(&answers, StatusCode::CREATED, None), 1, "{}: {answers:?}", backend.name);
        assert_eq!(count(&answers, StatusCode::CONFLICT, Some("email_taken")), RACERS - 1, "{}", backend.name);
        let accounts = "SELECT COUNT(*) FROM accounts WHERE email_normalized = 'ann@example.com'";
        assert_eq!(backend.db.count(accounts).await, 1);
        let emails =
            "SELECT COUNT(*) FROM jobs WHERE kind = 'email' AND target = 'ann@example.com' AND topic = 'activation'";
        assert_eq!(backend.db.count(emails).await, 1, "{}: one confirmation email", backend.name);
        mail.wait_for("ann@example.com", 1).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_clicks_on_one_activation_link_all_succeed_and_activate_once() {
    let _alone = exclusive().await;
    for backend in Backend::all("concurrency", true).await {
        let (server, mail, client) = app(&backend, &[]).await;
        let signed_up =
            client.post(server.at("/user")).json(&json!({"email": "ben@example.com", "password": PASSWORD})).send();
        let account: Value = signed_up.await.unwrap().json().await.unwrap();
        let id = account["id"].as_str().unwrap().to_owned();
        let link = mail.nth_to("ben@example.com", 1).await.link("/activate?token=");

        let answers = race(|_| client.get(&link).send()).await;

        assert_eq!(count(&answers, StatusCode::OK, None), RACERS, "{}: {answers:?}", backend.name);
        assert!(answers.iter().all(|(_, body)| body["user"]["status"] == "active"), "{answers:?}");
        let active = "SELECT COUNT(*) FROM accounts WHERE email_normalized = 'ben@example.com' AND status = 'active'";
        assert_eq!(backend.db.count(active).await, 1);
        // The audit trail is written in order: once the login after the race shows, every
        // activation event of the race does too.
        let admin = log_in(&client, &server, ADMIN, PASSWORD).await["access_token"].as_str().unwrap().to_owned();
        log_in(&client, &server, "ben@example.com", PASSWORD).await;
        let events = |kind: &str| {
            let url = server.at(&format!("/admin/events?account={id}&kind={kind}&limit=500"));
            let request = client.get(url).bearer_auth(&admin).send();
            async move {
                let page: Value = request.await.unwrap().json().await.unwrap();
                page["events"].as_array().unwrap().len()
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while events("login.succeeded").await == 0 {
            assert!(Instant::now() < deadline, "the login never reached the audit trail");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(events("activation").await, 1, "{}: one activation event", backend.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_uses_of_one_reset_link_reset_the_password_once() {
    let _alone = exclusive().await;
    for backend in Backend::all("concurrency", true).await {
        let (server, mail, client) = app(&backend, &[]).await;
        active_user(&client, &server, &mail, "cat@example.com").await;
        let forgot = client.post(server.at("/password/forgot")).json(&json!({"email": "cat@example.com"})).send();
        assert_eq!(forgot.await.unwrap().status(), StatusCode::ACCEPTED);
        let token = token_of(&mail.nth_to("cat@example.com", 2).await.link("/password/reset?token="));
        let url = server.at("/password/reset");

        let answers = race(|i| {
            let body = json!({"token": token, "new_password": format!("new passphrase number {i}")});
            client.post(&url).json(&body).send()
        })
        .await;

        assert_eq!(count(&answers, StatusCode::NO_CONTENT, None), 1, "{}: {answers:?}", backend.name);
        assert_eq!(count(&answers, StatusCode::BAD_REQUEST, Some("token_invalid")), RACERS - 1, "{answers:?}");
        let winner = answers.iter().position(|(s, _)| *s == StatusCode::NO_CONTENT).unwrap();
        log_in(&client, &server, "cat@example.com", &format!("new passphrase number {winner}")).await;
        let old = client.post(server.at("/auth")).json(&json!({"email": "cat@example.com", "password": PASSWORD}));
        assert_eq!(old.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_refreshes_within_the_grace_period_all_get_the_same_new_token() {
    let _alone = exclusive().await;
    for backend in Backend::all("concurrency", true).await {
        let (server, mail, client) = app(&backend, &[]).await;
        active_user(&client, &server, &mail, "dan@example.com").await;
        let refresh = log_in(&client, &server, "dan@example.com", PASSWORD).await["refresh_token"].clone();
        let url = server.at("/auth/refresh");

        let answers = race(|_| client.post(&url).json(&json!({"refresh_token": refresh})).send()).await;

        assert_eq!(count(&answers, StatusCode::OK, None), RACERS, "{}: {answers:?}", backend.name);
        let new: HashSet<&str> = answers.iter().map(|(_, body)| body["refresh_token"].as_str().unwrap()).collect();
        assert_eq!(new.len(), 1, "{}: one new refresh token for all", backend.name);
        assert_ne!(new.iter().next().unwrap(), &refresh.as_str().unwrap());
        for (_, body) in &answers[..5] {
            let access = body["access_token"].as_str().unwrap();
            let status = client.get(server.at("/protected")).bearer_auth(access).send().await.unwrap().status();
            assert_eq!(status, StatusCode::OK, "{}: the session lives on", backend.name);
        }
    }
}

/// `GATEHOUSE_REFRESH_GRACE=off` is the case under test: a deployment that turns the grace
/// period off must still let exactly one of fifty concurrent refreshes win.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_simultaneous_refreshes_without_grace_let_one_win_and_end_the_session() {
    let _alone = exclusive().await;
    for backend in Backend::all("concurrency", true).await {
        let (server, mail, client) = app(&backend, &[("GATEHOUSE_REFRESH_GRACE", "off")]).await;
        active_user(&client, &server, &mail, "eve@example.com").await;
        let refresh = log_in(&client, &server, "eve@example.com", PASSWORD).await["refresh_token"].clone();
        let url = server.at("/auth/refresh");

        let answers = race(|_| client.post(&url).json(&json!({"refresh_token": refresh})).send()).await;

        assert_eq!(count(&answers, StatusCode::OK, None), 1, "{}: {answers:?}", backend.name);
        assert_eq!(count(&answers, StatusCode::BAD_REQUEST, Some("token_invalid")), RACERS - 1, "{answers:?}");
        // The others presented a spent token: the session is over, the winner's pair with it.
        let (_, winner) = answers.iter().find(|(s, _)| *s == StatusCode::OK).unwrap();
        let access = winner["access_token"].as_str().unwrap();
        let status = client.get(server.at("/protected")).bearer_auth(access).send().await.unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", backend.name);
        let again = client.post(&url).json(&json!({"refresh_token": winner["refresh_token"]})).send();
        assert_eq!(again.await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_request_started_after_a_logout_returned_gets_through() {
    let _alone = exclusive().await;
    for backend in Backend::all("concurrency", true).await {
        let (server, mail, client) = app(&backend, &[]).await;
        active_user(&client, &server, &mail, "fay@example.com").await;
        let access = log_in(&client, &server, "fay@example.com", PASSWORD).await["access_token"].clone();
        let access = access.as_str().unwrap().to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let url = server.at("/protected");

        // Sixteen clients call /protected with the token as fast as they can…
        let callers: Vec<_> = (0..16)
            .map(|_| {
                let (client, url, access, stop) = (client.clone(), url.clone(), access.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut calls = Vec::new();
                    while !stop.load(Relaxed) {
                        let started = Instant::now();
                        let status = client.get(&url).bearer_auth(&access).send().await.unwrap().status();
                        calls.push((started, status));
                    }
                    calls
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(300)).await;
        // …while the token's owner logs out.
        let logout = client.delete(server.at("/auth")).bearer_auth(&access).send().await.unwrap();
        let returned = Instant::now();
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Relaxed);
        let mut calls = Vec::new();
        for caller in callers {
            calls.extend(caller.await.unwrap());
        }

        let before = calls.iter().filter(|(started, _)| *started < returned).count();
        let after: Vec<StatusCode> = calls.iter().filter(|(s, _)| *s > returned).map(|(_, status)| *status).collect();
        assert!(before > 0 && !after.is_empty(), "{}: {before} calls before, {} after", backend.name, after.len());
        assert!(calls.iter().all(|(_, s)| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED), "{calls:?}");
        assert!(after.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{}: {after:?}", backend.name);
        let batch = race(|_| client.get(&url).bearer_auth(&access).send()).await;
        assert_eq!(count(&batch, StatusCode::UNAUTHORIZED, None), RACERS, "{}", backend.name);
    }
}
