//! API keys: made once shown, used as a bearer token on gatehouse's API, at forward-auth and
//! at introspection; refused for what takes a login; revoked, expired or a disabled owner's
//! from the next request; an organization's acting as the organization.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, assert_problem, spawn_app_with};
use crate::oauth::register;
use crate::stored::Stored;

async fn app() -> TestApp {
    let options = Options::default()
        .var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")
        .var("GATEHOUSE_FORWARD_RULES", "app.test:8081/acme=org:acme, app.test:8081/admins=org:acme:admin")
        // An hour's budget: it refills one request per 90 s, so no request comes back into it
        // while a test spends 41, however slow the database (a minute's would refill one every
        // 1.5 s, within a slow backend's 41 requests).
        .var("GATEHOUSE_RATE_LIMIT_API_KEY", "40/1h");
    spawn_app_with(options).await
}

async fn make(app: &TestApp, path: &str, body: Value, token: &str) -> Value {
    let made = app.post_json(path, &body, Some(token)).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    assert_eq!(made.headers()["cache-control"], "no-store");
    made.json().await.unwrap()
}

async fn forward(app: &TestApp, path: &str, key: &str) -> reqwest::Response {
    app.client
        .get(app.url("/auth/forward"))
        .bearer_auth(key)
        .header("x-forwarded-method", "GET")
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "app.test:8081")
        .header("x-forwarded-uri", path)
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_key_is_shown_once_opens_the_api_as_its_owner_and_nothing_that_takes_a_login() {
    let app = app().await;
    let (ann, token) = app.logged_in_user("ann@example.com").await;
    let body = json!({"name": "deploy script", "scopes": ["reports:read", "reports:read", "deploy"]});
    let made = make(&app, "/user/api-keys", body, &token).await;
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("gh_") && key.len() == 46, "{key}");
    assert_eq!(made["prefix"], key[..11]);
    assert_eq!(made["scopes"], json!(["deploy", "reports:read"]));
    // Kept as a hash only, and never listed again.
    app.count_reaches(Stored::ApiKeysWithPrefix(&key[..11]), 1).await;
    let listed = app.get("/user/api-keys", Some(&token)).await.text().await.unwrap();
    assert!(listed.contains(made["id"].as_str().unwrap()) && !listed.contains(&key), "{listed}");

    // It opens the API as Ann.
    let me: Value = app.get("/user", Some(&key)).await.json().await.unwrap();
    assert_eq!(me["id"], ann["id"]);
    assert_eq!(app.get("/protected", Some(&key)).await.status(), StatusCode::OK);
    let renamed = app.send_json(Method::PATCH, "/user", &json!({"name": "Ann by script"}), Some(&key)).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    // Not what takes a login: keys, the password, the address, second factors, deletion.
    let refused = [
        app.post_json("/user/api-keys", &json!({"name": "another"}), Some(&key)).await,
        app.send_json(
            Method::DELETE,
            &format!("/user/api-keys/{}", made["id"].as_str().unwrap()),
            &json!({}),
            Some(&key),
        )
        .await,
        app.post_json(
            "/password/change",
            &json!({"current_password": crate::helpers::PASSWORD, "new_password": "a whole new passphrase"}),
            Some(&key),
        )
        .await,
        app.post_json("/mfa/totp", &json!({"password": crate::helpers::PASSWORD}), Some(&key)).await,
        app.send_json(Method::DELETE, "/user", &json!({}), Some(&key)).await,
    ];
    for answer in refused {
        assert_problem(answer, StatusCode::FORBIDDEN, "api_key_forbidden").await;
    }
    // A key that is not one, or one changed by a character, opens nothing.
    let forged = format!("{}{}", &key[..45], if key.ends_with('a') { 'b' } else { 'a' });
    for bad in [forged.as_str(), "gh_short"] {
        assert_problem(app.get("/user", Some(bad)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    app.count_reaches(Stored::AuditEvents(&["api_key.created"]), 1).await;

    // Revoked: refused at the next request.
    let path = format!("/user/api-keys/{}", made["id"].as_str().unwrap());
    let revoked = app.send_json(Method::DELETE, &path, &json!({}), Some(&token)).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/user", Some(&key)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    app.count_reaches(Stored::AuditEvents(&["api_key.revoked"]), 1).await;
}

#[tokio::test]
async fn an_expired_key_or_a_disabled_owners_opens_nothing_and_each_key_has_its_budget() {
    let app = app().await;
    let (_, token) = app.logged_in_user("bob@example.com").await;
    let made = make(&app, "/user/api-keys", json!({"name": "budget"}), &token).await;
    let key = made["key"].as_str().unwrap().to_owned();
    let mut statuses = Vec::new();
    for _ in 0..41 {
        statuses.push(app.get("/protected", Some(&key)).await.status());
    }
    assert!(statuses[..40].iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    assert_eq!(statuses[40], StatusCode::TOO_MANY_REQUESTS);

    let admin = app.admin("root@example.com").await;
    let made = {
        let (_, token) = app.logged_in_user("cat@example.com").await;
        make(&app, "/user/api-keys", json!({"name": "cat's"}), &token).await
    };
    let key = made["key"].as_str().unwrap().to_owned();
    let cat: Value = app.get("/user", Some(&key)).await.json().await.unwrap();
    let path = format!("/user/{}", cat["id"].as_str().unwrap());
    let disabled = app.send_json(Method::PATCH, &path, &json!({"status": "disabled"}), Some(&admin)).await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_problem(app.get("/user", Some(&key)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let (_, token) = app.logged_in_user("ann@example.com").await;
    // A past expiry is refused when the key is made.
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let refused = app.post_json("/user/api-keys", &json!({"name": "x", "expires_at": past}), Some(&token)).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let made = make(&app, "/user/api-keys", json!({"name": "short", "expires_at": soon}), &token).await;
    let key = made["key"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/user", Some(&key)).await.status(), StatusCode::OK);
    app.clock.advance(std::time::Duration::from_secs(2 * 3600));
    assert_problem(app.get("/user", Some(&key)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn forward_auth_and_introspection_tell_apps_who_a_key_is_and_an_organizations_key_acts_as_it() {
    let app = app().await;
    let (ann, token) = app.logged_in_user("ann@example.com").await;
    let created = app.post_json("/orgs", &json!({"name": "Acme", "slug": "acme"}), Some(&token)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let own = make(&app, "/user/api-keys", json!({"name": "mine", "scopes": ["deploy"]}), &token).await;
    let own_key = own["key"].as_str().unwrap();
    let org = make(&app, "/orgs/acme/api-keys", json!({"name": "ci", "scopes": ["ci:run"]}), &token).await;
    let org_key = org["key"].as_str().unwrap();
    assert!(org["org_id"].is_string(), "{org}");

    // Ann's key passes as Ann, with the key and its scopes named.
    let passed = forward(&app, "/anything", own_key).await;
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-user"), ann["id"].as_str().unwrap());
    assert_eq!(header(&passed, "remote-key"), own["id"].as_str().unwrap());
    assert_eq!(header(&passed, "remote-scopes"), "deploy");
    // The organization's key passes as the organization, only where no role is asked.
    let passed = forward(&app, "/acme/x", org_key).await;
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-user"), org["id"].as_str().unwrap());
    assert_eq!(header(&passed, "remote-org"), "acme");
    assert_eq!(header(&passed, "remote-scopes"), "ci:run");
    assert!(header(&passed, "remote-email").is_empty());
    assert_eq!(forward(&app, "/admins/x", org_key).await.status(), StatusCode::FORBIDDEN);
    // It opens none of gatehouse's own routes.
    assert_problem(app.get("/user", Some(org_key)).await, StatusCode::FORBIDDEN, "api_key_forbidden").await;
    // A member without api_keys:manage may not make or list one.
    let (bob, bob_token) = app.logged_in_user("bob@example.com").await;
    crate::orgs::add_member(&app, "acme", &bob, "member").await;
    let refused = app.post_json("/orgs/acme/api-keys", &json!({"name": "x"}), Some(&bob_token)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // Introspection: only a resource server allowed to introspect every token learns of keys.
    let admin = app.admin("root@example.com").await;
    let server = json!({"name": "API", "redirect_uris": ["http://127.0.0.1:9/cb"], "grant_types": ["client_credentials"], "scopes": ["email"], "introspect": true});
    let server = register(&app, &admin, server).await;
    let plain = json!({"name": "Other", "redirect_uris": ["http://127.0.0.1:9/cb"], "grant_types": ["client_credentials"], "scopes": ["email"]});
    let plain = register(&app, &admin, plain).await;
    let ask = |client: &crate::oauth::Client, token: &str| {
        app.client.post(app.url("/oauth2/introspect")).header("authorization", client.basic()).form(&[("token", token)])
    };
    let told: Value = ask(&server, own_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (&told["active"], &told["token_type"], &told["sub"], &told["scope"]),
        (&json!(true), &json!("api_key"), &ann["id"], &json!("deploy")),
        "{told}"
    );
    let told: Value = ask(&server, org_key).send().await.unwrap().json().await.unwrap();
    assert_eq!((&told["sub"], &told["org"]["slug"]), (&org["id"], &json!("acme")), "{told}");
    let told: Value = ask(&plain, own_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(told, json!({"active": false}));
    // Revoked, the organization's key is inactive at once.
    let path = format!("/orgs/acme/api-keys/{}", org["id"].as_str().unwrap());
    assert_eq!(app.send_json(Method::DELETE, &path, &json!({}), Some(&token)).await.status(), StatusCode::NO_CONTENT);
    let told: Value = ask(&server, org_key).send().await.unwrap().json().await.unwrap();
    assert_eq!(told, json!({"active": false}));
    assert_eq!(forward(&app, "/acme/x", org_key).await.status(), StatusCode::UNAUTHORIZED);
}
