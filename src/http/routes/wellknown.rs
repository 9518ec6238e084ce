//! `GET /.well-known/jwks.json`, the public keys that verify access tokens, and the discovery
//! document that points at them and at every endpoint: `GET /.well-known/openid-configuration`
//! (OpenID Connect Discovery) and `GET /.well-known/oauth-authorization-server` (RFC 8414, which
//! some OAuth clients ask alone, MCP clients among them), the same document. When the issuer
//! has a path (`https://example.com/auth`), each also answers in RFC 8414's path-inserted form
//! (`/.well-known/oauth-authorization-server/auth`), for a proxy that routes that address of the
//! host to gatehouse.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::config::ClientRegistration;
use crate::http::error::{ApiError, Errors, code};
use crate::http::state::AppState;
use crate::tokens::jwt::Jwk;

/// How long verifiers may cache either document: shorter than the delay between a new key's
/// publication and its first signature, so a cached JWKS knows a key before it signs.
const CACHE_CONTROL: &str = "public, max-age=60";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/.well-known/openid-configuration/{*issuer_path}", get(discovery_at_issuer_path))
        .route("/.well-known/oauth-authorization-server", get(authorization_server_metadata))
        .route("/.well-known/oauth-authorization-server/{*issuer_path}", get(discovery_at_issuer_path))
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
    // A client registered at the command line had its ID-token key made by another process:
    // published here at once, not at the next reload.
    if let Err(error) = state.authentication.reload_keys_for_missing_id_key().await {
        tracing::warn!(%error, "could not reload the signing keys");
    }
    cached(Json(Jwks { keys: state.authentication.keys().jwks() }))
}

/// OpenID Connect discovery: who issues the tokens, where their keys are, and the endpoints
/// of gatehouse as the OpenID Connect provider of other apps.
#[derive(Serialize, utoipa::ToSchema)]
struct Discovery {
    /// The `iss` of every token: the public URL.
    #[schema(example = "https://auth.example.com")]
    issuer: String,
    #[schema(example = "https://auth.example.com/.well-known/jwks.json")]
    jwks_uri: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: String,
    revocation_endpoint: String,
    introspection_endpoint: String,
    end_session_endpoint: String,
    /// The device authorization grant's first step (RFC 8628).
    device_authorization_endpoint: String,
    /// Pushed authorization requests (RFC 9126).
    pushed_authorization_request_endpoint: String,
    /// `GATEHOUSE_REQUIRE_PAR`: only pushed authorization requests are taken.
    require_pushed_authorization_requests: bool,
    /// DPoP (RFC 9449): the algorithms a proof may be signed with.
    dpop_signing_alg_values_supported: &'static [&'static str],
    /// Client registration (RFC 7591), when `GATEHOUSE_CLIENT_REGISTRATION` is not `off`.
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_endpoint: Option<String>,
    /// OpenID Connect Back-Channel Logout 1.0, with `sid`.
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
    /// How ID tokens are signed (`GATEHOUSE_ID_TOKEN_ALGORITHM`, `RS256` by default).
    #[schema(example = json!(["RS256"]))]
    id_token_signing_alg_values_supported: Vec<String>,
    subject_types_supported: Vec<&'static str>,
    response_types_supported: Vec<&'static str>,
    response_modes_supported: Vec<&'static str>,
    grant_types_supported: &'static [&'static str],
    /// S256 only: `plain` is refused.
    code_challenge_methods_supported: Vec<&'static str>,
    token_endpoint_auth_methods_supported: Vec<&'static str>,
    /// `private_key_jwt` (RFC 7523): the algorithms a client assertion may be signed with, at
    /// every endpoint that takes one.
    token_endpoint_auth_signing_alg_values_supported: &'static [&'static str],
    revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    revocation_endpoint_auth_signing_alg_values_supported: &'static [&'static str],
    introspection_endpoint_auth_methods_supported: Vec<&'static str>,
    introspection_endpoint_auth_signing_alg_values_supported: &'static [&'static str],
    /// OpenID Connect's and gatehouse's scopes, then each protected resource's.
    scopes_supported: Vec<String>,
    prompt_values_supported: Vec<&'static str>,
    /// The claims of ID tokens, userinfo and gatehouse's own access tokens.
    claims_supported: Vec<&'static str>,
    authorization_response_iss_parameter_supported: bool,
    claims_parameter_supported: bool,
    request_parameter_supported: bool,
    request_uri_parameter_supported: bool,
}

#[utoipa::path(
    get, path = "/.well-known/openid-configuration", summary = "Discovery document", operation_id = "getOpenidConfiguration",
    tag = "keys",
    description = "The issuer, the JWKS address, the signing algorithms and the OpenID Connect provider's endpoints, \
        for verifiers and client apps that configure themselves from the issuer alone.",
    responses((status = 200, description = "The discovery document", body = Discovery))
)]
async fn openid_configuration(State(state): State<AppState>) -> Response {
    cached(Json(discovery(&state)))
}

#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", summary = "Authorization server metadata (RFC 8414)",
    operation_id = "getAuthorizationServerMetadata", tag = "keys",
    description = "The discovery document under RFC 8414's name, for OAuth clients that ask only there (MCP clients \
        among them): the same document as `/.well-known/openid-configuration`. When the issuer has a path, \
        `/.well-known/oauth-authorization-server/<that path>` and `/.well-known/openid-configuration/<that path>` \
        answer it too (RFC 8414's path-inserted form); any other path under either is `404`.",
    responses(
        (status = 200, description = "The discovery document", body = Discovery),
        Errors<(code::NotFound,)>
    )
)]
async fn authorization_server_metadata(State(state): State<AppState>) -> Response {
    cached(Json(discovery(&state)))
}

/// The discovery document at its path-inserted address: only the issuer's own path.
async fn discovery_at_issuer_path(State(state): State<AppState>, Path(issuer_path): Path<String>) -> Response {
    let issuer = state.authentication.keys().issuer().to_owned();
    let own = url::Url::parse(&issuer).map(|url| url.path().trim_matches('/').to_owned()).unwrap_or_default();
    if own.is_empty() || issuer_path.trim_end_matches('/') != own {
        return ApiError::NotFound("discovery document").into_response();
    }
    cached(Json(discovery(&state)))
}

/// The discovery document: who issues the tokens, the keys, every endpoint and what each takes.
fn discovery(state: &AppState) -> Discovery {
    let keys = state.authentication.keys();
    let issuer = keys.issuer();
    let at = |path: &str| format!("{issuer}{path}");
    let client_auth = vec!["client_secret_basic", "client_secret_post", "private_key_jwt", "none"];
    let assertion_algorithms = &crate::tokens::dpop::ALGORITHMS;
    Discovery {
        issuer: issuer.to_owned(),
        jwks_uri: at("/.well-known/jwks.json"),
        authorization_endpoint: at("/oauth2/authorize"),
        token_endpoint: at("/oauth2/token"),
        userinfo_endpoint: at("/oauth2/userinfo"),
        revocation_endpoint: at("/oauth2/revoke"),
        introspection_endpoint: at("/oauth2/introspect"),
        end_session_endpoint: at("/oauth2/logout"),
        device_authorization_endpoint: at("/oauth2/device_authorization"),
        pushed_authorization_request_endpoint: at("/oauth2/par"),
        require_pushed_authorization_requests: state.accounts.policy().pushed_requests_required,
        dpop_signing_alg_values_supported: &crate::tokens::dpop::ALGORITHMS,
        registration_endpoint: (state.accounts.policy().client_registration != ClientRegistration::Off)
            .then(|| at("/oauth2/register")),
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
        id_token_signing_alg_values_supported: vec![keys.id_token_algorithm().name().to_owned()],
        subject_types_supported: vec!["public"],
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: crate::accounts::oauth::GRANT_TYPES,
        code_challenge_methods_supported: vec!["S256"],
        token_endpoint_auth_methods_supported: client_auth.clone(),
        token_endpoint_auth_signing_alg_values_supported: assertion_algorithms,
        revocation_endpoint_auth_methods_supported: client_auth,
        revocation_endpoint_auth_signing_alg_values_supported: assertion_algorithms,
        introspection_endpoint_auth_methods_supported: vec![
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        introspection_endpoint_auth_signing_alg_values_supported: assertion_algorithms,
        scopes_supported: crate::accounts::oauth::supported_scopes(&state.authentication.policy().resources),
        prompt_values_supported: vec!["none", "login", "consent"],
        claims_supported: vec![
            "iss",
            "aud",
            "sub",
            "sid",
            "iat",
            "exp",
            "jti",
            "auth_time",
            "nonce",
            "amr",
            "acr",
            "azp",
            "email",
            "email_verified",
            "name",
            "preferred_username",
            "updated_at",
            "app_data",
            "org",
        ],
        authorization_response_iss_parameter_supported: true,
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
    }
}

fn cached(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    response
}
