//! Where an address logs in (`POST /sso/discover`) and the organization's `sso_required`:
//! connections made from the IdP metadata kept in `e2e/saml/fixtures`, so no IdP has to run.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::dns::DnsServer;
use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, spawn_app_with};

const APP: &str = "http://app.test/";

/// An app whose `owner` made the organizations `acme` (with a connection) and `beta`, claimed
/// `acme.test` and `beta.test`, and published their TXT records (not yet verified).
struct World {
    app: TestApp,
    _dns: DnsServer,
    owner: String,
    connection: Value,
}

async fn world(owner_email: &str) -> World {
    let dns = DnsServer::start().await;
    let options =
        Options::default().var("GATEHOUSE_REDIRECT_ALLOW", APP).var("GATEHOUSE_DNS_RESOLVER", &dns.address.to_string());
    let app = spawn_app_with(options).await;
    let (_, owner) = app.logged_in_user(owner_email).await;
    for (name, slug) in [("Acme", "acme"), ("Beta", "beta")] {
        let created = app.post_json("/orgs", &json!({"name": name, "slug": slug}), Some(&owner)).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/saml/fixtures/idp-metadata.xml");
    let metadata = std::fs::read_to_string(fixture).unwrap();
    let added = app.post_json("/orgs/acme/sso/saml", &json!({"metadata_xml": metadata}), Some(&owner)).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let connection: Value = added.json().await.unwrap();
    for (slug, domain) in [("acme", "acme.test"), ("beta", "beta.test")] {
        let claimed = app.post_json(&format!("/orgs/{slug}/domains"), &json!({"domain": domain}), Some(&owner)).await;
        let claimed: Value = claimed.json().await.unwrap();
        let challenge = &claimed["challenge"];
        dns.publish_txt(challenge["name"].as_str().unwrap(), challenge["value"].as_str().unwrap()).await;
    }
    World { app, _dns: dns, owner, connection }
}

impl World {
    async fn verify(&self, slug: &str, domain: &str) {
        let path = format!("/orgs/{slug}/domains/{domain}/verify");
        assert_eq!(self.app.post_json(&path, &json!({}), Some(&self.owner)).await.status(), StatusCode::OK);
    }

    async fn set_policy(&self, policy: Value) -> reqwest::Response {
        self.app.send_json(Method::PATCH, "/orgs/acme", &json!({"policy": policy}), Some(&self.owner)).await
    }
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn an_address_at_a_domain_with_single_sign_on_is_sent_to_its_identity_provider() {
    let world = world("owner@example.com").await;
    let app = &world.app;
    let discover = |email: &str| {
        let body = json!({"email": email});
        async move { app.post_json("/sso/discover", &body, None).await }
    };
    // acme.test is claimed, not yet verified: it routes nowhere.
    assert_problem(discover("ann@acme.test").await, StatusCode::NOT_FOUND, "not_found").await;
    world.verify("acme", "acme.test").await;
    world.verify("beta", "beta.test").await;

    let found = discover("Ann@ACME.test").await;
    assert_eq!(found.status(), StatusCode::OK);
    let found: Value = found.json().await.unwrap();
    assert_eq!(found["login_url"], world.connection["login_url"]);
    let body = json!({"email": "ann@acme.test", "redirect_to": "http://app.test/done"});
    let onward: Value = app.post_json("/sso/discover", &body, None).await.json().await.unwrap();
    let onward = Url::parse(onward["login_url"].as_str().unwrap()).unwrap();
    assert_eq!(param(&onward, "redirect_to").as_deref(), Some("http://app.test/done"));
    // A verified domain without a connection and one nobody verified: the same answer.
    for nowhere in ["bo@beta.test", "cy@elsewhere.test"] {
        assert_problem(discover(nowhere).await, StatusCode::NOT_FOUND, "not_found").await;
    }
    let elsewhere = json!({"email": "ann@acme.test", "redirect_to": "https://evil.test/"});
    let refused = app.post_json("/sso/discover", &elsewhere, None).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_problem(discover("not an address").await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn with_sso_required_the_domains_people_log_in_only_through_the_identity_provider() {
    let world = world("boss@acme.test").await;
    let app = &world.app;
    let (_, ann) = app.logged_in_user("ann@acme.test").await;
    app.logged_in_user("zed@elsewhere.test").await;
    world.verify("acme", "acme.test").await;

    // Beta has no connection: it cannot require one.
    let beta = json!({"policy": {"sso_required": true}});
    let refused = app.send_json(Method::PATCH, "/orgs/beta", &beta, Some(&world.owner)).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let switched = world.set_policy(json!({"sso_required": true})).await;
    assert_eq!(switched.status(), StatusCode::OK);
    let switched: Value = switched.json().await.unwrap();
    assert_eq!(switched["policy"], json!({"sso_required": true}));

    // ann's password is right, and refused with where to go instead.
    let problem =
        assert_problem(app.log_in("ann@acme.test", PASSWORD).await, StatusCode::FORBIDDEN, "sso_required").await;
    assert_eq!(problem["login_url"], world.connection["login_url"]);
    // A wrong password still says only that.
    assert_problem(app.log_in("ann@acme.test", "wrong").await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // The switch ends no session: ann's token still opens her account.
    assert_eq!(app.get("/user", Some(&ann)).await.status(), StatusCode::OK);
    // Nor can she move her account to an address of her own, where her password would work.
    let away = json!({"new_email": "ann@home.test", "current_password": PASSWORD});
    let kept = assert_problem(
        app.post_json("/email/change", &away, Some(&ann)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(kept.to_string().contains("single sign-on"), "{kept}");
    // The owner keeps a way in (a broken IdP locks nobody out), and other domains are untouched.
    app.tokens("boss@acme.test", PASSWORD).await;
    app.tokens("zed@elsewhere.test", PASSWORD).await;

    // The last connection stays while the policy needs it.
    let path = format!("/orgs/acme/sso/{}", world.connection["id"].as_str().unwrap());
    let kept = app.delete(&path, Some(&world.owner)).await;
    assert_problem(kept, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    assert_eq!(world.set_policy(json!({})).await.status(), StatusCode::OK);
    app.tokens("ann@acme.test", PASSWORD).await;
    assert_eq!(app.delete(&path, Some(&world.owner)).await.status(), StatusCode::NO_CONTENT);
}

/// A server on loopback answering `GET /metadata` with `body` and `status`, or a redirect.
async fn metadata_server(body: String, status: u16) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let answer = move || {
        let body = body.clone();
        async move {
            let status = axum::http::StatusCode::from_u16(status).unwrap();
            let location = [(axum::http::header::LOCATION, "http://127.0.0.1:9/elsewhere")];
            (status, location, body)
        }
    };
    let app = axum::Router::new().route("/metadata", axum::routing::get(answer));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("{base}/metadata")
}

#[tokio::test]
async fn metadata_by_url_goes_through_the_guard_webhooks_go_through() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/saml/fixtures/idp-metadata.xml");
    let metadata = std::fs::read_to_string(fixture).unwrap();
    let served = metadata_server(metadata.clone(), 200).await;

    // By default, no loopback, private or link-local address, and only https.
    let app = spawn_app_with(Options::default()).await;
    let (_, owner) = app.logged_in_user("owner@example.com").await;
    app.post_json("/orgs", &json!({"name": "Acme", "slug": "acme"}), Some(&owner)).await;
    for url in [
        served.as_str(),
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/metadata",
        "https://10.0.0.1/metadata",
        "file:///etc/passwd",
    ] {
        let added = app.post_json("/orgs/acme/sso/saml", &json!({"metadata_url": url}), Some(&owner)).await;
        let problem = assert_problem(added, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(problem.to_string().contains("metadata_url"), "{url}: {problem}");
    }
    let both = json!({"metadata_url": "https://idp.example.com/m", "metadata_xml": metadata});
    let added = app.post_json("/orgs/acme/sso/saml", &both, Some(&owner)).await;
    assert_problem(added, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Where private addresses are allowed (an identity provider on the same network).
    let app = spawn_app_with(Options::default().var("GATEHOUSE_WEBHOOK_ALLOW_PRIVATE", "true")).await;
    let (_, owner) = app.logged_in_user("owner@example.com").await;
    app.post_json("/orgs", &json!({"name": "Acme", "slug": "acme"}), Some(&owner)).await;
    let added = app.post_json("/orgs/acme/sso/saml", &json!({"metadata_url": served}), Some(&owner)).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let connection: Value = added.json().await.unwrap();
    assert_eq!(connection["idp"]["metadata_url"], json!(served));
    assert_eq!(connection["idp"]["certificate_fingerprints"].as_array().map(Vec::len), Some(1));
    // A redirect is not followed, an error status or a document too large is refused, and the
    // connection stays as it was.
    let path = format!("/orgs/acme/sso/{}", connection["id"].as_str().unwrap());
    let redirecting = metadata_server(String::new(), 302).await;
    let failing = metadata_server("nope".into(), 500).await;
    let huge = metadata_server("x".repeat(300 * 1024), 200).await;
    for url in [redirecting, failing, huge] {
        let changed = app.send_json(Method::PATCH, &path, &json!({"metadata_url": url}), Some(&owner)).await;
        assert_problem(changed, StatusCode::UNPROCESSABLE_ENTITY, "sso_metadata_invalid").await;
    }
    let read: Value = app.get(&path, Some(&owner)).await.json().await.unwrap();
    assert_eq!(read["idp"]["metadata_url"], json!(served));
}

#[tokio::test]
async fn the_hosted_login_page_asks_for_the_address_first_and_sends_the_organizations_people_to_their_idp() {
    use crate::browser::{Browser, field, location};
    // Before any connection: the password form, as ever.
    let plain = spawn_app_with(Options::default()).await;
    let page = Browser::new(&plain).get(&plain.url("/login")).await.text().await.unwrap();
    assert!(page.contains("name=\"password\""));

    let world = world("owner@example.com").await;
    let app = &world.app;
    world.verify("acme", "acme.test").await;
    let browser = Browser::new(app);
    let page = browser.get(&app.url("/login?next=http%3A%2F%2Fapp.test%2Fhome")).await.text().await.unwrap();
    assert!(!page.contains("name=\"password\""), "the address first");
    let form = field(&page, "form").unwrap();
    let next = field(&page, "next").unwrap();
    let post = |login: &'static str| {
        let fields = [("form", form.clone()), ("next", next.clone()), ("login", login.to_owned())];
        let browser = &browser;
        let url = app.url("/login");
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            browser.post_form(&url, &fields).await
        }
    };
    // An address at acme's verified domain goes on to acme's identity provider (by a page that
    // refreshes to its login: a redirect answering the form would meet the page's form-action
    // policy at the identity provider's origin), back here after.
    let sent = post("ann@acme.test").await;
    assert_eq!(sent.status(), StatusCode::OK);
    let refresh = sent.headers()["refresh"].to_str().unwrap().to_owned();
    let to = Url::parse(refresh.strip_prefix("0; url=").unwrap()).unwrap();
    assert!(sent.text().await.unwrap().contains(&format!("href=\"{}\"", to.as_str().replace('&', "&amp;"))));
    let login_url = Url::parse(world.connection["login_url"].as_str().unwrap()).unwrap();
    assert_eq!(to.path(), login_url.path());
    let back = param(&to, "redirect_to").unwrap();
    assert!(back.starts_with(&app.url("/login")) && back.contains("next="), "{back}");
    // Any other address, or a username, gets the password form with it filled in.
    for other in ["bob@example.com", "bob"] {
        let answer = post(other).await;
        assert_eq!(answer.status(), StatusCode::OK);
        let page = answer.text().await.unwrap();
        assert!(page.contains("name=\"password\"") && page.contains(&format!("value=\"{other}\"")), "{other}");
    }
    // A password posted at once still logs in (the form a script or a saved login sends).
    app.active_user("bob@example.com", None).await;
    let fields =
        [("form", form.as_str()), ("next", next.as_str()), ("login", "bob@example.com"), ("password", PASSWORD)];
    let logged_in = browser.post_form(&app.url("/login"), &fields).await;
    assert_eq!(logged_in.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&logged_in), "http://app.test/home");
}
