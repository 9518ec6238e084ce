//! `/password/change`, `/password/forgot` and `/password/reset` (JSON and the browser form):
//! who may change a password, which sessions end, and how reset links are spent.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app};
use crate::stored::{Jobs, Stored};

const NEW_PASSWORD: &str = "a brand new passphrase 2024";

/// Another session of an account whose password is `password`.
async fn access_token(app: &TestApp, email: &str, password: &str) -> String {
    app.tokens(email, password).await["access_token"].as_str().unwrap().to_owned()
}

async fn change(app: &TestApp, body: Value, token: Option<&str>) -> Response {
    app.post_json("/password/change", &body, token).await
}

async fn forgot(app: &TestApp, email: &str) -> Response {
    app.post_json("/password/forgot", &json!({"email": email}), None).await
}

/// Asks for a reset link for `email` and returns the token of the `nth` email to it.
async fn reset_token(app: &TestApp, email: &str, nth: usize) -> String {
    assert_eq!(forgot(app, email).await.status(), StatusCode::ACCEPTED);
    token_of(&app.reset_link(email, nth).await)
}

fn token_of(link: &str) -> String {
    link.split_once("token=").expect("a token in the link").1.to_owned()
}

async fn reset(app: &TestApp, token: &str, new_password: &str) -> Response {
    app.post_json("/password/reset", &json!({"token": token, "new_password": new_password}), None).await
}

async fn reset_by_form(app: &TestApp, token: &str, new_password: &str) -> Response {
    app.client
        .post(app.url("/password/reset"))
        .form(&[("token", token), ("new_password", new_password)])
        .send()
        .await
        .unwrap()
}

fn assert_html(response: &Response, status: StatusCode) {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let csp = response.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

/// Asserts the page holds the reset form, posting `new_password` with `token` hidden.
fn assert_reset_form(page: &str, token: &str) {
    assert!(page.contains("<form") && page.contains("method=\"post\""), "{page}");
    assert!(page.contains("name=\"new_password\""), "{page}");
    assert!(page.contains(&format!("<input type=\"hidden\" name=\"token\" value=\"{token}\">")), "{page}");
}

fn error_fields(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect()
}

async fn assert_logs_in_only_with(app: &TestApp, email: &str, good: &str, bad: &str) {
    assert_problem(app.log_in(email, bad).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.log_in(email, good).await.status(), StatusCode::OK, "{email} cannot log in with {good:?}");
}

#[tokio::test]
async fn a_change_with_a_token_keeps_the_calling_session_and_ends_every_other() {
    let app = spawn_app().await;
    let (_, caller) = app.logged_in_user("ann@example.com").await;
    let other = access_token(&app, "ann@example.com", PASSWORD).await;

    let response =
        change(&app, json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}), Some(&caller)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/protected", Some(&caller)).await.status(), StatusCode::OK);
    assert_problem(app.get("/protected", Some(&other)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_logs_in_only_with(&app, "ann@example.com", NEW_PASSWORD, PASSWORD).await;
}

#[tokio::test]
async fn a_change_without_a_token_ends_every_session() {
    let app = spawn_app().await;
    let (_, first) = app.logged_in_user("ben@example.com").await;
    let second = access_token(&app, "ben@example.com", PASSWORD).await;

    let body = json!({"email": "BEN@example.com", "current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let response = change(&app, body, None).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for token in [&first, &second] {
        assert_problem(app.get("/protected", Some(token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_logs_in_only_with(&app, "ben@example.com", NEW_PASSWORD, PASSWORD).await;
}

#[tokio::test]
async fn a_wrong_current_password_and_an_unknown_email_get_the_same_401() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("cat@example.com").await;

    let wrong = change(
        &app,
        json!({"email": "cat@example.com", "current_password": "not the password", "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    let unknown = change(
        &app,
        json!({"email": "nobody@example.com", "current_password": "not the password", "new_password": NEW_PASSWORD}),
        None,
    )
    .await;
    let wrong_with_token =
        change(&app, json!({"current_password": "not the password", "new_password": NEW_PASSWORD}), Some(&token)).await;

    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
    assert_problem(wrong_with_token, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK, "a failed change ends no session");
    assert_logs_in_only_with(&app, "cat@example.com", PASSWORD, NEW_PASSWORD).await;
}

#[tokio::test]
async fn a_short_or_common_new_password_is_refused_naming_new_password() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("dan@example.com").await;

    for weak in ["short", "password123"] {
        let with_token = change(&app, json!({"current_password": PASSWORD, "new_password": weak}), Some(&token)).await;
        let body = assert_problem(with_token, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), ["new_password"], "{weak}");

        let without =
            change(&app, json!({"email": "dan@example.com", "current_password": PASSWORD, "new_password": weak}), None)
                .await;
        let body = assert_problem(without, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(error_fields(&body), ["new_password"], "{weak}");
    }

    assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK);
    assert_eq!(app.log_in("dan@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_change_with_a_token_naming_someone_elses_email_is_forbidden() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("eve@example.com").await;
    let (_, victim) = app.logged_in_user("fay@example.com").await;

    let body = json!({"email": "fay@example.com", "current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let response = change(&app, body, Some(&token)).await;

    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.get("/protected", Some(&victim)).await.status(), StatusCode::OK);
    assert_logs_in_only_with(&app, "fay@example.com", PASSWORD, NEW_PASSWORD).await;
    assert_logs_in_only_with(&app, "eve@example.com", PASSWORD, NEW_PASSWORD).await;
}

#[tokio::test]
async fn forgot_answers_byte_for_byte_the_same_and_emails_only_an_existing_account() {
    let app = spawn_app().await;
    app.active_user("gus@example.com", None).await;

    let known = forgot(&app, "gus@example.com").await;
    let unknown = forgot(&app, "nobody@example.com").await;

    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(known.headers()["content-type"], unknown.headers()["content-type"]);
    assert_eq!(known.bytes().await.unwrap(), unknown.bytes().await.unwrap());

    let link = app.reset_link("gus@example.com", 2).await;
    assert!(link.starts_with(&format!("{}/password/reset?token=", app.address)), "{link}");
    assert_eq!(
        app.count(Stored::Jobs(Jobs { topic: Some("password_reset"), ..Jobs::emails_to("gus@example.com") })).await,
        1
    );
    assert_eq!(app.count(Stored::Jobs(Jobs::emails_to("nobody@example.com"))).await, 0);
}

#[tokio::test]
async fn a_reset_sets_the_password_ends_every_session_and_spends_the_link() {
    let app = spawn_app().await;
    let (_, first) = app.logged_in_user("hal@example.com").await;
    let second = access_token(&app, "hal@example.com", PASSWORD).await;
    let token = reset_token(&app, "hal@example.com", 2).await;

    let response = reset(&app, &token, NEW_PASSWORD).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    for session in [&first, &second] {
        assert_problem(app.get("/protected", Some(session)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    assert_logs_in_only_with(&app, "hal@example.com", NEW_PASSWORD, PASSWORD).await;
    let again = reset(&app, &token, "yet another passphrase 99").await;
    assert_problem(again, StatusCode::BAD_REQUEST, "token_invalid").await;
    assert_logs_in_only_with(&app, "hal@example.com", NEW_PASSWORD, "yet another passphrase 99").await;
}

#[tokio::test]
async fn an_expired_reset_link_is_gone() {
    let app = spawn_app().await;
    app.active_user("ivy@example.com", None).await;
    let token = reset_token(&app, "ivy@example.com", 2).await;
    app.expire_links().await;

    let response = reset(&app, &token, NEW_PASSWORD).await;

    assert_problem(response, StatusCode::GONE, "token_expired").await;
    let page = app.client.get(app.url(&format!("/password/reset?token={token}"))).send().await.unwrap();
    assert_html(&page, StatusCode::GONE);
    assert!(!page.text().await.unwrap().contains("<form"));
    assert_html(&reset_by_form(&app, &token, NEW_PASSWORD).await, StatusCode::GONE);
    assert_logs_in_only_with(&app, "ivy@example.com", PASSWORD, NEW_PASSWORD).await;
}

#[tokio::test]
async fn a_weak_new_password_is_refused_and_the_link_stays_usable() {
    let app = spawn_app().await;
    app.active_user("jon@example.com", None).await;
    let token = reset_token(&app, "jon@example.com", 2).await;

    let weak = reset(&app, &token, "short").await;

    let body = assert_problem(weak, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["new_password"]);
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);
    assert_logs_in_only_with(&app, "jon@example.com", NEW_PASSWORD, PASSWORD).await;
}

#[tokio::test]
async fn the_emailed_link_shows_a_framing_proof_form_without_spending_the_token() {
    let app = spawn_app().await;
    app.active_user("kim@example.com", None).await;
    assert_eq!(forgot(&app, "kim@example.com").await.status(), StatusCode::ACCEPTED);
    let link = app.reset_link("kim@example.com", 2).await;
    let token = token_of(&link);

    let response = app.client.get(&link).header("accept", "text/html").send().await.unwrap();

    assert_html(&response, StatusCode::OK);
    assert_reset_form(&response.text().await.unwrap(), &token);
    let shown_again = app.client.get(&link).send().await.unwrap();
    assert_eq!(shown_again.status(), StatusCode::OK, "showing the form spends nothing");
    assert_eq!(app.count(Stored::UnspentLinks("password_reset")).await, 1);
    assert_eq!(reset(&app, &token, NEW_PASSWORD).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_form_post_sets_the_password_and_answers_with_an_html_page() {
    let app = spawn_app().await;
    let (_, session) = app.logged_in_user("lea@example.com").await;
    let token = reset_token(&app, "lea@example.com", 2).await;

    let response = reset_by_form(&app, &token, NEW_PASSWORD).await;

    assert_html(&response, StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("password has been changed"), "{page}");
    assert!(!page.contains("<form"), "{page}");
    assert_problem(app.get("/protected", Some(&session)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_logs_in_only_with(&app, "lea@example.com", NEW_PASSWORD, PASSWORD).await;
    let spent = reset_by_form(&app, &token, "yet another passphrase 99").await;
    assert_html(&spent, StatusCode::BAD_REQUEST);
    assert_logs_in_only_with(&app, "lea@example.com", NEW_PASSWORD, "yet another passphrase 99").await;
}

#[tokio::test]
async fn a_weak_password_in_the_form_shows_the_form_again_with_the_reason() {
    let app = spawn_app().await;
    app.active_user("max@example.com", None).await;
    let token = reset_token(&app, "max@example.com", 2).await;

    let response = reset_by_form(&app, &token, "short").await;

    assert_html(&response, StatusCode::UNPROCESSABLE_ENTITY);
    let page = response.text().await.unwrap();
    assert_reset_form(&page, &token);
    assert!(page.contains("at least 8 characters</p>"), "the reason is shown: {page}");
    assert_eq!(reset_by_form(&app, &token, NEW_PASSWORD).await.status(), StatusCode::OK, "the link is not spent");
    assert_logs_in_only_with(&app, "max@example.com", NEW_PASSWORD, PASSWORD).await;
}

#[tokio::test]
async fn an_unknown_reset_link_shows_an_html_error_page() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(app.url("/password/reset?token=made-up-token"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();

    assert_html(&response, StatusCode::BAD_REQUEST);
    let page = response.text().await.unwrap();
    assert!(page.contains("not valid"), "{page}");
    assert!(!page.contains("<form"), "{page}");
}

#[tokio::test]
async fn a_reset_activates_a_still_pending_account() {
    let app = spawn_app().await;
    let signed_up = app.sign_up(json!({"email": "ned@example.com", "password": PASSWORD})).await;
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    app.smtp.wait_for("ned@example.com", 1).await;
    assert_problem(app.log_in("ned@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_not_activated").await;
    let token = reset_token(&app, "ned@example.com", 2).await;

    let response = reset(&app, &token, NEW_PASSWORD).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let tokens = app.tokens("ned@example.com", NEW_PASSWORD).await;
    assert_eq!(tokens["user"]["status"], "active");
    assert_eq!(tokens["user"]["email_verified"], true);
}
