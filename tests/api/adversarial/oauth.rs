//! The provider's token endpoint and introspection: a refresh narrows what its tokens carry,
//! and a client learns nothing of tokens issued to others unless it is a resource server.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{jwt_payload, spawn_app};
use crate::oauth::{register, signed_in, token};

/// RFC 6749 section 6: a refresh may ask for less; those tokens carry only that, the ID token
/// drops the claims of the scopes left out, and the grant keeps the rest for later refreshes.
#[tokio::test]
async fn a_refresh_with_a_narrower_scope_gets_tokens_of_that_scope_only() {
    let app = spawn_app().await;
    let (client, _, tokens) = signed_in(&app, "ann@example.com").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let narrowed =
        token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("scope", "openid")]).await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    let narrowed: Value = narrowed.json().await.unwrap();
    assert_eq!(narrowed["scope"], "openid");
    assert_eq!(jwt_payload(narrowed["access_token"].as_str().unwrap())["scope"], "openid");
    let id = jwt_payload(narrowed["id_token"].as_str().unwrap());
    assert!(
        id.get("email").is_none() && id.get("updated_at").is_none(),
        "the ID token dropped email and profile: {id}"
    );
    let info: Value = app.get("/oauth2/userinfo", narrowed["access_token"].as_str()).await.json().await.unwrap();
    assert!(info.get("email").is_none(), "{info}");

    // The next refresh, asking nothing, has the whole grant again.
    let next = narrowed["refresh_token"].as_str().expect("the grant still holds offline_access");
    let whole: Value =
        token(&app, &client, &[("grant_type", "refresh_token"), ("refresh_token", next)]).await.json().await.unwrap();
    let scope = whole["scope"].as_str().unwrap();
    assert!(scope.contains("email") && scope.contains("profile"), "{scope}");
    assert!(jwt_payload(whole["id_token"].as_str().unwrap()).get("email").is_some());
}

/// RFC 7662 leaves who may ask to the server: a client may introspect its own tokens, and only
/// a client registered as a resource server (`introspect: true`) anyone's.
#[tokio::test]
async fn a_client_introspects_only_its_own_tokens_unless_it_is_a_resource_server() {
    let app = spawn_app().await;
    let (issued_to, _, tokens) = signed_in(&app, "ann@example.com").await;
    let access = tokens["access_token"].as_str().unwrap();
    let admin = app.admin("api-admin@example.com").await;
    let body = |introspect: bool| json!({"name": "API", "grant_types": ["client_credentials"], "scopes": ["profile"], "introspect": introspect});
    let other = register(&app, &admin, body(false)).await;
    let resource_server = register(&app, &admin, body(true)).await;
    let introspect = |client: &crate::oauth::Client| {
        let request = app.client.post(app.url("/oauth2/introspect")).header("authorization", client.basic());
        request.form(&[("token", access)]).send()
    };
    let own: Value = introspect(&issued_to).await.unwrap().json().await.unwrap();
    assert_eq!((own["active"].clone(), own["sub"].is_string()), (json!(true), true), "{own}");
    let others: Value = introspect(&other).await.unwrap().json().await.unwrap();
    assert_eq!(others, json!({"active": false}), "another client learns nothing of the token");
    let by_resource_server: Value = introspect(&resource_server).await.unwrap().json().await.unwrap();
    assert_eq!(by_resource_server["active"], true, "{by_resource_server}");
    assert_eq!(by_resource_server["client_id"], issued_to.id.as_str());
}
