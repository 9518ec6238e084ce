//! `GET /.well-known/jwks.json`, the public keys that verify access tokens, and
//! `GET /.well-known/openid-configuration`, the discovery document that points at them.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::http::state::AppState;
use crate::tokens::jwt::Jwk;

/// How long verifiers may cache either document: shorter than the delay between a new key's
/// publication and its first signature, so a cached JWKS knows a key before it signs.
const CACHE_CONTROL: &str = "public, max-age=60";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[utoipa::path(
    get, path = "/.well-known/jwks.json", summary = "Token-verification keys (JWKS)", operation_id = "getJwks", tag = "keys",
    description = "Every key that may still verify a live access token: the one signing now, a new one published \
        ahead of its first signature, and old ones until the last token they signed has expired. A token names its \
        key in the `kid` header; a verifier that meets an unknown `kid` fetches this document again.",
    responses((status = 200, description = "The public keys that verify access tokens", body = Jwks))
)]
async fn jwks(State(state): State<AppState>) -> Response {
    cached(Json(Jwks { keys: state.accounts.keys().jwks() }))
}

/// OpenID Connect discovery, as far as gatehouse is a provider today: who issues the tokens
/// and where their keys are.
#[derive(Serialize, utoipa::ToSchema)]
struct Discovery {
    /// The `iss` of every token: the public URL.
    #[schema(example = "https://auth.example.com")]
    issuer: String,
    #[schema(example = "https://auth.example.com/.well-known/jwks.json")]
    jwks_uri: String,
    /// The algorithms of the published keys, the one signing now first.
    #[schema(example = json!(["EdDSA"]))]
    id_token_signing_alg_values_supported: Vec<String>,
    subject_types_supported: Vec<&'static str>,
    /// The claims of an access token.
    claims_supported: Vec<&'static str>,
}

#[utoipa::path(
    get, path = "/.well-known/openid-configuration", summary = "Discovery document", operation_id = "getOpenidConfiguration",
    tag = "keys",
    description = "The issuer, the JWKS address and the signing algorithms, for verifiers that configure themselves \
        from the issuer alone.",
    responses((status = 200, description = "The discovery document", body = Discovery))
)]
async fn openid_configuration(State(state): State<AppState>) -> Response {
    let keys = state.accounts.keys();
    let mut algorithms = vec![keys.signing_algorithm().name().to_owned()];
    for jwk in keys.jwks() {
        if !algorithms.contains(&jwk.alg) {
            algorithms.push(jwk.alg);
        }
    }
    cached(Json(Discovery {
        issuer: keys.issuer().to_owned(),
        jwks_uri: format!("{}/.well-known/jwks.json", keys.issuer()),
        id_token_signing_alg_values_supported: algorithms,
        subject_types_supported: vec!["public"],
        claims_supported: vec!["iss", "aud", "sub", "sid", "iat", "exp", "jti", "email", "role", "app_data"],
    }))
}

fn cached(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    response
}
