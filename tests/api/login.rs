use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_problem, jwt_header, jwt_payload, spawn_app};

#[tokio::test]
async fn login_returns_a_bearer_token_with_the_contract_claims() {
    let app = spawn_app().await;
    let account = app.active_user("ann@example.com", Some("ann")).await;

    let tokens = app.tokens("ann@example.com", PASSWORD).await;

    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["user"]["id"], account["id"]);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 40);
    let access = tokens["access_token"].as_str().unwrap();
    let header = jwt_header(access);
    assert_eq!(header["alg"], "EdDSA");
    let claims = jwt_payload(access);
    assert_eq!(claims["sub"], account["id"]);
    assert_eq!(claims["email"], "ann@example.com");
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["iss"], app.address);
    for claim in ["sid", "iat", "exp", "jti"] {
        assert!(!claims[claim].is_null(), "{claim} missing");
    }
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 900);

    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], header["kid"]);
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
}

#[tokio::test]
async fn login_takes_a_username_a_username_holding_an_email_and_a_form_body() {
    let app = spawn_app().await;
    app.active_user("ben@example.com", Some("ben")).await;

    let by_username = app.post_json("/auth", &json!({"username": "BEN", "password": PASSWORD}), None).await;
    assert_eq!(by_username.status(), StatusCode::OK);
    let as_email = app.post_json("/auth", &json!({"username": "ben@example.com", "password": PASSWORD}), None).await;
    assert_eq!(as_email.status(), StatusCode::OK);
    let form = app
        .client
        .post(app.url("/auth"))
        .form(&[("username", "ben"), ("password", PASSWORD), ("grant_type", "password")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let body: Value = form.json().await.unwrap();
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = spawn_app().await;
    app.active_user("cat@example.com", None).await;

    let wrong = app.log_in("cat@example.com", "not the right password").await;
    let unknown = app.log_in("nobody@example.com", "not the right password").await;

    assert!(wrong.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn a_pending_account_cannot_log_in_until_activated() {
    let app = spawn_app().await;
    app.sign_up(json!({"email": "dan@example.com", "password": PASSWORD})).await;

    assert_problem(app.log_in("dan@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_not_activated").await;
    // The wrong password says nothing about the account's state.
    assert_problem(
        app.log_in("dan@example.com", "wrong password here").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn login_without_identifier_or_password_is_malformed() {
    let app = spawn_app().await;
    assert_problem(
        app.post_json("/auth", &json!({"password": PASSWORD}), None).await,
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;
    assert_problem(
        app.post_json("/auth", &json!({"email": "a@example.com"}), None).await,
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;
}

#[tokio::test]
async fn only_a_valid_token_opens_the_protected_resource() {
    let app = spawn_app().await;
    let (account, token) = app.logged_in_user("eve@example.com").await;

    let anonymous = app.get("/protected", None).await;
    assert_eq!(anonymous.headers()["www-authenticate"], r#"Bearer realm="gatehouse""#);
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let garbage = app.get("/protected", Some("not.a.token")).await;
    assert_eq!(garbage.headers()["www-authenticate"], r#"Bearer realm="gatehouse", error="invalid_token""#);
    assert_problem(garbage, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let wrong_scheme =
        app.client.get(app.url("/protected")).header("authorization", format!("Basic {token}")).send().await.unwrap();
    assert_problem(wrong_scheme, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let ok = app.get("/protected", Some(&token)).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["cache-control"], "no-store");
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["user_id"], account["id"]);
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn logout_kills_the_token_on_the_next_request() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("fay@example.com").await;
    let other = app.tokens("fay@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();

    assert_eq!(app.delete("/auth", Some(&token)).await.status(), StatusCode::NO_CONTENT);

    assert_problem(app.get("/protected", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(app.delete("/auth", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.get("/protected", Some(&other)).await.status(), StatusCode::OK, "other sessions live on");
}

#[tokio::test]
async fn logout_with_scope_all_ends_every_session() {
    let app = spawn_app().await;
    let (_, first) = app.logged_in_user("gus@example.com").await;
    let second = app.tokens("gus@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();

    assert_eq!(app.delete("/auth?scope=all", Some(&first)).await.status(), StatusCode::NO_CONTENT);

    for token in [&first, &second] {
        assert_problem(app.get("/protected", Some(token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_spent_refresh_token_revokes_the_session() {
    let app = spawn_app().await;
    app.active_user("hal@example.com", None).await;
    let first = app.tokens("hal@example.com", PASSWORD).await;
    let refresh = first["refresh_token"].as_str().unwrap();

    let response = app.post_json("/auth/refresh", &json!({"refresh_token": refresh}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let new_access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_payload(&new_access)["sid"], jwt_payload(first["access_token"].as_str().unwrap())["sid"]);
    assert_eq!(app.get("/protected", Some(&new_access)).await.status(), StatusCode::OK);

    // Rotate once more; now the first token is two rotations old, past any grace: presenting
    // it revokes the whole session, new tokens included.
    let response = app.post_json("/auth/refresh", &json!({"refresh_token": second["refresh_token"]}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let third: Value = response.json().await.unwrap();
    let reuse = app.post_json("/auth/refresh", &json!({"refresh_token": refresh}), None).await;
    assert_problem(reuse, StatusCode::BAD_REQUEST, "token_invalid").await;
    assert_problem(app.get("/protected", Some(&new_access)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let newest = app.post_json("/auth/refresh", &json!({"refresh_token": third["refresh_token"]}), None).await;
    assert_problem(newest, StatusCode::BAD_REQUEST, "token_invalid").await;
}

#[tokio::test]
async fn unknown_refresh_tokens_and_refresh_after_logout_are_invalid() {
    let app = spawn_app().await;
    app.active_user("ivy@example.com", None).await;
    let tokens = app.tokens("ivy@example.com", PASSWORD).await;
    assert_problem(
        app.post_json("/auth/refresh", &json!({"refresh_token": "made-up"}), None).await,
        StatusCode::BAD_REQUEST,
        "token_invalid",
    )
    .await;
    assert_problem(
        app.post_json("/auth/refresh", &json!({}), None).await,
        StatusCode::BAD_REQUEST,
        "malformed_request",
    )
    .await;

    app.delete("/auth", tokens["access_token"].as_str()).await;

    let after = app.post_json("/auth/refresh", &json!({"refresh_token": tokens["refresh_token"]}), None).await;
    assert_problem(after, StatusCode::BAD_REQUEST, "token_invalid").await;
}

#[tokio::test]
async fn the_session_list_shows_live_sessions_and_one_can_be_ended() {
    let app = spawn_app().await;
    app.active_user("jon@example.com", None).await;
    let phone = app
        .client
        .post(app.url("/auth"))
        .header("user-agent", "phone-app/1.0")
        .json(&json!({"email": "jon@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let laptop = app.tokens("jon@example.com", PASSWORD).await;
    let laptop_token = laptop["access_token"].as_str().unwrap();

    let list: Value = app.get("/auth/sessions", Some(laptop_token)).await.json().await.unwrap();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let phone_session = sessions.iter().find(|s| s["user_agent"] == "phone-app/1.0").unwrap();
    assert_eq!(phone_session["current"], false);
    assert_eq!(phone_session["ip"], "127.0.0.1");
    for field in ["id", "created_at", "last_used_at", "expires_at"] {
        assert!(phone_session[field].is_string(), "{field}");
    }

    let path = format!("/auth/sessions/{}", phone_session["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, Some(laptop_token)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get("/protected", phone["access_token"].as_str()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_problem(app.delete(&path, Some(laptop_token)).await, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn nobody_can_end_another_accounts_session() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("kim@example.com").await;
    let (_, ben) = app.logged_in_user("lea@example.com").await;
    let ben_sid = jwt_payload(&ben)["sid"].as_str().unwrap().to_owned();

    let response = app.delete(&format!("/auth/sessions/{ben_sid}"), Some(&ann)).await;

    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get("/protected", Some(&ben)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_json_login_with_a_username_in_email_works_as_the_form_does() {
    let app = spawn_app().await;
    app.active_user("ben@example.com", Some("ben")).await;

    let response = app.post_json("/auth", &json!({"email": "ben", "password": PASSWORD}), None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let wrong = app.post_json("/auth", &json!({"email": "ben", "password": "not the password"}), None).await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}
