//! Webhooks: the registry (secret shown once, private targets refused), and deliveries to a
//! real HTTP receiver — signed as Standard Webhooks says (checked here with an HMAC of the
//! test's own), exactly the committed changes, in order per account, again after the receiver
//! was down, replayed on request, and refused at delivery time when the target turns private.
//!
//! The receiver listens on loopback, which the guard refuses unless
//! `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true`: the delivery tests set it for that reason alone (the
//! registry test and the last delivery test show what the default does).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with};
use crate::stored::{Jobs, Stored};

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// A webhook receiver on loopback: records every request and answers with the status it is set to.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<u16>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(204));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let state = (got.clone(), answer.clone());
        let app = axum::Router::new().route("/hooks", axum::routing::post(record)).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got, answer }
    }

    fn answer(&self, status: u16) {
        *self.answer.lock().unwrap() = status;
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (at most 30 seconds) until `n` requests have come.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let what = format!("{n} webhook requests");
        poll(&what, || async {
            let got = self.received();
            (got.len() >= n).then_some(got)
        })
        .await
    }
}

/// Polls `check` until it gives a value, for at most 30 seconds.
async fn poll<T, F: std::future::Future<Output = Option<T>>>(what: &str, check: impl FnMut() -> F) -> T {
    crate::helpers::eventually(what, Duration::from_secs(30), check).await
}

type ReceiverState = (Arc<Mutex<Vec<Received>>>, Arc<Mutex<u16>>);

async fn record(State((got, answer)): State<ReceiverState>, headers: HeaderMap, body: String) -> AxumStatus {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    got.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    });
    AxumStatus::from_u16(*answer.lock().unwrap()).unwrap()
}

/// Whether `got` carries a valid `v1` signature by `secret` (`whsec_…`), computed here from
/// the scheme's definition: HMAC-SHA256 of `id.timestamp.body` under the decoded secret.
fn signed_by(got: &Received, secret: &str) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let signed = format!("{}.{}.{}", got.id, got.timestamp, got.body);
    got.signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|sig| STANDARD.decode(sig).is_ok_and(|sig| ring::hmac::verify(&key, signed.as_bytes(), &sig).is_ok()))
}

async fn register(app: &TestApp, admin: &str, body: Value) -> reqwest::Response {
    app.post_json("/admin/webhooks", &body, Some(admin)).await
}

const ALL: [&str; 9] = [
    "user.created",
    "user.activated",
    "user.updated",
    "user.deleted",
    "user.login",
    "user.password_changed",
    "user.mfa_changed",
    "session.revoked",
    "identity.linked",
];

#[tokio::test]
async fn the_registry_shows_the_secret_once_and_refuses_private_targets() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;

    for url in ["http://127.0.0.1:9/hooks", "http://localhost/hooks", "http://169.254.169.254/latest", "http://[::1]/"]
    {
        let refused = register(&app, &admin, json!({"url": url, "events": ["user.created"]})).await;
        let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "url", "{url}: {problem}");
    }
    let unknown = register(&app, &admin, json!({"url": "https://93.184.216.34/in", "events": ["user.exploded"]})).await;
    let problem = assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("user.created"), "{problem}");

    let made = register(
        &app,
        &admin,
        json!({"url": "https://93.184.216.34/in", "events": ["user.created", "user.deleted"], "description": "CRM"}),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_") && STANDARD.decode(&secret[6..]).unwrap().len() == 32, "{made}");
    assert_eq!(made["events"], json!(["user.created", "user.deleted"]));
    let id = made["id"].as_str().unwrap();

    let listed: Value = app.get("/admin/webhooks", Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["webhooks"].as_array().unwrap().len(), 1);
    assert!(listed["webhooks"][0].get("secret").is_none(), "the secret is shown once: {listed}");
    let changed = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/admin/webhooks/{id}"),
            &json!({"enabled": false, "events": ["user.login"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(
        (changed["enabled"].clone(), changed["events"].clone(), changed["url"].clone()),
        (json!(false), json!(["user.login"]), made["url"].clone())
    );
    let private = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/admin/webhooks/{id}"),
            &json!({"url": "http://10.0.0.8/"}),
            Some(&admin),
        )
        .await;
    assert_problem(private, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let user = app.logged_in_user("ann@example.com").await.1;
    assert_problem(app.get("/admin/webhooks", Some(&user)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.delete(&format!("/admin/webhooks/{id}"), Some(&admin)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/admin/webhooks/{id}"), Some(&admin)).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert_problem(app.get("/admin/webhooks/not-an-id", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found").await;
    app.count_reaches(Stored::AuditEventsStartingWith("admin.webhook_"), 3).await;
}

/// An endpoint receiving every event, on a loopback receiver; its secret.
async fn receiving(app: &TestApp, admin: &str, receiver: &Receiver) -> (String, String) {
    let made = register(app, admin, json!({"url": receiver.url, "events": ALL})).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    (made["id"].as_str().unwrap().to_owned(), made["secret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn committed_changes_arrive_signed_and_in_order_and_refused_ones_never() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "true")).await;
    let admin = app.admin("root@example.com").await;
    let receiver = Receiver::start().await;
    let (_, secret) = receiving(&app, &admin, &receiver).await;

    let (ann, token) = app.logged_in_user("ann@example.com").await; // created, activated, login
    let ann_id = ann["id"].as_str().unwrap().to_owned();
    let edit = app.send_json(reqwest::Method::PATCH, "/user", &json!({"name": "Ann Lee"}), Some(&token)).await;
    assert_eq!(edit.status(), StatusCode::OK);
    // Refused changes: a taken address, a wrong current password. Neither may be told of.
    let taken = app.sign_up(json!({"email": "ann@example.com", "password": PASSWORD})).await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let wrong = json!({"email": "ann@example.com", "current_password": "not it at all", "new_password": "another good passphrase"});
    assert_eq!(app.post_json("/password/change", &wrong, None).await.status(), StatusCode::UNAUTHORIZED);
    let change =
        json!({"email": "ann@example.com", "current_password": PASSWORD, "new_password": "another good passphrase"});
    assert_eq!(app.post_json("/password/change", &change, None).await.status(), StatusCode::NO_CONTENT);
    let token =
        app.tokens("ann@example.com", "another good passphrase").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.delete("/auth", Some(&token)).await.status(), StatusCode::NO_CONTENT);
    let token =
        app.tokens("ann@example.com", "another good passphrase").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.delete("/user", Some(&token)).await.status(), StatusCode::NO_CONTENT);

    let expected = [
        "user.created",
        "user.activated",
        "user.login",
        "user.updated",
        "user.password_changed",
        "user.login",
        "session.revoked",
        "user.login",
        "user.deleted",
    ];
    // Deliveries are written with the changes, so the database already holds all there will be.
    assert_eq!(app.count(Stored::Jobs(Jobs::of("webhook"))).await, expected.len() as i64);
    let got = receiver.wait_for(expected.len()).await;
    assert!(got.iter().all(|r| r.json()["data"]["account"]["id"] == ann_id.as_str()));
    let types: Vec<String> = got.iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, expected, "exactly the committed changes, in the order they happened");
    for request in &got {
        assert!(signed_by(request, &secret), "a valid signature: {request:?}");
        let age = chrono::Utc::now().timestamp() - request.timestamp.parse::<i64>().unwrap();
        assert!((0..60).contains(&age), "a current timestamp");
        let body = request.json();
        assert_eq!(body["data"]["account"]["email"], "ann@example.com");
        assert!(
            body["data"]["account"].get("password_hash").is_none() && !request.body.contains("argon2"),
            "no secrets"
        );
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }
    let mut ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), expected.len(), "each event has its own webhook-id");
    assert_eq!(got[3].json()["data"]["account"]["name"], "Ann Lee", "the account as the change left it");
    assert_eq!(got[6].json()["data"]["reason"], "logout");
    let forged = Received { body: got[0].body.replace("ann@", "eve@"), ..got[0].clone() };
    assert!(!signed_by(&forged, &secret), "the check can fail");
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_the_event_again_with_the_same_id_and_a_replay_too() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "true")).await;
    let admin = app.admin("root@example.com").await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let (endpoint, secret) = receiving(&app, &admin, &receiver).await;
    let log = format!("/admin/webhooks/{endpoint}/deliveries");

    app.sign_up(json!({"email": "bob@example.com", "password": PASSWORD})).await;
    let first = receiver.wait_for(1).await;
    let page = poll("the first attempt in the log", || async {
        let page: Value = app.get(&log, Some(&admin)).await.json().await.unwrap();
        (page["deliveries"][0]["attempts"] == 1 && page["deliveries"][0]["status"] == "queued").then_some(page)
    })
    .await;
    let delivery = &page["deliveries"][0];
    assert_eq!(
        (delivery["type"].as_str(), delivery["last_response_status"].as_u64()),
        (Some("user.created"), Some(503))
    );
    assert!(delivery["next_attempt_at"].is_string(), "{delivery}");

    // The receiver is back; the retry falls due (as it would 5 s later).
    receiver.answer(200);
    app.make_deliveries_due().await;
    let got = receiver.wait_for(2).await;
    assert_eq!(
        (got[1].id.as_str(), got[1].body.as_str()),
        (first[0].id.as_str(), first[0].body.as_str()),
        "the same event"
    );
    assert!(signed_by(&got[1], &secret));
    let delivered = poll("the delivery settled", || async {
        let page: Value = app.get(&format!("{log}?status=delivered"), Some(&admin)).await.json().await.unwrap();
        page["deliveries"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!((delivered["attempts"].as_u64(), delivered["last_response_status"].as_u64()), (Some(2), Some(200)));

    let id = delivered["id"].as_str().unwrap();
    let replayed = app.post_json(&format!("{log}/{id}/replay"), &json!({}), Some(&admin)).await;
    assert_eq!(replayed.status(), StatusCode::ACCEPTED);
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].id, first[0].id, "a replay keeps the webhook-id");
    let unknown = app.post_json(&format!("{log}/{}/replay", uuid::Uuid::now_v7()), &json!({}), Some(&admin)).await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let bad = app.get(&format!("{log}?status=lost"), Some(&admin)).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn a_target_that_turns_private_is_not_delivered_to() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "true")).await;
    let admin = app.admin("root@example.com").await;
    let receiver = Receiver::start().await;
    let (endpoint, _) = receiving(&app, &admin, &receiver).await;
    // Registered while allowed; the default applies from the restart on, at delivery time.
    let app = app.restart_changing(|config| config.security.webhook_allow_private = false).await;
    let admin = app.tokens("root@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    app.sign_up(json!({"email": "cy@example.com", "password": PASSWORD})).await;
    let log = format!("/admin/webhooks/{endpoint}/deliveries");
    let refused = poll("a settled attempt in the log", || async {
        let page: Value = app.get(&log, Some(&admin)).await.json().await.unwrap();
        // Not one being sent: its attempt is counted when it is claimed, its error when it ends.
        let settled = |d: &&Value| d["attempts"].as_u64() >= Some(1) && d["status"] == "queued";
        page["deliveries"].as_array().unwrap().iter().find(settled).cloned()
    })
    .await;
    assert!(refused["last_error"].as_str().unwrap().contains("public"), "{refused}");
    assert_eq!(refused["last_response_status"], Value::Null);
    assert!(receiver.received().is_empty(), "nothing reached the private address");
}
