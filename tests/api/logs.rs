//! The log (captured at debug level) shows every request, and never a password, an access or
//! refresh token, or the token of an emailed link.

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use crate::captured::logs;
use crate::helpers::spawn_app;

/// Sends a request tagged with a request id of this test, so its log lines can be found.
async fn send(request: RequestBuilder, id: &str) -> Response {
    request.header("x-request-id", id).send().await.unwrap()
}

/// The log with its terminal colour codes (`ESC [ … m`) taken out.
fn without_colours(log: &str) -> String {
    let mut plain = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

/// Whether a log line has the field `name` with exactly this value, quoted or not.
fn has_field(line: &str, name: &str, value: &str) -> bool {
    [format!("{name}={value}"), format!("{name}=\"{value}\"")].iter().any(|field| {
        line.match_indices(field.as_str())
            .any(|(at, _)| matches!(line[at + field.len()..].chars().next(), None | Some(' ' | '}' | ',')))
    })
}

fn link_token(link: &str) -> String {
    link.split("token=").nth(1).expect("a token in the link").to_owned()
}

#[tokio::test]
async fn a_whole_account_story_logs_each_request_but_no_password_token_or_link() {
    // Arrange: passwords nobody else in this test process uses.
    let first_password = "logs-first-Passphrase-5c1e9a77";
    let wrong_password = "logs-wrong-Guess-0b6d2f14";
    let second_password = "logs-second-Passphrase-93ad41e0";
    let third_password = "logs-third-Passphrase-e27f08b5";
    let app = spawn_app().await;
    let c = &app.client;
    let mut secrets: Vec<(&str, String)> = vec![
        ("first password", first_password.to_owned()),
        ("wrong password", wrong_password.to_owned()),
        ("second password", second_password.to_owned()),
        ("third password", third_password.to_owned()),
    ];

    // Act: sign up, fail a login, activate, log in twice, use and refresh the tokens, change
    // the password, reset it by email, log in and out.
    let signed_up = send(
        c.post(app.url("/user")).json(&json!({"email": "lou@example.com", "password": first_password})),
        "logs-1-signup",
    )
    .await;
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let wrong = send(
        c.post(app.url("/auth")).json(&json!({"email": "lou@example.com", "password": wrong_password})),
        "logs-2-wrong",
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let activation = app.activation_link("lou@example.com", 1).await;
    secrets.push(("activation token", link_token(&activation)));
    assert_eq!(send(c.get(&activation), "logs-3-activate").await.status(), StatusCode::OK);

    let login = send(
        c.post(app.url("/auth")).json(&json!({"email": "lou@example.com", "password": first_password})),
        "logs-4-login",
    )
    .await;
    assert_eq!(login.status(), StatusCode::OK);
    let first: Value = login.json().await.unwrap();
    let form = send(
        c.post(app.url("/auth")).form(&[("username", "lou@example.com"), ("password", first_password)]),
        "logs-5-form",
    )
    .await;
    assert_eq!(form.status(), StatusCode::OK);
    let second: Value = form.json().await.unwrap();
    let protected =
        send(c.get(app.url("/protected")).bearer_auth(first["access_token"].as_str().unwrap()), "logs-6-protected")
            .await;
    assert_eq!(protected.status(), StatusCode::OK);
    let refresh = send(
        c.post(app.url("/auth/refresh")).json(&json!({"refresh_token": first["refresh_token"]})),
        "logs-7-refresh",
    )
    .await;
    assert_eq!(refresh.status(), StatusCode::OK);
    let third: Value = refresh.json().await.unwrap();

    let change =
        json!({"email": "lou@example.com", "current_password": first_password, "new_password": second_password});
    let changed = send(
        c.post(app.url("/password/change")).bearer_auth(third["access_token"].as_str().unwrap()).json(&change),
        "logs-8-change",
    )
    .await;
    assert_eq!(changed.status(), StatusCode::NO_CONTENT);
    let forgot =
        send(c.post(app.url("/password/forgot")).json(&json!({"email": "lou@example.com"})), "logs-9-forgot").await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    // The second email told Lou the password changed; the third holds the reset link.
    let reset_link = app.reset_link("lou@example.com", 3).await;
    let reset_token = link_token(&reset_link);
    assert_eq!(send(c.get(&reset_link), "logs-10-form").await.status(), StatusCode::OK);
    let reset = send(
        c.post(app.url("/password/reset")).json(&json!({"token": reset_token, "new_password": third_password})),
        "logs-11-reset",
    )
    .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    secrets.push(("reset token", reset_token));

    let last = send(
        c.post(app.url("/auth")).json(&json!({"email": "lou@example.com", "password": third_password})),
        "logs-12-login",
    )
    .await;
    assert_eq!(last.status(), StatusCode::OK);
    let fourth: Value = last.json().await.unwrap();
    let logout =
        send(c.delete(app.url("/auth")).bearer_auth(fourth["access_token"].as_str().unwrap()), "logs-13-logout").await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let revoked =
        send(c.get(app.url("/protected")).bearer_auth(fourth["access_token"].as_str().unwrap()), "logs-14-revoked")
            .await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    for tokens in [&first, &second, &third, &fourth] {
        secrets.push(("an access token", tokens["access_token"].as_str().unwrap().to_owned()));
        secrets.push(("a refresh token", tokens["refresh_token"].as_str().unwrap().to_owned()));
    }

    // Assert: every request left a line, and no secret is anywhere in the log.
    let log = without_colours(&logs());
    let requests = [
        ("logs-1-signup", "POST", "/user"),
        ("logs-2-wrong", "POST", "/auth"),
        ("logs-3-activate", "GET", "/activate"),
        ("logs-4-login", "POST", "/auth"),
        ("logs-5-form", "POST", "/auth"),
        ("logs-6-protected", "GET", "/protected"),
        ("logs-7-refresh", "POST", "/auth/refresh"),
        ("logs-8-change", "POST", "/password/change"),
        ("logs-9-forgot", "POST", "/password/forgot"),
        ("logs-10-form", "GET", "/password/reset"),
        ("logs-11-reset", "POST", "/password/reset"),
        ("logs-12-login", "POST", "/auth"),
        ("logs-13-logout", "DELETE", "/auth"),
        ("logs-14-revoked", "GET", "/protected"),
    ];
    for (id, method, route) in requests {
        let line = log
            .lines()
            .find(|line| has_field(line, "request_id", id) && line.contains("request answered"))
            .unwrap_or_else(|| panic!("no request line for {id} in the log"));
        assert!(has_field(line, "method", method) && has_field(line, "route", route), "{line}");
        assert!(line.contains("status="), "{line}");
    }
    for (what, secret) in &secrets {
        assert!(secret.len() >= 16, "{what} is too short to search for");
        if let Some(line) = log.lines().find(|line| line.contains(secret.as_str())) {
            panic!("{what} is in the log:\n{line}");
        }
    }
}

#[tokio::test]
async fn the_start_says_where_the_docs_and_console_are_and_warns_when_no_admin_exists() {
    let app = spawn_app().await;

    let logs = logs();
    let site = &app.address;
    assert!(logs.contains(&format!("docs={site}/docs")) && logs.contains(&format!("console={site}/admin")), "{logs}");
    assert!(logs.contains("there is no active admin account"), "{logs}");
}
