//! Enumeration safety, measured: login, forgot-password, resend and login by email answer byte
//! for byte the same (but for the request id) for existing and unknown accounts, and take the
//! same time.
//! A binary of its own, so that no other test shares the machine while it measures.

#[path = "common/logs.rs"]
#[allow(dead_code)]
mod captured;
#[path = "common/database.rs"]
mod database;
#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
#[path = "api/smtp.rs"]
mod smtp;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, spawn_app_with};

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

/// The medians of 20 interleaved tries of each are within a factor of 1.5.
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
        let mut times = [Vec::new(), Vec::new()];
        let mut answers = [Vec::new(), Vec::new()];
        // Warm up both paths, then interleave so that machine noise hits both alike.
        for body in [&existing, &unknown] {
            app.post_json(path, body, None).await;
        }
        for round in 0..20 {
            // Alternate which goes first, so that nothing periodic favours one side.
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for i in order {
                let body = [&existing, &unknown][i];
                let started = Instant::now();
                let response = app.post_json(path, body, None).await;
                let (status, headers) = (response.status(), response.headers().clone());
                let text = response.text().await.unwrap();
                times[i].push(started.elapsed());
                answers[i].push(comparable(status, &headers, &text));
            }
        }
        assert_eq!(answers[0][0], answers[1][0], "{path}: the answers differ");
        assert!(answers.iter().all(|a| a.iter().all(|x| x == &a[0])), "{path}: answers vary between tries");
        let (a, b) = (median(times[0].clone()), median(times[1].clone()));
        let ratio = a.as_secs_f64().max(b.as_secs_f64()) / a.as_secs_f64().min(b.as_secs_f64());
        eprintln!("{path}: median {a:?} for an existing account, {b:?} for an unknown one");
        assert!(ratio <= 1.5, "{path}: median {a:?} for an existing account, {b:?} for an unknown one");
    }
}
