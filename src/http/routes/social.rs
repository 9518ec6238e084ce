//! Social login (`/auth/oidc/…`) and the caller's linked identities (`/user/identities…`).
//!
//! A browser goes to `GET /auth/oidc/{provider}`, which sends it on to the provider with a
//! cookie binding the login to it; the provider sends it back to `…/callback`, which answers
//! with a `303` to the app's `redirect_to` carrying a one-time `code` (or an `error`), never a
//! token. The app exchanges the code at `POST /auth/oidc/exchange`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::identities::{self, ToProvider};
use crate::contract::IdentityList;
use crate::http::browser::{
    CallbackQuery, ExchangeBody, FORM_COOKIE, exchange_handoff, form_token, provider_binding_cookie,
    provider_callback_answer, start_handoff, to_login_elsewhere, with_cookies,
};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Path, Query, cookie};
use crate::http::pages;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc", get(providers))
        .route("/auth/oidc/exchange", post(exchange))
        .route("/auth/oidc/{provider}", get(begin))
        .route("/auth/oidc/{provider}/callback", get(callback))
        .route("/user/identities", get(list))
        .route("/user/identities/{provider_or_id}", post(link).delete(unlink))
}

/// A provider people can log in with.
#[derive(Serialize, ToSchema)]
struct ProviderBody {
    /// As in paths: `/auth/oidc/{name}`.
    name: String,
    /// For the button: "Continue with {label}".
    label: String,
}

#[derive(Serialize, ToSchema)]
struct ProviderList {
    providers: Vec<ProviderBody>,
}

#[utoipa::path(
    get, path = "/auth/oidc", summary = "The social login providers", operation_id = "listProviders", tag = "social",
    responses((status = 200, description = "The configured providers, by name", body = ProviderList))
)]
async fn providers(State(state): State<AppState>) -> Json<ProviderList> {
    let providers =
        state.authentication.providers().into_iter().map(|(name, label)| ProviderBody { name, label }).collect();
    Json(ProviderList { providers })
}

#[utoipa::path(
    post, path = "/auth/oidc/exchange", summary = "Exchange a social login's code for tokens", operation_id = "exchangeSocialLoginCode", tag = "social",
    description = "The same as `POST /auth/exchange`: the `code` the callback's redirect carried, once, within 2 minutes, for the token pair (the access token's `amr` is `[\"fed\"]`), or `403 mfa_required` when the account has a second factor.",
    request_body(content((ExchangeBody = "application/json"), (ExchangeBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A token pair", body = crate::contract::TokenBody), Errors<(code::MalformedRequest, code::TokenInvalid, code::HandoffInvalid, code::MfaRequired, code::AccountDisabled, code::PayloadTooLarge, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn exchange(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: crate::http::extract::JsonOrForm<ExchangeBody>,
) -> Result<Json<crate::contract::TokenBody>, ApiError> {
    Ok(Json(exchange_handoff(&state, client, &headers, body.value).await?))
}

#[derive(Deserialize)]
struct BeginQuery {
    redirect_to: Option<String>,
    start: Option<String>,
    /// The link page's answer: a token of this browser's form cookie.
    confirm: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

fn callback_path(provider: &str) -> String {
    format!("/auth/oidc/{provider}/callback")
}

fn to_provider(state: &AppState, provider: &str, to: ToProvider) -> Response {
    to_provider_with(state, provider, to, None)
}

/// [`to_provider`], also setting `also` (the hand-off cookie of a login).
fn to_provider_with(state: &AppState, provider: &str, to: ToProvider, also: Option<HeaderValue>) -> Response {
    let max_age = identities::LOGIN_TTL.as_secs();
    let path = callback_path(provider);
    let cookie = provider_binding_cookie(state, &path, &to.cookie_name, to.cookie_value.expose_secret(), max_age);
    to_login_elsewhere(to.url.as_str(), cookie, also)
}

#[utoipa::path(
    get, path = "/auth/oidc/{provider}", summary = "Log in through a provider", operation_id = "beginSocialLogin", tag = "social",
    description = "Sends the browser to the provider (`302`) with `state`, `nonce` and PKCE S256, and sets a cookie that binds the login to this browser for 10 minutes, and the `gatehouse_handoff` cookie its hand-off code is bound to. The provider sends it back to `/auth/oidc/{provider}/callback`. With `start` (the URL `POST /user/identities/{provider}` gave), a page first asks whether to link the provider to that account (naming it); its button (this URL with `confirm`, a token of this browser) goes on to the provider.",
    params(("provider" = String, Path, description = "The provider's name"),
        ("redirect_to" = Option<String>, Query, description = "Where the browser goes once logged in (with `?code=` to exchange); it must start with a prefix in `GATEHOUSE_REDIRECT_ALLOW`. Without it: `/account`."),
        ("code_challenge" = Option<String>, Query, description = "An app that exchanges the hand-off code itself: base64url(SHA-256(code_verifier)); `POST /auth/oidc/exchange` then takes the `code_verifier` in place of this browser's cookie"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256` (the default, and the only one)"),
        ("start" = Option<String>, Query, description = "A link's one-time start token"),
        ("confirm" = Option<String>, Query, description = "The link page's answer (its link carries it)")),
    responses((status = 302, description = "To the provider"), (status = 200, description = "With `start`: the page that asks to confirm the link", content_type = "text/html"),
        Errors<(code::NotFound, code::OidcStateInvalid, code::ValidationFailed, code::ProviderUnavailable, code::RateLimited, code::Unavailable)>)
)]
async fn begin(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(query): Query<BeginQuery>,
) -> Result<Response, ApiError> {
    let accounts = &state.accounts;
    if let Some(start) = &query.start {
        // A link's start URL is anyone's to send: the person in this browser is asked first,
        // and only the answer of that page (a token of this browser's form cookie) goes on.
        let confirmed = query.confirm.as_deref().is_some_and(|token| {
            cookie(&headers, FORM_COOKIE).is_some_and(|binding| accounts.form_token_valid(&binding, token))
        });
        if confirmed {
            return Ok(to_provider(&state, &provider, accounts.start_social_link(&provider, start, &client).await?));
        }
        let (label, email) = accounts.social_link_target(&provider, start).await?;
        let (form, set) = form_token(&state, &headers);
        return Ok(with_cookies(pages::link_identity(&form, &provider, start, &label, &email), [set]));
    }
    let (binding, set) = start_handoff(&state, &headers, query.code_challenge, query.code_challenge_method.as_deref())?;
    let to = accounts.begin_social_login(&provider, query.redirect_to.as_deref(), binding, &client).await?;
    Ok(to_provider_with(&state, &provider, to, set))
}

#[utoipa::path(
    get, path = "/auth/oidc/{provider}/callback", summary = "The provider's callback", operation_id = "finishSocialLogin", tag = "social",
    description = "Where the provider sends the browser back. Checks the `state` (single use, 10 minutes, from this browser), redeems the code with the PKCE verifier, and verifies the ID token (signature by the provider's published keys, `iss`, `aud`, `exp`, `nonce`). Then, by the linking rules, logs in, signs up, or links; and answers `303` to the login's `redirect_to` (else `/account`) with `code` (exchange it at `POST /auth/oidc/exchange`), `linked={provider}` after a link, or `error={code}` (and `error_description`) when it failed. A `state` that names no login answers `400 oidc_state_invalid`.",
    params(("provider" = String, Path, description = "The provider's name"),
        ("state" = Option<String>, Query, description = "As the provider returns it"),
        ("code" = Option<String>, Query, description = "The authorization code"),
        ("error" = Option<String>, Query, description = "The provider's refusal (`access_denied`)"),
        ("iss" = Option<String>, Query, description = "The issuer (RFC 9207); when present it must be the provider's")),
    responses((status = 303, description = "To `redirect_to` (or `/account`) with `code`, `linked` or `error`"),
        Errors<(code::NotFound, code::OidcStateInvalid, code::RateLimited, code::Unavailable)>)
)]
async fn callback(
    State(state): State<AppState>,
    Client(client): Client,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let cookie_name = query.binding_cookie();
    let binding = cookie_name.as_deref().and_then(|name| cookie(&headers, name));
    let answer = query.answer(binding.as_deref());
    let callback = state.authentication.finish_social_login(&provider, answer, &client).await;
    provider_callback_answer(&state, callback, &provider, cookie_name, &callback_path(&provider))
}

#[utoipa::path(
    get, path = "/user/identities", summary = "My linked identities", operation_id = "listIdentities", tag = "social", security(("bearer" = [])),
    responses((status = 200, description = "The identities at providers that log in to this account", body = IdentityList), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn list(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<IdentityList>, ApiError> {
    Ok(Json(IdentityList::new(state.authentication.identities(&caller).await?)))
}

#[derive(Deserialize, ToSchema)]
struct LinkBody {
    /// Where the browser goes once the provider is linked (`?linked={provider}` added); it
    /// must start with a prefix in `GATEHOUSE_REDIRECT_ALLOW`. Without it: `/account`.
    redirect_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct LinkStart {
    /// A URL of gatehouse's for the browser to open (single use, 10 minutes); it goes on to
    /// the provider.
    url: String,
}

#[utoipa::path(
    post, path = "/user/identities/{provider}", summary = "Link a provider to my account", operation_id = "linkIdentity", tag = "social", security(("bearer" = [])),
    description = "A step-up. Answers a URL for the browser to open: it goes to the provider, and the identity the person logs in with there is linked to this account (`409 identity_taken` in the redirect's `error` when it is linked to another). The owner is told by email. The body is optional.",
    params(("provider" = String, Path, description = "The provider's name")),
    request_body(content = Option<LinkBody>, content_type = "application/json"),
    responses((status = 200, description = "The URL to open", body = LinkStart),
        Errors<(code::MalformedRequest, code::Unauthorized, code::ReauthenticationRequired, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn link(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(provider): Path<String>,
    body: Bytes,
) -> Result<Json<LinkStart>, ApiError> {
    let body: LinkBody = if body.iter().all(u8::is_ascii_whitespace) {
        LinkBody { redirect_to: None }
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::MalformedRequest(format!("The body is not valid JSON: {e}.")))?
    };
    let url = state.authentication.begin_social_link(&caller, &provider, body.redirect_to.as_deref()).await?;
    Ok(Json(LinkStart { url: url.to_string() }))
}

#[utoipa::path(
    delete, path = "/user/identities/{id}", summary = "Unlink an identity", operation_id = "unlinkIdentity", tag = "social", security(("bearer" = [])),
    description = "A step-up. Never the account's last way in: with no other identity, no passkey and an unconfirmed address, `409 last_way_in`.",
    params(("id" = Uuid, Path, description = "The identity's id")),
    responses((status = 204, description = "Unlinked"),
        Errors<(code::Unauthorized, code::ReauthenticationRequired, code::NotFound, code::LastWayIn, code::Unavailable)>)
)]
async fn unlink(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("identity"))?;
    state.authentication.unlink_identity(&caller, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
