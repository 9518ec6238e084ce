use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, assert_problem, spawn_app, spawn_app_with};
use crate::stored::Stored;

#[tokio::test]
async fn sign_up_creates_a_pending_account_and_emails_a_confirmation_link() {
    let app = spawn_app().await;

    let response =
        app.sign_up(json!({"email": "Ann@Example.com", "password": PASSWORD, "username": "ann", "name": "Ann"})).await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let account: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/user/{}", account["id"].as_str().unwrap()));
    assert_eq!(account["email"], "Ann@Example.com");
    assert_eq!(account["username"], "ann");
    assert_eq!(account["name"], "Ann");
    assert_eq!(account["status"], "pending");
    assert_eq!(account["role"], "user");
    assert_eq!(account["email_verified"], false);
    assert!(account.get("password").is_none() && account.get("password_hash").is_none());
    let id = uuid::Uuid::parse_str(account["id"].as_str().unwrap()).unwrap();
    assert_eq!(id.get_version_num(), 7);

    let email = app.smtp.nth_to("Ann@Example.com", 1).await;
    assert_eq!(email.subject(), "Confirm your email address");
    let link = email.link("/activate?token=");
    assert!(link.starts_with(&format!("{}/activate?token=", app.address)), "{link}");
    assert!(email.html().contains(&link), "the HTML part carries the link too");
    assert!(email.message_id().contains('@'));
}

#[tokio::test]
async fn extra_top_level_fields_are_kept_in_data() {
    let app = spawn_app().await;

    let response = app
        .sign_up(json!({"email": "ben@example.com", "password": PASSWORD, "phone": "+49 30 1234", "address": {"city": "Berlin"}, "data": {"lang": "de"}}))
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let account: Value = response.json().await.unwrap();
    assert_eq!(account["data"], json!({"lang": "de", "phone": "+49 30 1234", "address": {"city": "Berlin"}}));
}

#[tokio::test]
async fn a_taken_email_or_username_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    let first = app.sign_up(json!({"email": "cat@example.com", "password": PASSWORD, "username": "Cat"})).await;
    assert_eq!(first.status(), StatusCode::CREATED);

    let same_email = app.sign_up(json!({"email": " CAT@example.COM ", "password": PASSWORD})).await;
    assert_problem(same_email, StatusCode::CONFLICT, "email_taken").await;
    let same_username =
        app.sign_up(json!({"email": "other@example.com", "password": PASSWORD, "username": "cAT"})).await;
    assert_problem(same_username, StatusCode::CONFLICT, "username_taken").await;
}

#[tokio::test]
async fn invalid_fields_are_all_reported_in_one_answer() {
    let app = spawn_app().await;

    let response =
        app.sign_up(json!({"email": "not-an-email", "password": "short", "username": "x!", "data": [1, 2]})).await;

    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for field in ["email", "password", "username", "data"] {
        assert!(fields.contains(&field), "{field} missing from {body}");
    }
    assert!(app.smtp.messages().is_empty(), "no email for a refused sign-up");
}

#[tokio::test]
async fn common_passwords_are_refused_with_a_reason() {
    let app = spawn_app().await;
    for password in ["password123", "iloveyou1", "qwertyuiop"] {
        let response = app.sign_up(json!({"email": "dan@example.com", "password": password})).await;
        let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("common"), "{body}");
    }
}

#[tokio::test]
async fn a_password_of_1025_characters_is_refused_and_1024_accepted() {
    let app = spawn_app().await;
    let long = app.sign_up(json!({"email": "eve@example.com", "password": "x".repeat(1025)})).await;
    assert_problem(long, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fine = app.sign_up(json!({"email": "eve@example.com", "password": "xy".repeat(512)})).await;
    assert_eq!(fine.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn missing_or_mistyped_fields_are_malformed_requests() {
    let app = spawn_app().await;
    for body in [
        json!({"password": PASSWORD}),
        json!({"email": "fay@example.com"}),
        json!({"email": 42, "password": PASSWORD}),
        json!([1]),
    ] {
        let response = app.sign_up(body.clone()).await;
        assert_problem(response, StatusCode::BAD_REQUEST, "malformed_request").await;
    }
}

#[tokio::test]
async fn broken_json_is_400_and_a_wrong_content_type_is_415() {
    let app = spawn_app().await;
    let broken = app
        .client
        .post(app.url("/user"))
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_problem(broken, StatusCode::BAD_REQUEST, "malformed_request").await;
    let text =
        app.client.post(app.url("/user")).header("content-type", "text/plain").body("hello").send().await.unwrap();
    assert_problem(text, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let none = app.client.post(app.url("/user")).body("{}").send().await.unwrap();
    assert_problem(none, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let huge = json!({"email": "gus@example.com", "password": PASSWORD, "data": {"blob": "x".repeat(70 * 1024)}});
    let response = app.sign_up(huge).await;
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn data_over_16_kib_is_a_validation_error() {
    let app = spawn_app().await;
    let big = json!({"email": "hal@example.com", "password": PASSWORD, "data": {"blob": "x".repeat(20 * 1024)}});
    let body = assert_problem(app.sign_up(big).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "data");
}

#[tokio::test]
async fn fifty_simultaneous_sign_ups_with_one_email_make_one_account() {
    let app = spawn_app().await;
    let mut attempts = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url("/user");
        attempts.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"email": "ivy@example.com", "password": PASSWORD}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut created = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn closed_sign_up_answers_403_but_admins_still_create_accounts() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_SIGNUP", "closed")).await;

    let refused = app.sign_up(json!({"email": "walkin@example.com", "password": PASSWORD})).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "signup_disabled").await;
    assert_eq!(app.count(Stored::AccountsWithEmail("walkin@example.com")).await, 0);

    let admin = app.admin("root@example.com").await;
    let invited = app.post_json("/admin/users", &json!({"email": "invited@example.com"}), Some(&admin)).await;
    assert_eq!(invited.status(), StatusCode::CREATED, "an admin's invitation still works");
    let link = app.reset_link("invited@example.com", 1).await;
    assert!(link.contains("/password/reset?token="), "the invited account is sent a link to choose a password");
}

#[tokio::test]
async fn every_missing_field_is_named_and_no_parser_wording_reaches_the_client() {
    let app = spawn_app().await;

    let empty = app.sign_up(json!({})).await;
    let problem = assert_problem(empty, StatusCode::BAD_REQUEST, "malformed_request").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "password"]);

    let change = app.post_json("/password/change", &json!({"email": "a@example.com"}), None).await;
    let problem = assert_problem(change, StatusCode::BAD_REQUEST, "malformed_request").await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["current_password", "new_password"], "{problem}");

    let mistyped = app.post_json("/password/forgot", &json!({"email": 42}), None).await;
    let problem = assert_problem(mistyped, StatusCode::BAD_REQUEST, "malformed_request").await;
    assert_eq!(problem["detail"], "The field `email` must be a string.");
    let broken = app
        .client
        .post(app.url("/auth"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(broken, StatusCode::BAD_REQUEST, "malformed_request").await;
    for wording in ["invalid type", "missing field", "EOF while parsing", "expected"] {
        assert!(!problem["detail"].as_str().unwrap().contains(wording), "{problem}");
    }
}
