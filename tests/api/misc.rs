//! What every response shares (request id, security headers, problem answers for unknown
//! routes and methods), the probes, the JWKS, forged tokens, and the bootstrap admin.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, assert_problem, jwt_header, jwt_payload, spawn_app, spawn_app_with};

fn encode_part(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn request_id(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id on a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_unknown_route_is_a_404_not_found_problem() {
    let app = spawn_app().await;

    let response = app.get("/no/such/route", None).await;

    assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_method_not_allowed_problem_that_lists_the_allowed_ones() {
    let app = spawn_app().await;

    let response = app.send_json(Method::PATCH, "/auth", &json!({}), None).await;

    let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(allow.contains("POST") && allow.contains("DELETE"), "Allow header was {allow:?}");
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
}

#[tokio::test]
async fn every_answer_carries_a_request_id_whatever_its_status() {
    let app = spawn_app().await;

    let ok = app.get("/healthz", None).await;
    let missing = app.get("/nowhere", None).await;
    let unauthorized = app.get("/protected", None).await;
    let refused = app.log_in("nobody@example.com", "wrong password here").await;
    let wrong_method = app.delete("/healthz", None).await;
    let too_large =
        app.sign_up(json!({"email": "big@example.com", "password": PASSWORD, "blob": "x".repeat(70 * 1024)})).await;

    let answers = [ok, missing, unauthorized, refused, wrong_method, too_large];
    let statuses: Vec<StatusCode> = answers.iter().map(|r| r.status()).collect();
    let ids: Vec<String> = answers.iter().map(request_id).collect();
    assert_eq!(statuses, [200, 404, 401, 401, 405, 413]);
    for id in &ids {
        assert!(!id.is_empty());
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "each request gets its own id: {ids:?}");
}

#[tokio::test]
async fn a_request_id_the_client_sent_is_echoed_back_unchanged() {
    let app = spawn_app().await;
    let sent = "client-trace-0193abcd_EF.42:retry=1";

    let ok = app.client.get(app.url("/")).header("x-request-id", sent).send().await.unwrap();
    let problem = app.client.get(app.url("/protected")).header("x-request-id", sent).send().await.unwrap();

    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(request_id(&ok), sent);
    assert_eq!(problem.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(request_id(&problem), sent);
}

#[tokio::test]
async fn a_garbage_request_id_is_replaced_by_a_fresh_one() {
    let app = spawn_app().await;
    let too_long = "a".repeat(300);
    let with_spaces = "two words; and <html>";

    let long = app.client.get(app.url("/healthz")).header("x-request-id", &too_long).send().await.unwrap();
    let spaced = app.client.get(app.url("/healthz")).header("x-request-id", with_spaces).send().await.unwrap();
    let empty = app.client.get(app.url("/healthz")).header("x-request-id", "").send().await.unwrap();

    for (response, sent) in [(long, too_long.as_str()), (spaced, with_spaces), (empty, "")] {
        assert_eq!(response.status(), StatusCode::OK);
        let id = request_id(&response);
        assert_ne!(id, sent);
        assert!(!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()), "{id:?}");
    }
}

#[tokio::test]
async fn the_token_answer_of_a_login_is_neither_cached_nor_sniffed() {
    let app = spawn_app().await;
    app.active_user("ann@example.com", None).await;

    let response = app.log_in("ann@example.com", PASSWORD).await;

    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/json"));
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn the_greeting_with_a_token_is_personal_and_never_cached_and_without_one_is_hello_world() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("ben@example.com").await;

    let anonymous = app.client.get(app.url("/")).header("x-request-id", "greeting-anon").send().await.unwrap();
    let personal =
        app.client.get(app.url("/")).bearer_auth(&token).header("x-request-id", "greeting-ben").send().await.unwrap();

    assert_eq!(request_id(&anonymous), "greeting-anon");
    assert_eq!(request_id(&personal), "greeting-ben");
    assert_eq!(personal.headers()["cache-control"], "no-store");
    assert_eq!(personal.headers()["x-content-type-options"], "nosniff");
    assert_eq!(personal.headers()["x-frame-options"], "DENY");
    assert_eq!(anonymous.json::<Value>().await.unwrap(), json!({"message": "Hello World"}));
    let body: Value = personal.json().await.unwrap();
    assert_eq!(body["message"], "Hello ben@example.com");
    assert_eq!(body["user"]["email"], "ben@example.com");
}

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;

    let response = app.get("/healthz", None).await;

    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_answers_200_while_the_database_and_the_mail_server_are_up() {
    let app = spawn_app().await;

    let response = app.get("/readyz", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"status": "ready", "mail_server": "reachable"}));
}

/// The outbox exists so that mail can wait: an SMTP outage must not take every replica out of
/// the load balancer. Readiness reports the mail server and stays 200.
#[tokio::test]
async fn readyz_stays_ready_and_reports_it_when_the_mail_server_cannot_be_reached() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let app =
        spawn_app_with(Options::default().var("GATEHOUSE_SMTP_URL", &format!("smtp://127.0.0.1:{dead_port}"))).await;

    let ready = app.get("/readyz", None).await;

    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.json::<Value>().await.unwrap()["mail_server"], "unreachable");
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.lines().any(|line| line == "gatehouse_mail_server_up 0"), "{metrics}");
}

#[tokio::test]
async fn the_jwks_publishes_the_ed25519_key_that_verifies_access_tokens() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("cat@example.com").await;

    let response = app.get("/.well-known/jwks.json", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    for key in keys {
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["crv"], "Ed25519");
        assert_eq!(key["alg"], "EdDSA");
        assert!(!key["kid"].as_str().unwrap().is_empty());
        assert!(key.get("d").is_none(), "never the private part");
    }
    let kid = jwt_header(&token)["kid"].clone();
    let key = keys.iter().find(|k| k["kid"] == kid).expect("the token's kid is in the JWKS");
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    assert_eq!(x.len(), 32);
    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &x)
        .verify(signing_input.as_bytes(), &signature)
        .expect("the access token verifies with the published key");
}

#[tokio::test]
async fn a_token_with_alg_none_is_refused() {
    let app = spawn_app().await;
    let (account, token) = app.logged_in_user("dan@example.com").await;
    let mut header = jwt_header(&token);
    header["alg"] = "none".into();
    let unsigned = format!("{}.{}.", encode_part(&header), token.split('.').nth(1).unwrap());

    let response = app.get("/protected", Some(&unsigned)).await;

    assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="gatehouse", error="invalid_token""#);
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let as_user = app.get(&format!("/user/{}", account["id"].as_str().unwrap()), Some(&unsigned)).await;
    assert_problem(as_user, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK, "the genuine token still works");
}

#[tokio::test]
async fn a_token_whose_payload_was_changed_to_admin_is_refused() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("eve@example.com").await;
    let (victim, _) = app.logged_in_user("fay@example.com").await;
    let mut claims = jwt_payload(&token);
    assert_eq!(claims["role"], "user");
    claims["role"] = "admin".into();
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], encode_part(&claims), parts[2]);

    let protected = app.get("/protected", Some(&tampered)).await;
    let other_account = app.get(&format!("/user/{}", victim["id"].as_str().unwrap()), Some(&tampered)).await;

    assert_problem(protected, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(other_account, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK, "the genuine token still works");
}

#[tokio::test]
async fn a_token_signed_by_another_ed25519_key_under_the_servers_kid_is_refused() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("ida@example.com").await;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = jwt_header(&token)["kid"].as_str().map(str::to_owned);
    let key = jsonwebtoken::EncodingKey::from_ed_der(pkcs8.as_ref());
    let forged = jsonwebtoken::encode(&header, &jwt_payload(&token), &key).unwrap();

    let response = app.get("/protected", Some(&forged)).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_token_signed_with_hs256_using_the_public_key_as_secret_is_refused() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("gus@example.com").await;
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    let public = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = jwt_header(&token)["kid"].as_str().map(str::to_owned);
    let forged =
        jsonwebtoken::encode(&header, &jwt_payload(&token), &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap();

    let response = app.get("/protected", Some(&forged)).await;

    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn the_bootstrap_admin_from_the_environment_logs_in_as_admin_and_reads_other_accounts() {
    let admin_password = "bootstrap admin passphrase 42";
    let app = spawn_app_with(
        Options::default()
            .var("GATEHOUSE_ADMIN_EMAIL", "boss@example.com")
            .var("GATEHOUSE_ADMIN_PASSWORD", admin_password),
    )
    .await;
    let other = app.active_user("hal@example.com", Some("hal")).await;

    let tokens = app.tokens("boss@example.com", admin_password).await;

    assert_eq!(tokens["user"]["role"], "admin");
    assert_eq!(tokens["user"]["status"], "active");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_payload(access)["role"], "admin");
    for key in [other["id"].as_str().unwrap(), "hal", "hal@example.com"] {
        let response = app.get(&format!("/user/{key}"), Some(access)).await;
        assert_eq!(response.status(), StatusCode::OK, "GET /user/{key}");
        let account: Value = response.json().await.unwrap();
        assert_eq!(account["id"], other["id"]);
    }
    let missing = app.get("/user/nobody@example.com", Some(access)).await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn malformed_query_strings_and_paths_are_problem_json_400s() {
    let app = crate::helpers::spawn_app().await;
    let (_, token) = app.logged_in_user("query@example.com").await;

    let doubled = app.get("/activate?token=a&token=b", None).await;
    crate::helpers::assert_problem(doubled, reqwest::StatusCode::BAD_REQUEST, "malformed_request").await;
    let bad_scope = app.delete("/auth?scope=a&scope=b", Some(&token)).await;
    crate::helpers::assert_problem(bad_scope, reqwest::StatusCode::BAD_REQUEST, "malformed_request").await;
    let bad_path = app.get("/user/%FF", Some(&token)).await;
    crate::helpers::assert_problem(bad_path, reqwest::StatusCode::BAD_REQUEST, "malformed_request").await;
    let page = app.client.get(app.url("/activate?token=a&token=b")).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::BAD_REQUEST);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
}

#[tokio::test]
async fn a_token_sent_without_the_bearer_scheme_is_told_how_to_send_it() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("bare@example.com").await;

    let bare = app.client.get(app.url("/protected")).header("authorization", &token).send().await.unwrap();

    assert_eq!(bare.headers()["www-authenticate"], r#"Bearer realm="gatehouse", error="invalid_request""#);
    let problem = assert_problem(bare, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(problem["detail"].as_str().unwrap().contains("Bearer scheme"), "{problem}");
}
