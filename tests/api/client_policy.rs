//! What a client asks of itself in its registration, and an authorization request of its key:
//! `require_pushed_authorization_requests` (RFC 9126 section 6), `dpop_bound_access_tokens`
//! (RFC 9449 section 5.2) and `dpop_jkt` (RFC 9449 section 10), each held at every door it
//! concerns, for clients an admin registered and clients that registered themselves.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, location, query_param};
use crate::dpop::Key;
use crate::helpers::{Options, TestApp, jwt_payload, spawn_app_with};
use crate::oauth::{Client, REDIRECT, authorize, authorize_url, pkce, register};

async fn app() -> TestApp {
    spawn_app_with(Options::default().var("GATEHOUSE_CLIENT_REGISTRATION", "open")).await
}

/// A public client's code redeemed with `proof` (if any).
async fn redeem(app: &TestApp, client: &Client, code: &str, verifier: &str, proof: Option<String>) -> Value {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
        ("client_id", client.id.as_str()),
    ];
    let request = app.client.post(app.url("/oauth2/token")).form(&form);
    let request = match proof {
        Some(proof) => request.header("dpop", proof),
        None => request,
    };
    request.send().await.unwrap().json().await.unwrap()
}

/// A code for `client`, asked for at `url`.
async fn code_at(app: &TestApp, url: &str) -> String {
    let back = authorize(app, &Browser::new(app), url, "ann@example.com").await;
    query_param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"))
}

fn public_client_body(extra: Value) -> Value {
    let mut body = json!({
        "name": "CLI", "redirect_uris": [REDIRECT], "confidential": false,
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email", "offline_access"],
    });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    body
}

/// A client that asked for pushed requests (an admin's, or one that registered itself) is sent
/// back `invalid_request` at the authorization endpoint unless the request was pushed; pushed,
/// it goes through. Registration, the admin API and a self-registered client's read all say
/// what it asked.
#[tokio::test]
async fn a_client_that_asked_for_pushed_requests_is_authorized_only_through_them() {
    let app = app().await;
    let admin = app.admin("root@example.com").await;
    app.active_user("ann@example.com", None).await;
    let strict =
        register(&app, &admin, public_client_body(json!({"require_pushed_authorization_requests": true}))).await;
    let listed: Value = app.get(&format!("/admin/clients/{}", strict.id), Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["require_pushed_authorization_requests"], true, "{listed}");
    assert_eq!(listed["dpop_bound_access_tokens"], false, "{listed}");

    let metadata = json!({
        "client_name": "Agent", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "require_pushed_authorization_requests": true, "dpop_bound_access_tokens": true,
    });
    let registered = app.post_json("/oauth2/register", &metadata, None).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let registered: Value = registered.json().await.unwrap();
    assert_eq!(registered["require_pushed_authorization_requests"], true, "{registered}");
    assert_eq!(registered["dpop_bound_access_tokens"], true, "{registered}");
    let agent = Client { id: registered["client_id"].as_str().unwrap().to_owned(), secret: None };
    let read = app
        .client
        .get(registered["registration_client_uri"].as_str().unwrap())
        .bearer_auth(registered["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["require_pushed_authorization_requests"], true, "the registration reads back: {read}");

    let plain = register(&app, &admin, public_client_body(json!({}))).await;
    for (client, must_push) in [(&strict, true), (&agent, true), (&plain, false)] {
        let browser = Browser::new(&app);
        let url = authorize_url(&app, client, &pkce().1, &[]);
        let response = browser.get(&url).await;
        let to = location(&response);
        if must_push {
            assert!(to.starts_with(REDIRECT), "{to}");
            assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");
            let why = query_param(&to, "error_description").unwrap();
            assert!(why.contains("require_pushed_authorization_requests"), "{why}");
        } else {
            assert!(to.contains("/login?"), "a client that did not ask goes on to the login: {to}");
        }
    }

    let (verifier, challenge) = pkce();
    let push = [
        ("client_id", strict.id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let pushed: Value = app.client.post(app.url("/oauth2/par")).form(&push).send().await.unwrap().json().await.unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap_or_else(|| panic!("{pushed}"));
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([("client_id", strict.id.as_str()), ("request_uri", request_uri)]);
    let code = code_at(&app, url.as_str()).await;
    let tokens = redeem(&app, &strict, &code, &verifier, None).await;
    assert_eq!(tokens["token_type"], "Bearer", "pushed, it goes through: {tokens}");
}

/// A client that asked for DPoP-bound tokens gets none without a proof, at every grant it has.
#[tokio::test]
async fn a_client_that_asked_for_bound_tokens_gets_no_token_without_a_proof() {
    let app = app().await;
    let admin = app.admin("root@example.com").await;
    let body = json!({
        "name": "Worker", "grant_types": ["client_credentials"], "scopes": ["openid"],
        "dpop_bound_access_tokens": true,
    });
    let worker = register(&app, &admin, body).await;
    let token_url = app.url("/oauth2/token");
    let ask = |proof: Option<String>| {
        let request = app.client.post(&token_url).header("authorization", worker.basic());
        let request = request.form(&[("grant_type", "client_credentials")]);
        match proof {
            Some(proof) => request.header("dpop", proof),
            None => request,
        }
        .send()
    };
    let bare = ask(None).await.unwrap();
    assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
    let bare: Value = bare.json().await.unwrap();
    assert_eq!(bare["error"], "invalid_dpop_proof", "{bare}");
    assert!(bare["error_description"].as_str().unwrap().contains("dpop_bound_access_tokens"), "{bare}");
    let key = Key::new();
    let bound: Value = ask(Some(key.proof("POST", &token_url, None))).await.unwrap().json().await.unwrap();
    assert_eq!(bound["token_type"], "DPoP", "{bound}");
    assert_eq!(jwt_payload(bound["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());

    let lifted = json!({"dpop_bound_access_tokens": false});
    let path = format!("/admin/clients/{}", worker.id);
    let changed = app.send_json(reqwest::Method::PATCH, &path, &lifted, Some(&admin)).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let bearer: Value = ask(None).await.unwrap().json().await.unwrap();
    assert_eq!(bearer["token_type"], "Bearer", "an admin lifted it: {bearer}");
}

/// `dpop_jkt` at the authorization endpoint, or a proof sent with the push, binds the code to a
/// key: redeemed without a proof, or with another key's, it gives nothing; with the key's it
/// gives bound tokens. A thumbprint that cannot be one is refused, and so is a push whose
/// `dpop_jkt` and proof name different keys.
#[tokio::test]
async fn a_code_bound_to_a_key_is_redeemed_only_with_a_proof_of_that_key() {
    let app = app().await;
    let admin = app.admin("root@example.com").await;
    app.active_user("ann@example.com", None).await;
    let cli = register(&app, &admin, public_client_body(json!({}))).await;
    let (key, thief) = (Key::new(), Key::new());
    let token_url = app.url("/oauth2/token");
    let jkt = key.jkt();
    for proof in [None, Some(thief.proof("POST", &token_url, None))] {
        let (verifier, challenge) = pkce();
        let code = code_at(&app, &authorize_url(&app, &cli, &challenge, &[("dpop_jkt", jkt.as_str())])).await;
        let refused = redeem(&app, &cli, &code, &verifier, proof).await;
        assert_eq!(refused["error"], "invalid_dpop_proof", "{refused}");
    }
    let (verifier, challenge) = pkce();
    let code = code_at(&app, &authorize_url(&app, &cli, &challenge, &[("dpop_jkt", jkt.as_str())])).await;
    let tokens = redeem(&app, &cli, &code, &verifier, Some(key.proof("POST", &token_url, None))).await;
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    assert_eq!(jwt_payload(tokens["access_token"].as_str().unwrap())["cnf"]["jkt"], jkt);

    let response =
        Browser::new(&app).get(&authorize_url(&app, &cli, &pkce().1, &[("dpop_jkt", "not-a-thumbprint")])).await;
    let to = location(&response);
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_request"), "{to}");

    let par_url = app.url("/oauth2/par");
    let push = |challenge: String, proof: String, extra: Option<String>| {
        let mut form = vec![
            ("client_id", cli.id.clone()),
            ("response_type", "code".to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("scope", "openid".to_owned()),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256".to_owned()),
        ];
        form.extend(extra.map(|jkt| ("dpop_jkt", jkt)));
        app.client.post(&par_url).header("dpop", proof).form(&form).send()
    };
    let mismatched = push(pkce().1, key.proof("POST", &par_url, None), Some(thief.jkt())).await.unwrap();
    assert_eq!(mismatched.status(), StatusCode::BAD_REQUEST);
    assert_eq!(mismatched.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof");
    let wrong_place = push(pkce().1, key.proof("POST", &token_url, None), None).await.unwrap();
    assert_eq!(wrong_place.json::<Value>().await.unwrap()["error"], "invalid_dpop_proof", "a proof for another URL");

    let (verifier, challenge) = pkce();
    let pushed: Value = push(challenge, key.proof("POST", &par_url, None), None).await.unwrap().json().await.unwrap();
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    let request_uri = pushed["request_uri"].as_str().unwrap_or_else(|| panic!("{pushed}"));
    url.query_pairs_mut().extend_pairs([("client_id", cli.id.as_str()), ("request_uri", request_uri)]);
    let code = code_at(&app, url.as_str()).await;
    let refused = redeem(&app, &cli, &code, &verifier, Some(thief.proof("POST", &token_url, None))).await;
    assert_eq!(refused["error"], "invalid_dpop_proof", "the push's proof bound the code: {refused}");
}
