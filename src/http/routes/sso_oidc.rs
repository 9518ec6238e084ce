//! Logging in through an organization's own OpenID Connect provider: `GET /sso/oidc/{id}/login`
//! sends the browser to the provider with a cookie binding the login to it, and the provider
//! sends it back to `GET /sso/oidc/{id}/callback`, which answers as social login's callback
//! does: a `303` to the app's `redirect_to` with a one-time `code` (or an `error`), never a
//! token.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use secrecy::ExposeSecret;
use serde::Deserialize;
use uuid::Uuid;

use crate::http::browser::{
    CallbackQuery, provider_binding_cookie, provider_callback_answer, start_handoff, to_login_elsewhere,
};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Client, Path, Query, cookie};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/sso/oidc/{id}/login", get(login)).route("/sso/oidc/{id}/callback", get(callback))
}

fn callback_path(id: Uuid) -> String {
    format!("/sso/oidc/{id}/callback")
}

#[derive(Deserialize)]
struct LoginQuery {
    redirect_to: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

#[utoipa::path(
    get, path = "/sso/oidc/{id}/login", summary = "Log in through an organization's OpenID Connect provider", operation_id = "beginOidcSsoLogin", tag = "sso",
    description = "Sends the browser to the organization's provider (`302`) with `state`, `nonce` and PKCE S256, a cookie binding the login to this browser for 10 minutes, and the `gatehouse_handoff` cookie its hand-off code is bound to. The provider sends it back to `/sso/oidc/{id}/callback`. The provider's discovery document is read (through the webhooks' guard) at the first login and kept an hour.",
    params(("id" = Uuid, Path, description = "The connection's id"),
        ("redirect_to" = Option<String>, Query, description = "Where the browser goes once logged in (with `?code=` to exchange at `POST /auth/exchange`); it must start with a prefix in `GATEHOUSE_REDIRECT_ALLOW`. Without it: `/account`."),
        ("code_challenge" = Option<String>, Query, description = "An app that exchanges the hand-off code itself: base64url(SHA-256(code_verifier))"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256` (the default, and the only one)")),
    responses((status = 302, description = "To the provider"), Errors<(code::NotFound, code::ValidationFailed, code::ProviderUnavailable, code::RateLimited, code::Unavailable)>)
)]
async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("connection"))?;
    let (handoff, set) = start_handoff(&state, &headers, query.code_challenge, query.code_challenge_method.as_deref())?;
    let to = state.federation.begin_oidc_sso_login(id, query.redirect_to.as_deref(), handoff, &client).await?;
    let max_age = crate::accounts::identities::LOGIN_TTL.as_secs();
    let value = to.cookie_value.expose_secret();
    let cookie = provider_binding_cookie(&state, &callback_path(id), &to.cookie_name, value, max_age);
    Ok(to_login_elsewhere(to.url.as_str(), cookie, set))
}

#[utoipa::path(
    get, path = "/sso/oidc/{id}/callback", summary = "The organization's provider's callback", operation_id = "finishOidcSsoLogin", tag = "sso",
    description = "Where the provider sends the browser back. Checks as social login's callback does (the `state`, single use, 10 minutes, from this browser; the code redeemed with the PKCE verifier; the ID token's signature, `iss`, `aud`, `exp`, `nonce`; RFC 9207's `iss`), then lets the person in by the just-in-time rules of SAML connections and answers `303` to the login's `redirect_to` (else `/account`) with `code` (exchange it at `POST /auth/exchange`) or `error={code}`. A `state` that names no login answers `400 oidc_state_invalid`.",
    params(("id" = Uuid, Path, description = "The connection's id"),
        ("state" = Option<String>, Query, description = "As the provider returns it"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("error" = Option<String>, Query, description = "The provider's refusal (`access_denied`)"),
        ("iss" = Option<String>, Query, description = "The issuer (RFC 9207); when present it must be the provider's")),
    responses((status = 303, description = "To `redirect_to` (or `/account`) with `code` or `error`"),
        Errors<(code::NotFound, code::OidcStateInvalid, code::RateLimited, code::Unavailable)>)
)]
async fn callback(
    State(state): State<AppState>,
    Client(client): Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("connection"))?;
    let cookie_name = query.binding_cookie();
    let binding = cookie_name.as_deref().and_then(|name| cookie(&headers, name));
    let callback = state.federation.finish_oidc_sso_login(id, query.answer(binding.as_deref()), &client).await;
    Ok(provider_callback_answer(&state, callback, "", cookie_name, &callback_path(id)))
}
