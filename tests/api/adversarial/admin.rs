//! What an admin's token alone can do: actions that create lasting access need the admin to
//! have authenticated recently, at their highest level; a password alone refreshes level 1
//! only. And what an import can ask of a login.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app};
use crate::mfa::{code_on_server_time, enrolled_user};

/// Moves the server's clock past the default five-minute re-authentication window: every
/// session authenticated before is now too old for a step-up, and one authenticated after has
/// the whole window ahead of it however slow the store's round trips are.
fn outgrow_the_window(app: &TestApp) {
    app.clock.advance(std::time::Duration::from_secs(5 * 60 + 1));
}

#[tokio::test]
async fn an_old_admin_token_cannot_create_lasting_access_until_the_admin_authenticates_again() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (user, _) = app.logged_in_user("ann@example.com").await;
    let ann = user["id"].as_str().unwrap().to_owned();
    outgrow_the_window(&app);

    let client = json!({"name": "Backdoor", "redirect_uris": ["https://evil.example/cb"], "first_party": true});
    let hook = json!({"url": "https://hooks.example.com/in", "events": ["user.created"]});
    let attempts: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/admin/clients".into(), client.clone()),
        (Method::POST, "/admin/webhooks".into(), hook),
        (Method::PATCH, format!("/user/{ann}"), json!({"role": "admin"})),
        // The groups forward-auth rules read.
        (Method::PATCH, format!("/user/{ann}"), json!({"app_data": {"roles": ["staff"]}})),
        (Method::POST, "/admin/users".into(), json!({"email": "new-admin@example.com", "role": "admin"})),
        (Method::DELETE, "/admin/users/ann@example.com/mfa".into(), json!({})),
    ];
    for (method, path, body) in &attempts {
        let refused = app.send_json(method.clone(), path, body, Some(&admin)).await;
        assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    }
    let import = app
        .client
        .post(app.url("/admin/users/import"))
        .bearer_auth(&admin)
        .header("content-type", "application/x-ndjson")
        .body("{\"email\": \"imported@example.com\"}")
        .send()
        .await
        .unwrap();
    assert_problem(import, StatusCode::FORBIDDEN, "reauthentication_required").await;
    // Reading, and changes that create no access, still work.
    assert_eq!(app.get("/admin/users", Some(&admin)).await.status(), StatusCode::OK);
    let renamed = app.send_json(Method::PATCH, &format!("/user/{ann}"), &json!({"name": "Ann"}), Some(&admin)).await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let plan = json!({"app_data": {"plan": "pro"}});
    assert_eq!(
        app.send_json(Method::PATCH, &format!("/user/{ann}"), &plan, Some(&admin)).await.status(),
        StatusCode::OK
    );

    let fresh = app.post_json("/auth/reauthenticate", &json!({"password": PASSWORD}), Some(&admin)).await;
    let fresh: Value = fresh.json().await.unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    let made = app.post_json("/admin/clients", &client, Some(fresh)).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let promoted = app.send_json(Method::PATCH, &format!("/user/{ann}"), &json!({"role": "admin"}), Some(fresh)).await;
    assert_eq!(promoted.status(), StatusCode::OK);
}

/// An admin with a second factor: a password alone, however recent, does not count for the
/// actions that need a recent authentication at the admin's highest level.
#[tokio::test]
async fn an_admin_with_a_second_factor_needs_it_again_not_just_the_password() {
    let app = spawn_app().await;
    let (token, secret, _) = enrolled_user(&app, "boss@example.com").await;
    let root = app.admin("root2@example.com").await;
    let promoted = app.send_json(Method::PATCH, "/user/boss@example.com", &json!({"role": "admin"}), Some(&root)).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    outgrow_the_window(&app);
    // The boss's session is at level 2 from the code of the enrolment; its second factor is now
    // more than the window old.
    let by_password = app.post_json("/auth/reauthenticate", &json!({"password": PASSWORD}), Some(&token)).await;
    assert_eq!(by_password.status(), StatusCode::OK);
    let by_password: Value = by_password.json().await.unwrap();
    let stale = by_password["access_token"].as_str().unwrap();
    let client = json!({"name": "App", "redirect_uris": ["https://app.example.org/cb"]});
    let refused = app.post_json("/admin/clients", &client, Some(stale)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let by_code = app
        .post_json("/auth/reauthenticate", &json!({"code": code_on_server_time(&app, &secret, 1)}), Some(stale))
        .await;
    let by_code: Value = by_code.json().await.unwrap();
    let made = app.post_json("/admin/clients", &client, by_code["access_token"].as_str()).await;
    assert_eq!(made.status(), StatusCode::CREATED);
}

/// A hash that would make each login with it cost seconds is refused at import, naming its
/// line and the limit; a hash within the limit goes in.
#[tokio::test]
async fn an_import_refuses_hashes_that_would_make_a_login_cost_seconds() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let salt = "o4g2bmmyULpl8D3aY/ykre6Suxo8q4GRkuuQ6A2WFoUAPbPv8LoAS";
    let lines = [
        json!({"email": "fine@example.com", "password_hash": format!("$2b$12${salt}")}),
        json!({"email": "slow@example.com", "password_hash": format!("$2b$15${salt}")}),
        json!({"email": "pbkdf2@example.com", "password_hash": "pbkdf2_sha256$2000000$salt$aGFzaGhhc2hoYXNoaGFzaA=="}),
    ];
    let body = lines.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    let report = app
        .client
        .post(app.url("/admin/users/import"))
        .bearer_auth(&admin)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(report.status(), StatusCode::OK);
    let report: Value = report.json().await.unwrap();
    assert_eq!(report["imported"], 1, "{report}");
    let bad = report["bad"].to_string();
    assert!(bad.contains("2") && bad.contains("cost 13"), "line 2 and the bcrypt limit: {bad}");
    assert!(bad.contains("3") && bad.contains("1000000"), "line 3 and the PBKDF2 limit: {bad}");
}
