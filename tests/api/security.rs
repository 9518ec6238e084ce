//! Security hardening: rate limits and the login lockout, the password policy, enumeration
//! safety, sign-up concealment, refresh replays, notifications, email changes, the audit trail
//! and the browser-facing headers.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, eventually, spawn_app, spawn_app_with};
use crate::stored::Stored;

/// An app behind a trusted proxy (loopback), so tests can speak for many client IPs.
async fn behind_proxy(options: Options) -> TestApp {
    spawn_app_with(options.var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")).await
}

async fn log_in_from(app: &TestApp, ip: &str, login: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth"))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": login, "password": password}))
        .send()
        .await
        .unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds")
}

/// Five failures are free; each one after that locks the login name for this client for a
/// doubling delay (1 s, 2 s, …), during which even the right password gets 429. Unknown login
/// names are treated exactly the same.
#[tokio::test]
async fn failed_logins_bring_doubling_delays_then_429_for_known_and_unknown_accounts() {
    let app = spawn_app().await;
    app.active_user("ann@example.com", None).await;

    for login in ["ann@example.com", "nobody@example.com"] {
        for _ in 1..=6 {
            let response = app.log_in(login, "wrong password!").await;
            assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
        }
        let locked = app.log_in(login, PASSWORD).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "{login}: the 7th attempt is held back");
        assert_eq!(retry_after(&locked), 1);
        assert_problem(locked, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;

        app.clock.advance(Duration::from_millis(1100));
        let wrong = app.log_in(login, "wrong password!").await;
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "after the delay, the password is checked again");
        let locked = app.log_in(login, PASSWORD).await;
        assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(retry_after(&locked), 2, "the delay doubles");
    }

    app.clock.advance(Duration::from_millis(2100));
    let ok = app.log_in("ann@example.com", PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK, "the right password after the delay logs in");
    let again = app.log_in("ann@example.com", "wrong password!").await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "a success ends the run of failures");
}

/// An attacker spreading guesses over many IPs trips the account-wide delay, but the owner's
/// browser, which holds a device cookie from an earlier login, still gets in.
#[tokio::test]
async fn the_owner_s_known_device_is_not_locked_out_by_an_attacker_elsewhere() {
    let app = behind_proxy(Options::default()).await;
    app.active_user("owner@example.com", None).await;
    let first = log_in_from(&app, "203.0.113.10", "owner@example.com", PASSWORD).await;
    assert_eq!(first.status(), StatusCode::OK);
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("gatehouse_device=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict")
    );
    let device = cookie.split(';').next().unwrap().to_owned();

    // The account-wide delay engages within 20 failures from different IPs, and doubles with each
    // failure after one: the attacker goes on (the clock moved past each delay) until it is a
    // minute long, so that what follows does not race the machine's speed.
    let mut delay = 0;
    for n in 0..40 {
        let response = log_in_from(&app, &format!("198.51.100.{n}"), "owner@example.com", "guess guess guess").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            delay = response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap();
            if delay >= 60 {
                break;
            }
            app.clock.advance(std::time::Duration::from_secs(delay + 1));
            continue;
        }
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(n < 20 || delay > 0, "the account-wide delay engages within 20 failures from different IPs");
    }
    assert!(delay >= 60, "the delay doubles up to a minute: {delay} s");

    let stranger = log_in_from(&app, "192.0.2.77", "owner@example.com", PASSWORD).await;
    assert_eq!(stranger.status(), StatusCode::TOO_MANY_REQUESTS, "an unknown client waits out the delay");
    let owner = app
        .client
        .post(app.url("/auth"))
        .header("x-forwarded-for", "192.0.2.77")
        .header("cookie", &device)
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(owner.status(), StatusCode::OK, "the known device logs in");

    let forged = app
        .client
        .post(app.url("/auth"))
        .header("x-forwarded-for", "192.0.2.78")
        .header("cookie", "gatehouse_device=0123456789abcdef0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAA")
        .json(&json!({"email": "owner@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::TOO_MANY_REQUESTS, "a forged device token counts for nothing");
}

/// Each action has a per-IP budget; a client behind a trusted proxy is told apart by
/// `X-Forwarded-For`, and the header is ignored from anyone else.
#[tokio::test]
async fn per_ip_budgets_answer_429_and_trust_only_configured_proxies() {
    let app = behind_proxy(Options::default().var("GATEHOUSE_RATE_LIMIT_SIGNUP", "3/1m")).await;
    let sign_up = |ip: &'static str, n: usize| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/user"))
                .header("x-forwarded-for", ip)
                .json(&json!({"email": format!("user{n}-{ip}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .unwrap()
        }
    };
    for n in 0..3 {
        assert_eq!(sign_up("198.51.100.1", n).await.status(), StatusCode::CREATED);
    }
    let limited = sign_up("198.51.100.1", 3).await;
    assert!(retry_after(&limited) >= 1);
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(sign_up("198.51.100.2", 4).await.status(), StatusCode::CREATED, "another client has its own budget");

    let direct = spawn_app_with(Options::default().var("GATEHOUSE_RATE_LIMIT_SIGNUP", "2/1m")).await;
    let mut statuses = Vec::new();
    for n in 0..3 {
        let response = direct
            .client
            .post(direct.url("/user"))
            .header("x-forwarded-for", format!("10.9.9.{n}"))
            .json(&json!({"email": format!("spoof{n}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS]);
}

/// Emails sent on request have a budget per recipient: past it the answer is the same, but
/// nothing more is sent.
#[tokio::test]
async fn an_inbox_cannot_be_flooded_with_reset_links() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_RATE_LIMIT_EMAIL", "2/1h")).await;
    app.active_user("flood@example.com", None).await;
    for _ in 0..4 {
        let response = app.post_json("/password/forgot", &json!({"email": "flood@example.com"}), None).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    app.smtp.wait_for("flood@example.com", 3).await;
    app.outbox_settled().await;
    let resets = app.smtp.messages_to("flood@example.com").iter().filter(|m| m.subject().contains("Reset")).count();
    assert_eq!(resets, 2);
}

#[tokio::test]
async fn rate_limit_off_lets_everything_through() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_RATE_LIMIT", "off")).await;
    for _ in 0..12 {
        let response = app.log_in("nobody@example.com", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn common_and_look_alike_passwords_are_refused_in_plain_words() {
    let app = spawn_app().await;
    for (password, words) in [
        ("password123", "common"),
        ("iloveyou2", "common"),
        ("annsmith2024", "email address or username"),
        ("Ann.Smith!!1", "email address or username"),
        ("short", "at least 8"),
    ] {
        let response =
            app.sign_up(json!({"email": "ann.smith@example.com", "username": "annsmith", "password": password})).await;
        let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "password");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(words), "{password}: {body}");
    }
}

#[tokio::test]
async fn concealed_sign_up_answers_alike_and_tells_the_owner() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_SIGNUP_CONCEAL_EXISTING", "true")).await;
    let new = app.sign_up(json!({"email": "first@example.com", "password": PASSWORD})).await;
    let (new_status, new_body) = (new.status(), new.text().await.unwrap());
    assert_eq!(new_status, StatusCode::ACCEPTED);
    let link = app.activation_link("first@example.com", 1).await;
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::OK);

    let taken = app.sign_up(json!({"email": "FIRST@example.com", "password": "another fine password"})).await;
    assert_eq!(taken.status(), new_status);
    assert_eq!(taken.text().await.unwrap(), new_body);
    let notice = app.smtp.nth_to("first@example.com", 2).await;
    assert!(notice.subject().contains("tried to sign up"), "{}", notice.subject());
    assert!(!notice.text().contains("token="), "the notice carries no link token");
    assert_eq!(app.count(Stored::Accounts).await, 1);
}

#[tokio::test]
async fn concurrent_refreshes_within_the_grace_period_get_the_same_pair() {
    let app = spawn_app().await;
    app.active_user("tabs@example.com", None).await;
    let tokens = app.tokens("tabs@example.com", PASSWORD).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let body = json!({"refresh_token": refresh});
    let (a, b) = tokio::join!(app.post_json("/auth/refresh", &body, None), app.post_json("/auth/refresh", &body, None));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["refresh_token"], b["refresh_token"], "both tabs hold the same new refresh token");
    let retry = app.post_json("/auth/refresh", &body, None).await;
    assert_eq!(retry.status(), StatusCode::OK, "a retry after a lost answer works too");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["refresh_token"], a["refresh_token"]);

    for access in [&a["access_token"], &b["access_token"], &retry["access_token"]] {
        assert_eq!(app.get("/protected", access.as_str()).await.status(), StatusCode::OK);
    }
    let next = app.post_json("/auth/refresh", &json!({"refresh_token": a["refresh_token"]}), None).await;
    assert_eq!(next.status(), StatusCode::OK, "the shared new token rotates on as usual");
}

#[tokio::test]
async fn a_spent_refresh_token_after_the_grace_period_revokes_the_session() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_REFRESH_GRACE", "1s")).await;
    app.active_user("late@example.com", None).await;
    let tokens = app.tokens("late@example.com", PASSWORD).await;
    let old = json!({"refresh_token": tokens["refresh_token"]});
    let rotated: Value = app.post_json("/auth/refresh", &old, None).await.json().await.unwrap();

    app.clock.advance(Duration::from_millis(1300));
    let reuse = app.post_json("/auth/refresh", &old, None).await;
    assert_problem(reuse, StatusCode::BAD_REQUEST, "token_invalid").await;
    let access = rotated["access_token"].as_str();
    assert_problem(app.get("/protected", access).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let next = app.post_json("/auth/refresh", &json!({"refresh_token": rotated["refresh_token"]}), None).await;
    assert_problem(next, StatusCode::BAD_REQUEST, "token_invalid").await;
}

#[tokio::test]
async fn the_owner_is_told_when_the_password_changes_or_is_reset() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("notify@example.com").await;
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    let response = app.post_json("/password/change", &change, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let notice = app.smtp.nth_to("notify@example.com", 2).await;
    assert_eq!(notice.subject(), "Your password was changed");
    assert!(notice.text().contains("changed"));

    let forgot = app.post_json("/password/forgot", &json!({"email": "notify@example.com"}), None).await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);
    let link = app.reset_link("notify@example.com", 3).await;
    let token = link.split("token=").nth(1).unwrap();
    let reset = app
        .post_json("/password/reset", &json!({"token": token, "new_password": "yet another passphrase"}), None)
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let notice = app.smtp.nth_to("notify@example.com", 4).await;
    assert_eq!(notice.subject(), "Your password was changed");
    assert!(notice.text().contains("reset with a link"));
    assert!(!notice.text().contains("token="));
}

#[tokio::test]
async fn an_email_change_takes_effect_only_when_the_new_address_confirms_and_can_be_undone() {
    let app = spawn_app().await;
    let (account, token) = app.logged_in_user("old@example.com").await;

    let wrong = json!({"new_email": "new@example.com", "current_password": "not my password"});
    let refused = app.post_json("/email/change", &wrong, Some(&token)).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let request = json!({"new_email": "new@example.com", "current_password": PASSWORD});
    let accepted = app.post_json("/email/change", &request, Some(&token)).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let me: Value = app.get("/user", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["email"], "old@example.com", "nothing changes before the new address confirms");

    let confirm = app.smtp.nth_to("new@example.com", 1).await.link("/email/confirm?token=");
    let confirmed = app.client.get(&confirm).send().await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    let confirmed: Value = confirmed.json().await.unwrap();
    assert_eq!(confirmed["user"]["email"], "new@example.com");
    assert_eq!(confirmed["user"]["id"], account["id"]);
    assert_eq!(app.client.get(&confirm).send().await.unwrap().status(), StatusCode::BAD_REQUEST, "single use");
    assert_eq!(app.log_in("new@example.com", PASSWORD).await.status(), StatusCode::OK);

    let told = app.smtp.nth_to("old@example.com", 2).await;
    assert!(told.text().contains("new@example.com"));
    let undo = told.link("/email/revert?token=");
    let page = app.client.get(&undo).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("<form method=\"post\""), "showing the undo page changes nothing");
    let token_value = undo.split("token=").nth(1).unwrap();
    let reverted = app.post_json("/email/revert", &json!({"token": token_value}), None).await;
    assert_eq!(reverted.status(), StatusCode::OK);
    let me = app.get("/user", Some(&token)).await;
    assert_problem(me, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.log_in("old@example.com", PASSWORD).await.status(), StatusCode::OK);
    assert_problem(app.log_in("new@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
}

#[tokio::test]
async fn an_email_change_to_a_taken_address_is_refused() {
    let app = spawn_app().await;
    app.active_user("taken@example.com", None).await;
    let (_, token) = app.logged_in_user("mover@example.com").await;
    let request = json!({"new_email": "Taken@example.com", "current_password": PASSWORD});
    assert_problem(app.post_json("/email/change", &request, Some(&token)).await, StatusCode::CONFLICT, "email_taken")
        .await;
}

/// Every flow leaves its audit events, with IP, user agent and request id, readable by admins
/// only, filtered by account and kind.
#[tokio::test]
async fn security_events_are_audited_and_only_admins_read_them() {
    let app = spawn_app().await;
    let (account, token) = app.logged_in_user("audited@example.com").await;
    let id = account["id"].as_str().unwrap().to_owned();
    assert_eq!(app.log_in("audited@example.com", "wrong password!").await.status(), StatusCode::UNAUTHORIZED);
    let change = json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"});
    assert_eq!(app.post_json("/password/change", &change, Some(&token)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete("/auth", Some(&token)).await.status(), StatusCode::NO_CONTENT);
    let forbidden = app.get("/admin/events", Some(&token)).await;
    assert_eq!(forbidden.status(), StatusCode::UNAUTHORIZED, "the token was logged out");
    let other = app.tokens("audited@example.com", "a brand new passphrase").await;
    let forbidden = app.get("/admin/events", other["access_token"].as_str()).await;
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;

    let admin = app.admin("root@example.com").await;
    let kinds = eventually("six events ending with the logout", Duration::from_secs(5), || async {
        let page: Value =
            app.get(&format!("/admin/events?account={id}&limit=100"), Some(&admin)).await.json().await.unwrap();
        let kinds: Vec<String> =
            page["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect();
        (kinds.iter().any(|k| k == "logout") && kinds.len() >= 6).then_some(kinds)
    })
    .await;
    for kind in ["signup", "activation", "login.succeeded", "login.failed", "password.changed", "logout"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} event in {kinds:?}");
    }
    let page: Value =
        app.get(&format!("/admin/events?account={id}&kind=login.failed"), Some(&admin)).await.json().await.unwrap();
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["ip"], "127.0.0.1");
    assert!(events[0]["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(events[0]["user_agent"], Value::Null, "the test client sends no User-Agent, and none is made up");
    let text = serde_json::to_string(&page).unwrap();
    assert!(!text.contains("wrong password!") && !text.contains(PASSWORD), "no password in the audit trail");

    let bad = app.get("/admin/events?limit=0", Some(&admin)).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_configured_origins() {
    let app = spawn_app().await;
    let response =
        app.client.get(app.url("/healthz")).header("origin", "https://app.example.com").send().await.unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());

    let app = spawn_app_with(Options::default().var("GATEHOUSE_CORS_ORIGINS", "https://app.example.com")).await;
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/auth"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "https://app.example.com");
    assert!(preflight.headers().get("access-control-allow-credentials").is_none());
    let evil = app.client.get(app.url("/healthz")).header("origin", "https://evil.example.com").send().await.unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https_and_the_reset_form_refuses_other_sites() {
    let plain = spawn_app().await;
    assert!(plain.get("/healthz", None).await.headers().get("strict-transport-security").is_none());

    let app = spawn_app_with(Options::default().var("GATEHOUSE_PUBLIC_URL", "https://auth.example.com")).await;
    let response = app.get("/healthz", None).await;
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));

    // Links point at the public URL, so the token is taken out of them and sent here.
    assert_eq!(
        app.sign_up(json!({"email": "csrf@example.com", "password": PASSWORD})).await.status(),
        StatusCode::CREATED
    );
    app.post_json("/password/forgot", &json!({"email": "csrf@example.com"}), None).await;
    let link = app.smtp.nth_to("csrf@example.com", 2).await.link("/password/reset?token=");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let form = app.client.get(app.url(&format!("/password/reset?token={token}"))).send().await.unwrap();
    let csp = form.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'") && !csp.contains("unsafe"));
    let forged = app
        .client
        .post(app.url("/password/reset"))
        .header("origin", "https://evil.example.com")
        .form(&[("token", token.as_str()), ("new_password", "attacker chosen password")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let own = app
        .client
        .post(app.url("/password/reset"))
        .header("origin", "https://auth.example.com")
        .form(&[("token", token.as_str()), ("new_password", "owner chosen password")])
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), StatusCode::OK, "the token was not spent by the forged post");
}
