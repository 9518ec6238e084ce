//! An admin acting as an account (`POST /admin/users/{key}/impersonate`): a step-up and a
//! reason first; a token of the account's for 15 minutes at most, with `act` naming the admin,
//! listed among the account's sessions; refused for what only the owner may do; audited, and
//! told to the owner.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, jwt_payload, spawn_app, spawn_app_with};

async fn impersonate(app: &TestApp, admin: &str, key: &str, reason: &str) -> reqwest::Response {
    app.post_json(&format!("/admin/users/{key}/impersonate"), &json!({ "reason": reason }), Some(admin)).await
}

async fn id_of(app: &TestApp, token: &str) -> String {
    let me: Value = app.get("/user", Some(token)).await.json().await.unwrap();
    me["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_sees_what_the_account_sees_but_cannot_touch_what_is_the_owner_s() {
    let app = spawn_app().await;
    let admin = app.admin("support@example.com").await;
    let admin_id = id_of(&app, &admin).await;
    let (_, owner) = app.logged_in_user("carol@example.com").await;
    let carol_id = id_of(&app, &owner).await;

    let no_reason = impersonate(&app, &admin, "carol@example.com", "  ").await;
    assert_problem(no_reason, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let response = impersonate(&app, &admin, "carol@example.com", "Ticket 4411: the invoice page is blank").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let begun: Value = response.json().await.unwrap();
    assert!(begun.get("refresh_token").is_none(), "{begun}");
    assert!(begun["expires_in"].as_u64().unwrap() <= 900);
    let token = begun["access_token"].as_str().unwrap();
    let claims = jwt_payload(token);
    assert_eq!(
        (claims["sub"].as_str(), claims["act"]["sub"].as_str()),
        (Some(carol_id.as_str()), Some(admin_id.as_str()))
    );

    // The account as its owner sees it, and what the owner could change besides credentials.
    let me: Value = app.get("/user", Some(token)).await.json().await.unwrap();
    assert_eq!(me["email"], "carol@example.com");
    let renamed = app.send_json(Method::PATCH, "/user", &json!({"name": "Carol"}), Some(token)).await;
    assert_eq!(renamed.status(), StatusCode::OK);

    // What is the owner's own.
    let change = json!({"current_password": PASSWORD, "new_password": "a new password for carol 1"});
    let refused = app.post_json("/password/change", &change, Some(token)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    assert_problem(app.delete("/user", Some(token)).await, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    let key = app.post_json("/user/api-keys", &json!({"name": "mine now"}), Some(token)).await;
    assert_problem(key, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    let totp = app.post_json("/mfa/totp", &json!({"password": PASSWORD}), Some(token)).await;
    assert_problem(totp, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    let step_up = app.post_json("/auth/reauthenticate", &json!({"password": PASSWORD}), Some(token)).await;
    assert!(step_up.status().is_client_error(), "no step-up either: {}", step_up.status());
    let again = app.post_json("/password/change", &change, Some(token)).await;
    assert_problem(again, StatusCode::FORBIDDEN, "impersonation_forbidden").await;

    // Listed among the owner's sessions, audited with the reason, told to the owner.
    let sessions: Value = app.get("/auth/sessions", Some(&owner)).await.json().await.unwrap();
    let listed: Vec<&Value> =
        sessions["sessions"].as_array().unwrap().iter().filter(|s| s["impersonated_by"] == admin_id.as_str()).collect();
    assert_eq!(listed.len(), 1, "{sessions}");
    assert_eq!(listed[0]["id"], begun["session_id"]);
    let events: Value = app.get(&format!("/admin/events?account={carol_id}"), Some(&admin)).await.json().await.unwrap();
    let event = events["events"].as_array().unwrap().iter().find(|e| e["kind"] == "admin.impersonated").cloned();
    let event = event.expect("audited");
    assert_eq!(event["actor_id"], admin_id.as_str(), "{event}");
    assert!(event.to_string().contains("Ticket 4411"), "{event}");
    app.smtp.wait_for("carol@example.com", 2).await;
    let notice = app.smtp.messages_to("carol@example.com").into_iter().find(|m| m.subject().contains("administrator"));
    let notice = notice.expect("the owner is told");
    assert!(notice.text().contains("Ticket 4411: the invoice page is blank"), "{}", notice.text());

    // The owner ends it like any session; and it ends by itself within 15 minutes.
    let end = app.delete(&format!("/auth/sessions/{}", begun["session_id"].as_str().unwrap()), Some(&owner)).await;
    assert!(end.status().is_success());
    assert_eq!(app.get("/user", Some(token)).await.status(), StatusCode::UNAUTHORIZED);
    let later = impersonate(&app, &admin, "carol@example.com", "Ticket 4412").await;
    let later: Value = later.json().await.unwrap();
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    let expired = app.get("/user", later["access_token"].as_str()).await;
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn only_a_recently_logged_in_admin_impersonates_and_never_gains_admin_powers_by_it() {
    let options = Options::default()
        .var("GATEHOUSE_IMPERSONATION_NOTICE", "false")
        .var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")
        .var("GATEHOUSE_FORWARD_RULES", "app.test=authenticated");
    let app = spawn_app_with(options).await;
    let admin = app.admin("root@example.com").await;
    let other_admin = app.admin("second@example.com").await;
    let (_, user) = app.logged_in_user("dave@example.com").await;

    let as_user = impersonate(&app, &user, "root@example.com", "curious").await;
    assert_problem(as_user, StatusCode::FORBIDDEN, "forbidden").await;
    let myself = impersonate(&app, &admin, "me", "curious").await;
    assert_problem(myself, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let missing = impersonate(&app, &admin, "nobody@example.com", "why not").await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;

    // An admin's account cannot be impersonated: that would lend the admin's power over others.
    let of_admin = impersonate(&app, &admin, "second@example.com", "Ticket 9").await;
    assert_problem(of_admin, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Acting as a person opens none of the admin routes, and none of what an organization
    // permission allows: reading is the person's view, changing is the owner's.
    let created = app.post_json("/orgs", &json!({"name": "Dave Co", "slug": "dave-co"}), Some(&user)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let begun: Value = impersonate(&app, &admin, "dave@example.com", "Ticket 9").await.json().await.unwrap();
    let token = begun["access_token"].as_str().unwrap();
    assert_problem(app.get("/admin/users", Some(token)).await, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    let nested = impersonate(&app, token, "root@example.com", "chain").await;
    assert_problem(nested, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    assert_eq!(app.get("/orgs/dave-co", Some(token)).await.status(), StatusCode::OK);
    let renamed = app.send_json(Method::PATCH, "/orgs/dave-co", &json!({"name": "Mallory Co"}), Some(token)).await;
    assert_problem(renamed, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    let another = app.post_json("/orgs", &json!({"name": "Side Co", "slug": "side-co"}), Some(token)).await;
    assert_problem(another, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    let invite = json!({"email": "mallory@example.com", "role": "owner"});
    let invited = app.post_json("/orgs/dave-co/invitations", &invite, Some(token)).await;
    assert_problem(invited, StatusCode::FORBIDDEN, "impersonation_forbidden").await;
    assert_eq!(app.get("/admin/users", Some(&other_admin)).await.status(), StatusCode::OK);

    // At forward-auth it passes as the account, with the admin named for the app.
    let root_id = id_of(&app, &admin).await;
    let forward = |bearer: String| {
        app.client
            .get(app.url("/auth/forward"))
            .header("x-forwarded-method", "GET")
            .header("x-forwarded-proto", "http")
            .header("x-forwarded-host", "app.test")
            .header("x-forwarded-uri", "/")
            .bearer_auth(bearer)
            .send()
    };
    let passed = forward(token.to_owned()).await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(passed.headers()["remote-actor"].to_str().unwrap(), root_id);
    let own = forward(other_admin.clone()).await.unwrap();
    assert!(own.status() == StatusCode::OK && own.headers().get("remote-actor").is_none());

    // The notice is off here: nothing told dave.
    app.outbox_settled().await;
    assert!(app.smtp.messages_to("dave@example.com").iter().all(|m| !m.subject().contains("administrator")));

    // A step-up is required: past the re-authentication window the admin must confirm again.
    app.clock.advance(Duration::from_secs(6 * 60));
    let stale = impersonate(&app, &admin, "dave@example.com", "Ticket 10").await;
    assert_problem(stale, StatusCode::FORBIDDEN, "reauthentication_required").await;
}

#[tokio::test]
async fn an_impersonation_ends_when_its_admin_is_no_longer_one() {
    let app = spawn_app().await;
    let admin = app.admin("helpdesk@example.com").await;
    let admin_id = id_of(&app, &admin).await;
    let other_admin = app.admin("head-of-support@example.com").await;
    app.logged_in_user("dora@example.com").await;
    let begun: Value = impersonate(&app, &admin, "dora@example.com", "Ticket 5120").await.json().await.unwrap();
    let token = begun["access_token"].as_str().unwrap();
    assert_eq!(app.get("/user", Some(token)).await.status(), StatusCode::OK);
    let demoted =
        app.send_json(Method::PATCH, &format!("/user/{admin_id}"), &json!({"role": "user"}), Some(&other_admin)).await;
    assert_eq!(demoted.status(), StatusCode::OK);
    assert_eq!(
        app.get("/user", Some(token)).await.status(),
        StatusCode::UNAUTHORIZED,
        "the demoted admin's impersonation is over at the next request"
    );
}
