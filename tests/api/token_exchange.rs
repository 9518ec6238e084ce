//! Token exchange (RFC 8693) for delegation: a service trades a person's access token issued to
//! it, with its own client-credentials token as the actor, for a token of the same session for
//! another client's API, with `act` naming the actor; and nothing else passes.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, query_param};
use crate::helpers::{TestApp, jwt_payload, spawn_app};
use crate::oauth::{Client, authorize, authorize_url, pkce, redeem, register, token};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

async fn exchange(
    app: &TestApp,
    client: &Client,
    subject: &str,
    actor: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS),
        ("actor_token", actor),
        ("actor_token_type", ACCESS),
    ];
    form.extend_from_slice(extra);
    token(app, client, &form).await
}

async fn error_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    response.json::<Value>().await.unwrap()["error"].as_str().unwrap().to_owned()
}

/// What introspection tells `client` of `token`.
async fn introspect(app: &TestApp, client: &Client, token: &str) -> Value {
    let response = app
        .client
        .post(app.url("/oauth2/introspect"))
        .header("authorization", client.basic())
        .form(&[("token", token)]);
    response.send().await.unwrap().json().await.unwrap()
}

async fn own_token(app: &TestApp, client: &Client) -> String {
    let response = token(app, client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_service_acts_for_the_person_at_another_api_and_only_with_what_it_holds() {
    let app = spawn_app().await;
    let admin = app.admin("exchange-admin@example.com").await;
    app.active_user("erin@example.com", None).await;
    let orders = register(
        &app,
        &admin,
        json!({
            "name": "Orders", "redirect_uris": ["http://127.0.0.1:9/callback"],
            "grant_types": ["authorization_code", "refresh_token", "client_credentials", EXCHANGE],
            "scopes": ["openid", "email", "profile", "offline_access"], "first_party": true,
        }),
    )
    .await;
    let billing = register(
        &app,
        &admin,
        json!({"name": "Billing API", "grant_types": ["client_credentials"], "introspect": false}),
    )
    .await;
    let public = json!({"name": "SPA", "confidential": false, "redirect_uris": ["http://127.0.0.1:9/cb"], "grant_types": ["authorization_code", EXCHANGE]});
    let refused = app.post_json("/admin/clients", &public, Some(&admin)).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY, "a public client may not exchange");

    let browser = Browser::new(&app);
    let (verifier, challenge) = pkce();
    let url = authorize_url(&app, &orders, &challenge, &[]);
    let back = authorize(&app, &browser, &url, "erin@example.com").await;
    let code = query_param(&back, "code").unwrap();
    let tokens: Value = redeem(&app, &orders, &code, &verifier).await.json().await.unwrap();
    let subject = tokens["access_token"].as_str().unwrap();
    let actor = own_token(&app, &orders).await;

    let response = exchange(&app, &orders, subject, &actor, &[("audience", &billing.id), ("scope", "email")]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["issued_token_type"], ACCESS);
    assert!(answer.get("refresh_token").is_none());
    let exchanged = answer["access_token"].as_str().unwrap();
    let claims = jwt_payload(exchanged);
    let person = jwt_payload(subject)["sub"].clone();
    assert_eq!((&claims["sub"], &claims["aud"], &claims["scope"]), (&person, &json!(billing.id), &json!("email")));
    assert_eq!(claims["act"], json!({ "sub": orders.id }));
    assert_eq!(claims["client_id"], orders.id.as_str());

    // The API it is for learns of it (its audience), with who acts.
    let seen: Value = introspect(&app, &billing, exchanged).await;
    assert_eq!((&seen["active"], &seen["act"]["sub"]), (&json!(true), &json!(orders.id)), "{seen}");

    // Nothing widens or launders: more scopes, a token of another client's, the exchanged one
    // exchanged again, an unknown audience, a missing actor, a wrong type.
    assert_eq!(
        error_of(exchange(&app, &orders, subject, &actor, &[("scope", "email app_data")]).await).await,
        "invalid_scope"
    );
    let billing_own = own_token(&app, &billing).await;
    assert_eq!(error_of(exchange(&app, &orders, subject, &billing_own, &[]).await).await, "invalid_grant");
    assert_eq!(
        error_of(exchange(&app, &orders, subject, subject, &[]).await).await,
        "invalid_grant",
        "a person is no actor"
    );
    let empty = exchange(&app, &orders, subject, &actor, &[("scope", "")]).await;
    assert_eq!(error_of(empty).await, "invalid_scope");
    assert_eq!(error_of(exchange(&app, &orders, exchanged, &actor, &[]).await).await, "invalid_grant");
    assert_eq!(
        error_of(exchange(&app, &orders, subject, &actor, &[("audience", "nobody")]).await).await,
        "invalid_target"
    );
    let no_actor =
        token(&app, &orders, &[("grant_type", EXCHANGE), ("subject_token", subject), ("subject_token_type", ACCESS)])
            .await;
    assert_eq!(error_of(no_actor).await, "invalid_request");
    let again = exchange(&app, &orders, subject, &actor, &[]).await;
    assert_eq!(again.status(), StatusCode::OK, "the same subject may be exchanged again, for its own API by default");
    let form = [
        ("grant_type", EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:id_token"),
        ("actor_token", actor.as_str()),
        ("actor_token_type", ACCESS),
    ];
    assert_eq!(error_of(token(&app, &orders, &form).await).await, "invalid_request");
    assert_eq!(error_of(exchange(&app, &billing, subject, &billing_own, &[]).await).await, "unauthorized_client");

    // Bound to the person's session: it ends with it.
    let revoked = app
        .client
        .post(app.url("/oauth2/revoke"))
        .header("authorization", orders.basic())
        .form(&[("token", subject)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let after: Value = introspect(&app, &billing, exchanged).await;
    assert_eq!(after, json!({ "active": false }));
}
