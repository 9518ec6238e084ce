//! OpenID Connect Back-Channel Logout: when a session granted to a client ends, whichever
//! replica ends it and however it ends (the browser's logout, a revocation, a password change,
//! an admin disabling the account), the client's back-channel URI gets a `logout_token` it can
//! verify with the JWKS alone; a receiver that fails gets it again with the same `jti`; a client
//! without the URI hears nothing. A session granted without a browser session (the device grant)
//! has a `sid` of its own, in its ID token and its logout token; a client that registered itself
//! is never called at a private address.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, query_param};
use crate::device::{DEVICE_GRANT, answer, device_authorization, to_approval};
use crate::helpers::{Options, PASSWORD, TestApp, eventually, jwt_header, jwt_payload, spawn_app, spawn_app_with};
use crate::oauth::{Client, REDIRECT, authorize, authorize_url, pkce, redeem, register, token};
use crate::stored::{Jobs, Stored};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A client's back-channel endpoint on loopback: records each `logout_token` posted and
/// answers with the status it is set to.
#[derive(Clone)]
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<String>>>,
    answer: Arc<Mutex<u16>>,
}

type ReceiverState = (Arc<Mutex<Vec<String>>>, Arc<Mutex<u16>>);

async fn record(
    State((got, answer)): State<ReceiverState>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> AxumStatus {
    got.lock().unwrap().push(form.get("logout_token").cloned().unwrap_or_default());
    AxumStatus::from_u16(*answer.lock().unwrap()).unwrap()
}

impl Receiver {
    async fn start() -> Receiver {
        let (got, answer) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(200)));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel-logout", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/backchannel-logout", axum::routing::post(record))
            .with_state((got.clone(), answer.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, got, answer }
    }

    fn tokens(&self) -> Vec<String> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (at most 30 s) for the `n`th token.
    async fn nth(&self, n: usize) -> String {
        eventually(&format!("{n} logout tokens"), Duration::from_secs(30), || async {
            let got = self.tokens();
            got.get(n - 1).cloned()
        })
        .await
    }
}

/// A person's client session by the code flow, through `browser`: its tokens.
async fn grant(app: &TestApp, browser: &Browser, client: &Client, email: &str) -> Value {
    let (verifier, challenge) = pkce();
    let back = authorize(app, browser, &authorize_url(app, client, &challenge, &[]), email).await;
    let response = redeem(app, client, &query_param(&back, "code").unwrap(), &verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The logout token, verified as a client would: the JWKS key of its `kid`, `iss`, `aud` the
/// client, `typ: logout+jwt`, the event, and no `nonce`.
async fn verified(app: &TestApp, token: &str, client: &Client) -> Value {
    assert_eq!(jwt_header(token)["typ"], "logout+jwt");
    let claims = crate::tokens::verify_like_an_api(app, token, &client.id).await;
    assert_eq!(claims["events"], json!({ EVENT: {} }));
    assert!(claims.get("nonce").is_none() && claims["jti"].is_string() && claims["iat"].is_i64());
    claims
}

#[tokio::test]
async fn every_way_a_session_ends_tells_its_client_from_any_replica_and_a_failed_notice_is_sent_again() {
    let app = spawn_app().await;
    // On SQLite, which one server holds alone, the same server plays both.
    let replica = app.replica().await;
    let other_replica = replica.as_ref().unwrap_or(&app);
    let receiver = Receiver::start().await;
    let admin = app.admin("bcl-admin@example.com").await;
    let person = app.active_user("lena@example.com", None).await;
    let spec = |name: &str, uri: Option<&str>| {
        let mut spec = json!({
            "name": name, "redirect_uris": [REDIRECT], "first_party": true,
            "scopes": ["openid", "profile", "email", "offline_access"], "backchannel_logout_session_required": true,
        });
        if let Some(uri) = uri {
            spec["backchannel_logout_uri"] = json!(uri);
        }
        spec
    };
    let notes = register(&app, &admin, spec("Notes", Some(&receiver.url))).await;
    let quiet = register(&app, &admin, spec("Quiet", None)).await;
    let listed: Value = app.get(&format!("/admin/clients/{}", notes.id), Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["backchannel_logout_uri"], receiver.url.as_str());
    let discovery: Value = app.get("/.well-known/openid-configuration", None).await.json().await.unwrap();
    assert_eq!(
        (&discovery["backchannel_logout_supported"], &discovery["backchannel_logout_session_supported"]),
        (&json!(true), &json!(true))
    );
    let public_http = json!({"name": "SPA", "confidential": false, "redirect_uris": [REDIRECT], "backchannel_logout_uri": "http://spa.example.com/bcl"});
    let refused = app.post_json("/admin/clients", &public_http, Some(&admin)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "http only for a confidential client");

    // The browser's logout, on the other replica: the client hears of it with the ID token's sid.
    let browser = Browser::new(&app);
    let tokens = grant(&app, &browser, &notes, "lena@example.com").await;
    grant(&app, &browser, &quiet, "lena@example.com").await;
    let sid = jwt_payload(tokens["id_token"].as_str().unwrap())["sid"].clone();
    // The hint's key was made on the first replica after the other started: the other takes it
    // up to check the hint, which ends the session without asking.
    let hint = tokens["id_token"].as_str().unwrap();
    let out = browser.get(&format!("{}?id_token_hint={hint}", other_replica.url("/oauth2/logout"))).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert!(crate::browser::field(&out.text().await.unwrap(), "form").is_none(), "signed out, not asked");
    let first = verified(&app, &receiver.nth(1).await, &notes).await;
    assert_eq!((&first["sub"], &first["sid"], &first["aud"]), (&person["id"], &sid, &json!(notes.id)));
    assert_eq!(first["iss"], app.address.as_str());

    // A revocation, then a password change (which ends the rest): each session once.
    let browser = Browser::new(&app);
    let revoked = grant(&app, &browser, &notes, "lena@example.com").await;
    revoke(other_replica, &notes, &revoked).await;
    let second = verified(&app, &receiver.nth(2).await, &notes).await;
    assert_ne!(second["jti"], first["jti"]);
    let kept = grant(&app, &browser, &notes, "lena@example.com").await;
    let own = app.tokens("lena@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let changed = app
        .post_json(
            "/password/change",
            &json!({"current_password": PASSWORD, "new_password": "another horse battery staple"}),
            Some(&own),
        )
        .await;
    assert!(changed.status().is_success(), "{}", changed.status());
    let third = verified(&app, &receiver.nth(3).await, &notes).await;
    assert_eq!(third["sid"], jwt_payload(kept["id_token"].as_str().unwrap())["sid"]);

    // The receiver fails once: the notice comes again, the same jti, freshly signed.
    *receiver.answer.lock().unwrap() = 503;
    let browser = Browser::new(&app);
    app.active_user("mia@example.com", None).await;
    grant(&app, &browser, &notes, "mia@example.com").await;
    let mia: Value = app.get("/user/mia@example.com", Some(&admin)).await.json().await.unwrap();
    let disabled = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/user/{}", mia["id"].as_str().unwrap()),
            &json!({"status": "disabled"}),
            Some(&admin),
        )
        .await;
    assert!(disabled.status().is_success(), "{}", disabled.status());
    let failed = receiver.nth(4).await;
    *receiver.answer.lock().unwrap() = 200;
    let again = receiver.nth(5).await;
    let (failed, again) = (verified(&app, &failed, &notes).await, verified(&app, &again, &notes).await);
    assert_eq!((&failed["jti"], &failed["sub"]), (&again["jti"], &mia["id"]), "a repeat a receiver can recognise");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.tokens().len(), 5, "nothing for the client without a URI, nothing twice");
}

/// Ends a client session by revoking its refresh token, as its client would.
async fn revoke(app: &TestApp, client: &Client, tokens: &Value) {
    let refresh = tokens["refresh_token"].as_str().expect("a refresh token");
    let answer = app
        .client
        .post(app.url("/oauth2/revoke"))
        .header("authorization", client.basic())
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_device_session_has_a_sid_of_its_own_which_its_logout_token_repeats() {
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let admin = app.admin("bcl-device-admin@example.com").await;
    let person = app.active_user("tv-bcl@example.com", None).await;
    let spec = json!({
        "name": "TV app", "grant_types": [DEVICE_GRANT, "refresh_token"],
        "scopes": ["openid", "email", "offline_access"],
        "backchannel_logout_uri": receiver.url, "backchannel_logout_session_required": true,
    });
    let tv = register(&app, &admin, spec).await;
    let started = device_authorization(&app, &tv, "openid email offline_access").await;
    assert_eq!(started.status(), StatusCode::OK);
    let codes: Value = started.json().await.unwrap();
    let (browser, html) = to_approval(&app, &codes, "tv-bcl@example.com").await;
    assert_eq!(answer(&app, &browser, &html, "allow").await.status(), StatusCode::OK);
    let device_code = codes["device_code"].as_str().unwrap();
    let polled = token(&app, &tv, &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).await;
    assert_eq!(polled.status(), StatusCode::OK);
    let tokens: Value = polled.json().await.unwrap();
    let sid = jwt_payload(tokens["id_token"].as_str().unwrap())["sid"].clone();
    assert!(sid.is_string(), "the client asked for sid: its ID token has one although no browser session made it");

    // The refresh keeps it; the end of the session names it.
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())];
    let refreshed: Value = token(&app, &tv, &refresh).await.json().await.unwrap();
    assert_eq!(jwt_payload(refreshed["id_token"].as_str().unwrap())["sid"], sid, "{refreshed}");
    revoke(&app, &tv, &refreshed).await;
    let notice = verified(&app, &receiver.nth(1).await, &tv).await;
    assert_eq!((&notice["sub"], &notice["sid"]), (&person["id"], &sid));
}

#[tokio::test]
async fn a_self_registered_client_is_not_called_at_a_private_address() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_CLIENT_REGISTRATION", "open")).await;
    let receiver = Receiver::start().await;
    app.active_user("ssrf-bcl@example.com", None).await;
    // One names the loopback address, one a name that resolves to it.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let mut clients = Vec::new();
    for uri in [receiver.url.as_str(), by_name.as_str()] {
        let metadata = json!({
            "client_name": "Agent", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"], "scope": "openid profile email offline_access",
            "backchannel_logout_uri": uri,
        });
        let registered = app.post_json("/oauth2/register", &metadata, None).await;
        assert_eq!(registered.status(), StatusCode::CREATED, "accepted: where it points is judged when it is called");
        let registered: Value = registered.json().await.unwrap();
        assert_eq!(registered["backchannel_logout_uri"], uri);
        let client = Client {
            id: registered["client_id"].as_str().unwrap().to_owned(),
            secret: registered["client_secret"].as_str().map(str::to_owned),
        };
        let browser = Browser::new(&app);
        let tokens = grant(&app, &browser, &client, "ssrf-bcl@example.com").await;
        revoke(&app, &client, &tokens).await;
        clients.push(client);
    }

    // The literal address is refused for good; the name is refused where it resolves, each time.
    let literal = Jobs {
        target: Some(&clients[0].id),
        statuses: &["failed"],
        error_has: Some("127.0.0.1 is not a public address"),
        ..Jobs::of("logout")
    };
    app.count_reaches(Stored::Jobs(literal), 1).await;
    let named = Jobs {
        target: Some(&clients[1].id),
        statuses: &["queued"],
        error_has: Some(""),
        tried: true,
        ..Jobs::of("logout")
    };
    app.count_reaches(Stored::Jobs(named), 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.tokens().is_empty(), "the receiver on loopback got nothing");
}
