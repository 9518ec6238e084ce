//! OpenID Connect Back-Channel Logout: when a session granted to a client ends, whichever
//! replica ends it and however it ends (the browser's logout, a revocation, a password change,
//! an admin disabling the account), the client's back-channel URI gets a `logout_token` it can
//! verify with the JWKS alone; a receiver that fails gets it again with the same `jti`; a client
//! without the URI hears nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode as AxumStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, query_param};
use crate::helpers::{PASSWORD, TestApp, eventually, jwt_header, jwt_payload, spawn_app};
use crate::oauth::{Client, REDIRECT, authorize, authorize_url, pkce, redeem, register};

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
    let asked = browser.get(&other_replica.url("/oauth2/logout")).await.text().await.unwrap();
    let form = crate::browser::field(&asked, "form").unwrap();
    let out = browser.post_form(&other_replica.url("/oauth2/logout"), &[("form", form.as_str())]).await;
    assert!(out.status().is_success() || out.status().is_redirection(), "{}", out.status());
    let first = verified(&app, &receiver.nth(1).await, &notes).await;
    assert_eq!((&first["sub"], &first["sid"], &first["aud"]), (&person["id"], &sid, &json!(notes.id)));
    assert_eq!(first["iss"], app.address.as_str());

    // A revocation, then a password change (which ends the rest): each session once.
    let browser = Browser::new(&app);
    let revoked = grant(&app, &browser, &notes, "lena@example.com").await;
    let refresh = revoked["refresh_token"].as_str().unwrap();
    let answer = other_replica
        .client
        .post(other_replica.url("/oauth2/revoke"))
        .header("authorization", notes.basic())
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
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
