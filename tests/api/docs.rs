use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_served_openapi_document_is_the_committed_one() {
    let app = spawn_app().await;

    let response = app.get("/openapi.json", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let served: Value = response.json().await.unwrap();
    let committed: Value =
        serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json"))).unwrap();
    assert_eq!(served, committed);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[tokio::test]
async fn the_docs_page_renders_the_document_with_assets_served_by_gatehouse_itself() {
    let app = spawn_app().await;

    let page = app.get("/docs", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"spec-url="openapi.json""#));
    assert!(!html.contains("http://") && !html.contains("https://"), "no CDN: {html}");

    let script = app.get("/docs/redoc.standalone.js", None).await;
    assert_eq!(script.status(), StatusCode::OK);
    assert!(script.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.bytes().await.unwrap().len() > 500_000, "the Redoc bundle is embedded");
}

#[tokio::test]
async fn metrics_count_requests_logins_emails_and_time_the_stores() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("mia@example.com").await;
    assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK);
    let _ = app.log_in("mia@example.com", "a wrong password here").await;

    let response = app.get("/metrics", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    for needle in [
        r#"gatehouse_http_requests_total{method="POST",route="/auth",status="200"}"#,
        r#"gatehouse_http_request_duration_seconds_bucket{method="POST",route="/user",status="201""#,
        r#"gatehouse_logins_total{outcome="success"}"#,
        r#"gatehouse_logins_total{outcome="invalid_credentials"}"#,
        "gatehouse_signups_total",
        "gatehouse_activations_total",
        r#"gatehouse_emails_queued_total{kind="activation"}"#,
        r#"gatehouse_emails_sent_total{kind="activation"}"#,
        "gatehouse_outbox_backlog",
        r#"gatehouse_jobs_waiting{kind="email"}"#,
        r#"gatehouse_jobs_oldest_seconds{kind="email"}"#,
        "gatehouse_password_hash_queue_depth",
        "gatehouse_password_hash_wait_seconds_bucket",
        r#"gatehouse_session_store_duration_seconds_bucket{op="check""#,
        r#"gatehouse_database_duration_seconds_bucket{op="find_account""#,
        // Failure and refusal series exist from the start, at zero until something happens.
        r#"gatehouse_rate_limited_total{action="forgot"}"#,
        r#"gatehouse_logins_total{outcome="disabled"}"#,
        r#"gatehouse_refreshes_total{outcome="reused"}"#,
        r#"gatehouse_emails_failed_total{kind="password_reset"}"#,
        "gatehouse_password_hash_rejected_total",
        r#"gatehouse_build_info{version=""#,
    ] {
        assert!(text.contains(needle), "{needle} missing from /metrics:\n{text}");
    }
}
