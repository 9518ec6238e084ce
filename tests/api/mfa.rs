//! Second factors: TOTP enrolment, the second step of a login, replay, recovery codes, step-up,
//! removal by the owner and by an admin, and one code raced by several logins.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, jwt_payload, spawn_app, spawn_app_with};
use crate::stored::Stored;

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The authenticator app: the code for `offset` steps from now.
pub(crate) fn code(secret: &[u8], offset: i64) -> String {
    let at = now() as i64 + offset * 30;
    gatehouse::tokens::totp::code_at(secret, at as u64)
}

/// The code for `offset` steps from the server's now, once a test has moved its clock on.
pub(crate) fn code_on_server_time(app: &TestApp, secret: &[u8], offset: i64) -> String {
    let at = app.clock.now().timestamp() + offset * 30;
    gatehouse::tokens::totp::code_at(secret, u64::try_from(at).unwrap())
}

/// A code that is none of the three the server accepts now.
fn wrong_code(secret: &[u8]) -> String {
    let accepted: Vec<String> = (-1..=2).map(|offset| code(secret, offset)).collect();
    (0..1_000_000).map(|n| format!("{n:06}")).find(|c| !accepted.contains(c)).unwrap()
}

/// An active, logged-in user who has enrolled and confirmed an authenticator app with the code
/// of the current step: `(access token, secret, recovery codes)`.
pub(crate) async fn enrolled_user(app: &TestApp, email: &str) -> (String, Vec<u8>, Vec<String>) {
    let (_, token) = app.logged_in_user(email).await;
    let response = app.post_json("/mfa/totp", &json!({"password": PASSWORD}), Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let enrolment: Value = response.json().await.unwrap();
    let secret = totp_rs::Secret::try_from_base32(enrolment["secret"].as_str().unwrap()).unwrap().as_bytes().to_vec();
    let response = app.post_json("/mfa/totp/confirm", &json!({"code": code(&secret, 0)}), Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let codes: Vec<String> =
        serde_json::from_value(response.json::<Value>().await.unwrap()["recovery_codes"].clone()).unwrap();
    (token, secret, codes)
}

/// Logs in with the password, expecting the second step; its `mfa_token`.
async fn mfa_token(app: &TestApp, email: &str) -> String {
    let body = assert_problem(app.log_in(email, PASSWORD).await, StatusCode::FORBIDDEN, "mfa_required").await;
    body["mfa_token"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, body: Value) -> reqwest::Response {
    app.post_json("/auth/mfa", &body, None).await
}

#[tokio::test]
async fn an_app_is_enrolled_and_then_every_login_needs_one_fresh_code() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let claims = jwt_payload(&token);
    assert_eq!((claims["aal"].clone(), claims["amr"].clone()), (json!(1), json!(["pwd"])));

    let wrong = app.post_json("/mfa/totp", &json!({"password": "not the password"}), Some(&token)).await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let response = app.post_json("/mfa/totp", &json!({"password": PASSWORD}), Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let enrolment: Value = response.json().await.unwrap();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/127.0.0.1:ann%40example.com?secret="), "{uri}");
    let qr = enrolment["otpauth_qr"].as_str().unwrap();
    assert!(qr.starts_with("data:image/svg+xml;base64,"), "{qr}");
    let secret = totp_rs::Secret::try_from_base32(enrolment["secret"].as_str().unwrap()).unwrap().as_bytes().to_vec();
    assert_eq!(secret.len(), 20);
    let status: Value = app.get("/mfa", Some(&token)).await.json().await.unwrap();
    assert_eq!(status, json!({"totp": false, "recovery_codes": 0, "passkeys": 0}), "not active before it is confirmed");
    assert_eq!(app.log_in("ann@example.com", PASSWORD).await.status(), StatusCode::OK);

    let refused = app.post_json("/mfa/totp/confirm", &json!({"code": wrong_code(&secret)}), Some(&token)).await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let first = code(&secret, 0);
    let response = app.post_json("/mfa/totp/confirm", &json!({"code": first}), Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let codes = response.json::<Value>().await.unwrap()["recovery_codes"].as_array().unwrap().len();
    assert_eq!(codes, 10);
    let status: Value = app.get("/mfa", Some(&token)).await.json().await.unwrap();
    assert_eq!(status, json!({"totp": true, "recovery_codes": 10, "passkeys": 0}));
    let again = app.post_json("/mfa/totp", &json!({"password": PASSWORD}), Some(&token)).await;
    assert_problem(again, StatusCode::CONFLICT, "mfa_already_enabled").await;
    let notice = app.smtp.nth_to("ann@example.com", 2).await;
    assert_eq!(notice.subject(), "Two-step login is on");

    // A wrong password answers as it always did: nothing says the account has a factor.
    let wrong = assert_problem(
        app.log_in("ann@example.com", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    assert!(wrong.get("mfa_token").is_none() && wrong.get("methods").is_none());

    let challenge =
        assert_problem(app.log_in("ann@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "mfa_required").await;
    assert_eq!(challenge["methods"], json!(["totp", "recovery_code"]));
    let mfa_token = challenge["mfa_token"].as_str().unwrap().to_owned();
    // The code that confirmed the app was accepted once: it does not log in.
    let replay = second_step(&app, json!({"mfa_token": mfa_token, "code": first})).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED, "invalid_code").await;
    // The next step's code is within the one step of skew allowed.
    let next = code(&secret, 1);
    let response = second_step(&app, json!({"mfa_token": mfa_token, "code": next})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let pair: Value = response.json().await.unwrap();
    let claims = jwt_payload(pair["access_token"].as_str().unwrap());
    assert_eq!((claims["aal"].clone(), claims["amr"].clone()), (json!(2), json!(["pwd", "otp", "mfa"])));
    assert_eq!(app.get("/user", pair["access_token"].as_str()).await.status(), StatusCode::OK);
    // After a refresh the session is still at level 2.
    let refreshed: Value = app
        .post_json("/auth/refresh", &json!({"refresh_token": pair["refresh_token"]}), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(jwt_payload(refreshed["access_token"].as_str().unwrap())["aal"], 2);

    // The mfa_token is spent; the code too, whichever login presents it; so is an earlier one.
    let spent = second_step(&app, json!({"mfa_token": mfa_token, "code": code(&secret, 1)})).await;
    assert_problem(spent, StatusCode::UNAUTHORIZED, "mfa_token_invalid").await;
    let fresh = mfa_token_of(&app).await;
    for replayed in [next, code(&secret, 0)] {
        let response = second_step(&app, json!({"mfa_token": fresh, "code": replayed})).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    let too_early = code(&secret, -2);
    let response = second_step(&app, json!({"mfa_token": fresh, "code": too_early})).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
}

async fn mfa_token_of(app: &TestApp) -> String {
    mfa_token(app, "ann@example.com").await
}

#[tokio::test]
async fn a_recovery_code_logs_in_once_and_the_owner_hears_how_many_are_left() {
    let app = spawn_app().await;
    let (_, _, codes) = enrolled_user(&app, "ann@example.com").await;
    let typed = codes[0].to_uppercase().replace('-', " ");
    let response = second_step(&app, json!({"mfa_token": mfa_token_of(&app).await, "recovery_code": typed})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let pair: Value = response.json().await.unwrap();
    assert_eq!(jwt_payload(pair["access_token"].as_str().unwrap())["aal"], 2);
    let notice = app.smtp.nth_to("ann@example.com", 3).await;
    assert_eq!(notice.subject(), "A recovery code was used");
    assert!(notice.text().contains("9 are left"), "{}", notice.text());

    let again = second_step(&app, json!({"mfa_token": mfa_token_of(&app).await, "recovery_code": codes[0]})).await;
    assert_problem(again, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let token = pair["access_token"].as_str().unwrap();
    let status: Value = app.get("/mfa", Some(token)).await.json().await.unwrap();
    assert_eq!(status["recovery_codes"], 9);

    // A new set (the session logged in with its second factor just now): the old set dies.
    let response = app.post_json("/mfa/recovery-codes", &json!({}), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh: Vec<String> =
        serde_json::from_value(response.json::<Value>().await.unwrap()["recovery_codes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    let old = second_step(&app, json!({"mfa_token": mfa_token_of(&app).await, "recovery_code": codes[1]})).await;
    assert_problem(old, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let new = second_step(&app, json!({"mfa_token": mfa_token_of(&app).await, "recovery_code": fresh[1]})).await;
    assert_eq!(new.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_mfa_token_takes_five_wrong_codes_then_is_spent() {
    let app = spawn_app().await;
    let (_, secret, _) = enrolled_user(&app, "ann@example.com").await;
    let mfa_token = mfa_token_of(&app).await;
    for _ in 0..5 {
        let response = second_step(&app, json!({"mfa_token": mfa_token, "code": wrong_code(&secret)})).await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_code").await;
    }
    let right = second_step(&app, json!({"mfa_token": mfa_token, "code": code(&secret, 1)})).await;
    assert_problem(right, StatusCode::UNAUTHORIZED, "mfa_token_invalid").await;
    let unknown = second_step(&app, json!({"mfa_token": "not-a-token", "code": code(&secret, 1)})).await;
    assert_problem(unknown, StatusCode::UNAUTHORIZED, "mfa_token_invalid").await;
    let neither = second_step(&app, json!({"mfa_token": mfa_token_of(&app).await})).await;
    assert_problem(neither, StatusCode::BAD_REQUEST, "malformed_request").await;
    app.count_reaches(Stored::AuditEvents(&["mfa.failed"]), 5).await;
}

/// Eight logins race to spend one code: exactly one gets in, on every backend and with Redis.
/// Rate limits are at their defaults.
#[tokio::test]
async fn one_code_presented_by_many_logins_at_once_lets_exactly_one_in() {
    let app = spawn_app().await;
    let (_, secret, _) = enrolled_user(&app, "ann@example.com").await;
    let mut tokens = Vec::new();
    for _ in 0..8 {
        tokens.push(mfa_token_of(&app).await);
    }
    let code = code(&secret, 1);
    let mut attempts = tokio::task::JoinSet::new();
    for mfa_token in tokens {
        let (client, url) = (app.client.clone(), app.url("/auth/mfa"));
        let body = json!({"mfa_token": mfa_token, "code": code});
        attempts.spawn(async move { client.post(url).json(&body).send().await.unwrap().status() });
    }
    let statuses: Vec<StatusCode> = attempts.join_all().await;
    let winners = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    // The losers present a spent code: `invalid_code`, until the account's run of wrong codes
    // makes the lockout answer `429` instead.
    let refused = statuses.iter().filter(|s| [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(s));
    assert_eq!((winners, refused.count()), (1, 7), "{statuses:?}");
}

/// The default five-minute reauthentication window: the test moves the server's clock past it
/// rather than waiting, so a slow store cannot make a fresh session look old.
#[tokio::test]
async fn sensitive_changes_need_a_fresh_authentication_with_the_second_factor() {
    let app = spawn_app().await;
    let (_, older) = app.logged_in_user("ann@example.com").await;
    let response = app.post_json("/mfa/totp", &json!({"password": PASSWORD}), Some(&older)).await;
    let secret = response.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap().as_bytes().to_vec();
    let other = app.tokens("ann@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let response = app.post_json("/mfa/totp/confirm", &json!({"code": code(&secret, 0)}), Some(&older)).await;
    assert_eq!(response.status(), StatusCode::OK);

    // `other` logged in by password alone before the factor existed: level 1.
    let refused = app.post_json("/mfa/recovery-codes", &json!({}), Some(&other)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let change = json!({"current_password": PASSWORD, "new_password": "another good passphrase"});
    let refused = app.post_json("/password/change", &change, Some(&other)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let refused = app.send_json(Method::DELETE, "/mfa/totp", &json!({"password": PASSWORD}), Some(&other)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let by_password = app.post_json("/auth/reauthenticate", &json!({"password": PASSWORD}), Some(&other)).await;
    assert_eq!(by_password.status(), StatusCode::OK, "a password refreshes the time but not the level");
    let refused = app.post_json("/mfa/recovery-codes", &json!({}), Some(&other)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let response = app.post_json("/auth/reauthenticate", &json!({"code": code(&secret, 1)}), Some(&other)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh: Value = response.json().await.unwrap();
    let claims = jwt_payload(fresh["access_token"].as_str().unwrap());
    assert_eq!((claims["aal"].clone(), claims["amr"].clone()), (json!(2), json!(["pwd", "otp", "mfa"])));
    let allowed = app.post_json("/mfa/recovery-codes", &json!({}), Some(&other)).await;
    assert_eq!(allowed.status(), StatusCode::OK);
    let recovery = allowed.json::<Value>().await.unwrap()["recovery_codes"][0].as_str().unwrap().to_owned();

    // The window passes: the same session must authenticate again, even at level 2.
    app.clock.advance(Duration::from_secs(5 * 60 + 1));
    let refused = app.post_json("/mfa/recovery-codes", &json!({}), Some(&other)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let refused = app.delete("/user", Some(&other)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    // A password alone refreshes level 1 only: this account has a second factor, and deleting
    // it needs that factor proved recently, whatever level the session once reached.
    let response = app.post_json("/auth/reauthenticate", &json!({"password": PASSWORD}), Some(&other)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refused = app.delete("/user", Some(&other)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let response = app.post_json("/auth/reauthenticate", &json!({"recovery_code": recovery}), Some(&other)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let deleted = app.delete("/user", Some(&other)).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_owner_removes_the_app_with_a_code_and_logs_in_by_password_again() {
    let app = spawn_app().await;
    let (token, secret, _) = enrolled_user(&app, "ann@example.com").await;
    let wrong = app.send_json(Method::DELETE, "/mfa/totp", &json!({"code": wrong_code(&secret)}), Some(&token)).await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_code").await;
    let both =
        app.send_json(Method::DELETE, "/mfa/totp", &json!({"code": "1", "password": PASSWORD}), Some(&token)).await;
    assert_problem(both, StatusCode::BAD_REQUEST, "malformed_request").await;
    let removed = app.send_json(Method::DELETE, "/mfa/totp", &json!({"code": code(&secret, 1)}), Some(&token)).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.smtp.nth_to("ann@example.com", 3).await.subject(), "Two-step login is off");
    let pair = app.tokens("ann@example.com", PASSWORD).await;
    assert_eq!(jwt_payload(pair["access_token"].as_str().unwrap())["aal"], 1);
    let again = app.send_json(Method::DELETE, "/mfa/totp", &json!({"code": code(&secret, 1)}), Some(&token)).await;
    assert_problem(again, StatusCode::CONFLICT, "mfa_not_enabled").await;
}

#[tokio::test]
async fn an_admin_removes_every_factor_and_the_user_is_told() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    enrolled_user(&app, "ann@example.com").await;
    let (_, user) = app.logged_in_user("ben@example.com").await;
    let refused = app.delete("/admin/users/ann@example.com/mfa", Some(&user)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let removed = app.delete("/admin/users/ann@example.com/mfa", Some(&admin)).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let notice = app.smtp.nth_to("ann@example.com", 3).await;
    assert_eq!(notice.subject(), "Two-step login is off");
    assert!(notice.text().contains("by an administrator"));
    assert_eq!(app.log_in("ann@example.com", PASSWORD).await.status(), StatusCode::OK);
    let again = app.delete("/admin/users/ann@example.com/mfa", Some(&admin)).await;
    assert_problem(again, StatusCode::CONFLICT, "mfa_not_enabled").await;
    app.count_reaches(Stored::AuditEvents(&["admin.mfa_reset"]), 1).await;
}

/// The secret is stored sealed; a key configured later seals new secrets while the generated
/// one still opens the old.
#[tokio::test]
async fn secrets_are_sealed_and_stay_readable_when_a_key_is_configured() {
    let app = spawn_app().await;
    let (_, secret, _) = enrolled_user(&app, "ann@example.com").await;
    let services = app.services().await;
    let ann = services.capabilities.accounts.as_operator().find_user("ann@example.com").await.unwrap();
    let stored = services.backend.store.totp(ann.id).await.unwrap().unwrap();
    assert!(
        !stored.secret.windows(secret.len()).any(|w| w == secret.as_slice()),
        "the secret is not stored in the clear"
    );
    services.close().await;

    let app = app
        .restart_changing(|config| {
            config.security.encryption_key = Some("qmFHUbMa1sW7iYh2yR8mHk3VFPz0vLqjX9dCwE6tGoA=".to_owned().into());
        })
        .await;
    let response = second_step(&app, json!({"mfa_token": mfa_token_of(&app).await, "code": code(&secret, 1)})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (token, fresh, _) = enrolled_user(&app, "ben@example.com").await;
    assert!(!token.is_empty());
    let response =
        second_step(&app, json!({"mfa_token": mfa_token(&app, "ben@example.com").await, "code": code(&fresh, 1)}))
            .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// `GATEHOUSE_MFA_REQUIRED=admins`: an admin without a factor logs in to an enrolment-only
/// session; a user is not covered.
#[tokio::test]
async fn a_covered_account_without_a_factor_can_only_enrol_until_it_has_one() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_MFA_REQUIRED", "admins")).await;
    let admin = app.admin("root@example.com").await;
    assert_eq!(jwt_payload(&admin)["aal"], 0);
    assert_problem(app.get("/user", Some(&admin)).await, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    assert_problem(app.get("/admin/users", Some(&admin)).await, StatusCode::FORBIDDEN, "mfa_enrolment_required").await;
    assert_eq!(app.get("/auth/sessions", Some(&admin)).await.status(), StatusCode::OK);
    let (_, user) = app.logged_in_user("ann@example.com").await;
    assert_eq!(app.get("/user", Some(&user)).await.status(), StatusCode::OK, "users are not covered");

    let response = app.post_json("/mfa/totp", &json!({"password": PASSWORD}), Some(&admin)).await;
    let secret = response.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    let secret = totp_rs::Secret::try_from_base32(secret).unwrap().as_bytes().to_vec();
    let response = app.post_json("/mfa/totp/confirm", &json!({"code": code(&secret, 0)}), Some(&admin)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.get("/admin/users", Some(&admin)).await.status(), StatusCode::OK, "enrolled: the session opens up");
    let mfa_token = mfa_token(&app, "root@example.com").await;
    let response = second_step(&app, json!({"mfa_token": mfa_token, "code": code(&secret, 1)})).await;
    assert_eq!(response.status(), StatusCode::OK);
}
