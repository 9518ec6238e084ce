//! Overload: a flood of logins far beyond what the hashing threads can do. The server must stay
//! up, refuse the excess at once (503 `unavailable`), keep its memory bounded, and go on
//! serving token checks, which need no hashing, without delay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::mail_server::SmtpServer;
use crate::process::{Backend, PASSWORD, Server, active_user, exclusive, log_in, quantile};

const FLOODERS: usize = 400;
const FLOOD: Duration = Duration::from_secs(6);
const MEMORY_LIMIT: u64 = 128 * 1024 * 1024;

/// Two hashing threads and a queue of 16 instead of one thread per core and 64: the same
/// overload reached with fewer flooding clients, so that the test machine's own load stays
/// small next to the server's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_is_refused_fast_while_memory_stays_bounded_and_token_checks_go_on() {
    let _alone = exclusive().await;
    let backend = Backend { name: "sqlite", db: crate::database::TestDatabase::create_sqlite(), redis: None };
    let mail = SmtpServer::start().await;
    let mut env = backend.env(&mail.url());
    env.insert("GATEHOUSE_HASH_THREADS".into(), "2".into());
    env.insert("GATEHOUSE_HASH_QUEUE".into(), "16".into());
    let server = Server::start(env).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    active_user(&client, &server, &mail, "ann@example.com").await;
    let access = log_in(&client, &server, "ann@example.com", PASSWORD).await["access_token"].clone();
    let access = access.as_str().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));

    // Four hundred clients log in over and over; a refused one waits as long as the answer's
    // `Retry-After` asks (plus up to half a second, as clients spread their retries) and
    // tries again.
    let url = server.at("/auth");
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|_| {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while !stop.load(Relaxed) {
                    let started = Instant::now();
                    let body = json!({"email": "ann@example.com", "password": PASSWORD});
                    let answer = client.post(&url).json(&body).send().await;
                    answers.push((answer.as_ref().map(|r| r.status()).ok(), started.elapsed()));
                    let retry_after = answer.ok().and_then(|r| r.headers().get("retry-after").cloned());
                    if let Some(seconds) = retry_after.and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
                        let jitter = Duration::from_millis(rand::random::<u64>() % 500);
                        tokio::time::sleep(Duration::from_secs(seconds) + jitter).await;
                    }
                }
                answers
            })
        })
        .collect();
    // Meanwhile a client checks its token, a few times a second.
    let checker = tokio::spawn({
        let (client, url, stop) = (client.clone(), server.at("/protected"), stop.clone());
        async move {
            let mut checks = Vec::new();
            tokio::time::sleep(Duration::from_millis(500)).await; // the flood is up
            while !stop.load(Relaxed) {
                let started = Instant::now();
                let status = client.get(&url).bearer_auth(&access).send().await.map(|r| r.status()).ok();
                checks.push((status, started.elapsed()));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            checks
        }
    });
    tokio::time::sleep(FLOOD).await;
    let peak_memory = server.peak_memory();
    stop.store(true, Relaxed);
    let mut answers = Vec::new();
    for flooder in flooders {
        answers.extend(flooder.await.unwrap());
    }
    let checks = checker.await.unwrap();

    let health = client.get(server.at("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the server stays up");
    let unanswered = answers.iter().filter(|(s, _)| s.is_none()).count();
    let mut accepted: Vec<Duration> =
        answers.iter().filter(|(s, _)| *s == Some(StatusCode::OK)).map(|(_, took)| *took).collect();
    let mut refused: Vec<Duration> = answers
        .iter()
        .filter(|(s, _)| matches!(*s, Some(StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS)))
        .map(|(_, took)| *took)
        .collect();
    let other = answers.len() - unanswered - accepted.len() - refused.len();
    let mut check_times: Vec<Duration> = checks.iter().map(|(_, took)| *took).collect();
    let checks_ok = checks.iter().filter(|(s, _)| *s == Some(StatusCode::OK)).count();
    let (refused_p50, refused_p99) = (quantile(&mut refused, 0.5), quantile(&mut refused, 0.99));
    let (check_p50, check_p99) = (quantile(&mut check_times, 0.5), quantile(&mut check_times, 0.99));
    eprintln!(
        "overload: {} logins by {FLOODERS} clients in {:?}: {} accepted (p50 {:?}), {} refused (p50 {refused_p50:?}, \
         p99 {refused_p99:?}), {other} other, {unanswered} unanswered; peak memory (VmHWM) {:.1} MiB; \
         {checks_ok}/{} token checks answered 200 (p50 {check_p50:?}, p99 {check_p99:?})",
        answers.len(),
        FLOOD,
        accepted.len(),
        quantile(&mut accepted, 0.5),
        refused.len(),
        peak_memory as f64 / 1024.0 / 1024.0,
        checks.len(),
    );

    assert_eq!(unanswered, 0, "every login got an answer");
    assert_eq!(other, 0, "logins answer 200, 503 or 429");
    assert!(!accepted.is_empty() && refused.len() > accepted.len(), "the flood must exceed the hashing capacity");
    // A refusal that waited for hashing would take about as long as an accepted login: the
    // medians are compared with it, so the test holds on a slow machine too. The absolute
    // bounds are loose because the other fault tests run at the same time.
    let accepted_p50 = quantile(&mut accepted, 0.5);
    assert!(refused_p50 * 2 < accepted_p50, "refusals must not wait: p50 {refused_p50:?} vs {accepted_p50:?}");
    assert!(refused_p99 < Duration::from_secs(2), "refusals must be fast: p99 {refused_p99:?}");
    assert!(peak_memory < MEMORY_LIMIT, "peak memory {peak_memory} bytes");
    assert!(checks.len() >= 10, "too few token checks: {}", checks.len());
    assert_eq!(checks_ok, checks.len(), "token checks keep being served: {checks:?}");
    assert!(check_p50 * 10 < accepted_p50, "token checks must not wait: p50 {check_p50:?} vs {accepted_p50:?}");
    assert!(check_p99 < Duration::from_secs(1), "token checks must stay fast: p99 {check_p99:?}");
}
