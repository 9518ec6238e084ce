//! SCIM 2.0 provisioning: an organization's tokens, and Users and Groups pushed the way Okta
//! and Entra ID push them (their request shapes, from their published SCIM guides), against
//! the rules: only the token's organization, only addresses at its verified domains, no owner
//! or admin captured, `active: false` suspending the membership at once and disabling only an
//! account SCIM made, and groups in the `org` claim and forward-auth.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dns::DnsServer;
use crate::helpers::{Options, PASSWORD, TestApp, jwt_payload, spawn_app_with};

const SCIM: &str = "application/scim+json";

struct World {
    app: TestApp,
    _dns: DnsServer,
    owner: String,
    token: String,
}

/// An app whose owner made `acme` (verified `acme.test`, a SCIM token) and `beta`.
async fn world() -> World {
    world_with(&[]).await
}

async fn world_with(extra: &[(&str, &str)]) -> World {
    let dns = DnsServer::start().await;
    let mut options = Options::default()
        .var("GATEHOUSE_DNS_RESOLVER", &dns.address.to_string())
        .var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")
        .var("GATEHOUSE_FORWARD_RULES", "app.test=org:acme:group:Site Reliability");
    for (name, value) in extra {
        options = options.var(name, value);
    }
    let app = spawn_app_with(options).await;
    let (_, owner) = app.logged_in_user("owner@example.com").await;
    for slug in ["acme", "beta"] {
        let created = app.post_json("/orgs", &json!({"name": slug, "slug": slug}), Some(&owner)).await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let claimed = app.post_json("/orgs/acme/domains", &json!({"domain": "acme.test"}), Some(&owner)).await;
    let claimed: Value = claimed.json().await.unwrap();
    let challenge = &claimed["challenge"];
    dns.publish_txt(challenge["name"].as_str().unwrap(), challenge["value"].as_str().unwrap()).await;
    let verified = app.post_json("/orgs/acme/domains/acme.test/verify", &json!({}), Some(&owner)).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let made = app.post_json("/orgs/acme/scim/tokens", &json!({"name": "Okta"}), Some(&owner)).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    World { app, _dns: dns, owner, token }
}

impl World {
    async fn scim(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        scim_as(&self.app, &self.token, method, path, body).await
    }
}

async fn scim_as(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(&format!("/scim/v2{path}"))).bearer_auth(token);
    if let Some(body) = body {
        request = request.header("content-type", SCIM).body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        let logs = crate::captured::logs();
        let errors: Vec<&str> = logs.lines().filter(|l| l.contains("ERROR")).collect();
        panic!("500 at {path}: {}", errors.join("\n"));
    }
    if status != StatusCode::NO_CONTENT {
        assert_eq!(response.headers()["content-type"], SCIM, "{status}");
    }
    let text = response.text().await.unwrap();
    (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() })
}

/// A SCIM error's status and `scimType`.
fn refused(answer: &(StatusCode, Value), status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(answer.1["status"], json!(status.as_u16().to_string()));
    assert_eq!(answer.1["scimType"].as_str(), scim_type, "{}", answer.1);
}

/// An Okta-shaped new user.
fn okta_user(email: &str, given: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": given, "familyName": "Tester"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "displayName": format!("{given} Tester"),
        "locale": "en-US",
        "externalId": format!("00u{given}"),
        "groups": [],
        "active": true,
    })
}

fn deactivate_okta() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]})
}

fn entra_active(active: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": active}]})
}

async fn org_claim(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/auth/org", &json!({"org": "acme"}), Some(token)).await
}

#[tokio::test]
async fn tokens_are_shown_once_two_at_most_and_revoked_at_the_next_request() {
    let world = world().await;
    let app = &world.app;
    assert!(world.token.starts_with("scim_") && world.token.len() > 40);
    let listed: Value = app.get("/orgs/acme/scim/tokens", Some(&world.owner)).await.json().await.unwrap();
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 1);
    assert!(listed["tokens"][0].get("token").is_none(), "never shown again");
    assert!(!listed.to_string().contains(&world.token));
    let second = app.post_json("/orgs/acme/scim/tokens", &json!({}), Some(&world.owner)).await;
    assert_eq!(second.status(), StatusCode::CREATED);
    let second: Value = second.json().await.unwrap();
    let third = app.post_json("/orgs/acme/scim/tokens", &json!({}), Some(&world.owner)).await;
    assert_eq!(third.status(), StatusCode::UNPROCESSABLE_ENTITY, "two at most");

    // A plain member may not make or read them; neither may an access token act as one.
    let (bob, bob_token) = app.logged_in_user("bob@example.com").await;
    crate::orgs::add_member(app, "acme", &bob, "member").await;
    let forbidden = app.post_json("/orgs/acme/scim/tokens", &json!({}), Some(&bob_token)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    refused(&scim_as(app, &bob_token, Method::GET, "/Users", None).await, StatusCode::UNAUTHORIZED, None);
    refused(&scim_as(app, &world.owner, Method::GET, "/Users", None).await, StatusCode::UNAUTHORIZED, None);
    let forged = format!("{}x", world.token);
    refused(&scim_as(app, &forged, Method::GET, "/Users", None).await, StatusCode::UNAUTHORIZED, None);

    // Both tokens work; the revoked one stops at once, the other goes on.
    let other = second["token"].as_str().unwrap();
    assert_eq!(scim_as(app, other, Method::GET, "/Users", None).await.0, StatusCode::OK);
    let id = second["id"].as_str().unwrap();
    let revoked = app.delete(&format!("/orgs/acme/scim/tokens/{id}"), Some(&world.owner)).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    refused(&scim_as(app, other, Method::GET, "/Users", None).await, StatusCode::UNAUTHORIZED, None);
    assert_eq!(world.scim(Method::GET, "/Users", None).await.0, StatusCode::OK);
    let listed: Value = app.get("/orgs/acme/scim/tokens", Some(&world.owner)).await.json().await.unwrap();
    assert!(listed["tokens"][0]["last_used_at"].is_string());
}

#[tokio::test]
async fn okta_provisions_finds_deactivates_and_deprovisions_a_new_person() {
    let world = world().await;
    let app = &world.app;
    // Okta looks the person up first, then creates them.
    let filter = "/Users?filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100";
    let (status, found) = world.scim(Method::GET, filter, None).await;
    assert_eq!((status, found["totalResults"].as_u64()), (StatusCode::OK, Some(0)));
    let (status, ada) = world.scim(Method::POST, "/Users", Some(okta_user("ada@acme.test", "Ada"))).await;
    assert_eq!(status, StatusCode::CREATED, "{ada}");
    let id = ada["id"].as_str().unwrap().to_owned();
    assert_eq!(ada["userName"], "ada@acme.test");
    assert_eq!(ada["active"], true);
    assert_eq!(ada["externalId"], "00uAda");
    assert_eq!(ada["name"], json!({"givenName": "Ada", "familyName": "Tester"}), "read back as written");
    assert_eq!(ada["meta"]["location"].as_str().unwrap(), app.url(&format!("/scim/v2/Users/{id}")));
    // Made active and verified, a member of acme with the member role.
    let store = app.services().await.backend.store;
    let account = store
        .find_account(&gatehouse::model::account::AccountKey::Email("ada@acme.test".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.account.status, gatehouse::model::account::Status::Active);
    assert!(account.account.email_verified);
    assert_eq!(account.account.name.as_deref(), Some("Ada Tester"));
    let members: Value = app.get("/orgs/acme/members", Some(&world.owner)).await.json().await.unwrap();
    assert!(members.to_string().contains("ada@acme.test"));

    // Found by each filter Okta and Entra use; the same userName again is refused.
    for filter in [
        "userName eq \"ADA@acme.test\"",
        "externalId eq \"00uAda\"",
        "emails[type eq \"work\"].value eq \"ada@acme.test\"",
    ] {
        let path = format!("/Users?filter={}", urlencoding(filter));
        let (status, found) = world.scim(Method::GET, &path, None).await;
        assert_eq!((status, found["totalResults"].as_u64()), (StatusCode::OK, Some(1)), "{filter}");
        assert_eq!(found["Resources"][0]["id"], json!(id));
    }
    // externalId is matched exactly, on every database (whatever its collation).
    let (_, other_case) =
        world.scim(Method::GET, &format!("/Users?filter={}", urlencoding("externalId eq \"00UADA\"")), None).await;
    assert_eq!(other_case["totalResults"], 0);
    let again = world.scim(Method::POST, "/Users", Some(okta_user("ada@acme.test", "Ada"))).await;
    refused(&again, StatusCode::CONFLICT, Some("uniqueness"));
    let (status, one) = world.scim(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!((status, one["id"].as_str()), (StatusCode::OK, Some(id.as_str())));

    // Deactivation: the membership is suspended and the account SCIM made is disabled.
    let (status, off) = world.scim(Method::PATCH, &format!("/Users/{id}"), Some(deactivate_okta())).await;
    assert_eq!((status, off["active"].as_bool()), (StatusCode::OK, Some(false)), "{off}");
    let account = store
        .find_account(&gatehouse::model::account::AccountKey::Email("ada@acme.test".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.account.status, gatehouse::model::account::Status::Disabled);
    let members: Value = app.get("/orgs/acme/members", Some(&world.owner)).await.json().await.unwrap();
    let ada_member =
        members["members"].as_array().unwrap().iter().find(|m| m["account"]["email"] == "ada@acme.test").cloned();
    assert_eq!(ada_member.unwrap()["suspended"], true);
    // Active again: SCIM enables what it disabled.
    let (status, on) = world.scim(Method::PATCH, &format!("/Users/{id}"), Some(entra_active("True"))).await;
    assert_eq!((status, on["active"].as_bool()), (StatusCode::OK, Some(true)));
    let account = store
        .find_account(&gatehouse::model::account::AccountKey::Email("ada@acme.test".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.account.status, gatehouse::model::account::Status::Active);

    // Deleted: the membership ends, the account it made is disabled.
    let (status, _) = world.scim(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    refused(&world.scim(Method::GET, &format!("/Users/{id}"), None).await, StatusCode::NOT_FOUND, None);
    let account = store
        .find_account(&gatehouse::model::account::AccountKey::Email("ada@acme.test".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.account.status, gatehouse::model::account::Status::Disabled);
    let members: Value = app.get("/orgs/acme/members", Some(&world.owner)).await.json().await.unwrap();
    assert!(!members.to_string().contains("ada@acme.test"));
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn a_suspended_member_is_refused_the_organization_at_the_next_request_and_keeps_its_account() {
    let world = world().await;
    let app = &world.app;
    // An existing member with a password, adopted by the SCIM client (Entra's shape).
    let (cara, cara_token) = app.logged_in_user("cara@acme.test").await;
    crate::orgs::add_member(app, "acme", &cara, "member").await;
    let entra = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "cara",
        "userName": "cara@acme.test",
        "active": true,
        "displayName": "Cara Entra",
        "emails": [{"primary": true, "type": "work", "value": "cara@acme.test"}],
        "name": {"formatted": "Cara Entra", "familyName": "Entra", "givenName": "Cara"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"},
    });
    let (status, adopted) = world.scim(Method::POST, "/Users", Some(entra)).await;
    assert_eq!(status, StatusCode::CREATED, "{adopted}");
    let id = adopted["id"].as_str().unwrap().to_owned();
    assert_eq!(id, cara["id"].as_str().unwrap(), "the member's own account");
    // The User reads back as written; the account it did not make keeps its own name.
    assert_eq!(adopted["name"]["givenName"], "Cara");
    assert_eq!(adopted["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"], "Ops");
    let me: Value = app.get("/user", Some(&cara_token)).await.json().await.unwrap();
    assert_eq!(me["name"], cara["name"]);

    let entered = org_claim(app, &cara_token).await;
    assert_eq!(entered.status(), StatusCode::OK);
    let (status, _) = world.scim(Method::PATCH, &format!("/Users/{id}"), Some(entra_active("False"))).await;
    assert_eq!(status, StatusCode::OK);
    // The next request in the organization is refused; the account itself goes on.
    assert_eq!(org_claim(app, &cara_token).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/orgs/acme", Some(&cara_token)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/user", Some(&cara_token)).await.status(), StatusCode::OK);
    assert_eq!(app.log_in("cara@acme.test", PASSWORD).await.status(), StatusCode::OK);
    // Active again, the membership grants what it did.
    world.scim(Method::PATCH, &format!("/Users/{id}"), Some(entra_active("True"))).await;
    assert_eq!(org_claim(app, &cara_token).await.status(), StatusCode::OK);
    // Deleted: the membership ends, the account it did not make stays active.
    assert_eq!(world.scim(Method::DELETE, &format!("/Users/{id}"), None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.log_in("cara@acme.test", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(org_claim(app, &cara_token).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn no_address_outside_the_verified_domains_no_owner_no_admin_and_no_other_organizations_member() {
    let world = world().await;
    let app = &world.app;
    let outside = world.scim(Method::POST, "/Users", Some(okta_user("eve@elsewhere.test", "Eve"))).await;
    refused(&outside, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let no_address = world.scim(Method::POST, "/Users", Some(json!({"userName": "eve"}))).await;
    refused(&no_address, StatusCode::BAD_REQUEST, Some("invalidValue"));
    // An account of beta at acme's domain is not captured; nor is the server admin at it.
    let (dan, _) = app.logged_in_user("dan@acme.test").await;
    crate::orgs::add_member(app, "beta", &dan, "member").await;
    let captured = world.scim(Method::POST, "/Users", Some(okta_user("dan@acme.test", "Dan"))).await;
    refused(&captured, StatusCode::CONFLICT, Some("uniqueness"));
    app.admin("root@acme.test").await;
    let admin = world.scim(Method::POST, "/Users", Some(okta_user("root@acme.test", "Root"))).await;
    refused(&admin, StatusCode::CONFLICT, Some("uniqueness"));
    // An owner of acme at its domain neither.
    let (olga, olga_token) = app.logged_in_user("olga@acme.test").await;
    crate::orgs::add_member(app, "acme", &olga, "owner").await;
    let owner = world.scim(Method::POST, "/Users", Some(okta_user("olga@acme.test", "Olga"))).await;
    refused(&owner, StatusCode::CONFLICT, Some("uniqueness"));
    assert_eq!(app.get("/orgs/acme", Some(&olga_token)).await.status(), StatusCode::OK);

    // Another organization's token sees none of acme's Users.
    let (_, made) = (
        (),
        app.post_json("/orgs/beta/scim/tokens", &json!({}), Some(&world.owner)).await.json::<Value>().await.unwrap(),
    );
    let beta = made["token"].as_str().unwrap();
    let (_, ada) = world.scim(Method::POST, "/Users", Some(okta_user("ada@acme.test", "Ada"))).await;
    let path = format!("/Users/{}", ada["id"].as_str().unwrap());
    refused(&scim_as(app, beta, Method::GET, &path, None).await, StatusCode::NOT_FOUND, None);
    refused(&scim_as(app, beta, Method::PATCH, &path, Some(deactivate_okta())).await, StatusCode::NOT_FOUND, None);
    refused(&scim_as(app, beta, Method::DELETE, &path, None).await, StatusCode::NOT_FOUND, None);
    let (_, listed) = scim_as(app, beta, Method::GET, "/Users", None).await;
    assert_eq!(listed["totalResults"], 0);

    // A provisioned member promoted to owner since is no longer SCIM's to change.
    let (status, _) = world.scim(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::OK);
    let ada_id = ada["id"].as_str().unwrap();
    let promoted = app
        .send_json(
            Method::PATCH,
            &format!("/orgs/acme/members/{ada_id}"),
            &json!({"role": "owner"}),
            Some(&world.owner),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    refused(&world.scim(Method::PATCH, &path, Some(deactivate_okta())).await, StatusCode::FORBIDDEN, None);
    refused(&world.scim(Method::DELETE, &path, None).await, StatusCode::FORBIDDEN, None);
}

#[tokio::test]
async fn groups_ride_in_the_org_claim_and_open_forward_auth_rules() {
    let world = world().await;
    let app = &world.app;
    let (erin, erin_token) = app.logged_in_user("erin@acme.test").await;
    crate::orgs::add_member(app, "acme", &erin, "member").await;
    let (_, user) = world.scim(Method::POST, "/Users", Some(okta_user("erin@acme.test", "Erin"))).await;
    let erin_id = user["id"].as_str().unwrap().to_owned();
    let (_, fay) = world.scim(Method::POST, "/Users", Some(okta_user("fay@acme.test", "Fay"))).await;
    let fay_id = fay["id"].as_str().unwrap().to_owned();

    // Okta pushes a group without members, then adds them by PATCH.
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "SRE", "members": []});
    let (status, sre) = world.scim(Method::POST, "/Groups", Some(group.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{sre}");
    let path = format!("/Groups/{}", sre["id"].as_str().unwrap());
    refused(&world.scim(Method::POST, "/Groups", Some(group)).await, StatusCode::CONFLICT, Some("uniqueness"));
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": erin_id}, {"value": fay_id}]},
        {"op": "replace", "value": {"id": sre["id"], "displayName": "Site Reliability"}}
    ]});
    let (status, changed) = world.scim(Method::PATCH, &path, Some(add)).await;
    assert_eq!((status, changed["displayName"].as_str()), (StatusCode::OK, Some("Site Reliability")), "{changed}");
    assert_eq!(changed["members"].as_array().unwrap().len(), 2);
    let (_, found) = world
        .scim(
            Method::GET,
            "/Groups?filter=displayName%20eq%20%22site%20reliability%22&excludedAttributes=members",
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());

    // The org claim carries the group; forward-auth's group rule lets its members through.
    let entered: Value = org_claim(app, &erin_token).await.json().await.unwrap();
    let claims = jwt_payload(entered["access_token"].as_str().unwrap());
    assert_eq!(claims["org"]["groups"], json!(["Site Reliability"]));
    let ask = |token: String| {
        let request = app
            .client
            .get(app.url("/auth/forward"))
            .bearer_auth(token)
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "app.test")
            .header("x-forwarded-uri", "/");
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(ask(erin_token.clone()).await, StatusCode::OK);
    assert_eq!(ask(world.owner.clone()).await, StatusCode::FORBIDDEN, "the owner is in no group");

    // Entra removes a member by filter: refused at the next request.
    let remove = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Remove", "path": format!("members[value eq \"{erin_id}\"]")}
    ]});
    let (status, changed) = world.scim(Method::PATCH, &path, Some(remove)).await;
    assert_eq!((status, changed["members"].as_array().map(Vec::len)), (StatusCode::OK, Some(1)));
    assert_eq!(ask(erin_token.clone()).await, StatusCode::FORBIDDEN);
    let entered: Value = org_claim(app, &erin_token).await.json().await.unwrap();
    assert!(jwt_payload(entered["access_token"].as_str().unwrap())["org"].get("groups").is_none());

    // Only the organization's members may be in its groups.
    let stranger = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": world_owner_id(app, &world.owner).await}]}
    ]});
    let (status, _) = world.scim(Method::PATCH, &path, Some(stranger)).await;
    assert_eq!(status, StatusCode::OK, "the owner is a member of acme");
    let beta_member = {
        let (gil, _) = app.logged_in_user("gil@example.com").await;
        gil["id"].as_str().unwrap().to_owned()
    };
    let outsider = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": beta_member}]}
    ]});
    refused(&world.scim(Method::PATCH, &path, Some(outsider)).await, StatusCode::BAD_REQUEST, Some("invalidValue"));

    // Deleted: nobody holds it any more.
    assert_eq!(world.scim(Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    refused(&world.scim(Method::GET, &path, None).await, StatusCode::NOT_FOUND, None);
}

async fn world_owner_id(app: &TestApp, token: &str) -> String {
    let me: Value = app.get("/user", Some(token)).await.json().await.unwrap();
    me["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn bad_requests_get_scim_errors_and_discovery_says_what_is_supported() {
    let world = world().await;
    let app = &world.app;
    for (filter, scim_type) in [
        ("userName co \"a\"", "invalidFilter"),
        ("title eq \"x\"", "invalidFilter"),
        ("userName eq \"a\" or userName eq \"b\"", "invalidFilter"),
    ] {
        let answer = world.scim(Method::GET, &format!("/Users?filter={}", urlencoding(filter)), None).await;
        refused(&answer, StatusCode::BAD_REQUEST, Some(scim_type));
    }
    refused(&world.scim(Method::GET, "/Users?count=x", None).await, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let not_json = app
        .client
        .post(app.url("/scim/v2/Users"))
        .bearer_auth(&world.token)
        .header("content-type", SCIM)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let body: Value = not_json.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");
    let bad_op = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "move", "path": "active"}]});
    let (_, ada) = world.scim(Method::POST, "/Users", Some(okta_user("ada@acme.test", "Ada"))).await;
    let path = format!("/Users/{}", ada["id"].as_str().unwrap());
    refused(&world.scim(Method::PATCH, &path, Some(bad_op)).await, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    refused(&world.scim(Method::GET, "/Users/not-an-id", None).await, StatusCode::NOT_FOUND, None);
    // PUT replaces: another userName taken is refused; a new one is kept.
    let (_, _bea) = world.scim(Method::POST, "/Users", Some(okta_user("bea@acme.test", "Bea"))).await;
    let mut replaced = okta_user("ada@acme.test", "Ada");
    replaced["userName"] = json!("bea@acme.test");
    refused(&world.scim(Method::PUT, &path, Some(replaced.clone())).await, StatusCode::CONFLICT, Some("uniqueness"));
    replaced["userName"] = json!("ada.l@acme.test");
    let (status, put) = world.scim(Method::PUT, &path, Some(replaced)).await;
    assert_eq!((status, put["userName"].as_str()), (StatusCode::OK, Some("ada.l@acme.test")));

    // Discovery, without a token.
    let config: Value =
        app.client.get(app.url("/scim/v2/ServiceProviderConfig")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (config["patch"]["supported"].as_bool(), config["bulk"]["supported"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(config["filter"]["supported"], true);
    let types: Value = app.client.get(app.url("/scim/v2/ResourceTypes")).send().await.unwrap().json().await.unwrap();
    assert_eq!(types["totalResults"], 2);
    let schemas: Value = app.client.get(app.url("/scim/v2/Schemas")).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = schemas["Resources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    assert_eq!(ids, ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group"]);
}

async fn status_of(app: &TestApp, email: &str) -> gatehouse::model::account::Status {
    let store = app.services().await.backend.store;
    let key = gatehouse::model::account::AccountKey::Email(email.into());
    store.find_account(&key).await.unwrap().unwrap().account.status
}

#[tokio::test]
async fn a_suspension_elsewhere_still_counts_and_admins_still_manage_a_suspended_member() {
    let world = world().await;
    let app = &world.app;
    // Dan is a member of beta, suspended there: still beta's, not acme's to capture.
    let (dan, _) = app.logged_in_user("dan@acme.test").await;
    crate::orgs::add_member(app, "beta", &dan, "member").await;
    let dan_id = dan["id"].as_str().unwrap();
    app.suspend_memberships(dan_id).await;
    let captured = world.scim(Method::POST, "/Users", Some(okta_user("dan@acme.test", "Dan"))).await;
    refused(&captured, StatusCode::CONFLICT, Some("uniqueness"));

    // A member acme's SCIM client suspended: an invitation does not lift it (and answers
    // cleanly), and an admin still removes it.
    let (eve, eve_token) = app.logged_in_user("eve@acme.test").await;
    crate::orgs::add_member(app, "acme", &eve, "member").await;
    let (_, user) = world.scim(Method::POST, "/Users", Some(okta_user("eve@acme.test", "Eve"))).await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    world.scim(Method::PATCH, &path, Some(deactivate_okta())).await;
    let invited = app
        .post_json("/orgs/acme/invitations", &json!({"email": "eve@acme.test", "role": "admin"}), Some(&world.owner))
        .await;
    assert_eq!(invited.status(), StatusCode::CREATED);
    let invitations: Value = app.get("/invitations", Some(&eve_token)).await.json().await.unwrap();
    let id = invitations["invitations"][0]["id"].as_str().unwrap().to_owned();
    let accepted = app.post_json(&format!("/invitations/{id}/accept"), &json!({}), Some(&eve_token)).await;
    assert_eq!(accepted.status(), StatusCode::NOT_FOUND);
    assert_eq!(org_claim(app, &eve_token).await.status(), StatusCode::FORBIDDEN, "still suspended");
    let eve_path = format!("/orgs/acme/members/{}", eve["id"].as_str().unwrap());
    let demoted = app.send_json(Method::PATCH, &eve_path, &json!({"role": "member"}), Some(&world.owner)).await;
    assert_eq!(demoted.status(), StatusCode::OK);
    let demoted: Value = demoted.json().await.unwrap();
    assert_eq!(demoted["suspended"], true);
    assert_eq!(app.delete(&eve_path, Some(&world.owner)).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_admins_decision_and_a_persons_own_address_outlast_scim() {
    let world = world().await;
    let app = &world.app;
    let admin = app.admin("root@example.com").await;
    let (_, ada) = world.scim(Method::POST, "/Users", Some(okta_user("ada@acme.test", "Ada"))).await;
    let path = format!("/Users/{}", ada["id"].as_str().unwrap());
    world.scim(Method::PATCH, &path, Some(deactivate_okta())).await;
    assert_eq!(status_of(app, "ada@acme.test").await, gatehouse::model::account::Status::Disabled);
    // An admin disables it too (for a reason of their own): SCIM's "active" no longer enables it.
    let key = format!("/user/{}", ada["id"].as_str().unwrap());
    let disabled = app.send_json(Method::PATCH, &key, &json!({"status": "disabled"}), Some(&admin)).await;
    assert_eq!(disabled.status(), StatusCode::OK);
    let (status, on) = world.scim(Method::PATCH, &path, Some(entra_active("True"))).await;
    assert_eq!((status, on["active"].as_bool()), (StatusCode::OK, Some(true)), "the membership is active again");
    assert_eq!(status_of(app, "ada@acme.test").await, gatehouse::model::account::Status::Disabled);

    // Bea, made by SCIM, moved her account to an address of her own: SCIM renames it no more.
    let (_, bea) = world.scim(Method::POST, "/Users", Some(okta_user("bea@acme.test", "Bea"))).await;
    let bea_id = bea["id"].as_str().unwrap();
    app.move_address(bea_id, "bea@home.test").await;
    let mut moved = okta_user("bea.new@acme.test", "Beatrix");
    moved["userName"] = json!("bea@acme.test");
    let (status, _) = world.scim(Method::PUT, &format!("/Users/{bea_id}"), Some(moved)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_of(app, "bea@home.test").await, gatehouse::model::account::Status::Active, "hers still");
    // A malformed address is refused.
    let mut bad = okta_user("ada@acme.test", "Ada");
    bad["emails"] = json!([{"value": "not an address@acme.test", "primary": true}]);
    refused(&world.scim(Method::PUT, &path, Some(bad)).await, StatusCode::BAD_REQUEST, Some("invalidValue"));
}

#[tokio::test]
async fn passwords_are_never_kept_and_a_member_is_in_twenty_groups_at_most() {
    let world = world().await;
    let mut user = okta_user("ada@acme.test", "Ada");
    user["password"] = json!("hunter2-hunter2");
    user["urn:ietf:params:scim:schemas:core:2.0:User:password"] = json!("hunter2-hunter2");
    user["urn:ietf:params:scim:schemas:core:2.0:User"] = json!({"password": "hunter2-hunter2"});
    user["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = json!({"manager": {"password": "x"}});
    let (status, ada) = world.scim(Method::POST, "/Users", Some(user)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, read) = world.scim(Method::GET, &format!("/Users/{}", ada["id"].as_str().unwrap()), None).await;
    assert!(!read.to_string().contains("hunter2") && !read.to_string().to_lowercase().contains("password"), "{read}");
    assert_eq!(world.app.log_in("ada@acme.test", "hunter2-hunter2").await.status(), StatusCode::UNAUTHORIZED);

    let member = json!([{"value": ada["id"]}]);
    for i in 0..20 {
        let group = json!({"displayName": format!("g{i}"), "members": member});
        assert_eq!(world.scim(Method::POST, "/Groups", Some(group)).await.0, StatusCode::CREATED);
    }
    let one_more = json!({"displayName": "g20", "members": member});
    refused(&world.scim(Method::POST, "/Groups", Some(one_more)).await, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let (_, listed) = world.scim(Method::GET, "/Groups?count=100", None).await;
    assert_eq!((listed["totalResults"].as_u64(), listed["itemsPerPage"].as_u64()), (Some(20), Some(20)));
    let (_, bare) = world.scim(Method::GET, "/Groups?count=100&excludedAttributes=members", None).await;
    assert_eq!(bare["itemsPerPage"], 20);
    assert!(bare["Resources"][0].get("members").is_none());
    let invisible = json!({"displayName": "adm\u{202e}nimda"});
    refused(&world.scim(Method::POST, "/Groups", Some(invisible)).await, StatusCode::BAD_REQUEST, Some("invalidValue"));
}

#[tokio::test]
async fn each_token_has_a_request_budget_of_its_own_and_past_it_answers_429_in_scim_s_form() {
    let world = world_with(&[("GATEHOUSE_RATE_LIMIT_SCIM", "3/1m")]).await;
    for _ in 0..3 {
        assert_eq!(world.scim(Method::GET, "/Users", None).await.0, StatusCode::OK);
    }
    let response =
        world.app.client.get(world.app.url("/scim/v2/Users")).bearer_auth(&world.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.headers()["content-type"], SCIM);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "429", "{body}");
    // The rotation's second token has its own budget.
    let made = world.app.post_json("/orgs/acme/scim/tokens", &json!({"name": "next"}), Some(&world.owner)).await;
    let next: Value = made.json().await.unwrap();
    let answer = scim_as(&world.app, next["token"].as_str().unwrap(), Method::GET, "/Users", None).await;
    assert_eq!(answer.0, StatusCode::OK);
}

/// A group's change rewrites every membership it touches. DynamoDB's transaction holds 100
/// items, so there a change touching more members at once is refused with `tooMany` (in
/// smaller PATCH operations it goes through), where SQL takes it whole; a group of any size is
/// deleted in one request: none of its members keeps its name (which rides in their tokens),
/// and they keep their other groups.
#[tokio::test]
async fn a_group_of_many_members_is_filled_and_deleted_on_every_backend() {
    let world = world().await;
    let mut ids = Vec::new();
    for n in 0..100 {
        let (status, user) = world.scim(Method::POST, "/Users", Some(okta_user(&format!("m{n}@acme.test"), "M"))).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    let group = |name: &str| json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name});
    let add = |ids: &[String]| {
        let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "add", "path": "members", "value": members}]})
    };
    let (_, everyone) = world.scim(Method::POST, "/Groups", Some(group("everyone"))).await;
    let (_, few) = world.scim(Method::POST, "/Groups", Some(group("few"))).await;
    let path = format!("/Groups/{}", everyone["id"].as_str().unwrap());
    let few_path = format!("/Groups/{}", few["id"].as_str().unwrap());
    assert_eq!(world.scim(Method::PATCH, &few_path, Some(add(&ids[..3]))).await.0, StatusCode::OK);

    let whole = world.scim(Method::PATCH, &path, Some(add(&ids))).await;
    if world.app.db.kind == crate::database::Kind::Dynamodb {
        refused(&whole, StatusCode::BAD_REQUEST, Some("tooMany"));
        for batch in ids.chunks(50) {
            assert_eq!(world.scim(Method::PATCH, &path, Some(add(batch))).await.0, StatusCode::OK);
        }
    } else {
        assert_eq!(whole.0, StatusCode::OK, "{}", whole.1);
    }
    let (_, filled) = world.scim(Method::GET, &path, None).await;
    assert_eq!(filled["members"].as_array().unwrap().len(), 100);
    let store = world.app.services().await.backend.store;
    let groups_of = |id: &String| {
        let store = store.clone();
        let id = uuid::Uuid::parse_str(id).unwrap();
        async move {
            let memberships = store.memberships(id).await.unwrap();
            memberships.into_iter().find(|m| m.org.slug == "acme").unwrap().groups
        }
    };
    for id in &ids {
        assert!(groups_of(id).await.contains(&"everyone".to_owned()), "{id}");
    }

    let deleted = world.scim(Method::DELETE, &path, None).await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT, "{}", deleted.1);
    refused(&world.scim(Method::GET, &path, None).await, StatusCode::NOT_FOUND, None);
    let (_, kept) = world.scim(Method::GET, &few_path, None).await;
    assert_eq!(kept["members"].as_array().unwrap().len(), 3, "{kept}");
    for (n, id) in ids.iter().enumerate() {
        let expected: Vec<String> = if n < 3 { vec!["few".to_owned()] } else { Vec::new() };
        assert_eq!(groups_of(id).await, expected, "{id}");
    }
}
