//! The session's active organization: chosen at login or by `POST /auth/org`, carried by the
//! access token's `org` claim (read from the membership whenever a token is signed, so a
//! refresh after a removal carries none), and read live by forward-auth, whose `org:` rules
//! and `Remote-Org` headers answer from the membership at the request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, jwt_payload, spawn_app, spawn_app_with};
use crate::stored::Stored;

async fn org(app: &TestApp, token: &str, slug: &str) -> Value {
    let response = app.post_json("/orgs", &json!({"name": slug, "slug": slug}), Some(token)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn switch(app: &TestApp, token: &str, org: Value) -> reqwest::Response {
    app.post_json("/auth/org", &json!({"org": org}), Some(token)).await
}

#[tokio::test]
async fn a_session_enters_an_organization_its_tokens_carry_it_and_a_removal_drops_it_at_the_next_token() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (bob_account, _) = app.logged_in_user("bob@example.com").await;
    let acme = org(&app, &ann, "acme").await;
    org(&app, &ann, "globex").await;
    crate::orgs::add_member(&app, "acme", &bob_account, "member").await;

    // Login names the organization; a non-member's login is refused once the password is right.
    let login = json!({"email": "bob@example.com", "password": PASSWORD, "org": "acme"});
    let pair: Value = app.post_json("/auth", &login, None).await.json().await.unwrap();
    let claims = jwt_payload(pair["access_token"].as_str().unwrap());
    assert_eq!(claims["org"], json!({"id": acme["id"], "slug": "acme", "role": "member", "permissions": []}));
    let outsider = json!({"email": "bob@example.com", "password": PASSWORD, "org": "globex"});
    assert_problem(app.post_json("/auth", &outsider, None).await, StatusCode::FORBIDDEN, "not_a_member").await;
    let wrong = json!({"email": "bob@example.com", "password": "wrong password!", "org": "globex"});
    assert_problem(app.post_json("/auth", &wrong, None).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let plain = app.tokens("bob@example.com", PASSWORD).await;
    assert!(jwt_payload(plain["access_token"].as_str().unwrap()).get("org").is_none(), "none unless asked");

    // Switching: into a membership, out of it, never into another's organization.
    let bob = plain["access_token"].as_str().unwrap().to_owned();
    let switched = switch(&app, &bob, json!(acme["id"])).await;
    assert_eq!(switched.status(), StatusCode::OK);
    let switched: Value = switched.json().await.unwrap();
    assert_eq!(switched["org"]["org"]["slug"], "acme");
    let in_acme = switched["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_payload(&in_acme)["org"]["slug"], "acme");
    assert_eq!(jwt_payload(&in_acme)["sid"], jwt_payload(&bob)["sid"], "the same session");
    assert_problem(switch(&app, &bob, json!("globex")).await, StatusCode::FORBIDDEN, "not_a_member").await;
    assert_problem(switch(&app, &bob, json!("nowhere")).await, StatusCode::NOT_FOUND, "not_found").await;
    let refreshed: Value = app
        .post_json("/auth/refresh", &json!({"refresh_token": plain["refresh_token"]}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwt_payload(refreshed["access_token"].as_str().unwrap())["org"]["slug"], "acme", "refresh keeps it");

    // A promotion shows in the next token; a removal leaves the next without the claim.
    let bob_path = format!("/orgs/acme/members/{}", bob_account["id"].as_str().unwrap());
    app.send_json(Method::PATCH, &bob_path, &json!({"role": "admin"}), Some(&ann)).await;
    let promoted: Value = switch(&app, &in_acme, json!("acme")).await.json().await.unwrap();
    assert_eq!(jwt_payload(promoted["access_token"].as_str().unwrap())["org"]["role"], "admin");
    assert_eq!(app.delete(&bob_path, Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    let after: Value = app
        .post_json("/auth/refresh", &json!({"refresh_token": refreshed["refresh_token"]}), None)
        .await
        .json()
        .await
        .unwrap();
    assert!(jwt_payload(after["access_token"].as_str().unwrap()).get("org").is_none(), "no longer a member");
    assert_problem(app.get("/orgs/acme", Some(&in_acme)).await, StatusCode::FORBIDDEN, "not_a_member").await;
    let out: Value = switch(&app, &in_acme, Value::Null).await.json().await.unwrap();
    assert!(out.get("org").is_none() && jwt_payload(out["access_token"].as_str().unwrap()).get("org").is_none());
}

fn ask(app: &TestApp, host: &str) -> reqwest::RequestBuilder {
    app.client
        .get(app.url("/auth/forward"))
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", host)
        .header("x-forwarded-uri", "/")
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn forward_auth_org_rules_read_the_membership_at_the_request() {
    let rules =
        "members.test=org:acme, admins.test=org:acme:admin, docs.test=org:acme:docs:write, any.test=authenticated";
    let app = spawn_app_with(
        Options::default().var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1").var("GATEHOUSE_FORWARD_RULES", rules),
    )
    .await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (bob_account, bob) = app.logged_in_user("bob@example.com").await;
    org(&app, &ann, "acme").await;

    assert_eq!(ask(&app, "members.test").bearer_auth(&bob).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    crate::orgs::add_member(&app, "acme", &bob_account, "member").await;
    let passed = ask(&app, "members.test").bearer_auth(&bob).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK, "the same token, at the next request");
    assert_eq!(header(&passed, "remote-org").as_deref(), Some("acme"));
    assert_eq!(header(&passed, "remote-org-role").as_deref(), Some("member"));
    for host in ["admins.test", "docs.test"] {
        assert_eq!(ask(&app, host).bearer_auth(&bob).send().await.unwrap().status(), StatusCode::FORBIDDEN, "{host}");
    }
    let role = json!({"name": "writer", "permissions": ["docs:write"]});
    assert_eq!(app.post_json("/orgs/acme/roles", &role, Some(&ann)).await.status(), StatusCode::CREATED);
    let bob_path = format!("/orgs/acme/members/{}", bob_account["id"].as_str().unwrap());
    app.send_json(Method::PATCH, &bob_path, &json!({"role": "writer"}), Some(&ann)).await;
    assert_eq!(ask(&app, "docs.test").bearer_auth(&bob).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(ask(&app, "admins.test").bearer_auth(&ann).send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // An `authenticated` rule names the session's active organization, while it is one.
    let plain = ask(&app, "any.test").bearer_auth(&bob).send().await.unwrap();
    assert_eq!(header(&plain, "remote-org"), None);
    let forged = ask(&app, "any.test").bearer_auth(&bob).header("remote-org", "acme").send().await.unwrap();
    assert_eq!(header(&forged, "remote-org"), None, "never the client's own");
    let in_acme: Value = switch(&app, &bob, json!("acme")).await.json().await.unwrap();
    let in_acme = in_acme["access_token"].as_str().unwrap().to_owned();
    let named = ask(&app, "any.test").bearer_auth(&in_acme).send().await.unwrap();
    assert_eq!(header(&named, "remote-org").as_deref(), Some("acme"));

    assert_eq!(app.delete(&bob_path, Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    let removed = ask(&app, "members.test").bearer_auth(&in_acme).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::FORBIDDEN, "removed: refused at the next request");
    let unnamed = ask(&app, "any.test").bearer_auth(&in_acme).send().await.unwrap();
    assert_eq!((unnamed.status(), header(&unnamed, "remote-org")), (StatusCode::OK, None));
}

#[tokio::test]
async fn an_organization_s_policy_decides_which_sessions_enter_it() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (bob_account, bob) = app.logged_in_user("bob@example.com").await;
    let acme = org(&app, &ann, "acme").await;
    assert_eq!(acme["policy"], json!({}), "none by default");
    crate::orgs::add_member(&app, "acme", &bob_account, "member").await;

    for bad in [json!({"mfa": true}), json!({"login_methods": ["sms"]}), json!({"login_methods": []}), json!("strict")]
    {
        let refused = app.send_json(Method::PATCH, "/orgs/acme", &json!({"policy": bad}), Some(&ann)).await;
        assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let strict = json!({"policy": {"mfa_required": true}});
    let changed: Value = app.send_json(Method::PATCH, "/orgs/acme", &strict, Some(&ann)).await.json().await.unwrap();
    assert_eq!(changed["policy"], json!({"mfa_required": true}));
    // The policy holds at the organization's own routes too, before any right is asked: a
    // session without the second factor it requires (its owner's as well) works there no more.
    let by_member = app.send_json(Method::PATCH, "/orgs/acme", &json!({"policy": {}}), Some(&bob)).await;
    assert_problem(by_member, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    let by_owner = app.send_json(Method::PATCH, "/orgs/acme", &json!({"policy": {}}), Some(&ann)).await;
    assert_problem(by_owner, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;

    // Bob has no second factor: neither a switch nor a login enters.
    assert_problem(switch(&app, &bob, json!("acme")).await, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    let login = json!({"email": "bob@example.com", "password": PASSWORD, "org": "acme"});
    assert_problem(app.post_json("/auth", &login, None).await, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;

    // Only passkeys: a password session is refused; allowing passwords lets it in. (A server
    // admin, who acts as an owner without being a member, changes the policy from here.)
    let root = app.admin("root@example.com").await;
    let passkeys = json!({"policy": {"login_methods": ["passkey"]}});
    assert_eq!(app.send_json(Method::PATCH, "/orgs/acme", &passkeys, Some(&root)).await.status(), StatusCode::OK);
    assert_problem(switch(&app, &bob, json!("acme")).await, StatusCode::FORBIDDEN, "login_method_not_allowed").await;
    let passwords = json!({"policy": {"login_methods": ["password", "passkey"]}});
    assert_eq!(app.send_json(Method::PATCH, "/orgs/acme", &passwords, Some(&root)).await.status(), StatusCode::OK);
    let entered = switch(&app, &bob, json!("acme")).await;
    assert_eq!(entered.status(), StatusCode::OK);
    let entered: Value = entered.json().await.unwrap();
    // A switch hands out a token that lives no longer than the one it was asked with.
    let switched_exp = jwt_payload(entered["access_token"].as_str().unwrap())["exp"].as_i64().unwrap();
    assert!(switched_exp <= jwt_payload(&bob)["exp"].as_i64().unwrap());
    app.count_reaches(Stored::AuditEvents(&["session.org_switched"]), 1).await;
}

#[tokio::test]
async fn forward_auth_org_rules_may_name_the_organization_by_its_id_and_answer_its_id() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let acme = org(&app, &ann, "acme").await;
    let id = acme["id"].as_str().unwrap().to_owned();
    let rules = format!("by-id.test=org:{id}:owner");
    let app = app
        .restart_changing(|config| {
            config.security.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
            config.security.forward_rules = gatehouse::config::forward::parse_forward_rules(&rules).unwrap();
        })
        .await;
    let ann = app.tokens("ann@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let passed = ask(&app, "by-id.test").bearer_auth(&ann).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-org-id").as_deref(), Some(id.as_str()));
    assert_eq!(header(&passed, "remote-org").as_deref(), Some("acme"));
    // A new slug changes nothing for a rule by id.
    app.send_json(Method::PATCH, "/orgs/acme", &json!({"slug": "acme-corp"}), Some(&ann)).await;
    let renamed = ask(&app, "by-id.test").bearer_auth(&ann).send().await.unwrap();
    assert_eq!((renamed.status(), header(&renamed, "remote-org").as_deref()), (StatusCode::OK, Some("acme-corp")));
}
