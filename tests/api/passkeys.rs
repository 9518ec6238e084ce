//! Passkeys without a browser: webauthn-authenticator-rs's software passkey answers the
//! ceremonies. It keeps no resident credentials, so where a browser's passkey would act on its
//! own (a discoverable login: it finds its credential and returns the user handle) the test
//! plays that part, and says so; everything gatehouse checks is checked as for a browser.
//! Real resident credentials are exercised in headless Chromium.

use reqwest::StatusCode;
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse, UserVerificationPolicy,
};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, jwt_payload, spawn_app_with};

/// The origin the software authenticator signs for.
const ORIGIN: &str = "http://localhost:8080";

/// The test server's public URL is an IP address, which WebAuthn does not accept as a relying
/// party id: these tests name `localhost`, and the origin the authenticator signs for.
async fn app() -> TestApp {
    spawn_app_with(
        Options::default().var("GATEHOUSE_WEBAUTHN_RP_ID", "localhost").var("GATEHOUSE_WEBAUTHN_ORIGINS", ORIGIN),
    )
    .await
}

fn origin() -> url::Url {
    url::Url::parse(ORIGIN).unwrap()
}

/// An authenticator that verifies its user (a fingerprint, a PIN).
fn authenticator() -> SoftPasskey {
    SoftPasskey::new(true)
}

/// Registers a passkey with `authenticator` for the holder of `token`: the answer, and the
/// credential's id. The software passkey cannot keep resident credentials, so it is handed the
/// options without that requirement.
async fn register(
    app: &TestApp,
    token: &str,
    authenticator: &mut SoftPasskey,
    name: &str,
) -> (reqwest::Response, Vec<u8>) {
    let response = app.post_json("/webauthn/register/options", &json!({}), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut options: CreationChallengeResponse = response.json().await.unwrap();
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    assert!(selection.require_resident_key, "a discoverable credential is asked for");
    assert_eq!(selection.user_verification, UserVerificationPolicy::Required);
    selection.require_resident_key = false;
    selection.resident_key = None;
    let credential = authenticator.do_registration(origin(), options).unwrap();
    let id = credential.raw_id.to_vec();
    (app.post_json("/webauthn/register", &json!({"credential": credential, "name": name}), Some(token)).await, id)
}

/// Answers request options with `authenticator`; `allow` stands in for the credential a
/// discoverable passkey would find by itself, `user` for the user handle it would return.
fn answer(
    authenticator: &mut SoftPasskey,
    mut options: RequestChallengeResponse,
    allow: Option<&[u8]>,
    user: Option<&[u8]>,
) -> PublicKeyCredential {
    if let Some(id) = allow {
        options.public_key.allow_credentials =
            vec![AllowCredentials { type_: "public-key".into(), id: id.to_vec(), transports: None }];
    }
    let mut credential = authenticator.do_authentication(origin(), options).unwrap();
    if let Some(user) = user {
        credential.response.user_handle = Some(user.to_vec());
    }
    credential
}

async fn options(app: &TestApp, body: Value, token: Option<&str>) -> RequestChallengeResponse {
    let response = app.post_json("/auth/webauthn/options", &body, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_passkey_is_registered_then_logs_in_alone_and_serves_as_a_second_factor() {
    let app = app().await;
    let (account, token) = app.logged_in_user("ann@example.com").await;
    let mut passkey = authenticator();
    let (response, credential_id) = register(&app, &token, &mut passkey, "Laptop").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["name"], "Laptop");
    let list: Value = app.get("/webauthn/credentials", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(app.smtp.nth_to("ann@example.com", 2).await.subject(), "A passkey was added");

    // Passwordless: the options name no credential; the passkey finds its own.
    let request = options(&app, json!({}), None).await;
    assert!(request.public_key.allow_credentials.is_empty());
    assert_eq!(request.public_key.user_verification, UserVerificationPolicy::Required);
    let user = uuid::Uuid::parse_str(account["id"].as_str().unwrap()).unwrap();
    let first = answer(&mut passkey, request, Some(&credential_id), Some(user.as_bytes()));
    let response = app.post_json("/auth/webauthn", &json!({"credential": first}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let pair: Value = response.json().await.unwrap();
    let claims = jwt_payload(pair["access_token"].as_str().unwrap());
    assert_eq!((claims["aal"].clone(), claims["amr"].clone()), (json!(2), json!(["hwk", "user", "mfa"])));
    assert_eq!(app.get("/user", pair["access_token"].as_str()).await.status(), StatusCode::OK);
    let again = app.post_json("/auth/webauthn", &json!({"credential": first}), None).await;
    assert_problem(again, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Another account's user handle with this passkey's signature gets nowhere.
    let request = options(&app, json!({}), None).await;
    let stranger = answer(&mut passkey, request, Some(&credential_id), Some(uuid::Uuid::now_v7().as_bytes()));
    let response = app.post_json("/auth/webauthn", &json!({"credential": stranger}), None).await;
    assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // With a passkey, a password login needs it as the second factor.
    let challenge =
        assert_problem(app.log_in("ann@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "mfa_required").await;
    assert_eq!(challenge["methods"], json!(["webauthn"]));
    let mfa_token = challenge["mfa_token"].as_str().unwrap();
    let request = options(&app, json!({"mfa_token": mfa_token}), None).await;
    assert_eq!(request.public_key.allow_credentials.len(), 1, "the account's passkeys are offered");
    let second = answer(&mut passkey, request, None, None);
    let response = app.post_json("/auth/mfa", &json!({"mfa_token": mfa_token, "webauthn": second}), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let pair: Value = response.json().await.unwrap();
    let claims = jwt_payload(pair["access_token"].as_str().unwrap());
    assert_eq!((claims["aal"].clone(), claims["amr"].clone()), (json!(2), json!(["pwd", "hwk", "mfa"])));
}

#[tokio::test]
async fn an_authenticator_that_does_not_verify_its_user_is_refused() {
    let app = app().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let response = app.post_json("/webauthn/register/options", &json!({}), Some(&token)).await;
    let mut options: CreationChallengeResponse = response.json().await.unwrap();
    let selection = options.public_key.authenticator_selection.as_mut().unwrap();
    // The authenticator is told user verification is not needed, so it signs without it.
    selection.require_resident_key = false;
    selection.resident_key = None;
    selection.user_verification = UserVerificationPolicy::Discouraged_DO_NOT_USE;
    let credential = SoftPasskey::new(false).do_registration(origin(), options).unwrap();
    let response = app.post_json("/webauthn/register", &json!({"credential": credential}), Some(&token)).await;
    assert_problem(response, StatusCode::BAD_REQUEST, "webauthn_failed").await;
    let list: Value = app.get("/webauthn/credentials", Some(&token)).await.json().await.unwrap();
    assert_eq!(list["credentials"], json!([]));
}

#[tokio::test]
async fn a_passkey_steps_up_and_is_removed_with_a_fresh_session_only() {
    let app = app().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let older = app.tokens("ann@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let mut passkey = authenticator();
    assert_eq!(register(&app, &token, &mut passkey, "Phone").await.0.status(), StatusCode::CREATED);
    let id =
        app.get("/webauthn/credentials", Some(&token)).await.json::<Value>().await.unwrap()["credentials"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();

    // `older` logged in by password before the passkey existed: level 1, so removing it needs
    // a step-up with the passkey.
    let refused = app.delete(&format!("/webauthn/credentials/{id}"), Some(&older)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "reauthentication_required").await;
    let request = options(&app, json!({}), Some(&older)).await;
    assert_eq!(request.public_key.allow_credentials.len(), 1, "a step-up offers the caller's passkeys");
    let proof = answer(&mut passkey, request, None, None);
    let response = app.post_json("/auth/reauthenticate", &json!({"webauthn": proof}), Some(&older)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh: Value = response.json().await.unwrap();
    assert_eq!(jwt_payload(fresh["access_token"].as_str().unwrap())["aal"], 2);
    let removed = app.delete(&format!("/webauthn/credentials/{id}"), Some(&older)).await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.smtp.nth_to("ann@example.com", 3).await.subject(), "A passkey was removed");
    assert_eq!(app.log_in("ann@example.com", PASSWORD).await.status(), StatusCode::OK, "no factor left");
    let again = app.delete(&format!("/webauthn/credentials/{id}"), Some(&token)).await;
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn passkeys_are_off_without_a_domain_and_say_why() {
    let app = crate::helpers::spawn_app().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let response = app.post_json("/webauthn/register/options", &json!({}), Some(&token)).await;
    assert_problem(response, StatusCode::CONFLICT, "passkeys_unavailable").await;
    let response = app.post_json("/auth/webauthn/options", &json!({}), None).await;
    assert_problem(response, StatusCode::CONFLICT, "passkeys_unavailable").await;
}

#[tokio::test]
async fn the_hosted_login_page_takes_a_passkey_alone_and_as_the_second_step() {
    use crate::browser::{Browser, field, location};
    let app = app().await;
    let (account, token) = app.logged_in_user("ann@example.com").await;
    let mut passkey = authenticator();
    let (response, credential_id) = register(&app, &token, &mut passkey, "Laptop").await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user = uuid::Uuid::parse_str(account["id"].as_str().unwrap()).unwrap();

    // The page offers the passkey, hidden until its script finds a browser that can use one.
    let browser = Browser::new(&app);
    let page = browser.get(&app.url("/login")).await;
    let policy = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains("<form method=\"post\" action=\"login\" id=\"passkey-form\" hidden>"), "{html}");
    assert!(html.contains("Log in with a passkey") && html.contains("<script src=\"login/hosted.js\">"));
    for script in ["/login/hosted.js", "/login/passkey.js"] {
        let served = app.get(script, None).await;
        assert_eq!(served.status(), StatusCode::OK, "{script}");
        assert!(served.headers()["content-type"].to_str().unwrap().starts_with("text/javascript"));
    }

    // What the script does: the options, the passkey's answer, posted with the page's form.
    let form = field(&html, "form").unwrap();
    let request = options(&app, json!({}), None).await;
    let signed = answer(&mut passkey, request, Some(&credential_id), Some(user.as_bytes()));
    let signed = serde_json::to_string(&signed).unwrap();
    let response = browser.post_form(&app.url("/login"), &[("form", &form), ("passkey", &signed)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), app.url("/login"));
    let signed_in = browser.get(&app.url("/login")).await.text().await.unwrap();
    assert!(signed_in.contains("ann@example.com"), "the browser session is ann's: {signed_in}");

    // The same answer again, or something that is no passkey's answer: the form says why.
    let replayed = browser.post_form(&app.url("/login"), &[("form", &form), ("passkey", &signed)]).await;
    assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
    let garbage = browser.post_form(&app.url("/login"), &[("form", &form), ("passkey", "{}")]).await;
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    assert!(garbage.text().await.unwrap().contains("The passkey could not be used."), "in the page's words");

    // A password login of an account with a passkey asks for it as the second step.
    let other = Browser::new(&app);
    let second = other.log_in(&app.url("/login"), "ann@example.com", PASSWORD).await;
    assert_eq!(second.status(), StatusCode::OK);
    let html = second.text().await.unwrap();
    assert!(html.contains("Use your passkey"), "{html}");
    let (form, mfa_token) = (field(&html, "form").unwrap(), field(&html, "mfa_token").unwrap());
    let request = options(&app, json!({"mfa_token": mfa_token}), None).await;
    let signed = serde_json::to_string(&answer(&mut passkey, request, None, None)).unwrap();
    let fields = [("form", form.as_str()), ("mfa_token", &mfa_token), ("passkey", &signed)];
    let response = other.post_form(&app.url("/login"), &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(response.headers()["set-cookie"].to_str().unwrap().starts_with("gatehouse_session="));
}
