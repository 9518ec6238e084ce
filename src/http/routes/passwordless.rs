//! Passwordless login by email (`POST /auth/email`, `/auth/email/verify`) and the exchange of a
//! browser login's hand-off code for the tokens (`POST /auth/exchange`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::accounts::EmailProof;
use crate::contract::{MessageBody, TokenBody};
use crate::http::browser::{ExchangeBody, account_page, exchange_handoff, same_origin, start_handoff, with_cookies};
use crate::http::error::{ApiError, Errors, Problem, code, tokens};
use crate::http::extract::{self, BodyKind, Client, JsonOrForm, Query};
use crate::http::pages;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/email", post(request))
        .route("/auth/email/verify", axum::routing::get(page).post(verify))
        .route("/auth/exchange", post(exchange))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct EmailLoginBody {
    email: String,
    /// Where a browser that follows the emailed link goes once logged in (`303`, with the
    /// hand-off `code` added to its query); it must start with a prefix listed in
    /// `GATEHOUSE_REDIRECT_ALLOW`, else `422`. Without it the browser goes to `/account`.
    redirect_to: Option<String>,
    /// An app that will exchange the hand-off code itself (its server, or a page on another
    /// origin): base64url(SHA-256(code_verifier)) of a random `code_verifier` it keeps, which
    /// `POST /auth/exchange` then asks for. Without it, only the browser that made this request
    /// (its `gatehouse_handoff` cookie) can exchange the code.
    #[schema(example = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")]
    code_challenge: Option<String>,
    /// `S256` (the default, and the only one taken).
    code_challenge_method: Option<String>,
}

#[utoipa::path(
    post, path = "/auth/email", summary = "Email me a login link and code", operation_id = "requestEmailLogin", tag = "login",
    description = "Emails a link and an eight-digit code that log in once, within 10 minutes; a newer request ends the older link and code. When no account has the address and sign-up is open, using either creates an active account. The same answer, in the same time, whether or not an account exists. The answer sets the `gatehouse_handoff` cookie: the hand-off code of a browser that follows the link can be exchanged only by this browser, or with the `code_verifier` of the `code_challenge` sent here.",
    request_body = EmailLoginBody,
    responses((status = 202, description = "Accepted", body = MessageBody), Errors<(code::MalformedRequest, code::PasswordlessDisabled, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn request(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    extract::Json(body): extract::Json<EmailLoginBody>,
) -> Result<Response, ApiError> {
    let (binding, set) = start_handoff(&state, &headers, body.code_challenge, body.code_challenge_method.as_deref())?;
    state.authentication.request_email_login(&body.email, body.redirect_to.as_deref(), binding, &client).await?;
    let message = MessageBody { message: "If this address may log in here, a link and a code are on their way." };
    Ok(with_cookies((StatusCode::ACCEPTED, Json(message)).into_response(), [set]))
}

#[derive(Deserialize)]
struct LinkQuery {
    token: Option<String>,
    redirect_to: Option<String>,
}

fn link_problem(error: ApiError) -> Response {
    match error {
        ApiError::TokenExpired => pages::link_problem(StatusCode::GONE, "login-link-expired"),
        ApiError::TokenInvalid | ApiError::MalformedRequest(_) => {
            pages::link_problem(StatusCode::BAD_REQUEST, "login-link-invalid")
        }
        ApiError::PasswordlessDisabled => pages::link_problem(StatusCode::FORBIDDEN, "login-by-email-off"),
        ApiError::AccountDisabled => pages::link_problem(StatusCode::FORBIDDEN, "account-disabled"),
        ApiError::SignupDisabled => pages::link_problem(StatusCode::FORBIDDEN, "signup-closed"),
        other => other.into_response(),
    }
}

/// The emailed link's page: one button. Showing it (or a scanner fetching it) spends nothing.
#[utoipa::path(
    get, path = "/auth/email/verify", summary = "The page of an emailed login link", operation_id = "showEmailLoginPage", tag = "login",
    description = "The link in the login email: an HTML page with one button that posts the token to `POST /auth/email/verify`. `GET` and `HEAD` spend nothing, so mail scanners that fetch links leave it working.",
    params(("token" = Option<String>, Query, description = "The token from the emailed link"),
        ("redirect_to" = Option<String>, Query, description = "Where the login request asked a browser to go")),
    responses(
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 400, description = "The link is not valid", content_type = "text/html"),
        (status = 403, description = "Login by email is off", content_type = "text/html"),
        (status = 410, description = "The link has expired", content_type = "text/html"), Errors<(code::Unavailable,)>)
)]
async fn page(State(state): State<AppState>, query: Result<Query<LinkQuery>, ApiError>) -> Response {
    let Ok(Query(LinkQuery { token: Some(token), redirect_to })) = query else {
        return link_problem(ApiError::TokenInvalid);
    };
    let redirect_to = state.accounts.policy().redirects.recheck(redirect_to.as_deref());
    match state.authentication.check_email_link(&token).await {
        Ok(()) => pages::email_login_form(&token, redirect_to.as_ref()),
        Err(error) => link_problem(error.into()),
    }
}

/// `{"email","code"}` or `{"token"}`; the link's page posts `token` (and `redirect_to`) as a form.
#[derive(Deserialize, utoipa::ToSchema)]
struct VerifyBody {
    /// The address the code was sent to.
    email: Option<String>,
    /// The eight digits from the email (spaces and dashes are ignored).
    #[schema(value_type = Option<String>, example = "12345678")]
    code: Option<SecretString>,
    /// The token of the emailed link.
    #[schema(value_type = Option<String>)]
    token: Option<SecretString>,
    /// From the link's page: where the browser goes once logged in.
    redirect_to: Option<String>,
}

#[utoipa::path(
    post, path = "/auth/email/verify", summary = "Log in with the emailed code or link", operation_id = "verifyEmailLogin", tag = "login",
    description = "JSON: `{\"email\",\"code\"}` or `{\"token\"}` gives the token pair (or `403 mfa_required` when the account has a second factor). Five wrong codes end the login. The form of the link's page answers `303` to its `redirect_to` (else `/account`) with a one-time `code` in the query, which the app exchanges at `POST /auth/exchange`.",
    request_body(content((VerifyBody = "application/json"), (VerifyBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A token pair; the access token's `amr` is `[\"email\"]`", body = TokenBody),
        (status = 303, description = "(form) To `redirect_to`, or `/account`, with `?code=` to exchange"),
        (status = 400, description = "`malformed_request` or `token_invalid`; a page for a form", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 403, description = "`mfa_required` (with `mfa_token` and `methods`), `account_disabled`, `signup_disabled` or `passwordless_disabled`; a page for a form", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 410, description = "`token_expired`; a page for a form", content((Problem = "application/problem+json"), ("text/html"))),
        Errors<(code::InvalidCode, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn verify(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<VerifyBody>,
) -> Response {
    let VerifyBody { email, code, token, redirect_to } = body.value;
    if body.kind == BodyKind::Form {
        let Some(token) = token else { return link_problem(ApiError::TokenInvalid) };
        if !same_origin(&headers, &state.edge.origin) {
            return pages::link_problem(StatusCode::FORBIDDEN, "form-from-elsewhere");
        }
        let accounts = &state.accounts;
        let redirect_to = accounts.policy().redirects.recheck(redirect_to.as_deref());
        return match accounts.email_link_in_browser(token.expose_secret(), &client).await {
            Ok(handoff) => {
                let to = match &redirect_to {
                    Some(to) => to.with_param("code", handoff.expose_secret()),
                    None => account_page(&accounts.settings().public_url, "code", handoff.expose_secret()),
                };
                pages::see_other_url(&to)
            }
            Err(error) => link_problem(error.into()),
        };
    }
    let proof = match (email, code, token) {
        (Some(email), Some(code), None) => EmailProof::Code { email, code },
        (None, None, Some(token)) => EmailProof::Link(token),
        _ => {
            return ApiError::MalformedRequest("Send `email` and `code`, or the link's `token`.".into())
                .into_response();
        }
    };
    match state.authentication.log_in_by_email(proof, client).await.map_err(ApiError::from).and_then(tokens) {
        Ok(pair) => Json(TokenBody::from(pair)).into_response(),
        Err(error) => error.into_response(),
    }
}

#[utoipa::path(
    post, path = "/auth/exchange", summary = "Exchange a browser login's code for tokens", operation_id = "exchangeLoginCode", tag = "login",
    description = "`POST /auth/oidc/exchange` is the same. A login finished in a browser (an emailed link, a provider) ends with a `303` whose query carries a one-time `code`; the app posts it here within 2 minutes for the token pair, or `403 mfa_required` when the account has a second factor. Tokens never travel in a URL. The code is bound to what started the login: the same browser (its `gatehouse_handoff` cookie, sent by a page of gatehouse's own origin), or the `code_verifier` of the `code_challenge` the app started the login with; anything else is `400 handoff_invalid`.",
    request_body(content((ExchangeBody = "application/json"), (ExchangeBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A token pair", body = TokenBody), Errors<(code::MalformedRequest, code::TokenInvalid, code::HandoffInvalid, code::MfaRequired, code::AccountDisabled, code::PayloadTooLarge, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
pub async fn exchange(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<ExchangeBody>,
) -> Result<Json<TokenBody>, ApiError> {
    Ok(Json(exchange_handoff(&state, client, &headers, body.value).await?))
}
