//! The door list: every way a caller is granted or shown an organization, each asked for a
//! member in four situations: a member the organization admits (the control: every door opens),
//! a member removed, a member without the second factor the policy requires, and a member whose
//! login method the policy refuses. Only the first opens any door. `docs/SECURITY.md` shows
//! [`DOORS`] as this file reads it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, query_param};
use crate::device::{DEVICE_GRANT, answer, device_authorization, to_approval};
use crate::helpers::{Options, PASSWORD, TestApp, jwt_payload, spawn_app_with};
use crate::oauth::{Client, authorize, authorize_url, pkce, redeem, register, token};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";
const MEMBER: &str = "mia@example.com";

/// A way to be granted or shown an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Door {
    OrgRoutes,
    Switch,
    LoginNamingIt,
    ForwardOrgRule,
    ForwardActiveOrg,
    AccessToken,
    CodeGrant,
    PushedCodeGrant,
    IdToken,
    Userinfo,
    Introspection,
    DeviceGrant,
    TokenExchange,
    MemberKey,
}

/// Every door, with where it is and what opening it means.
const DOORS: [(Door, &str, &str); 14] = [
    (Door::OrgRoutes, "`GET /orgs/{org}` and every organization route", "200 instead of the policy's 403"),
    (Door::Switch, "`POST /auth/org`", "the session enters it"),
    (Door::LoginNamingIt, "`POST /auth` with `org`", "the login enters it"),
    (Door::ForwardOrgRule, "`GET /auth/forward` at an `org:` rule", "200 with `Remote-Org`"),
    (Door::ForwardActiveOrg, "`GET /auth/forward` elsewhere, the session's active organization", "`Remote-Org`"),
    (Door::AccessToken, "gatehouse's access token (`POST /auth/refresh`)", "the `org` claim"),
    (Door::CodeGrant, "the code grant with `scope=org` and `org_hint`", "the ID token's `org`"),
    (Door::PushedCodeGrant, "the same request pushed first (`POST /oauth2/par`)", "the ID token's `org`"),
    (Door::IdToken, "an ID token of a client's refresh", "the `org` claim"),
    (Door::Userinfo, "`GET /oauth2/userinfo`", "`org`"),
    (Door::Introspection, "`POST /oauth2/introspect`", "`org`"),
    (Door::DeviceGrant, "the device grant with `scope=org`", "the ID token's `org`"),
    (Door::TokenExchange, "token exchange, introspected by the audience", "`org`"),
    (Door::MemberKey, "a member's API key at an `org:` rule", "200 with `Remote-Org`"),
];

/// What became of the member before the doors are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Situation {
    Admitted,
    Removed,
    NoSecondFactor,
    MethodRefused,
}

/// The door list as `docs/SECURITY.md` shows it.
fn markdown() -> String {
    let mut table = String::from("| door | what opening it grants or shows |\n|---|---|\n");
    for (_, door, opened) in DOORS {
        table.push_str(&format!("| {door} | {opened} |\n"));
    }
    table
}

/// The member's credentials and the apps, made while the member is admitted.
struct World {
    app: TestApp,
    owner: String,
    member_id: String,
    session: String,
    refresh: String,
    key: String,
    portal: Client,
    billing: Client,
    client_access: String,
    client_refresh: String,
}

fn portal_body() -> Value {
    json!({
        "name": "Portal", "redirect_uris": [crate::oauth::REDIRECT], "first_party": true,
        "grant_types": ["authorization_code", "refresh_token", "client_credentials", DEVICE_GRANT, EXCHANGE],
        "scopes": ["openid", "email", "org", "offline_access"],
    })
}

async fn world() -> World {
    let app = spawn_app_with(
        Options::default()
            .var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")
            .var("GATEHOUSE_FORWARD_RULES", "app.test=org:acme"),
    )
    .await;
    let admin = app.admin("root@example.com").await;
    let (_, owner) = app.logged_in_user("olga@example.com").await;
    let member = app.active_user(MEMBER, None).await;
    let member_id = member["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_json("/orgs", &json!({"name": "Acme", "slug": "acme"}), Some(&owner)).await.status(), 201);
    crate::orgs::add_member(&app, "acme", &member, "member").await;
    let login = app.post_json("/auth", &json!({"email": MEMBER, "password": PASSWORD, "org": "acme"}), None).await;
    let login: Value = login.json().await.unwrap();
    let (session, refresh) = (login["access_token"].as_str().unwrap(), login["refresh_token"].as_str().unwrap());
    let key = app.post_json("/user/api-keys", &json!({"name": "ci"}), Some(session)).await;
    let key = key.json::<Value>().await.unwrap()["key"].as_str().unwrap().to_owned();
    let portal = register(&app, &admin, portal_body()).await;
    let billing = register(
        &app,
        &admin,
        json!({"name": "Billing", "grant_types": ["client_credentials"], "scopes": ["openid", "org"]}),
    )
    .await;
    let tokens = code_grant(&app, &portal).await;
    World {
        member_id,
        session: session.to_owned(),
        refresh: refresh.to_owned(),
        key,
        client_access: tokens["access_token"].as_str().unwrap().to_owned(),
        client_refresh: tokens["refresh_token"].as_str().unwrap().to_owned(),
        portal,
        billing,
        owner,
        app,
    }
}

/// The member through the code flow for the portal, naming acme.
async fn code_grant(app: &TestApp, portal: &Client) -> Value {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let extra = [("scope", "openid email org offline_access"), ("org_hint", "acme")];
    let mut url = url::Url::parse(&authorize_url(app, portal, &challenge, &[])).unwrap();
    let kept: Vec<(String, String)> =
        url.query_pairs().filter(|(k, _)| k != "scope").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    url.query_pairs_mut().clear().extend_pairs(kept).extend_pairs(extra);
    let back = authorize(app, &browser, url.as_str(), MEMBER).await;
    let tokens = redeem(app, portal, &query_param(&back, "code").unwrap(), &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    tokens.json().await.unwrap()
}

/// The same, pushed first: the browser carries only the `request_uri`.
async fn pushed_code_grant(app: &TestApp, portal: &Client) -> Value {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let request = [
        ("response_type", "code"),
        ("redirect_uri", crate::oauth::REDIRECT),
        ("scope", "openid email org offline_access"),
        ("org_hint", "acme"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let pushed = app.client.post(app.url("/oauth2/par")).header("authorization", portal.basic()).form(&request);
    let pushed: Value = pushed.send().await.unwrap().json().await.unwrap();
    let mut url = url::Url::parse(&app.url("/oauth2/authorize")).unwrap();
    let request_uri = pushed["request_uri"].as_str().expect("a request_uri");
    url.query_pairs_mut().extend_pairs([("client_id", portal.id.as_str()), ("request_uri", request_uri)]);
    let back = authorize(app, &browser, url.as_str(), MEMBER).await;
    let tokens = redeem(app, portal, &query_param(&back, "code").unwrap(), &verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    tokens.json().await.unwrap()
}

fn org_of(token: &str) -> Option<String> {
    jwt_payload(token)["org"]["slug"].as_str().map(str::to_owned)
}

async fn introspect(app: &TestApp, asker: &Client, token: &str) -> Value {
    let request = app.client.post(app.url("/oauth2/introspect")).header("authorization", asker.basic());
    request.form(&[("token", token)]).send().await.unwrap().json().await.unwrap()
}

async fn forward(app: &TestApp, host: &str, credential: &str) -> reqwest::Response {
    let request = app.client.get(app.url("/auth/forward")).bearer_auth(credential);
    let request = request.header("x-forwarded-proto", "https").header("x-forwarded-host", host);
    request.header("x-forwarded-uri", "/").send().await.unwrap()
}

fn remote_org(response: &reqwest::Response) -> Option<String> {
    response.headers().get("remote-org").map(|v| v.to_str().unwrap().to_owned())
}

/// Whether `door` grants or shows acme to the member now.
async fn opens(world: &World, door: Door) -> bool {
    let app = &world.app;
    match door {
        Door::OrgRoutes => app.get("/orgs/acme", Some(&world.session)).await.status() == StatusCode::OK,
        Door::Switch => {
            let switched = app.post_json("/auth/org", &json!({"org": "acme"}), Some(&world.session)).await;
            switched.status() == StatusCode::OK
        }
        Door::LoginNamingIt => {
            let login = json!({"email": MEMBER, "password": PASSWORD, "org": "acme"});
            app.post_json("/auth", &login, None).await.status() == StatusCode::OK
        }
        Door::ForwardOrgRule => {
            let answer = forward(app, "app.test", &world.session).await;
            answer.status() == StatusCode::OK && remote_org(&answer).as_deref() == Some("acme")
        }
        Door::ForwardActiveOrg => {
            let answer = forward(app, "other.test", &world.session).await;
            assert_eq!(answer.status(), StatusCode::OK, "a login passes where no rule asks for more");
            remote_org(&answer).is_some()
        }
        Door::AccessToken => {
            let refreshed = app.post_json("/auth/refresh", &json!({"refresh_token": world.refresh}), None).await;
            let refreshed: Value = refreshed.json().await.unwrap();
            org_of(refreshed["access_token"].as_str().unwrap()).is_some()
        }
        Door::CodeGrant => org_of(code_grant(app, &world.portal).await["id_token"].as_str().unwrap()).is_some(),
        Door::PushedCodeGrant => {
            org_of(pushed_code_grant(app, &world.portal).await["id_token"].as_str().unwrap()).is_some()
        }
        Door::IdToken => {
            let form = [("grant_type", "refresh_token"), ("refresh_token", world.client_refresh.as_str())];
            let refreshed: Value = token(app, &world.portal, &form).await.json().await.unwrap();
            org_of(refreshed["id_token"].as_str().expect("an ID token")).is_some()
        }
        Door::Userinfo => {
            let info: Value = app.get("/oauth2/userinfo", Some(&world.client_access)).await.json().await.unwrap();
            assert_eq!(info["sub"], json!(world.member_id), "{info}");
            info.get("org").is_some()
        }
        Door::Introspection => {
            let seen = introspect(app, &world.portal, &world.client_access).await;
            assert_eq!(seen["active"], true, "{seen}");
            seen.get("org").is_some()
        }
        Door::DeviceGrant => {
            let codes: Value = device_authorization(app, &world.portal, "openid org").await.json().await.unwrap();
            let (browser, html) = to_approval(app, &codes, MEMBER).await;
            answer(app, &browser, &html, "allow").await;
            let form = [("grant_type", DEVICE_GRANT), ("device_code", codes["device_code"].as_str().unwrap())];
            let tokens: Value = token(app, &world.portal, &form).await.json().await.unwrap();
            org_of(tokens["id_token"].as_str().expect("an ID token")).is_some()
        }
        Door::TokenExchange => {
            let actor: Value =
                token(app, &world.portal, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
            let form = [
                ("grant_type", EXCHANGE),
                ("subject_token", world.client_access.as_str()),
                ("subject_token_type", ACCESS),
                ("actor_token", actor["access_token"].as_str().unwrap()),
                ("actor_token_type", ACCESS),
                ("audience", world.billing.id.as_str()),
            ];
            let exchanged: Value = token(app, &world.portal, &form).await.json().await.unwrap();
            let seen = introspect(app, &world.billing, exchanged["access_token"].as_str().expect("a token")).await;
            assert_eq!(seen["active"], true, "{seen}");
            seen.get("org").is_some()
        }
        Door::MemberKey => {
            let answer = forward(app, "app.test", &world.key).await;
            answer.status() == StatusCode::OK && remote_org(&answer).as_deref() == Some("acme")
        }
    }
}

async fn the_doors_in(situation: Situation) {
    let world = world().await;
    let app = &world.app;
    let owner = world.owner.as_str();
    let policy = |policy: Value| async move {
        let body = json!({ "policy": policy });
        app.send_json(reqwest::Method::PATCH, "/orgs/acme", &body, Some(owner)).await
    };
    match situation {
        Situation::Admitted => {}
        Situation::Removed => {
            let removed = app.delete(&format!("/orgs/acme/members/{}", world.member_id), Some(&world.owner)).await;
            assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        }
        Situation::NoSecondFactor => assert_eq!(policy(json!({"mfa_required": true})).await.status(), StatusCode::OK),
        Situation::MethodRefused => {
            assert_eq!(policy(json!({"login_methods": ["passkey"]})).await.status(), StatusCode::OK);
        }
    }
    let mut wrong = Vec::new();
    for (door, name, _) in DOORS {
        let opened = opens(&world, door).await;
        if opened != (situation == Situation::Admitted) {
            wrong.push(format!("{name}: {}", if opened { "opened" } else { "stayed shut" }));
        }
    }
    assert!(wrong.is_empty(), "{situation:?}: {wrong:?}");
}

#[tokio::test]
async fn every_door_opens_to_an_admitted_member() {
    the_doors_in(Situation::Admitted).await;
}

#[tokio::test]
async fn no_door_opens_to_a_removed_member() {
    the_doors_in(Situation::Removed).await;
}

#[tokio::test]
async fn no_door_opens_to_a_member_without_the_second_factor_the_policy_requires() {
    the_doors_in(Situation::NoSecondFactor).await;
}

#[tokio::test]
async fn no_door_opens_to_a_member_whose_login_method_the_policy_refuses() {
    the_doors_in(Situation::MethodRefused).await;
}

/// `docs/SECURITY.md` lists the doors this file asks.
#[test]
fn the_security_document_lists_the_doors() {
    let document = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/SECURITY.md")).unwrap();
    assert!(document.contains(&markdown()), "docs/SECURITY.md must hold this list:\n{}", markdown());
}
