//! The device authorization grant (RFC 8628): a device gets its codes, a person enters the short
//! one on `/device`, logs in and approves or denies, and the device's polls are answered as the
//! RFC says, with its tokens once. (openid-client runs the same flow in `e2e/relying-parties/`,
//! and the page is driven in Chromium with a second factor in `e2e/console/`.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, field, location};
use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};
use crate::oauth::{Client, register};

pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A public client allowed the device grant (`name`), as a CLI would be registered.
async fn cli(app: &TestApp, admin: &str) -> Client {
    let body = json!({
        "name": "Deploy CLI", "confidential": false,
        "grant_types": [DEVICE_GRANT, "refresh_token"],
        "scopes": ["openid", "email", "offline_access"],
    });
    register(app, admin, body).await
}

pub(crate) async fn device_authorization(app: &TestApp, client: &Client, scope: &str) -> reqwest::Response {
    let request = app.client.post(app.url("/oauth2/device_authorization"));
    let request = match client.secret {
        Some(_) => request.header("authorization", client.basic()).form(&[("scope", scope)]),
        None => request.form(&[("client_id", client.id.as_str()), ("scope", scope)]),
    };
    request.send().await.unwrap()
}

async fn start(app: &TestApp, client: &Client) -> Value {
    let response = device_authorization(app, client, "openid email offline_access").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn poll(app: &TestApp, client: &Client, device_code: &str) -> reqwest::Response {
    let form = [("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", client.id.as_str())];
    app.client.post(app.url("/oauth2/token")).form(&form).send().await.unwrap()
}

async fn poll_error(app: &TestApp, client: &Client, device_code: &str) -> String {
    let response = poll(app, client, device_code).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    body["error"].as_str().unwrap().to_owned()
}

/// A browser that arrives with `verification_uri_complete`, logs in as `email` and sees the
/// approval page: the browser and the page's HTML.
pub(crate) async fn to_approval(app: &TestApp, codes: &Value, email: &str) -> (Browser, String) {
    let browser = Browser::new(app);
    let response = browser.get(codes["verification_uri_complete"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = location(&response);
    assert!(login.contains("/login?next="), "{login}");
    let logged_in = browser.log_in(&login, email, PASSWORD).await;
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    let back = location(&logged_in);
    assert!(back.starts_with(&app.url("/device?user_code=")), "{back}");
    let page = browser.get(&back).await;
    assert_eq!(page.status(), StatusCode::OK);
    (browser, page.text().await.unwrap())
}

pub(crate) async fn answer(app: &TestApp, browser: &Browser, html: &str, decision: &str) -> reqwest::Response {
    let (form, code) = (field(html, "form").unwrap(), field(html, "user_code").expect("an approval page"));
    let fields = [("form", form.as_str()), ("user_code", code.as_str()), ("decision", decision)];
    browser.post_form(&app.url("/device"), &fields).await
}

#[tokio::test]
async fn a_device_gets_its_tokens_once_the_person_approves_and_polls_are_paced() {
    let app = spawn_app().await;
    let admin = app.admin("device-admin@example.com").await;
    app.active_user("tv@example.com", None).await;
    let client = cli(&app, &admin).await;

    let discovery: Value = app.get("/.well-known/openid-configuration", None).await.json().await.unwrap();
    assert_eq!(discovery["device_authorization_endpoint"], app.url("/oauth2/device_authorization"));
    assert!(discovery["grant_types_supported"].as_array().unwrap().contains(&json!(DEVICE_GRANT)));

    let codes = start(&app, &client).await;
    let user_code = codes["user_code"].as_str().unwrap();
    let letters: Vec<&str> = user_code.split('-').collect();
    assert!(letters.len() == 2 && letters.iter().all(|half| half.len() == 4), "{user_code}");
    assert!(user_code.chars().all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)), "{user_code}");
    assert_eq!(codes["verification_uri"], app.url("/device"));
    assert_eq!(codes["verification_uri_complete"], format!("{}?user_code={user_code}", app.url("/device")));
    assert_eq!((codes["expires_in"].as_u64(), codes["interval"].as_u64()), (Some(600), Some(5)));
    let device_code = codes["device_code"].as_str().unwrap();

    // Waiting for the person; too fast is told to slow down, and the interval grows by 5 s.
    assert_eq!(poll_error(&app, &client, device_code).await, "authorization_pending");
    assert_eq!(poll_error(&app, &client, device_code).await, "slow_down");
    app.clock.advance(Duration::from_secs(6));
    assert_eq!(poll_error(&app, &client, device_code).await, "slow_down", "the interval is 10 s now, then 15");
    app.clock.advance(Duration::from_secs(11));
    assert_eq!(poll_error(&app, &client, device_code).await, "slow_down");
    app.clock.advance(Duration::from_secs(21));
    assert_eq!(poll_error(&app, &client, device_code).await, "authorization_pending", "20 s kept");

    let (browser, html) = to_approval(&app, &codes, "tv@example.com").await;
    assert!(html.contains("Deploy CLI") && html.contains(user_code), "the page names the client and the code");
    let done = answer(&app, &browser, &html, "allow").await;
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Device connected"));

    app.clock.advance(Duration::from_secs(21));
    let response = poll(&app, &client, device_code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid email offline_access");
    assert!(tokens["refresh_token"].is_string() && tokens["id_token"].is_string());
    let claims: Value = app.get("/oauth2/userinfo", tokens["access_token"].as_str()).await.json().await.unwrap();
    assert_eq!(claims["email"], "tv@example.com");
    // The device's session is its own: it outlives the approving browser's logout.
    let asked = browser.get(&app.url("/oauth2/logout")).await.text().await.unwrap();
    let form = field(&asked, "form").unwrap();
    let out = browser.post_form(&app.url("/oauth2/logout"), &[("form", form.as_str())]).await;
    assert_eq!(out.status(), StatusCode::OK);
    assert_eq!(
        browser.get(&app.url("/device?user_code=BBBB-BBBB")).await.status(),
        StatusCode::SEE_OTHER,
        "logged out"
    );
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", client.id.as_str())];
    let refreshed = app.client.post(app.url("/oauth2/token")).form(&form).send().await.unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);

    // Once only: the device code is spent, and the user code is no longer waiting.
    app.clock.advance(Duration::from_secs(21));
    assert_eq!(poll_error(&app, &client, device_code).await, "invalid_grant");
    let again = Browser::new(&app);
    let login = location(&again.get(codes["verification_uri_complete"].as_str().unwrap()).await);
    let back = location(&again.log_in(&login, "tv@example.com", PASSWORD).await);
    assert_eq!(again.get(&back).await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_denied_expired_or_foreign_request_gives_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("device-admin2@example.com").await;
    app.active_user("kiosk@example.com", None).await;
    let client = cli(&app, &admin).await;

    let denied = start(&app, &client).await;
    let (browser, html) = to_approval(&app, &denied, "kiosk@example.com").await;
    let done = answer(&app, &browser, &html, "deny").await;
    assert_eq!(done.status(), StatusCode::OK);
    assert_eq!(poll_error(&app, &client, denied["device_code"].as_str().unwrap()).await, "access_denied");

    // A code shown too often is void: it was passed round, not typed by the one who asked.
    let shown = start(&app, &client).await;
    let (browser, _) = to_approval(&app, &shown, "kiosk@example.com").await;
    let page = shown["verification_uri_complete"].as_str().unwrap();
    for _ in 1..5 {
        assert_eq!(browser.get(page).await.status(), StatusCode::OK);
    }
    assert_eq!(browser.get(page).await.status(), StatusCode::BAD_REQUEST, "the sixth showing");

    // A client not registered for the grant, or for a scope, is refused its codes.
    let web = register(
        &app,
        &admin,
        json!({"name": "Web", "redirect_uris": ["https://app.example.com/cb"], "scopes": ["openid"]}),
    )
    .await;
    let response = device_authorization(&app, &web, "openid").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    let response = device_authorization(&app, &client, "openid app_data").await;
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_scope");

    // Another client's device code, and an expired one.
    let other = cli(&app, &admin).await;
    let late = start(&app, &client).await;
    let late_code = late["device_code"].as_str().unwrap();
    assert_eq!(poll_error(&app, &other, late_code).await, "invalid_grant");
    app.clock.advance(Duration::from_secs(601));
    assert_eq!(poll_error(&app, &client, late_code).await, "expired_token");

    // The approval form needs its token and this origin.
    let fresh = start(&app, &client).await;
    let (browser, html) = to_approval(&app, &fresh, "kiosk@example.com").await;
    let code = field(&html, "user_code").unwrap();
    let forged = [("form", "forged"), ("user_code", code.as_str()), ("decision", "allow")];
    assert_eq!(browser.post_form(&app.url("/device"), &forged).await.status(), StatusCode::FORBIDDEN);
    app.clock.advance(Duration::from_secs(6));
    assert_eq!(poll_error(&app, &client, fresh["device_code"].as_str().unwrap()).await, "authorization_pending");
}

#[tokio::test]
async fn guessing_user_codes_is_bounded_per_ip_and_account() {
    let app = spawn_app_with(crate::helpers::Options::default().var("GATEHOUSE_RATE_LIMIT_USER_CODE", "3/1m")).await;
    let admin = app.admin("device-admin3@example.com").await;
    app.active_user("guesser@example.com", None).await;
    let client = cli(&app, &admin).await;
    let codes = start(&app, &client).await;

    let browser = Browser::new(&app);
    let guess = app.url("/device?user_code=BBBB-BBBB");
    let login = location(&browser.get(&guess).await);
    assert_eq!(browser.log_in(&login, "guesser@example.com", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    for _ in 0..3 {
        let page = browser.get(&guess).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
    }
    let limited = browser.get(&guess).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    // Even the right code waits now.
    let right = browser.get(codes["verification_uri_complete"].as_str().unwrap()).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(Duration::from_secs(61));
    assert_eq!(browser.get(codes["verification_uri_complete"].as_str().unwrap()).await.status(), StatusCode::OK);
}
