//! A restart (same database) keeps everything a client holds: access and refresh tokens,
//! emailed links, the signing key, and the logouts that happened before it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, assert_problem, jwt_header, spawn_app, spawn_app_with};
use crate::stored::Stored;

async fn jwks_kids(app: &crate::helpers::TestApp) -> Vec<String> {
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn tokens_links_and_the_signing_key_from_before_a_restart_still_work_after_it() {
    // Arrange: A logged in, B signed up but not yet activated, C logged in and out again.
    let app = spawn_app().await;
    app.active_user("ann@example.com", None).await;
    let ann = app.tokens("ann@example.com", PASSWORD).await;
    let ann_access = ann["access_token"].as_str().unwrap().to_owned();
    let ann_refresh = ann["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.sign_up(json!({"email": "ben@example.com", "password": PASSWORD})).await.status(),
        StatusCode::CREATED
    );
    let ben_link = app.activation_link("ben@example.com", 1).await;
    let (_, cat_access) = app.logged_in_user("cat@example.com").await;
    assert_eq!(app.delete("/auth", Some(&cat_access)).await.status(), StatusCode::NO_CONTENT);
    let kids_before = jwks_kids(&app).await;
    let address_before = app.address.clone();

    // Act
    let app = app.restart().await;

    // Assert
    assert_eq!(app.address, address_before);
    assert_eq!(jwks_kids(&app).await, kids_before, "the signing key survives");
    assert!(kids_before.contains(&jwt_header(&ann_access)["kid"].as_str().unwrap().to_owned()));

    let protected = app.get("/protected", Some(&ann_access)).await;
    assert_eq!(protected.status(), StatusCode::OK, "A's access token still opens /protected");

    let refreshed = app.post_json("/auth/refresh", &json!({"refresh_token": ann_refresh}), None).await;
    assert_eq!(refreshed.status(), StatusCode::OK, "A's refresh token still refreshes");
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(app.get("/protected", refreshed["access_token"].as_str()).await.status(), StatusCode::OK);

    let activated = app.client.get(&ben_link).send().await.unwrap();
    assert_eq!(activated.status(), StatusCode::OK, "B's link from before the restart still activates");
    assert_eq!(activated.json::<Value>().await.unwrap()["user"]["status"], "active");
    assert_eq!(app.log_in("ben@example.com", PASSWORD).await.status(), StatusCode::OK);

    assert_problem(app.get("/protected", Some(&cat_access)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn the_bootstrap_admin_keeps_its_sessions_across_a_restart() {
    let admin_password = "bootstrap admin passphrase 42";
    let app = spawn_app_with(
        Options::default()
            .var("GATEHOUSE_ADMIN_EMAIL", "boss@example.com")
            .var("GATEHOUSE_ADMIN_PASSWORD", admin_password),
    )
    .await;
    let tokens = app.tokens("boss@example.com", admin_password).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let app = app.restart().await;

    assert_eq!(
        app.get("/protected", Some(&access)).await.status(),
        StatusCode::OK,
        "start-up did not end the admin's sessions"
    );
    let again = app.tokens("boss@example.com", admin_password).await;
    assert_eq!(again["user"]["id"], tokens["user"]["id"], "still the one admin account");
    assert_eq!(app.count(Stored::Admins).await, 1);
}
