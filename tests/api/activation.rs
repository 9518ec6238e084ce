use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_problem, spawn_app};
use crate::stored::{Jobs, Stored};

#[tokio::test]
async fn the_emailed_link_activates_the_account_and_a_second_click_answers_the_same() {
    let app = spawn_app().await;
    app.sign_up(json!({"email": "ann@example.com", "password": PASSWORD})).await;
    let link = app.activation_link("ann@example.com", 1).await;

    let first = app.client.get(&link).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let body: Value = first.json().await.unwrap();
    assert_eq!(body["user"]["status"], "active");
    assert_eq!(body["user"]["email_verified"], true);

    let again = app.client.get(&link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["user"]["status"], "active");
}

#[tokio::test]
async fn a_browser_gets_an_html_page_that_refuses_framing() {
    let app = spawn_app().await;
    app.sign_up(json!({"email": "ben@example.com", "password": PASSWORD})).await;
    let link = app.activation_link("ben@example.com", 1).await;

    let response =
        app.client.get(&link).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8").send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let page = response.text().await.unwrap();
    assert!(page.contains("ben@example.com") && page.contains("active"));
}

#[tokio::test]
async fn post_activate_does_the_same_for_api_clients() {
    let app = spawn_app().await;
    app.sign_up(json!({"email": "cat@example.com", "password": PASSWORD})).await;
    let link = app.activation_link("cat@example.com", 1).await;
    let token = link.split("token=").nth(1).unwrap();

    let response = app.post_json("/activate", &json!({"token": token}), None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.log_in("cat@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_tokens_are_invalid_and_expired_ones_gone() {
    let app = spawn_app().await;
    assert_problem(app.get("/activate?token=nope", None).await, StatusCode::BAD_REQUEST, "token_invalid").await;
    assert_problem(app.get("/activate", None).await, StatusCode::BAD_REQUEST, "malformed_request").await;

    app.sign_up(json!({"email": "dan@example.com", "password": PASSWORD})).await;
    let link = app.activation_link("dan@example.com", 1).await;
    app.expire_links().await;

    assert_problem(app.client.get(&link).send().await.unwrap(), StatusCode::GONE, "token_expired").await;
    let page = app.client.get(&link).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    assert_problem(app.log_in("dan@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_not_activated").await;
}

#[tokio::test]
async fn resend_answers_the_same_for_every_address_and_mails_only_pending_accounts() {
    let app = spawn_app().await;
    app.sign_up(json!({"email": "eve@example.com", "password": PASSWORD})).await;
    app.smtp.wait_for("eve@example.com", 1).await;

    let pending = app.post_json("/activate/resend", &json!({"email": "eve@example.com"}), None).await;
    let unknown = app.post_json("/activate/resend", &json!({"email": "nobody@example.com"}), None).await;

    assert_eq!(pending.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), StatusCode::ACCEPTED);
    assert_eq!(pending.text().await.unwrap(), unknown.text().await.unwrap());
    let second = app.activation_link("eve@example.com", 2).await;
    let first = app.activation_link("eve@example.com", 1).await;
    assert_ne!(first, second, "a fresh link");
    assert_eq!(app.client.get(&second).send().await.unwrap().status(), StatusCode::OK);
    assert!(app.smtp.messages_to("nobody@example.com").is_empty());

    // Once active, a resend sends nothing more.
    app.post_json("/activate/resend", &json!({"email": "eve@example.com"}), None).await;
    app.post_json("/activate/resend", &json!({"email": "eve@example.com"}), None).await;
    assert_eq!(app.count(Stored::Jobs(Jobs::emails_to("eve@example.com"))).await, 2);
}

#[tokio::test]
async fn emails_survive_a_mail_server_that_is_down_at_sign_up() {
    // The SMTP port points nowhere at first; the email waits in the outbox.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let app = crate::helpers::spawn_app_with(
        crate::helpers::Options::default().var("GATEHOUSE_SMTP_URL", &format!("smtp://127.0.0.1:{dead_port}")),
    )
    .await;
    let response = app.sign_up(json!({"email": "fay@example.com", "password": PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(app.count(Stored::Jobs(Jobs { statuses: &["queued", "sending"], ..Jobs::of("email") })).await, 1);
    assert!(app.smtp.messages().is_empty());

    // The mail server comes back on the configured port; the worker's retry delivers it.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", dead_port)).await.unwrap();
    let inbox = crate::smtp::SmtpServer::start_on(listener);
    let email = inbox.nth_to("fay@example.com", 1).await;
    assert!(email.link("/activate?token=").contains("token="));
}
