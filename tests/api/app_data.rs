//! `app_data`: the JSON object per account that only admins write. The user reads it, the
//! access token carries it, and nothing the user sends changes it — unlike `data`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_problem, jwt_payload, spawn_app};
use crate::stored::Stored;

#[tokio::test]
async fn an_admin_sets_app_data_the_user_reads_it_and_the_next_token_carries_it() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (account, token) = app.logged_in_user("ann@example.com").await;
    let id = account["id"].as_str().unwrap();
    assert_eq!(account["app_data"], json!({}), "empty until an admin writes it");
    assert_eq!(jwt_payload(&token)["app_data"], json!({}));

    let put = app
        .send_json(Method::PUT, &format!("/user/{id}"), &json!({"app_data": {"plan": "pro", "seats": 5}}), Some(&admin))
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let patched = app
        .send_json(
            Method::PATCH,
            &format!("/user/{id}"),
            &json!({"app_data": {"seats": null, "tenant": "acme"}}),
            Some(&admin),
        )
        .await;
    assert_eq!(patched.status(), StatusCode::OK, "a merge patch of app_data");

    let own: Value = app.get("/user/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(own["app_data"], json!({"plan": "pro", "tenant": "acme"}));
    let fresh = app.tokens("ann@example.com", PASSWORD).await;
    assert_eq!(
        jwt_payload(fresh["access_token"].as_str().unwrap())["app_data"],
        json!({"plan": "pro", "tenant": "acme"})
    );
    let refreshed = app.post_json("/auth/refresh", &json!({"refresh_token": fresh["refresh_token"]}), None).await;
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(jwt_payload(refreshed["access_token"].as_str().unwrap())["app_data"]["plan"], "pro", "refresh too");
}

#[tokio::test]
async fn a_user_cannot_write_their_own_app_data_by_any_route() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (account, token) = app.logged_in_user("ben@example.com").await;
    let id = account["id"].as_str().unwrap();
    app.send_json(Method::PATCH, &format!("/user/{id}"), &json!({"app_data": {"plan": "free"}}), Some(&admin)).await;

    for (method, body) in [
        (Method::PUT, json!({"app_data": {"plan": "enterprise"}})),
        (Method::PATCH, json!({"app_data": {"plan": "enterprise"}})),
        (Method::PATCH, json!({"app_data": null})),
    ] {
        let response = app.send_json(method.clone(), "/user/me", &body, Some(&token)).await;
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Sending back what was read is not a change, and is accepted.
    let own: Value = app.get("/user", Some(&token)).await.json().await.unwrap();
    let echo =
        app.send_json(Method::PUT, "/user", &json!({"app_data": own["app_data"], "name": "Ben"}), Some(&token)).await;
    assert_eq!(echo.status(), StatusCode::OK);
    // The user's `data` is theirs; it is never where app_data lives.
    let data = app.send_json(Method::PATCH, "/user", &json!({"data": {"is_admin": true}}), Some(&token)).await;
    let data: Value = data.json().await.unwrap();
    assert_eq!((data["data"]["is_admin"].as_bool(), data["role"].as_str()), (Some(true), Some("user")));
    assert_eq!(data["app_data"], json!({"plan": "free"}));
}

#[tokio::test]
async fn sign_up_refuses_app_data_and_an_admin_may_create_an_account_with_it() {
    let app = spawn_app().await;
    let refused = app
        .sign_up(json!({"email": "cat@example.com", "password": PASSWORD, "app_data": {"plan": "enterprise"}}))
        .await;
    let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "app_data");
    assert_eq!(app.count(Stored::AccountsWithEmail("cat@example.com")).await, 0);

    let admin = app.admin("root@example.com").await;
    let body = json!({"email": "dan@example.com", "password": PASSWORD, "app_data": {"tenant": "acme"}});
    let created = app.post_json("/admin/users", &body, Some(&admin)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.json::<Value>().await.unwrap()["app_data"], json!({"tenant": "acme"}));

    let bad = json!({"email": "eve@example.com", "password": PASSWORD, "app_data": ["not", "an", "object"]});
    let problem = assert_problem(
        app.post_json("/admin/users", &bad, Some(&admin)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "app_data");
}
