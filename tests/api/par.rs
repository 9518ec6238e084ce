//! Pushed authorization requests (RFC 9126): the request a client pushes is the whole request
//! the authorization endpoint decides, bound to that client, short-lived and good for one code;
//! a push is checked as the authorization endpoint checks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, location, query_param};
use crate::helpers::{Options, TestApp, assert_problem, jwt_payload, spawn_app, spawn_app_with};
use crate::oauth::{Client, REDIRECT, authorize, pkce, redeem, register};

const URN: &str = "urn:ietf:params:oauth:request_uri:";

async fn client(app: &TestApp, admin: &str, name: &str) -> Client {
    let body = json!({
        "name": name, "redirect_uris": [REDIRECT], "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email", "offline_access"],
    });
    register(app, admin, body).await
}

/// The authorization request of these tests, to push with `extra` added.
fn request<'a>(challenge: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid email"),
        ("state", "pushed-state"),
        ("nonce", "pushed-nonce"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

async fn push(app: &TestApp, client: &Client, pairs: &[(&str, &str)]) -> reqwest::Response {
    let request = app.client.post(app.url("/oauth2/par")).header("authorization", client.basic());
    request.form(pairs).send().await.unwrap()
}

/// A pushed request's `request_uri`.
async fn pushed(app: &TestApp, client: &Client, pairs: &[(&str, &str)]) -> String {
    let response = push(app, client, pairs).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["expires_in"], 60);
    let request_uri = answer["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with(URN), "{request_uri}");
    request_uri
}

fn authorize_pushed(app: &TestApp, client_id: &str, request_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([("client_id", client_id), ("request_uri", request_uri)]).extend_pairs(extra);
    url.to_string()
}

/// A page refusing the request, never a redirect.
async fn refused_page(browser: &Browser, url: &str, what: &str) {
    let response = browser.get(url).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
    assert!(response.text().await.unwrap().contains("request_uri"), "{what}");
}

/// The pushed parameters, and only they, make the request, through the login and the consent
/// page (which carry it sealed); it yields one code, its tokens are the pushed scope's; the
/// same `request_uri` again is sent back as an error; it opens for no other client, changed by
/// a character it opens for none, and a minute on it has expired.
#[tokio::test]
async fn a_pushed_request_is_the_whole_request_and_yields_one_code() {
    let app = spawn_app().await;
    let discovery: Value = app.get("/.well-known/openid-configuration", None).await.json().await.unwrap();
    assert_eq!(discovery["pushed_authorization_request_endpoint"], app.url("/oauth2/par"));
    assert_eq!(discovery["require_pushed_authorization_requests"], false);
    let admin = app.admin("root@example.com").await;
    app.active_user("ann@example.com", None).await;
    let (dashboard, other) = (client(&app, &admin, "Dashboard").await, client(&app, &admin, "Other").await);
    let (verifier, challenge) = pkce();
    let request_uri = pushed(&app, &dashboard, &request(&challenge, &[])).await;

    let browser = Browser::new(&app);
    // What the query says beside client_id and request_uri is not the request.
    let ignored =
        [("scope", "openid profile offline_access"), ("state", "changed"), ("redirect_uri", "https://evil.test/")];
    let url = authorize_pushed(&app, &dashboard.id, &request_uri, &ignored);
    let first = browser.get(&url).await;
    assert!(location(&first).contains("/login?"), "to the login first");
    assert!(!location(&first).contains("pushed-state"), "the request goes on sealed: {}", location(&first));
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("pushed-state"));
    let response = redeem(&app, &dashboard, &query_param(&back, "code").unwrap(), &verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid email");
    assert!(tokens.get("refresh_token").is_none(), "offline_access was not pushed");
    assert_eq!(jwt_payload(tokens["id_token"].as_str().unwrap())["nonce"], "pushed-nonce");

    let again = browser.get(&url).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let again = location(&again);
    assert!(again.starts_with(REDIRECT), "{again}");
    assert_eq!(query_param(&again, "error").as_deref(), Some("invalid_request"), "spent: {again}");
    assert!(query_param(&again, "error_description").unwrap().contains("used already"), "{again}");
    assert!(query_param(&again, "code").is_none());

    let fresh = pushed(&app, &dashboard, &request(&pkce().1, &[])).await;
    refused_page(&browser, &authorize_pushed(&app, &other.id, &fresh, &[]), "another client's").await;
    let mut changed = fresh.clone().into_bytes();
    let at = changed.len() - 10;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    refused_page(&browser, &authorize_pushed(&app, &dashboard.id, &changed, &[]), "a changed one").await;
    refused_page(&browser, &authorize_pushed(&app, &dashboard.id, "urn:other", &[]), "a made-up one").await;
    let no_client = format!("{}?request_uri={}", app.url("/oauth2/authorize"), urlencoding(&fresh));
    let response = browser.get(&no_client).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "no client_id");
    app.clock.advance(std::time::Duration::from_secs(61));
    refused_page(&browser, &authorize_pushed(&app, &dashboard.id, &fresh, &[]), "a minute old").await;
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Parameters a case sets (replacing the request's) or adds.
type Change<'a> = Vec<(&'a str, &'a str)>;

/// Every mistake the authorization endpoint would send back or show is the pushing client's
/// RFC 6749 error; a push needs the client's credentials.
#[tokio::test]
async fn a_push_is_checked_as_the_authorization_endpoint_checks_it() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_RESOURCES", "https://mcp.test/ mcp:tools")).await;
    let admin = app.admin("root@example.com").await;
    let dashboard = client(&app, &admin, "Dashboard").await;
    let other = client(&app, &admin, "Other").await;
    let challenge = pkce().1;
    let cases: &[(&str, Change, &str)] = &[
        ("an unregistered redirect URI", vec![("redirect_uri", "https://evil.test/cb")], "invalid_request"),
        ("no PKCE", vec![("code_challenge", "")], "invalid_request"),
        ("PKCE plain", vec![("code_challenge_method", "plain")], "invalid_request"),
        ("a scope not registered", vec![("scope", "openid app_data")], "invalid_scope"),
        ("an unknown scope", vec![("scope", "openid everything")], "invalid_scope"),
        ("an unknown resource", vec![("resource", "https://elsewhere.test/")], "invalid_target"),
        ("a request_uri inside", vec![("request_uri", "urn:x")], "invalid_request"),
        ("a request object", vec![("request", "e30.e30.")], "request_not_supported"),
        ("response_type token", vec![("response_type", "token")], "unsupported_response_type"),
    ];
    for (what, change, error) in cases {
        let mut pairs: Vec<(&str, &str)> = request(&challenge, &[]);
        for (name, value) in change {
            match pairs.iter_mut().find(|(key, _)| key == name) {
                Some(pair) => pair.1 = value,
                None => pairs.push((name, value)),
            }
        }
        let response = push(&app, &dashboard, &pairs).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], *error, "{what}: {body}");
    }
    let mut pushing = request(&challenge, &[("resource", "https://MCP.test:443")]);
    let response = push(&app, &dashboard, &pushing).await;
    assert_eq!(response.status(), StatusCode::CREATED, "a listed resource, in another spelling");

    let mut as_other = pushing.clone();
    as_other.push(("client_id", other.id.as_str()));
    assert_eq!(push(&app, &dashboard, &as_other).await.status(), StatusCode::UNAUTHORIZED, "another client's id");
    pushing.push(("client_id", dashboard.id.as_str()));
    let unauthenticated = app.client.post(app.url("/oauth2/par")).form(&request(&challenge, &[])).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED, "no credentials");
    let wrong = Client { id: dashboard.id.clone(), secret: Some("not-the-secret".into()) };
    assert_eq!(push(&app, &wrong, &pushing).await.status(), StatusCode::UNAUTHORIZED, "a wrong secret");
    let json_body = app.client.post(app.url("/oauth2/par")).header("authorization", dashboard.basic());
    let response = json_body.json(&json!({"response_type": "code"})).send().await.unwrap();
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
}

/// With `GATEHOUSE_REQUIRE_PAR`, discovery says so and a request not pushed goes back to its
/// client as `invalid_request`; a pushed one still works. Spent on one replica, a pushed
/// request is spent on every one.
#[tokio::test]
async fn a_server_requiring_pushed_requests_takes_no_other_and_a_spent_one_is_spent_everywhere() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_REQUIRE_PAR", "true")).await;
    let discovery: Value = app.get("/.well-known/openid-configuration", None).await.json().await.unwrap();
    assert_eq!(discovery["require_pushed_authorization_requests"], true);
    let admin = app.admin("root@example.com").await;
    app.active_user("ann@example.com", None).await;
    let dashboard = client(&app, &admin, "Dashboard").await;
    let browser = Browser::new(&app);
    let (_, challenge) = pkce();

    let plain = crate::oauth::authorize_url(&app, &dashboard, &challenge, &[]);
    let answer = browser.get(&plain).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let back = location(&answer);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));

    let (verifier, challenge) = pkce();
    let request_uri = pushed(&app, &dashboard, &request(&challenge, &[])).await;
    let url = authorize_pushed(&app, &dashboard.id, &request_uri, &[]);
    let back = authorize(&app, &browser, &url, "ann@example.com").await;
    let code = query_param(&back, "code").expect("a code");
    assert_eq!(redeem(&app, &dashboard, &code, &verifier).await.status(), StatusCode::OK);

    let Some(replica) = app.replica().await else { return };
    let request_uri = pushed(&app, &dashboard, &request(&pkce().1, &[])).await;
    let url = authorize_pushed(&app, &dashboard.id, &request_uri, &[]);
    let back = authorize(&app, &browser, &url, "-").await;
    assert!(query_param(&back, "code").is_some(), "{back}");
    // The same browser (its session cookie is the host's, whichever port) at the other replica.
    let on_replica = authorize_pushed(&replica, &dashboard.id, &request_uri, &[]);
    let back = authorize(&replica, &browser, &on_replica, "-").await;
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"), "spent on the other replica: {back}");
    assert!(query_param(&back, "error_description").unwrap().contains("used already"), "{back}");
}
