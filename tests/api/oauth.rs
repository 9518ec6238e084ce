//! gatehouse as an OpenID Connect provider: the authorization code flow with PKCE through the
//! hosted login and consent pages, the tokens it gives and what they open, refresh families,
//! revocation, logout, client credentials, and the client registry. (Real relying-party
//! libraries run the same flows in `e2e/relying-parties/`.)

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::browser::{Browser, field, location, query_param};
use crate::helpers::{PASSWORD, TestApp, assert_problem, jwt_header, jwt_payload, spawn_app};
use crate::stored::{Jobs, Stored};

pub(crate) const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

impl Client {
    pub(crate) fn basic(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.id, self.secret.as_deref().unwrap_or_default())))
    }
}

pub(crate) async fn register(app: &TestApp, admin: &str, body: Value) -> Client {
    let response = app.post_json("/admin/clients", &body, Some(admin)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    Client {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().map(str::to_owned),
    }
}

async fn confidential(app: &TestApp, admin: &str) -> Client {
    let body = json!({
        "name": "Dashboard", "redirect_uris": [REDIRECT], "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "scopes": ["openid", "profile", "email", "offline_access", "app_data"],
    });
    register(app, admin, body).await
}

/// A PKCE pair: (verifier, S256 challenge).
pub(crate) fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub(crate) fn authorize_url(app: &TestApp, client: &Client, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    url.query_pairs_mut().extend_pairs(extra);
    url.to_string()
}

/// Runs the browser through login (if asked) and consent (if asked); the redirect to the client.
pub(crate) async fn authorize(app: &TestApp, browser: &Browser, url: &str, email: &str) -> String {
    let mut response = browser.get(url).await;
    if response.status() == StatusCode::SEE_OTHER && location(&response).contains("/login?") {
        let logged_in = browser.log_in(&location(&response), email, PASSWORD).await;
        assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
        response = browser.get(&location(&logged_in)).await;
    }
    if response.status() == StatusCode::OK {
        let html = response.text().await.unwrap();
        let (form, request) = (field(&html, "form").unwrap(), field(&html, "request").expect("a consent page"));
        let fields = [("form", form.as_str()), ("request", request.as_str()), ("decision", "allow")];
        response = browser.post_form(&app.url("/oauth2/consent"), &fields).await;
    }
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    location(&response)
}

pub(crate) async fn token(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> reqwest::Response {
    app.client.post(app.url("/oauth2/token")).header("authorization", client.basic()).form(form).send().await.unwrap()
}

pub(crate) async fn redeem(app: &TestApp, client: &Client, code: &str, verifier: &str) -> reqwest::Response {
    let form =
        [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT), ("code_verifier", verifier)];
    token(app, client, &form).await
}

async fn oauth_error(response: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
}

async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    app.get("/oauth2/userinfo", Some(access_token)).await
}

/// An active account `email`, a confidential client, and a browser that has been through the
/// whole flow: `(client, browser, tokens)`.
pub(crate) async fn signed_in(app: &TestApp, email: &str) -> (Client, Browser, Value) {
    let admin = app.admin(&format!("admin-{email}")).await;
    app.active_user(email, None).await;
    let client = confidential(app, &admin).await;
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let back = authorize(app, &browser, &authorize_url(app, &client, &challenge, &[]), email).await;
    let code = query_param(&back, "code").unwrap();
    let response = redeem(app, &client, &code, &verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    (client, browser, response.json().await.unwrap())
}

#[tokio::test]
async fn the_code_flow_gives_tokens_that_open_userinfo_and_never_gatehouse_s_own_api() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let account = app.active_user("ann@example.com", Some("ann")).await;
    let client = confidential(&app, &admin).await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &client, &challenge, &[]);

    let first = browser.get(&url).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert!(location(&first).starts_with(&app.url("/login?next=")), "no session: to the login page");
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    assert!(back.starts_with(REDIRECT));
    assert_eq!(query_param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(query_param(&back, "iss").as_deref(), Some(app.address.as_str()), "RFC 9207");
    let code = query_param(&back, "code").unwrap();

    let response = redeem(&app, &client, &code, &verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_header(access)["typ"], "at+jwt");
    assert_eq!(jwt_payload(access)["aud"], client.id.as_str());
    let id_token = tokens["id_token"].as_str().unwrap();
    let algorithms = (&jwt_header(id_token)["alg"], &jwt_header(access)["alg"]);
    assert_eq!(algorithms, (&json!("RS256"), &json!("EdDSA")), "ID tokens in the algorithm OpenID Connect requires");
    crate::tokens::verify_like_an_api(&app, id_token, &client.id).await;
    let id = jwt_payload(id_token);
    assert_eq!((&id["aud"], &id["azp"], &id["nonce"]), (&json!(client.id), &json!(client.id), &json!("n-1")));
    assert_eq!(
        (&id["sub"], &id["email"], &id["iss"]),
        (&account["id"], &json!("ann@example.com"), &json!(app.address))
    );
    assert_eq!((&id["amr"], &id["acr"]), (&json!(["pwd"]), &json!("aal1")));
    assert!(id["auth_time"].as_i64().unwrap() <= id["iat"].as_i64().unwrap() && id["sid"].is_string());

    let claims: Value = userinfo(&app, access).await.json().await.unwrap();
    assert_eq!((&claims["sub"], &claims["preferred_username"]), (&account["id"], &json!("ann")));
    assert!(claims.get("app_data").is_none(), "not granted: app_data");
    assert_problem(app.get("/user", Some(access)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(
        app.get("/user", Some(tokens["id_token"].as_str().unwrap())).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;

    // The person sees the app among their sessions (and can end it there).
    let own = app.tokens("ann@example.com", PASSWORD).await;
    let listed: Value = app.get("/auth/sessions", own["access_token"].as_str()).await.json().await.unwrap();
    let apps: Vec<&Value> =
        listed["sessions"].as_array().unwrap().iter().filter(|s| s["client_id"] == client.id.as_str()).collect();
    assert_eq!(apps.len(), 1, "{listed}");

    // The person agreed once: the next authorization asks nothing and the session carries on.
    let (verifier, challenge) = pkce();
    let again = authorize(&app, &browser, &authorize_url(&app, &client, &challenge, &[]), "-").await;
    assert_eq!(redeem(&app, &client, &query_param(&again, "code").unwrap(), &verifier).await.status(), StatusCode::OK);

    // A client's refresh token rotates at the token endpoint and is refused at gatehouse's own.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let rotated: Value = token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await
        .json()
        .await
        .unwrap();
    let next = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(next, refresh);
    let own = app.post_json("/auth/refresh", &json!({"refresh_token": next}), None).await;
    assert_problem(own, StatusCode::BAD_REQUEST, "token_invalid").await;
    assert_eq!(
        userinfo(&app, rotated["access_token"].as_str().unwrap()).await.status(),
        StatusCode::UNAUTHORIZED,
        "and that ended it"
    );
}

#[tokio::test]
async fn a_code_works_once_within_its_minute_and_a_second_redemption_ends_what_the_first_gave() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    app.active_user("ann@example.com", None).await;
    let client = confidential(&app, &admin).await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let back = authorize(&app, &browser, &authorize_url(&app, &client, &challenge, &[]), "ann@example.com").await;
    let code = query_param(&back, "code").unwrap();
    // A wrong verifier is refused, and the code is spent with it.
    oauth_error(redeem(&app, &client, &code, &pkce().0).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    oauth_error(redeem(&app, &client, &code, &verifier).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let (verifier, challenge) = pkce();
    let code =
        query_param(&authorize(&app, &browser, &authorize_url(&app, &client, &challenge, &[]), "-").await, "code")
            .unwrap();
    let first: Value = redeem(&app, &client, &code, &verifier).await.json().await.unwrap();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK);
    oauth_error(redeem(&app, &client, &code, &verifier).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(
        userinfo(&app, access).await.status(),
        StatusCode::UNAUTHORIZED,
        "the reuse revoked the first redemption's tokens"
    );
    // Both second presentations were reuses: the first code's, after the wrong verifier, too.
    app.count_reaches(Stored::AuditEvents(&["oauth.code_reused"]), 2).await;

    let (verifier, challenge) = pkce();
    let code =
        query_param(&authorize(&app, &browser, &authorize_url(&app, &client, &challenge, &[]), "-").await, "code")
            .unwrap();
    app.expire_authorization_codes().await;
    oauth_error(redeem(&app, &client, &code, &verifier).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn a_spent_refresh_token_presented_again_ends_the_whole_family() {
    let app = spawn_app().await;
    let (client, _, tokens) = signed_in(&app, "ann@example.com").await;
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |t: String| {
        let (app, client) = (&app, &client);
        async move { token(app, client, &[("grant_type", "refresh_token"), ("refresh_token", &t)]).await }
    };
    let second: Value = refresh(first.clone()).await.json().await.unwrap();
    let third: Value = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await.json().await.unwrap();
    assert_eq!(userinfo(&app, third["access_token"].as_str().unwrap()).await.status(), StatusCode::OK);
    oauth_error(refresh(first).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_eq!(userinfo(&app, third["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    oauth_error(
        refresh(third["refresh_token"].as_str().unwrap().to_owned()).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn requests_that_cannot_be_trusted_are_shown_and_the_rest_answered_at_the_redirect_uri() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let client = confidential(&app, &admin).await;
    let (_, challenge) = pkce();
    let browser = Browser::new(&app);
    let base = authorize_url(&app, &client, &challenge, &[]);
    let with = |name: &str, value: &str| {
        let mut url = url::Url::parse(&base).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != name).collect();
        url.query_pairs_mut().clear().extend_pairs(pairs).append_pair(name, value);
        url.to_string()
    };
    for redirect in [
        "http://127.0.0.1:9/callback/../evil",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1.evil.com:9/callback",
        "https://evil.example/callback",
    ] {
        let response = browser.get(&with("redirect_uri", redirect)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{redirect}");
        assert!(response.headers().get("location").is_none());
    }
    assert_eq!(browser.get(&with("client_id", "nope")).await.status(), StatusCode::BAD_REQUEST);
    // A loopback redirect URI's port may vary (RFC 8252).
    let moved = browser.get(&with("redirect_uri", "http://127.0.0.1:41234/callback")).await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    for (name, value, error) in [
        ("code_challenge_method", "plain", "invalid_request"),
        ("code_challenge", "", "invalid_request"),
        ("response_type", "token", "unsupported_response_type"),
        ("scope", "openid admin", "invalid_scope"),
        ("prompt", "none", "login_required"),
    ] {
        let response = browser.get(&with(name, value)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name}={value}");
        let to = location(&response);
        assert!(to.starts_with(REDIRECT), "{name}={value}: {to}");
        assert_eq!(query_param(&to, "error").as_deref(), Some(error), "{name}={value}");
        assert_eq!(query_param(&to, "state").as_deref(), Some("st-1"));
    }
}

#[tokio::test]
async fn clients_authenticate_and_machines_get_tokens_of_their_own() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let client = confidential(&app, &admin).await;
    let wrong = Client { id: client.id.clone(), secret: Some("wrong".repeat(9)) };
    oauth_error(
        token(&app, &wrong, &[("grant_type", "client_credentials")]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let posted = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "email"),
            ("client_id", &client.id),
            ("client_secret", client.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    let machine: Value = posted.json().await.unwrap();
    let claims = jwt_payload(machine["access_token"].as_str().unwrap());
    assert_eq!(
        (&claims["sub"], &claims["client_id"], &claims["scope"]),
        (&json!(client.id), &json!(client.id), &json!("email"))
    );
    assert!(machine.get("refresh_token").is_none() && machine.get("id_token").is_none());
    let inspected: Value = app
        .client
        .post(app.url("/oauth2/introspect"))
        .header("authorization", client.basic())
        .form(&[("token", machine["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((&inspected["active"], &inspected["client_id"]), (&json!(true), &json!(client.id)));
    oauth_error(
        token(&app, &client, &[("grant_type", "client_credentials"), ("scope", "openid")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
    )
    .await;
    oauth_error(
        token(&app, &client, &[("grant_type", "password")]).await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    )
    .await;

    let public = json!({"name": "SPA", "redirect_uris": [REDIRECT], "confidential": false, "grant_types": ["client_credentials"]});
    assert_problem(
        app.post_json("/admin/clients", &public, Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let insecure = json!({"name": "Bad", "redirect_uris": ["http://app.example.com/cb"]});
    assert_problem(
        app.post_json("/admin/clients", &insecure, Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn admins_manage_clients_at_runtime_and_a_change_acts_at_once() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (_, user) = app.logged_in_user("ann@example.com").await;
    assert_problem(app.get("/admin/clients", Some(&user)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let client = confidential(&app, &admin).await;
    let listed: Value = app.get("/admin/clients", Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["clients"][0]["client_id"], client.id.as_str());
    assert!(listed["clients"][0].get("client_secret").is_none(), "a secret is shown once");

    let patched = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/admin/clients/{}", client.id),
            &json!({"name": "Renamed", "first_party": true}),
            Some(&admin),
        )
        .await;
    let patched: Value = patched.json().await.unwrap();
    assert_eq!((&patched["name"], &patched["first_party"]), (&json!("Renamed"), &json!(true)));

    let rotated: Value = app
        .post_json(&format!("/admin/clients/{}/secret", client.id), &json!({}), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let fresh = Client { id: client.id.clone(), secret: rotated["client_secret"].as_str().map(str::to_owned) };
    oauth_error(
        token(&app, &client, &[("grant_type", "client_credentials")]).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    )
    .await;
    let machine: Value = token(&app, &fresh, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let access = machine["access_token"].as_str().unwrap().to_owned();

    assert_eq!(
        app.delete(&format!("/admin/clients/{}", client.id), Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );
    let inspected = app
        .client
        .post(app.url("/oauth2/introspect"))
        .header("authorization", fresh.basic())
        .form(&[("token", &access)])
        .send()
        .await
        .unwrap();
    assert_eq!(inspected.status(), StatusCode::UNAUTHORIZED, "the client is gone");
    assert_problem(
        app.get(&format!("/admin/clients/{}", client.id), Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    app.count_reaches(Stored::AuditEventsStartingWith("admin.client_"), 4).await;
}

#[tokio::test]
async fn logging_out_ends_the_browser_session_and_every_client_session_it_granted() {
    let app = spawn_app().await;
    let (client, browser, tokens) = signed_in(&app, "ann@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let hint = tokens["id_token"].as_str().unwrap();

    let mut bad = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    bad.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "https://evil.example/");
    let refused = browser.get(bad.as_str()).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "an unregistered address is never followed");
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK, "and nothing ended");

    // The hint of one browser's session, opened in another browser that has a session: asked.
    let other = Browser::new(&app);
    let (_, challenge) = pkce();
    let client_b = Client { id: client.id.clone(), secret: None };
    authorize(
        &app,
        &other,
        &authorize_url(&app, &client_b, &challenge, &[("login_hint", "ann@example.com")]),
        "ann@example.com",
    )
    .await;
    let mut elsewhere = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    elsewhere.query_pairs_mut().append_pair("id_token_hint", hint);
    let asked = other.get(elsewhere.as_str()).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains("action=\"logout\""), "a confirmation page");
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::OK, "nothing ended without asking");

    let mut url = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/bye")
        .append_pair("state", "s-9");
    let out = browser.get(url.as_str()).await;
    assert_eq!(location(&out), "http://127.0.0.1:9/bye?state=s-9");
    assert_eq!(userinfo(&app, access).await.status(), StatusCode::UNAUTHORIZED);
    let refresh = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())],
    )
    .await;
    oauth_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let (_, challenge) = pkce();
    let silent = browser.get(&authorize_url(&app, &client, &challenge, &[("prompt", "none")])).await;
    assert_eq!(query_param(&location(&silent), "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_fresh_login_which_keeps_the_apps_within_reach_of_logout() {
    let app = spawn_app().await;
    let (client, browser, tokens) = signed_in(&app, "ann@example.com").await;
    let (_, challenge) = pkce();
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let response = browser.get(&authorize_url(&app, &client, &challenge, &[extra])).await;
        let to = location(&response);
        assert!(to.starts_with(&app.url("/login?")), "{extra:?}: {to}");
        let next = query_param(&to, "next").unwrap();
        assert!(!next.contains("prompt=login") && !next.contains("max_age"), "a login satisfies it: {next}");
    }
    // After a fresh login in the same browser, logging out still reaches the app's session.
    let (verifier, challenge) = pkce();
    let back =
        authorize(&app, &browser, &authorize_url(&app, &client, &challenge, &[("prompt", "login")]), "ann@example.com")
            .await;
    let later: Value =
        redeem(&app, &client, &query_param(&back, "code").unwrap(), &verifier).await.json().await.unwrap();
    let page = browser.get(&app.url("/login")).await.text().await.unwrap();
    let form = field(&page, "form").unwrap();
    assert_eq!(browser.post_form(&app.url("/logout"), &[("form", &form)]).await.status(), StatusCode::OK);
    assert_eq!(userinfo(&app, later["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(),
        StatusCode::UNAUTHORIZED,
        "the grant of the replaced session moved, and ended"
    );
}

#[tokio::test]
async fn a_revocation_ends_the_session_and_another_client_s_token_is_left_alone() {
    let app = spawn_app().await;
    let (client, _, tokens) = signed_in(&app, "ann@example.com").await;
    let admin = app.admin("second-admin@example.com").await;
    let other = confidential(&app, &admin).await;
    let foreign = app
        .client
        .post(app.url("/oauth2/revoke"))
        .header("authorization", other.basic())
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    oauth_error(foreign, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(), StatusCode::OK, "left alone");
    let revoked = app
        .client
        .post(app.url("/oauth2/revoke"))
        .header("authorization", client.basic())
        .form(&[("token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(userinfo(&app, tokens["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_apps_session_is_told_to_webhooks_as_a_login_naming_the_client() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let hook = json!({"url": "https://93.184.216.34/in", "events": ["user.login"]});
    assert_eq!(app.post_json("/admin/webhooks", &hook, Some(&admin)).await.status(), StatusCode::CREATED);

    let (client, _, _) = signed_in(&app, "ann@example.com").await;

    let logins = Jobs { topic: Some("user.login"), ..Jobs::of("webhook") };
    let with_client = format!("\"client_id\":\"{}\"", client.id);
    app.count_reaches(Stored::Jobs(Jobs { payload_has: Some(&with_client), ..logins }), 1).await;
    // The hosted page's login, and the client's.
    app.count_reaches(Stored::Jobs(Jobs { payload_has: Some("\"email\":\"ann@example.com\""), ..logins }), 2).await;
}

/// `org_hint` is the app's word, trusted only as far as the person's memberships go: a hint
/// naming an organization they are not in (another's, guessed or forged) puts none of it in the
/// tokens; the grant falls back to the person's only organization.
#[tokio::test]
async fn an_org_hint_naming_another_s_organization_grants_nothing_of_it() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (_, bob) = app.logged_in_user("bob@example.com").await;
    for (token, slug) in [(&ann, "ann-co"), (&bob, "bob-co")] {
        let made = app.post_json("/orgs", &json!({"name": slug, "slug": slug}), Some(token)).await;
        assert_eq!(made.status(), StatusCode::CREATED);
    }
    let body = json!({"name": "Teams", "redirect_uris": [REDIRECT], "scopes": ["openid", "org"]});
    let client = register(&app, &admin, body).await;
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &client, &challenge, &[("scope", "openid org"), ("org_hint", "bob-co")]);
    let url = url.replacen("scope=openid+profile+email+offline_access&", "", 1);
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    let tokens: Value =
        redeem(&app, &client, &query_param(&back, "code").unwrap(), &verifier).await.json().await.unwrap();
    let claims = jwt_payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(claims["org"]["slug"], "ann-co", "her own, never bob's: {claims}");
    let info: Value = userinfo(&app, tokens["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(info["org"]["slug"], "ann-co");
}

/// A third-party client the person let read one of her organizations reads no other by naming
/// it in `org_hint`: the organization is agreed to by name, and another is asked about again.
#[tokio::test]
async fn a_consent_to_one_organization_lends_no_other_to_a_third_party_client() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    for slug in ["acme", "beta"] {
        let made = app.post_json("/orgs", &json!({"name": slug.to_uppercase(), "slug": slug}), Some(&ann)).await;
        assert_eq!(made.status(), StatusCode::CREATED);
    }
    let body =
        json!({"name": "Planner", "redirect_uris": [REDIRECT], "scopes": ["openid", "org"], "first_party": false});
    let client = register(&app, &admin, body).await;
    let browser = Browser::new(&app);
    let url_for = |org: &str, extra: &[(&str, &str)]| {
        let (_, challenge) = pkce();
        let mut params = vec![("scope", "openid org"), ("org_hint", org)];
        params.extend_from_slice(extra);
        authorize_url(&app, &client, &challenge, &params).replacen("scope=openid+profile+email+offline_access&", "", 1)
    };
    // She agrees to share acme: asked by name.
    let first = browser.get(&url_for("acme", &[])).await;
    let first = browser.log_in(&location(&first), "ann@example.com", PASSWORD).await;
    let page = browser.get(&location(&first)).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("ACME"), "the consent page names the organization: {html}");
    authorize(&app, &browser, &url_for("acme", &[]), "ann@example.com").await;
    // Asked again for acme: nothing to ask.
    let again = browser.get(&url_for("acme", &[("prompt", "none")])).await;
    assert!(query_param(&location(&again), "code").is_some(), "{}", location(&again));
    // Naming beta: not silently; with prompt=none, consent_required; else the page names it.
    let silently = browser.get(&url_for("beta", &[("prompt", "none")])).await;
    assert_eq!(query_param(&location(&silently), "error").as_deref(), Some("consent_required"));
    let asked = browser.get(&url_for("beta", &[])).await;
    assert_eq!(asked.status(), StatusCode::OK);
    assert!(asked.text().await.unwrap().contains("BETA"));
}
