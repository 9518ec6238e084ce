//! Access tokens as the services behind gatehouse verify them: the `aud` claim, each signing
//! algorithm checked against the published JWK alone, the discovery document, and key changes
//! (a rotation, an algorithm switch) that leave every issued token valid.

use gatehouse::tokens::jwt::KeyAlgorithm;
use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Options, PASSWORD, TestApp, jwt_header, jwt_payload, spawn_app, spawn_app_with};

const ALGORITHMS: [&str; 3] = ["EdDSA", "ES256", "RS256"];

/// Verifies `token` as another service would: with the key its `kid` names in a freshly
/// fetched JWKS, the algorithm that key declares, the issuer and the audience.
pub async fn verify_like_an_api(app: &TestApp, token: &str, audience: &str) -> Value {
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
    let kid = jwt_header(token)["kid"].clone();
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).expect("the token's kid is published");
    let jwk: Jwk = serde_json::from_value(key.clone()).expect("a JWK every library reads");
    let algorithm: jsonwebtoken::Algorithm = key["alg"].as_str().unwrap().parse().unwrap();
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&app.address]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
        .unwrap_or_else(|error| panic!("{algorithm:?} token refused: {error}"))
        .claims
}

#[tokio::test]
async fn the_audience_is_the_public_url_unless_one_is_configured() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    assert_eq!(jwt_payload(&token)["aud"], app.address);
    verify_like_an_api(&app, &token, &app.address).await;

    let app = spawn_app_with(Options::default().var("GATEHOUSE_TOKEN_AUDIENCE", "https://api.example.com")).await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    assert_eq!(jwt_payload(&token)["aud"], "https://api.example.com");
    verify_like_an_api(&app, &token, "https://api.example.com").await;
    assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn each_algorithm_signs_tokens_that_verify_with_the_published_jwk_alone() {
    for algorithm in ALGORITHMS {
        let app = spawn_app_with(Options::default().var("GATEHOUSE_TOKEN_ALGORITHM", algorithm)).await;
        let (account, token) = app.logged_in_user("ann@example.com").await;

        assert_eq!(jwt_header(&token)["alg"], algorithm);
        let claims = verify_like_an_api(&app, &token, &app.address).await;
        assert_eq!(claims["sub"], account["id"]);
        assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK, "{algorithm}");
        let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
        let key = &jwks["keys"][0];
        let expected_type = match algorithm {
            "EdDSA" => "OKP",
            "ES256" => "EC",
            _ => "RSA",
        };
        assert_eq!((key["kty"].as_str(), key["alg"].as_str()), (Some(expected_type), Some(algorithm)));
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{algorithm}: never the private part ({private})");
        }
    }
}

#[tokio::test]
async fn the_discovery_document_names_the_issuer_the_jwks_and_the_id_token_algorithm() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_TOKEN_ALGORITHM", "ES256")).await;

    let response = app.get("/.well-known/openid-configuration", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "public, max-age=60");
    let discovery: Value = response.json().await.unwrap();
    assert_eq!(discovery["issuer"], app.address);
    assert_eq!(discovery["jwks_uri"], app.url("/.well-known/jwks.json"));
    assert_eq!(discovery["id_token_signing_alg_values_supported"], serde_json::json!(["RS256"]), "what OIDC requires");
    let jwks = app.client.get(discovery["jwks_uri"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(jwks.status(), StatusCode::OK);
}

#[tokio::test]
async fn switching_the_algorithm_signs_with_the_new_one_at_once_and_keeps_issued_tokens_valid() {
    let mut app = spawn_app().await;
    let (_, ed25519) = app.logged_in_user("ann@example.com").await;
    let mut issued = vec![ed25519];

    for algorithm in ["ES256", "RS256"] {
        let switched = KeyAlgorithm::parse(algorithm).unwrap();
        app = app.restart_changing(|config| config.token_algorithm = switched).await;

        let token = app.tokens("ann@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt_header(&token)["alg"], algorithm, "the new algorithm signs at once");
        issued.push(token);
        for token in &issued {
            verify_like_an_api(&app, token, &app.address).await;
            assert_eq!(app.get("/protected", Some(token)).await.status(), StatusCode::OK);
        }
    }
}

#[tokio::test]
async fn a_rotation_publishes_a_key_of_the_configured_algorithm_while_the_old_key_signs_and_verifies() {
    for algorithm in KeyAlgorithm::ALL {
        let app = spawn_app_with(Options::default().var("GATEHOUSE_TOKEN_ALGORITHM", algorithm.name())).await;
        let (_, before) = app.logged_in_user("ann@example.com").await;
        let old_kid = jwt_header(&before)["kid"].clone();

        let rotated = app.services().await.capabilities.accounts.rotate_key().await.unwrap().remove(0);
        let app = app.restart().await;

        assert_eq!(rotated.algorithm, algorithm);
        let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.unwrap();
        let kids: Vec<&Value> = jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
        assert_eq!(kids, [&old_kid, &Value::from(rotated.kid.as_str())], "{algorithm}: both published");
        // The new key signs once every replica has had time to load it (two minutes, tested
        // on the key ring itself); until then the old key signs, and its tokens stay valid.
        let after = app.tokens("ann@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt_header(&after)["kid"], old_kid);
        for token in [&before, &after] {
            verify_like_an_api(&app, token, &app.address).await;
            assert_eq!(app.get("/protected", Some(token)).await.status(), StatusCode::OK, "{algorithm}");
        }
    }
}
