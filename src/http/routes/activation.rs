//! Activation: the link in the confirmation email (`GET /activate`, an HTML page for
//! browsers), the same for API clients (`POST /activate`), and resending the link.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::accounts::ClientInfo;
use crate::contract::{AccountBody, MessageBody};
use crate::http::error::{ApiError, Errors, Problem, code};
use crate::http::extract::{self, Client, Query, wants_html};
use crate::http::pages;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/activate", get(follow_link).post(activate)).route("/activate/resend", post(resend))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ActivationRequest)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
    redirect_to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Activated {
    #[schema(value_type = String)]
    message: &'static str,
    user: AccountBody,
}

async fn run(state: &AppState, token: &str, client: &ClientInfo) -> Result<Activated, ApiError> {
    let outcome = state.accounts.activate(token, client).await?;
    let message = if outcome.first_time { "Your account is active." } else { "Your account was already active." };
    Ok(Activated { message, user: outcome.account.into() })
}

#[utoipa::path(
    get, path = "/activate", summary = "Follow the activation link", operation_id = "followActivationLink", tag = "activation",
    description = "The link in the confirmation email. A browser (`Accept: text/html`) gets a small HTML page, others JSON. Following it again answers the same.",
    params(("token" = Option<String>, Query, description = "The token from the emailed link"),
        ("redirect_to" = Option<String>, Query, description = "Where the sign-up or resend asked a browser to go next")),
    responses(
        (status = 200, description = "Active: JSON, or a page saying so for a browser", content((Activated = "application/json"), ("text/html"))),
        (status = 303, description = "Active, for a browser whose link carries an allowed `redirect_to`: sent there"),
        (status = 400, description = "`malformed_request` (no token) or `token_invalid`; a page for a browser", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 410, description = "`token_expired`: ask for a new link; a page for a browser", content((Problem = "application/problem+json"), ("text/html"))), Errors<(code::Unavailable,)>)
)]
async fn follow_link(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, ApiError>,
) -> Response {
    let (token, redirect_to) = match query {
        Ok(Query(query)) => (Ok(query.token), query.redirect_to),
        Err(error) => (Err(error), None),
    };
    let result = match token {
        Ok(Some(token)) => run(&state, &token, &client).await,
        Ok(None) => {
            Err(ApiError::MalformedRequest("The link has no token; copy the whole link from the email.".into()))
        }
        Err(error) => Err(error),
    };
    if !wants_html(&headers) {
        return match result {
            Ok(body) => Json(body).into_response(),
            Err(error) => error.into_response(),
        };
    }
    let policy = state.accounts.policy();
    match result {
        Ok(_) if let Some(to) = policy.redirects.recheck(redirect_to.as_deref()) => pages::see_other(&to),
        Ok(body) => pages::activated(&body.user.email, policy.app_url.as_ref()),
        Err(ApiError::TokenExpired) => pages::link_problem(StatusCode::GONE, "activation-link-expired"),
        Err(error @ (ApiError::Unavailable(..) | ApiError::Internal(_))) => error.into_response(),
        Err(_) => pages::link_problem(StatusCode::BAD_REQUEST, "activation-link-invalid"),
    }
}

#[utoipa::path(
    post, path = "/activate", summary = "Activate with a token", operation_id = "activate", tag = "activation",
    request_body = TokenBody,
    responses((status = 200, description = "Active", body = Activated), Errors<(code::MalformedRequest, code::TokenInvalid, code::TokenExpired, code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn activate(
    State(state): State<AppState>,
    Client(client): Client,
    extract::Json(body): extract::Json<TokenBody>,
) -> Result<Json<Activated>, ApiError> {
    Ok(Json(run(&state, &body.token, &client).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ResendBody {
    email: String,
    /// As on sign-up: where a browser following the new link goes next.
    redirect_to: Option<String>,
}

#[utoipa::path(
    post, path = "/activate/resend", summary = "Resend the activation link", operation_id = "resendActivation", tag = "activation",
    description = "A fresh link for a pending account. The same answer whether or not the account exists.",
    request_body = ResendBody,
    responses((status = 202, description = "Accepted", body = MessageBody), Errors<(code::MalformedRequest, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn resend(
    State(state): State<AppState>,
    Client(client): Client,
    extract::Json(body): extract::Json<ResendBody>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    state.accounts.resend_activation(&body.email, body.redirect_to.as_deref(), &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageBody { message: "If a pending account has this address, a new activation link is on its way." }),
    ))
}
