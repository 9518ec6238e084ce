//! Login by email (`POST /auth/email`, `/auth/email/verify`, `/auth/exchange`): the link
//! survives mail scanners, link and code work once, five wrong codes end a login, a newer
//! request ends the older one, sign-up by email follows the sign-up switch, a second factor is
//! still asked for, and unknown addresses hear the same answer.

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, jwt_payload, spawn_app, spawn_app_with};
use crate::mfa::{code as totp_code, enrolled_user};
use crate::smtp::Received;
use crate::social::{VERIFIER, challenge};
use crate::stored::Stored;

/// An app asks for a login by email, with the challenge of its verifier (it exchanges the
/// hand-off code itself, with [`exchange`]).
async fn ask(app: &TestApp, email: &str) -> Response {
    app.post_json("/auth/email", &json!({"email": email, "code_challenge": challenge()}), None).await
}

/// The link and the code of the `nth` email to `email`.
async fn link_and_code(app: &TestApp, email: &str, nth: usize) -> (String, String) {
    let message = app.smtp.nth_to(email, nth).await;
    (message.link("/auth/email/verify?token="), code_in(&message))
}

/// The eight-digit code standing on a line of its own.
fn code_in(message: &Received) -> String {
    let text = message.text();
    let code = text.lines().map(str::trim).find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()));
    code.unwrap_or_else(|| panic!("no code in:\n{text}")).to_owned()
}

fn token_of(link: &str) -> String {
    link.split_once("token=").unwrap().1.split('&').next().unwrap().to_owned()
}

async fn with_code(app: &TestApp, email: &str, code: &str) -> Response {
    app.post_json("/auth/email/verify", &json!({"email": email, "code": code}), None).await
}

/// Presses the button of the link's page: the form post a browser sends.
async fn press(app: &TestApp, token: &str, redirect_to: Option<&str>) -> Response {
    let mut form = vec![("token", token)];
    if let Some(to) = redirect_to {
        form.push(("redirect_to", to));
    }
    let request = app.client.post(app.url("/auth/email/verify")).header("origin", &app.address);
    request.form(&form).send().await.unwrap()
}

async fn exchange(app: &TestApp, code: &str) -> Response {
    app.post_json("/auth/exchange", &json!({"code": code, "code_verifier": VERIFIER}), None).await
}

/// The hand-off code in a `303`'s location, which must start with `prefix`.
fn handoff(response: &Response, prefix: &str) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(prefix), "{location}");
    let url = url::Url::parse(location).unwrap();
    url.query_pairs().find(|(k, _)| k == "code").expect("a code in the location").1.into_owned()
}

async fn unused_logins(app: &TestApp) -> i64 {
    app.count(Stored::OpenEmailLogins).await
}

#[tokio::test]
async fn the_link_survives_mail_scanners_and_logs_in_once_from_its_page() {
    let app = spawn_app().await;
    app.active_user("ann@example.com", None).await;

    assert_eq!(ask(&app, "ann@example.com").await.status(), StatusCode::ACCEPTED);
    let (link, _) = link_and_code(&app, "ann@example.com", 2).await;
    assert!(link.starts_with(&format!("{}/auth/email/verify?token=", app.address)), "{link}");

    // A scanner fetches the link, prefetches it, asks for its headers: nothing is spent.
    for _ in 0..2 {
        let page = app.client.get(&link).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        let html = page.text().await.unwrap();
        assert!(html.contains("<form method=\"post\" action=\"verify\">") && html.contains("<button"), "{html}");
        assert!(html.contains(&format!("value=\"{}\"", token_of(&link))), "{html}");
    }
    assert_eq!(app.client.head(&link).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(unused_logins(&app).await, 1);

    let pressed = press(&app, &token_of(&link), None).await;
    let code = handoff(&pressed, &format!("{}/account?code=", app.address));
    let response = exchange(&app, &code).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!((claims["aal"].clone(), claims["amr"].clone()), (json!(1), json!(["email"])));
    assert_eq!(tokens["user"]["email"], "ann@example.com");

    assert_problem(exchange(&app, &code).await, StatusCode::BAD_REQUEST, "token_invalid").await;
    assert_eq!(press(&app, &token_of(&link), None).await.status(), StatusCode::BAD_REQUEST);
    let again = app.post_json("/auth/email/verify", &json!({"token": token_of(&link)}), None).await;
    assert_problem(again, StatusCode::BAD_REQUEST, "token_invalid").await;
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_code_logs_in_once_and_five_wrong_codes_end_the_login() {
    let app = spawn_app().await;
    app.active_user("bob@example.com", None).await;
    ask(&app, "bob@example.com").await;
    let (_, code) = link_and_code(&app, "bob@example.com", 2).await;
    let wrong = if code == "00000000" { "00000001" } else { "00000000" };

    for _ in 0..4 {
        assert_problem(with_code(&app, "bob@example.com", wrong).await, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    let spaced = format!("{} {}", &code[..4], &code[4..]);
    let response = with_code(&app, "bob@example.com", &spaced).await;
    assert_eq!(response.status(), StatusCode::OK, "the fifth try may still be the right code");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(jwt_payload(tokens["access_token"].as_str().unwrap())["amr"], json!(["email"]));
    assert_problem(with_code(&app, "bob@example.com", &code).await, StatusCode::UNAUTHORIZED, "invalid_code").await;

    ask(&app, "bob@example.com").await;
    let (link, code) = link_and_code(&app, "bob@example.com", 3).await;
    for _ in 0..5 {
        assert_problem(with_code(&app, "bob@example.com", wrong).await, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    assert_problem(with_code(&app, "bob@example.com", &code).await, StatusCode::UNAUTHORIZED, "invalid_code").await;
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::BAD_REQUEST, "the link died too");
    app.count_reaches(Stored::AuditEvents(&["login.email_failed"]), 9).await;
}

#[tokio::test]
async fn a_newer_request_ends_the_older_link_and_code() {
    let app = spawn_app().await;
    app.active_user("cat@example.com", None).await;
    ask(&app, "cat@example.com").await;
    ask(&app, "cat@example.com").await;
    let (old_link, old_code) = link_and_code(&app, "cat@example.com", 2).await;
    let (new_link, new_code) = link_and_code(&app, "cat@example.com", 3).await;

    assert_eq!(app.client.get(&old_link).send().await.unwrap().status(), StatusCode::GONE);
    let old = app.post_json("/auth/email/verify", &json!({"token": token_of(&old_link)}), None).await;
    assert_problem(old, StatusCode::GONE, "token_expired").await;
    if old_code != new_code {
        assert_problem(with_code(&app, "cat@example.com", &old_code).await, StatusCode::UNAUTHORIZED, "invalid_code")
            .await;
    }
    let response = app.post_json("/auth/email/verify", &json!({"token": token_of(&new_link)}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_addresses_hear_the_same_and_sign_up_by_email_while_sign_up_is_open() {
    let app = spawn_app().await;
    app.active_user("dan@example.com", None).await;

    let known = ask(&app, "dan@example.com").await;
    let unknown = ask(&app, "Newcomer@Example.com").await;
    assert_eq!((known.status(), unknown.status()), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(known.bytes().await.unwrap(), unknown.bytes().await.unwrap());

    let message = app.smtp.nth_to("Newcomer@Example.com", 1).await;
    assert_eq!(message.subject(), "Your sign-up link");
    let response = with_code(&app, "newcomer@example.com", &code_in(&message)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let user = response.json::<Value>().await.unwrap()["user"].clone();
    assert_eq!((user["email"].clone(), user["status"].clone()), (json!("Newcomer@Example.com"), json!("active")));
    assert_eq!(user["email_verified"], true);
    app.count_reaches(Stored::AuditEvents(&["signup.by_email"]), 1).await;

    let closed = spawn_app_with(Options::default().var("GATEHOUSE_SIGNUP", "closed")).await;
    assert_eq!(ask(&closed, "stranger@example.com").await.status(), StatusCode::ACCEPTED);
    closed.outbox_settled().await;
    assert!(closed.smtp.messages_to("stranger@example.com").is_empty(), "no sign-up while sign-up is closed");
}

#[tokio::test]
async fn a_pending_account_is_activated_and_the_password_it_was_signed_up_with_stops_working() {
    let app = spawn_app().await;
    // Someone signs up with an address that is not theirs; its owner later logs in by email.
    let response = app.sign_up(json!({"email": "eve@example.com", "password": PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    ask(&app, "eve@example.com").await;
    let message = app.smtp.nth_to("eve@example.com", 2).await;
    assert_eq!(message.subject(), "Your login link");

    let response = with_code(&app, "eve@example.com", &code_in(&message)).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap()["user"]["status"], "active");
    assert_problem(app.log_in("eve@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
}

#[tokio::test]
async fn an_account_with_a_second_factor_still_needs_it() {
    let app = spawn_app().await;
    let (_, secret, _) = enrolled_user(&app, "fay@example.com").await;
    ask(&app, "fay@example.com").await;
    // The activation email, then the one saying the app was turned on, then this one.
    let (link, _) = link_and_code(&app, "fay@example.com", 3).await;

    let code = handoff(&press(&app, &token_of(&link), None).await, &app.address);
    let challenge = assert_problem(exchange(&app, &code).await, StatusCode::FORBIDDEN, "mfa_required").await;
    let second = json!({"mfa_token": challenge["mfa_token"], "code": totp_code(&secret, 1)});
    let response = app.post_json("/auth/mfa", &second, None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    let claims = jwt_payload(tokens["access_token"].as_str().unwrap());
    assert_eq!((claims["aal"].clone(), claims["amr"].clone()), (json!(2), json!(["email", "otp", "mfa"])));
}

#[tokio::test]
async fn the_browser_goes_to_the_allowed_redirect_with_a_code_and_never_a_token() {
    let options = Options::default().var("GATEHOUSE_REDIRECT_ALLOW", "https://app.example.com/");
    let app = spawn_app_with(options).await;
    app.active_user("gil@example.com", None).await;
    let elsewhere = json!({"email": "gil@example.com", "redirect_to": "https://evil.example/"});
    let refused = app.post_json("/auth/email", &elsewhere, None).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let body = json!({"email": "gil@example.com", "redirect_to": "https://app.example.com/welcome?from=mail",
                      "code_challenge": challenge()});
    assert_eq!(app.post_json("/auth/email", &body, None).await.status(), StatusCode::ACCEPTED);
    let (link, _) = link_and_code(&app, "gil@example.com", 2).await;
    assert!(link.contains("&redirect_to=https%3A%2F%2Fapp.example.com%2Fwelcome%3Ffrom%3Dmail"), "{link}");

    let page = app.client.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"redirect_to\" value=\"https://app.example.com/welcome?from=mail\""), "{page}");
    let pressed = press(&app, &token_of(&link), Some("https://app.example.com/welcome?from=mail")).await;
    let code = handoff(&pressed, "https://app.example.com/welcome?from=mail&code=");

    assert_eq!(exchange(&app, &code).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_form_post_from_another_site_is_refused_before_the_token_is_looked_at() {
    let app = spawn_app().await;
    app.active_user("hal@example.com", None).await;
    ask(&app, "hal@example.com").await;
    let (link, _) = link_and_code(&app, "hal@example.com", 2).await;

    let request = app.client.post(app.url("/auth/email/verify")).header("origin", "https://evil.example");
    let response = request.form(&[("token", token_of(&link).as_str())]).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(unused_logins(&app).await, 1);
}

#[tokio::test]
async fn two_logins_with_one_code_at_once_have_exactly_one_winner() {
    let app = spawn_app().await;
    app.active_user("ida@example.com", None).await;
    ask(&app, "ida@example.com").await;
    let (_, code) = link_and_code(&app, "ida@example.com", 2).await;

    let (a, b, c, d) = tokio::join!(
        with_code(&app, "ida@example.com", &code),
        with_code(&app, "ida@example.com", &code),
        with_code(&app, "ida@example.com", &code),
        with_code(&app, "ida@example.com", &code),
    );
    let statuses = [a.status(), b.status(), c.status(), d.status()];

    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
}

#[tokio::test]
async fn disabled_accounts_get_no_email_and_the_switch_turns_it_all_off() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    app.active_user("jay@example.com", None).await;
    let disabled = json!({"status": "disabled"});
    let response = app.send_json(reqwest::Method::PATCH, "/user/jay@example.com", &disabled, Some(&admin)).await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_eq!(ask(&app, "jay@example.com").await.status(), StatusCode::ACCEPTED);
    app.outbox_settled().await;
    assert_eq!(app.smtp.messages_to("jay@example.com").len(), 1, "only the activation email");

    let off = spawn_app_with(Options::default().var("GATEHOUSE_PASSWORDLESS", "off")).await;
    assert_problem(ask(&off, "jay@example.com").await, StatusCode::FORBIDDEN, "passwordless_disabled").await;
    let body = json!({"email": "jay@example.com", "code": "12345678"});
    let verify = off.post_json("/auth/email/verify", &body, None).await;
    assert_problem(verify, StatusCode::FORBIDDEN, "passwordless_disabled").await;
}

#[tokio::test]
async fn an_address_gets_at_most_its_email_budget_and_the_answer_never_changes() {
    let app = spawn_app().await;
    app.active_user("kit@example.com", None).await;
    let mut bodies = Vec::new();
    for _ in 0..7 {
        let response = ask(&app, "kit@example.com").await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        bodies.push(response.bytes().await.unwrap());
    }
    app.outbox_settled().await;
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
    let logins = app.smtp.messages_to("kit@example.com").iter().filter(|m| m.subject() == "Your login link").count();
    assert_eq!(logins, 5, "GATEHOUSE_RATE_LIMIT_EMAIL is 5 an hour");
}

/// Per client IP, requests for links have a budget the size of forgot-password's (20 a minute by
/// default, refilling one every three seconds, hence the small range).
#[tokio::test]
async fn a_client_that_asks_for_too_many_links_hears_429() {
    let app = spawn_app().await;
    let mut accepted = 0;
    let limited = loop {
        let response = ask(&app, &format!("person{accepted}@example.com")).await;
        if response.status() != StatusCode::ACCEPTED {
            break response;
        }
        accepted += 1;
        assert!(accepted <= 22, "no limit after {accepted} requests");
    };
    assert!(accepted >= 20, "limited after {accepted} requests");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

/// Login CSRF through a hand-off code: a link requested in one browser ends in a code that only
/// that browser can spend (its `gatehouse_handoff` cookie); an app that asked for it spends it
/// only with the verifier of its challenge.
#[tokio::test]
async fn a_hand_off_code_is_spent_only_by_the_browser_or_the_app_that_asked_for_the_link() {
    let app = spawn_app().await;
    app.active_user("ann@example.com", None).await;
    let browser = crate::browser::Browser::new(&app);
    let asked = browser.client.post(app.url("/auth/email")).json(&json!({"email": "ann@example.com"})).send().await;
    let asked = asked.unwrap();
    assert_eq!(asked.status(), StatusCode::ACCEPTED);
    let set = asked.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("gatehouse_handoff=") && set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    let (link, _) = link_and_code(&app, "ann@example.com", 2).await;

    // The link's page in another browser (an attacker's code for their own account, sent to a
    // victim): its code opens nothing there.
    let code = handoff(&press(&app, &token_of(&link), None).await, &format!("{}/account?code=", app.address));
    let elsewhere = app.post_json("/auth/exchange", &json!({"code": code}), None).await;
    assert_problem(elsewhere, StatusCode::BAD_REQUEST, "handoff_invalid").await;

    // In the browser that asked, it logs in.
    browser.client.post(app.url("/auth/email")).json(&json!({"email": "ann@example.com"})).send().await.unwrap();
    let (link, _) = link_and_code(&app, "ann@example.com", 3).await;
    let code = handoff(&press(&app, &token_of(&link), None).await, &format!("{}/account?code=", app.address));
    let spent = browser.client.post(app.url("/auth/exchange")).json(&json!({"code": code})).send().await.unwrap();
    assert_eq!(spent.status(), StatusCode::OK);

    // An app's login: the verifier, not a cookie, and not another verifier.
    for (nth, verifier) in [(4, None), (5, Some("x".repeat(43)))] {
        ask(&app, "ann@example.com").await;
        let (link, _) = link_and_code(&app, "ann@example.com", nth).await;
        let code = handoff(&press(&app, &token_of(&link), None).await, &format!("{}/account?code=", app.address));
        let body = match verifier {
            Some(verifier) => json!({"code": code, "code_verifier": verifier}),
            None => json!({"code": code}),
        };
        // From the browser that holds a hand-off cookie, too: the app's login asks for its verifier.
        let answer = browser.client.post(app.url("/auth/exchange")).json(&body).send().await.unwrap();
        assert_problem(answer, StatusCode::BAD_REQUEST, "handoff_invalid").await;
    }
    let bad = app.post_json("/auth/email", &json!({"email": "ann@example.com", "code_challenge": "short"}), None).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let plain = json!({"email": "ann@example.com", "code_challenge": challenge(), "code_challenge_method": "plain"});
    assert_problem(
        app.post_json("/auth/email", &plain, None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
