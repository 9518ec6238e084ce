//! Single sign-on through an organization's own OpenID Connect provider: panva's
//! `oidc-provider` (`e2e/oidc/provider.mjs`), run locally, as the organization's provider. The
//! connection is made first (its redirect URI names its id), then the provider is started
//! knowing that redirect URI, then the connection is pointed at it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dns::DnsServer;
use crate::helpers::{Options, TestApp, assert_problem, spawn_app_with};
use crate::social::{APP, Node, VERIFIER, browser, challenge, follow, param, servers_available, start_node};
use crate::stored::Stored;

const SECRET: &str = "gatehouse-secret";

struct World {
    app: TestApp,
    idp: Node,
    owner: String,
    connection: Value,
    dns: DnsServer,
}

async fn app(extra: &[(&str, &str)]) -> (TestApp, DnsServer, String) {
    let dns = DnsServer::start().await;
    let mut options =
        Options::default().var("GATEHOUSE_REDIRECT_ALLOW", APP).var("GATEHOUSE_DNS_RESOLVER", &dns.address.to_string());
    for (name, value) in extra {
        options = options.var(name, value);
    }
    let app = spawn_app_with(options).await;
    let (_, owner) = app.logged_in_user("owner@example.com").await;
    let created = app.post_json("/orgs", &json!({"name": "Acme", "slug": "acme"}), Some(&owner)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    (app, dns, owner)
}

/// The app (private addresses allowed: the provider is on loopback), its organization, a
/// connection and the provider, wired together.
async fn world() -> Option<World> {
    if !servers_available() {
        return None;
    }
    let (app, dns, owner) = app(&[("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "true")]).await;
    // A placeholder issuer: nothing is fetched until the first login.
    let body = json!({"issuer": "http://127.0.0.1:9", "client_id": "gatehouse", "client_secret": SECRET});
    let added = app.post_json("/orgs/acme/sso/oidc", &body, Some(&owner)).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let connection: Value = added.json().await.unwrap();
    let idp = start_node("provider.mjs", &[("REDIRECT_URIS", connection["redirect_uri"].as_str().unwrap().to_owned())]);
    let issuer = idp.ready["issuer"].as_str().unwrap().to_owned();
    let path = format!("/orgs/acme/sso/{}", connection["id"].as_str().unwrap());
    let alone = app.send_json(reqwest::Method::PATCH, &path, &json!({"issuer": issuer}), Some(&owner)).await;
    let problem = assert_problem(alone, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "client_secret", "a new issuer takes its own secret: {problem}");
    let change = json!({"issuer": issuer, "client_secret": SECRET});
    let changed = app.send_json(reqwest::Method::PATCH, &path, &change, Some(&owner)).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let connection = changed.json().await.unwrap();
    Some(World { app, idp, owner, connection, dns })
}

impl World {
    fn issuer(&self) -> &str {
        self.idp.ready["issuer"].as_str().unwrap()
    }

    async fn next_user(&self, sub: &str) {
        let answer = reqwest::Client::new().post(format!("{}/_test/login", self.issuer())).json(&json!({"sub": sub}));
        assert_eq!(answer.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    }

    async fn tamper(&self, change: Value) {
        let answer = reqwest::Client::new().post(format!("{}/_test/tamper", self.issuer())).json(&change);
        assert_eq!(answer.send().await.unwrap().status(), StatusCode::NO_CONTENT);
    }

    /// A whole browser login through the connection, started by the app (with its challenge):
    /// where it ends at the app.
    async fn log_in(&self) -> url::Url {
        let login = self.connection["login_url"].as_str().unwrap();
        let start = format!("{login}?redirect_to=http://app.test/done&code_challenge={}", challenge());
        follow(&browser(), &start, false).await
    }

    async fn exchange(&self, landed: &url::Url) -> reqwest::Response {
        let code = param(landed, "code").unwrap_or_else(|| panic!("no code at {landed}"));
        self.app.post_json("/auth/exchange", &json!({"code": code, "code_verifier": VERIFIER}), None).await
    }

    async fn verify_domain(&self) {
        let claimed =
            self.app.post_json("/orgs/acme/domains", &json!({"domain": "acme.test"}), Some(&self.owner)).await;
        let claimed: Value = claimed.json().await.unwrap();
        let challenge = &claimed["challenge"];
        self.dns.publish_txt(challenge["name"].as_str().unwrap(), challenge["value"].as_str().unwrap()).await;
        let verified = self.app.post_json("/orgs/acme/domains/acme.test/verify", &json!({}), Some(&self.owner)).await;
        assert_eq!(verified.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_person_at_the_verified_domain_logs_in_through_the_organizations_provider_and_joins_it() {
    let Some(world) = world().await else { return };
    let connection = &world.connection;
    let id = connection["id"].as_str().unwrap();
    assert_eq!(connection["type"], "oidc");
    assert_eq!(connection["idp"]["issuer"], world.issuer());
    assert_eq!(connection["idp"]["client_id"], "gatehouse");
    assert_eq!(connection["redirect_uri"], world.app.url(&format!("/sso/oidc/{id}/callback")));
    assert_eq!(connection["login_url"], world.app.url(&format!("/sso/oidc/{id}/login")));
    assert!(connection.get("acs_url").is_none(), "no SAML field: {connection}");
    // The secret is never shown, nor kept in the clear.
    assert!(!connection.to_string().contains(SECRET), "{connection}");
    let listed = world.app.get("/orgs/acme/sso", Some(&world.owner)).await.text().await.unwrap();
    assert!(listed.contains(id) && !listed.contains(SECRET), "{listed}");
    let clear = Stored::InTheClear { table: "sso_connections", columns: &["settings"], text: SECRET };
    world.app.count_reaches(clear, 0).await;
    world.app.count_reaches(Stored::SsoConnections(Some("oidc")), 1).await;

    world.verify_domain().await;
    world.next_user("ann").await;
    let landed = world.log_in().await;
    assert_eq!(landed.path(), "/done", "{landed}");
    let tokens = world.exchange(&landed).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    let tokens: Value = tokens.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let me: Value = world.app.get("/user", Some(token)).await.json().await.unwrap();
    assert_eq!(me["email"], "ann@acme.test");
    assert_eq!(me["email_verified"], true, "the organization vouches for its domain: {me}");
    let members: Value = world.app.get("/orgs/acme/members", Some(&world.owner)).await.json().await.unwrap();
    let ann = members["members"].as_array().unwrap().iter().find(|m| m["account"]["email"] == "ann@acme.test").cloned();
    assert_eq!(ann.expect("ann is a member")["role"], "member", "{members}");

    // Her next login finds the same account, by (connection, sub).
    let again = world.log_in().await;
    let tokens: Value = world.exchange(&again).await.json().await.unwrap();
    let me_again: Value = world.app.get("/user", tokens["access_token"].as_str()).await.json().await.unwrap();
    assert_eq!(me_again["id"], me["id"]);
    world.app.count_reaches(Stored::Identities, 1).await;

    // A login started before the issuer changes finishes nowhere (here the same server under
    // another spelling of its issuer: to gatehouse, another provider).
    let login = world.connection["login_url"].as_str().unwrap();
    let pending = browser();
    let at_callback = follow(&pending, &format!("{login}?redirect_to=http://app.test/done"), true).await;
    let path = format!("/orgs/acme/sso/{id}");
    let respelled = json!({"issuer": format!("{}/", world.issuer()), "client_secret": SECRET});
    let changed = world.app.send_json(reqwest::Method::PATCH, &path, &respelled, Some(&world.owner)).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let finished = pending.get(at_callback).send().await.unwrap();
    assert_problem(finished, StatusCode::BAD_REQUEST, "oidc_state_invalid").await;
    let back = json!({"issuer": world.issuer(), "client_secret": SECRET});
    let changed = world.app.send_json(reqwest::Method::PATCH, &path, &back, Some(&world.owner)).await;
    assert_eq!(changed.status(), StatusCode::OK);

    // With sso_required on, her password would not do; her provider still does.
    let policy = json!({"policy": {"sso_required": true}});
    let switched = world.app.send_json(reqwest::Method::PATCH, "/orgs/acme", &policy, Some(&world.owner)).await;
    assert_eq!(switched.status(), StatusCode::OK);
    let landed = world.log_in().await;
    assert_eq!(world.exchange(&landed).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_forged_or_misdirected_answer_of_the_provider_logs_nobody_in() {
    let Some(world) = world().await else { return };
    world.verify_domain().await;
    world.next_user("ann").await;
    // An ID token for another client.
    world.tamper(json!({"aud": "other"})).await;
    let landed = world.log_in().await;
    assert_eq!(param(&landed, "error").as_deref(), Some("oidc_failed"), "{landed}");
    assert!(param(&landed, "code").is_none());
    // Signed by a key the provider does not publish.
    world.tamper(json!({"sign_with_unknown_key": true})).await;
    let landed = world.log_in().await;
    assert_eq!(param(&landed, "error").as_deref(), Some("oidc_failed"), "{landed}");
    // The callback carried to another browser (login CSRF): its state is refused there.
    let login = world.connection["login_url"].as_str().unwrap();
    let at_callback = follow(&browser(), &format!("{login}?redirect_to=http://app.test/done"), true).await;
    let elsewhere = follow(&browser(), at_callback.as_str(), false).await;
    assert_eq!(param(&elsewhere, "error").as_deref(), Some("oidc_state_invalid"), "{elsewhere}");
    // A state that names no login at all is a problem of its own.
    let unknown = world.app.get(&format!("{}?state=nothing-of-ours&code=x", at_callback.path()), None).await;
    assert_problem(unknown, StatusCode::BAD_REQUEST, "oidc_state_invalid").await;
    world.app.count_reaches(Stored::AccountsWithEmail("ann@acme.test"), 0).await;
    // A person at a domain the organization did not verify gets nothing: no account, pending or
    // not, and no email.
    world.next_user("alice").await;
    let landed = world.log_in().await;
    assert_eq!(param(&landed, "error").as_deref(), Some("sso_domain_not_verified"), "{landed}");
    world.app.count_reaches(Stored::AccountsWithEmail("alice@example.com"), 0).await;
    world.app.count_reaches(Stored::AuditEvents(&["login.social_failed"]), 5).await;
}

/// The review's finding 5: a verified domain proves who holds its DNS, not who registered an
/// address at the identity provider. An ID token that does not say `email_verified` takes over
/// no existing account, and makes a new one only where the connection opted in.
#[tokio::test]
async fn an_address_the_provider_did_not_verify_takes_over_nothing_and_makes_an_account_only_by_opt_in() {
    let Some(world) = world().await else { return };
    world.verify_domain().await;
    let (ceo, _) = world.app.logged_in_user("ceo@acme.test").await;
    world.next_user("ceo").await;
    let landed = world.log_in().await;
    assert_eq!(param(&landed, "error").as_deref(), Some("identity_not_linked"), "{landed}");
    world.next_user("newbie").await;
    let landed = world.log_in().await;
    assert_eq!(param(&landed, "error").as_deref(), Some("sso_email_unverified"), "{landed}");
    world.app.count_reaches(Stored::AccountsWithEmail("newbie@acme.test"), 0).await;

    let path = format!("/orgs/acme/sso/{}", world.connection["id"].as_str().unwrap());
    let opt_in = json!({"allow_unverified_email": true});
    let changed = world.app.send_json(reqwest::Method::PATCH, &path, &opt_in, Some(&world.owner)).await;
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["idp"]["allow_unverified_email"], true, "{changed}");
    world.next_user("newbie").await;
    let landed = world.log_in().await;
    assert_eq!(world.exchange(&landed).await.status(), StatusCode::OK, "{landed}");
    world.app.count_reaches(Stored::AccountsWithEmail("newbie@acme.test"), 1).await;
    // The opt-in makes accounts; it never hands over one that exists.
    world.next_user("ceo").await;
    let landed = world.log_in().await;
    assert_eq!(param(&landed, "error").as_deref(), Some("identity_not_linked"), "{landed}");
    world.app.count_reaches(Stored::AccountsWithEmail("ceo@acme.test"), 1).await;
    assert_eq!(ceo["email"], "ceo@acme.test");
}

/// Needs no provider: what is refused when the connection is made or changed.
#[tokio::test]
async fn an_issuer_on_a_private_address_a_secret_in_clear_http_and_fields_of_saml_are_refused() {
    let (app, _dns, owner) = app(&[]).await;
    for issuer in [
        "http://127.0.0.1:9",
        "https://169.254.169.254",
        "https://[::1]/",
        "https://10.1.2.3/x",
        "http://93.184.215.14/",
    ] {
        let body = json!({"issuer": issuer, "client_id": "c", "client_secret": "s"});
        let refused = app.post_json("/orgs/acme/sso/oidc", &body, Some(&owner)).await;
        let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "issuer", "{issuer}: {problem}");
    }
    let body =
        json!({"issuer": "https://93.184.215.14", "client_id": "c", "client_secret": "s", "metadata_xml": "<x/>"});
    let refused = app.post_json("/orgs/acme/sso/oidc", &body, Some(&owner)).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "an unknown field is refused");
    let body = json!({"issuer": "https://93.184.215.14", "client_id": "c", "client_secret": "s"});
    let added = app.post_json("/orgs/acme/sso/oidc", &body, Some(&owner)).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: Value = added.json().await.unwrap();
    let path = format!("/orgs/acme/sso/{}", added["id"].as_str().unwrap());
    let saml_field = json!({"metadata_url": "https://93.184.215.14/metadata"});
    let refused = app.send_json(reqwest::Method::PATCH, &path, &saml_field, Some(&owner)).await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "metadata_url", "{problem}");
    // Someone who is not of the organization may not add one.
    let (_, stranger) = app.logged_in_user("stranger@example.com").await;
    let refused = app.post_json("/orgs/acme/sso/oidc", &body, Some(&stranger)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    app.count_reaches(Stored::SsoConnections(None), 1).await;
}
