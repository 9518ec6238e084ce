//! Moving in: accounts imported with the password hashes the reference libraries made, each
//! replaced with gatehouse's Argon2id at its first login; the same file twice changing nothing;
//! bad lines reported by number; Firebase's scrypt with the project's settings in a header.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app};

/// Hashes made by Python's `bcrypt`, passlib and Django's hashers, and Firebase's published
/// sample (`tests/fixtures/foreign_hashes.py`).
const FIXTURES: &str = include_str!("../fixtures/foreign-hashes.jsonl");

/// The first fixture of `format`: its password, hash, and the whole line.
fn fixture(format: &str) -> (String, String, Value) {
    let line = FIXTURES.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|f| f["format"] == format);
    let line = line.unwrap_or_else(|| panic!("no {format} fixture"));
    (line["password"].as_str().unwrap().to_owned(), line["hash"].as_str().unwrap().to_owned(), line)
}

async fn import(
    app: &TestApp,
    token: &str,
    media: &str,
    body: String,
    headers: &[(&str, String)],
) -> reqwest::Response {
    let mut request = app.client.post(app.url("/admin/users/import")).bearer_auth(token).header("content-type", media);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.body(body).send().await.unwrap()
}

async fn status(app: &TestApp, token: &str) -> Value {
    app.client.get(app.url("/admin/users/import")).bearer_auth(token).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn imported_hashes_log_in_and_are_replaced_and_the_same_file_twice_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let formats = ["bcrypt", "argon2", "scrypt_phc", "pbkdf2_phc", "django"];
    let mut lines: Vec<String> = formats
        .iter()
        .enumerate()
        .map(|(i, format)| {
            let (_, hash, _) = fixture(format);
            json!({"email": format!("user{i}@example.com"), "password_hash": hash, "name": format, "email_verified": true,
                   "data": {"from": "legacy"}, "created_at": "2019-05-01T10:00:00Z"}).to_string()
        })
        .collect();
    let (firebase_password, firebase_hash, firebase) = fixture("firebase_scrypt");
    let salt = firebase["salt"].as_str().unwrap();
    lines.push(json!({"email": "fire@example.com", "password_hash": firebase_hash, "password_salt": salt}).to_string());
    lines.push(json!({"email": "nopass@example.com", "username": "nopass"}).to_string());
    lines.push("{\"email\": \"not an address\", \"password_hash\": \"$2b$04$short\"}".into());
    lines.push("".into());
    lines.push("{\"email\": \"extra@example.com\", \"role\": \"admin\"}".into());
    let project = format!(
        "signer_key={}, salt_separator={}, rounds={}, mem_cost={}",
        firebase["signer_key"].as_str().unwrap(),
        firebase["salt_separator"].as_str().unwrap(),
        firebase["rounds"],
        firebase["mem_cost"]
    );
    let header = [("gatehouse-firebase-project", project)];
    let file = lines.join("\n");

    let response = import(&app, &admin, "application/x-ndjson", file.clone(), &header).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(
        (&report["lines"], &report["imported"], &report["existing"]),
        (&json!(9), &json!(7), &json!(0)),
        "{report}"
    );
    let bad = report["bad"].as_array().unwrap();
    assert_eq!(
        bad.iter().map(|b| b["line"].as_u64().unwrap()).collect::<Vec<_>>(),
        [8, 10],
        "numbered as in the file, the blank line too: {report}"
    );
    assert!(
        bad[0]["error"].as_str().unwrap().contains("email") && bad[0]["error"].as_str().unwrap().contains("bcrypt")
    );
    assert!(bad[1]["error"].as_str().unwrap().contains("role"), "an unknown field is named: {report}");
    let counts = status(&app, &admin).await;
    assert_eq!(
        counts,
        json!({"argon2": 1, "bcrypt": 1, "firebase-scrypt": 1, "none": 1, "pbkdf2": 2, "scrypt": 1}),
        "by format; the admin's own hash is gatehouse's"
    );

    // Again: nothing changes, the accounts already there are counted as such.
    let again: Value = import(&app, &admin, "application/x-ndjson", file, &header).await.json().await.unwrap();
    assert_eq!((&again["imported"], &again["existing"]), (&json!(0), &json!(7)), "{again}");

    // Each logs in with its old password, and from then on has gatehouse's hash.
    for (i, format) in formats.iter().enumerate() {
        let (password, _, _) = fixture(format);
        let email = format!("user{i}@example.com");
        assert_eq!(app.log_in(&email, &format!("{password}x")).await.status(), StatusCode::UNAUTHORIZED, "{format}");
        let tokens = app.tokens(&email, &password).await;
        let me: Value = app.get("/user", tokens["access_token"].as_str()).await.json().await.unwrap();
        assert_eq!((&me["name"], &me["data"]["from"]), (&json!(format), &json!("legacy")));
        assert!(me["created_at"].as_str().unwrap().starts_with("2019-05-01"), "{me}");
    }
    app.tokens("fire@example.com", &firebase_password).await;
    assert_eq!(status(&app, &admin).await, json!({"none": 1}), "every hash that logged in was replaced");
    for (i, format) in formats.iter().enumerate() {
        let (password, _, _) = fixture(format);
        app.tokens(&format!("user{i}@example.com"), &password).await;
    }

    // Without a password, the account logs in no way a password could, until its owner sets one.
    for attempt in ["", "!", "anything at all"] {
        let refused = app.log_in("nopass@example.com", attempt).await;
        assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
}

#[tokio::test]
async fn a_csv_file_imports_and_strict_stops_at_the_first_bad_line() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (password, hash, _) = fixture("bcrypt");
    let csv = format!(
        "email,username,name,data,status,email_verified,password_hash\n\
         ann@example.com,ann,\"Ann, of Tests\",\"{{\"\"plan\"\":\"\"pro\"\"}}\",active,true,{hash}\n\
         bob@example.com,,,,disabled,no,\n"
    );
    let report: Value = import(&app, &admin, "text/csv", csv, &[]).await.json().await.unwrap();
    assert_eq!((&report["imported"], &report["bad"]), (&json!(2), &json!([])), "{report}");
    let tokens = app.tokens("ann@example.com", &password).await;
    let me: Value = app.get("/user", tokens["access_token"].as_str()).await.json().await.unwrap();
    assert_eq!(
        (&me["username"], &me["name"], &me["data"]),
        (&json!("ann"), &json!("Ann, of Tests"), &json!({"plan": "pro"}))
    );

    let file =
        "{\"email\": \"carl@example.com\"}\n{\"email\": \"nobody\"}\n{\"email\": \"dora@example.com\"}".to_owned();
    let response = app
        .client
        .post(app.url("/admin/users/import?strict=true"))
        .bearer_auth(&admin)
        .header("content-type", "application/x-ndjson")
        .body(file)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["detail"].as_str().unwrap().contains("line 2"), "{problem}");
    let counts = status(&app, &admin).await;
    assert_eq!(counts, json!({"none": 1}), "bob; ann's hash was replaced at her login; nothing of the refused batch");
}

#[tokio::test]
async fn only_admins_import_and_only_json_lines_or_csv() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (_, user) = app.logged_in_user("ann@example.com").await;
    let line = "{\"email\": \"x@example.com\"}".to_owned();
    assert_problem(
        import(&app, &user, "application/x-ndjson", line.clone(), &[]).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let wrong = import(&app, &admin, "application/json", line.clone(), &[]).await;
    assert_problem(wrong, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let header = [("gatehouse-firebase-project", "signer_key=abc".to_owned())];
    let bad = import(&app, &admin, "application/x-ndjson", line, &header).await;
    assert_problem(bad, StatusCode::BAD_REQUEST, "malformed_request").await;
}
