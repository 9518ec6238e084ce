//! Client registration (RFC 7591/7592) and resource indicators (RFC 8707): a self-registered
//! client is third-party (consent is asked), manages only itself with its registration access
//! token, cannot register for what is an admin's to give, and in `token` mode needs an initial
//! access token an admin issued; a `resource` narrows the access token's `aud` to a listed API.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::{Browser, location, query_param};
use crate::helpers::{Options, PASSWORD, TestApp, jwt_payload, spawn_app, spawn_app_with};
use crate::oauth::{Client, REDIRECT, pkce, token};

const API: &str = "https://api.example.com/";
const MCP: &str = "https://mcp.example.com/mcp";

async fn open_app() -> TestApp {
    let options = Options::default()
        .var("GATEHOUSE_CLIENT_REGISTRATION", "open")
        .var("GATEHOUSE_OAUTH_RESOURCES", &format!("{API},{MCP}"));
    spawn_app_with(options).await
}

/// An authorization request of a client registered for `openid email offline_access`.
fn authorize_url(app: &TestApp, client: &Client, challenge: &str, resources: &[&str]) -> String {
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs([
        ("client_id", client.id.as_str()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid email offline_access"),
        ("state", "st-1"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]);
    url.query_pairs_mut().extend_pairs(resources.iter().map(|r| ("resource", r)));
    url.to_string()
}

async fn register(app: &TestApp, bearer: Option<&str>, metadata: Value) -> reqwest::Response {
    app.post_json("/oauth2/register", &metadata, bearer).await
}

async fn error_of(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap_or_else(|| panic!("an OAuth error: {body}")).to_owned()
}

#[tokio::test]
async fn a_client_registers_itself_is_asked_consent_for_and_manages_only_itself() {
    let app = open_app().await;
    let discovery: Value = app.get("/.well-known/openid-configuration", None).await.json().await.unwrap();
    assert_eq!(discovery["registration_endpoint"], app.url("/oauth2/register"));

    let metadata = json!({
        "client_name": "Desktop agent", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"], "scope": "openid email offline_access",
        "logo_uri": "https://agent.example.com/logo.png", "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
    });
    let response = register(&app, None, metadata.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let registered: Value = response.json().await.unwrap();
    assert!(registered.get("client_secret").is_none(), "a public client has no secret: {registered}");
    assert_eq!(
        (&registered["token_endpoint_auth_method"], &registered["scope"]),
        (&json!("none"), &json!("openid email offline_access"))
    );
    let id = registered["client_id"].as_str().unwrap().to_owned();
    let access = registered["registration_access_token"].as_str().unwrap().to_owned();
    assert_eq!(registered["registration_client_uri"], app.url(&format!("/oauth2/register/{id}")));

    // What an admin would be asked to trust is refused, with RFC 7591's errors.
    for (bad, expected) in [
        (json!({"redirect_uris": ["http://agent.example.com/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://*.example.com/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://agent.example.com/cb#x"]}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["urn:ietf:params:oauth:grant-type:token-exchange"]}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["urn:ietf:params:oauth:grant-type:device_code"]}),
            "invalid_client_metadata",
        ),
        (json!({"redirect_uris": [REDIRECT], "scope": "openid admin"}), "invalid_client_metadata"),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
            "invalid_client_metadata",
        ),
    ] {
        let response = register(&app, None, bad.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(error_of(response, StatusCode::BAD_REQUEST).await, expected, "{bad}");
    }

    // Third-party, whatever it calls itself: the person is asked.
    let admin = app.admin("registry-admin@example.com").await;
    let listed: Value = app.get(&format!("/admin/clients/{id}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(
        (&listed["self_registered"], &listed["first_party"], &listed["introspect"]),
        (&json!(true), &json!(false), &json!(false))
    );
    app.active_user("rita@example.com", None).await;
    let client = Client { id: id.clone(), secret: None };
    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &client, &challenge, &[API, API]);
    let to_login = browser.get(&url).await;
    let logged_in = browser.log_in(&location(&to_login), "rita@example.com", PASSWORD).await;
    let consent = browser.get(&location(&logged_in)).await;
    assert_eq!(consent.status(), StatusCode::OK, "a self-registered client gets a consent page");
    let html = consent.text().await.unwrap();
    assert!(html.contains("Desktop agent registered itself here"), "the page says nobody vouched for it");
    assert!(html.contains("The answer goes to 127.0.0.1"), "and where the answer goes");
    assert!(html.contains(&format!("use {API} as you")), "and the API it would reach");
    let field = |name: &str| crate::browser::field(&html, name).unwrap();
    let (form, request) = (field("form"), field("request"));
    let fields = [("form", form.as_str()), ("request", request.as_str()), ("decision", "allow")];
    let back = location(&browser.post_form(&app.url("/oauth2/consent"), &fields).await);
    let code = query_param(&back, "code").expect("a code");

    // The resource the person granted is the access token's audience.
    let public_token = |form: &[(&str, &str)]| {
        let mut form = form.to_vec();
        form.push(("client_id", id.as_str()));
        app.client.post(app.url("/oauth2/token")).form(&form).send()
    };
    let redeemed = public_token(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", &verifier),
        ("resource", API),
    ])
    .await
    .unwrap();
    assert_eq!(redeemed.status(), StatusCode::OK);
    let tokens: Value = redeemed.json().await.unwrap();
    assert_eq!(jwt_payload(tokens["access_token"].as_str().unwrap())["aud"], API);
    assert_eq!(
        jwt_payload(tokens["id_token"].as_str().unwrap())["aud"],
        id.as_str(),
        "the ID token stays the client's"
    );
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let widened =
        public_token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("resource", MCP)]).await.unwrap();
    assert_eq!(
        error_of(widened, StatusCode::BAD_REQUEST).await,
        "invalid_target",
        "a refresh cannot reach another API"
    );
    let refreshed: Value = public_token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwt_payload(refreshed["access_token"].as_str().unwrap())["aud"], API, "{refreshed}");
    let userinfo = app.get("/oauth2/userinfo", refreshed["access_token"].as_str()).await;
    assert_eq!(userinfo.status(), StatusCode::OK, "a token for an API is still a live token of the session");

    // An API nobody listed is refused at the authorization endpoint. The client that registered
    // itself waits on loopback, on the person's own machine: the refusal goes there, as does
    // a silent request's, so a command-line tool hears it instead of waiting for ever.
    let (_, challenge) = pkce();
    let elsewhere = authorize_url(&app, &client, &challenge, &[API, "https://evil.example.com/"]);
    let refused = browser.get(&elsewhere).await;
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    let to = location(&refused);
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_param(&to, "error").as_deref(), Some("invalid_target"));
    let silent =
        Browser::new(&app).get(&format!("{}&prompt=none", authorize_url(&app, &client, &challenge, &[]))).await;
    assert_eq!(silent.status(), StatusCode::SEE_OTHER);
    assert_eq!(query_param(&location(&silent), "error").as_deref(), Some("login_required"));
    // One that registered a site of its own never has anyone bounced there without the person.
    let site = "https://agent.example.com/cb";
    let registered: Value =
        register(&app, None, json!({"redirect_uris": [site], "token_endpoint_auth_method": "none"}))
            .await
            .json()
            .await
            .unwrap();
    let remote = Client { id: registered["client_id"].as_str().unwrap().to_owned(), secret: None };
    let mut silent = url::Url::parse(&authorize_url(&app, &remote, &challenge, &[])).unwrap();
    let pairs: Vec<(String, String)> = silent.query_pairs().into_owned().filter(|(k, _)| k != "redirect_uri").collect();
    silent
        .query_pairs_mut()
        .clear()
        .extend_pairs(pairs)
        .append_pair("redirect_uri", site)
        .append_pair("prompt", "none");
    let shown = Browser::new(&app).get(silent.as_str()).await;
    assert_eq!(shown.status(), StatusCode::BAD_REQUEST, "no redirect to its site without the person");
    // Another API than the one agreed to asks again.
    let again = browser.get(&authorize_url(&app, &client, &challenge, &[MCP])).await;
    assert_eq!(again.status(), StatusCode::OK, "the consent covered the API it named, not this one");
    assert!(again.text().await.unwrap().contains(&format!("use {MCP} as you")));
    // Its logout with its own hint, in a browser without a session, asks first.
    let mut logout = url::Url::parse(&app.url("/oauth2/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9/bye");
    let asked = Browser::new(&app).get(logout.as_str()).await;
    let status = asked.status();
    let page = asked.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "a confirmation page, not a bounce: {page}");

    // RFC 7592: its token reads, replaces and removes it, and nothing else.
    let path = format!("/oauth2/register/{id}");
    let read = app.get(&path, Some(&access)).await;
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.unwrap();
    assert!(read.get("registration_access_token").is_none() && read["client_name"] == "Desktop agent");
    let other: Value = register(&app, None, json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
        .await
        .json()
        .await
        .unwrap();
    let other_access = other["registration_access_token"].as_str().unwrap();
    for (token, why) in
        [(Some(other_access), "another client's token"), (Some("wrong"), "a wrong token"), (None, "no token")]
    {
        let response = app.get(&path, token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);
    }
    let changed = json!({"client_id": id, "client_name": "Desktop agent 2", "redirect_uris": [REDIRECT, "http://127.0.0.1/cb2"], "token_endpoint_auth_method": "none", "scope": "openid"});
    let replaced = app.send_json(Method::PUT, &path, &changed, Some(&access)).await;
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!((&replaced["client_name"], &replaced["scope"]), (&json!("Desktop agent 2"), &json!("openid")));
    assert_eq!(replaced["grant_types"], json!(["authorization_code"]), "what is left out takes its default");
    let to_secret = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic"});
    let refused = app.send_json(Method::PUT, &path, &to_secret, Some(&access)).await;
    assert_eq!(error_of(refused, StatusCode::BAD_REQUEST).await, "invalid_client_metadata");
    let mismatched =
        json!({"client_id": "someone-else", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    let refused = app.send_json(Method::PUT, &path, &mismatched, Some(&access)).await;
    assert_eq!(error_of(refused, StatusCode::BAD_REQUEST).await, "invalid_client_metadata");
    let admins_client =
        crate::oauth::register(&app, &admin, json!({"name": "Dashboard", "redirect_uris": [REDIRECT]})).await;
    let response = app.get(&format!("/oauth2/register/{}", admins_client.id), Some(&access)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "an admin's client is not reachable this way");
    assert_eq!(app.delete(&path, Some(&access)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, Some(&access)).await.status(), StatusCode::UNAUTHORIZED);
    let gone = public_token(&[("grant_type", "refresh_token"), ("refresh_token", "x")]).await.unwrap();
    assert_eq!(error_of(gone, StatusCode::UNAUTHORIZED).await, "invalid_client");
}

#[tokio::test]
async fn only_an_admins_client_gets_an_api_token_for_itself_and_only_for_a_listed_api() {
    let app = open_app().await;
    let metadata = json!({"client_name": "Reporting job", "grant_types": ["client_credentials"], "scope": "app_data"});
    let registered: Value = register(&app, None, metadata).await.json().await.unwrap();
    assert_eq!(registered["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(registered["client_secret_expires_at"], 0);
    let stranger = Client {
        id: registered["client_id"].as_str().unwrap().to_owned(),
        secret: registered["client_secret"].as_str().map(str::to_owned),
    };
    let own: Value = token(&app, &stranger, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    assert_eq!(jwt_payload(own["access_token"].as_str().unwrap())["aud"], stranger.id.as_str());
    let refused = token(&app, &stranger, &[("grant_type", "client_credentials"), ("resource", MCP)]).await;
    assert_eq!(error_of(refused, StatusCode::BAD_REQUEST).await, "invalid_target", "nobody agreed to it");

    let admin = app.admin("jobs-admin@example.com").await;
    let job = crate::oauth::register(
        &app,
        &admin,
        json!({"name": "Nightly job", "grant_types": ["client_credentials"], "scopes": ["app_data"]}),
    )
    .await;
    let response = token(&app, &job, &[("grant_type", "client_credentials"), ("resource", MCP)]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(jwt_payload(answer["access_token"].as_str().unwrap())["aud"], MCP);
    let unlisted =
        token(&app, &job, &[("grant_type", "client_credentials"), ("resource", "https://other.example.com/")]).await;
    assert_eq!(error_of(unlisted, StatusCode::BAD_REQUEST).await, "invalid_target");
    // The token it got for the API is live where it is checked.
    let introspected: Value = app
        .client
        .post(app.url("/oauth2/introspect"))
        .header("authorization", job.basic())
        .form(&[("token", answer["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((&introspected["active"], &introspected["aud"]), (&json!(true), &json!(MCP)), "{introspected}");
}

#[tokio::test]
async fn registration_is_off_by_default_and_token_mode_needs_an_admins_token_once_per_use() {
    let app = spawn_app().await;
    let discovery: Value = app.get("/.well-known/openid-configuration", None).await.json().await.unwrap();
    assert!(discovery.get("registration_endpoint").is_none());
    let metadata = json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
    assert_eq!(error_of(register(&app, None, metadata.clone()).await, StatusCode::FORBIDDEN).await, "access_denied");
    drop(app);

    let options =
        Options::default().var("GATEHOUSE_CLIENT_REGISTRATION", "token").var("GATEHOUSE_RATE_LIMIT_REGISTER", "6/1h");
    let app = spawn_app_with(options).await;
    let bare: Value = register(&app, None, metadata.clone()).await.json().await.unwrap();
    assert_eq!(bare["error"], "invalid_token");
    assert!(bare["error_description"].as_str().unwrap().contains("initial access token an admin issued"), "{bare}");
    assert_eq!(
        error_of(register(&app, Some("guess"), metadata.clone()).await, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    let admin = app.admin("token-admin@example.com").await;
    let issued =
        app.post_json("/admin/registration-tokens", &json!({"name": "CLI installs", "uses": 1}), Some(&admin)).await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    let issued: Value = issued.json().await.unwrap();
    let initial = issued["token"].as_str().unwrap().to_owned();
    let bad = app.post_json("/admin/registration-tokens", &json!({"name": "", "uses": 0}), Some(&admin)).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, user) = app.logged_in_user("plain@example.com").await;
    let forbidden = app.post_json("/admin/registration-tokens", &json!({"name": "x"}), Some(&user)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);

    // Metadata to fix costs no use; the one use registers one client.
    let wrong = json!({"redirect_uris": ["http://agent.example.com/cb"]});
    assert_eq!(
        error_of(register(&app, Some(&initial), wrong).await, StatusCode::BAD_REQUEST).await,
        "invalid_redirect_uri"
    );
    assert_eq!(register(&app, Some(&initial), metadata.clone()).await.status(), StatusCode::CREATED);
    assert_eq!(
        error_of(register(&app, Some(&initial), metadata.clone()).await, StatusCode::UNAUTHORIZED).await,
        "invalid_token"
    );
    let listed: Value = app.get("/admin/registration-tokens", Some(&admin)).await.json().await.unwrap();
    assert_eq!(listed["tokens"][0]["uses_left"], 0);
    assert!(listed["tokens"][0].get("token").is_none(), "the secret is shown once");
    let id = issued["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/admin/registration-tokens/{id}"), Some(&admin)).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&format!("/admin/registration-tokens/{id}"), Some(&admin)).await.status(),
        StatusCode::NOT_FOUND
    );

    // The per-IP budget (six attempts, four made above) holds whatever the tokens allow.
    let many: Value = app
        .post_json("/admin/registration-tokens", &json!({"name": "many", "uses": 50}), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let many = many["token"].as_str().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..2 {
        statuses.push(register(&app, Some(many), metadata.clone()).await.status());
    }
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CREATED], "{statuses:?}");
    // Past the budget, in RFC 7591's shape like every other answer here, with when to come back.
    let spent = register(&app, Some(many), metadata.clone()).await;
    assert_eq!(spent.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(spent.headers().get("retry-after").is_some());
    assert_eq!(spent.json::<Value>().await.unwrap()["error"], "temporarily_unavailable");
}
