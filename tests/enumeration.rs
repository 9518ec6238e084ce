//! Enumeration safety, measured: login, forgot-password, resend and login by email answer byte
//! for byte the same (but for the request id) for existing and unknown accounts, and take the
//! same time.
//! A binary of its own, so that no other test shares the machine while it measures.

#[path = "common/logs.rs"]
#[allow(dead_code)]
mod captured;
#[path = "common/database.rs"]
mod database;
#[cfg(feature = "dynamodb")]
#[path = "common/dynamodb.rs"]
mod dynamodb_engine;
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "api/smtp.rs"]
mod smtp;
#[path = "api/stored.rs"]
#[allow(dead_code)]
mod stored;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, spawn_app_with};

/// The parts of an answer that may differ between two requests: ids and the date.
fn comparable(status: StatusCode, headers: &reqwest::header::HeaderMap, body: &str) -> String {
    let mut names: Vec<_> = headers
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "x-request-id" | "date" | "content-length"))
        .map(|(name, value)| format!("{name}: {}", value.to_str().map_or("?".into(), random_cookie_masked)))
        .collect();
    names.sort();
    format!("{status}\n{}\n{body}", names.join("\n"))
}

/// A `Set-Cookie` of the hand-off cookie with its value masked: the value is a fresh random one
/// for any browser that has none, whoever the address belongs to.
fn random_cookie_masked(value: &str) -> String {
    match value.strip_prefix("gatehouse_handoff=").and_then(|rest| rest.split_once(';')) {
        Some((random, attributes)) if random.len() == 43 => format!("gatehouse_handoff=(random);{attributes}"),
        _ => value.to_owned(),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The answers are the same, and the medians of 20 interleaved tries of each are within a
/// factor of 1.5.
#[tokio::test]
async fn enumeration_answers_are_identical_and_equally_fast() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_RATE_LIMIT", "off")).await;
    app.active_user("known@example.com", None).await;
    let pending = app.sign_up(json!({"email": "pending@example.com", "password": PASSWORD})).await;
    assert_eq!(pending.status(), StatusCode::CREATED);

    let cases: [(&str, Value, Value); 4] = [
        (
            "/auth",
            json!({"email": "known@example.com", "password": "not the password"}),
            json!({"email": "unknown@example.com", "password": "not the password"}),
        ),
        ("/password/forgot", json!({"email": "known@example.com"}), json!({"email": "unknown@example.com"})),
        ("/activate/resend", json!({"email": "pending@example.com"}), json!({"email": "unknown@example.com"})),
        ("/auth/email", json!({"email": "known@example.com"}), json!({"email": "unknown@example.com"})),
    ];
    for (path, existing, unknown) in cases {
        // Warm up both paths, then measure; a machine busy with other work can skew one
        // measurement, so a path gets three tries to show its medians within 1.5 of each other
        // (a real difference, like a hash skipped for unknown accounts, is many times that).
        for body in [&existing, &unknown] {
            app.post_json(path, body, None).await;
        }
        let mut tries = Vec::new();
        for _ in 0..3 {
            let (a, b) = medians(&app, path, [&existing, &unknown]).await;
            let ratio = a.as_secs_f64().max(b.as_secs_f64()) / a.as_secs_f64().min(b.as_secs_f64());
            eprintln!("{path}: median {a:?} for an existing account, {b:?} for an unknown one");
            tries.push((a, b, ratio));
            if ratio <= 1.5 {
                break;
            }
        }
        assert!(tries.iter().any(|t| t.2 <= 1.5), "{path}: medians (existing, unknown, ratio) {tries:?}");
    }
}

/// The medians of 20 interleaved tries of each body at `path`, after checking that every
/// answer is the same.
async fn medians(app: &TestApp, path: &str, bodies: [&Value; 2]) -> (Duration, Duration) {
    let mut times = [Vec::new(), Vec::new()];
    let mut answers = [Vec::new(), Vec::new()];
    for round in 0..20 {
        // Alternate which goes first, so that nothing periodic favours one side.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for i in order {
            let started = Instant::now();
            let response = app.post_json(path, bodies[i], None).await;
            let (status, headers) = (response.status(), response.headers().clone());
            let text = response.text().await.unwrap();
            times[i].push(started.elapsed());
            answers[i].push(comparable(status, &headers, &text));
        }
    }
    assert_eq!(answers[0][0], answers[1][0], "{path}: the answers differ");
    assert!(answers.iter().all(|a| a.iter().all(|x| x == &a[0])), "{path}: answers vary between tries");
    let [existing, unknown] = times;
    (median(existing), median(unknown))
}
