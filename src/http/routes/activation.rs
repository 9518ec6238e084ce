//! Activation: the link in the confirmation email (`GET /activate`, an HTML page for
//! browsers), the same for API clients (`POST /activate`), and resending the link.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::http::error::ApiError;
use crate::http::extract::{self, wants_html};
use crate::http::views::{AccountBody, MessageBody};
use crate::http::{AppState, pages};

pub fn router() -> Router<AppState> {
    Router::new().route("/activate", get(follow_link).post(activate)).route("/activate/resend", post(resend))
}

#[derive(Deserialize)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

#[derive(Serialize)]
struct Activated {
    message: &'static str,
    user: AccountBody,
}

async fn run(state: &AppState, token: &str) -> Result<Activated, ApiError> {
    let outcome = state.accounts.activate(token).await?;
    let message = if outcome.first_time { "Your account is active." } else { "Your account was already active." };
    Ok(Activated { message, user: outcome.account.into() })
}

async fn follow_link(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<TokenQuery>) -> Response {
    let result = match query.token.as_deref() {
        Some(token) => run(&state, token).await,
        None => Err(ApiError::MalformedRequest("The link has no token; copy the whole link from the email.".into())),
    };
    if !wants_html(&headers) {
        return match result {
            Ok(body) => Json(body).into_response(),
            Err(error) => error.into_response(),
        };
    }
    match result {
        Ok(body) => pages::activated(&body.user.email),
        Err(ApiError::TokenExpired) => pages::link_problem(
            StatusCode::GONE,
            "This link has expired",
            "Activation links expire. Ask for a new one from the app, and use the newest email.",
        ),
        Err(error @ (ApiError::Unavailable(..) | ApiError::Internal(_))) => error.into_response(),
        Err(_) => pages::link_problem(
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            "The link is incomplete or unknown. Copy the whole link from the newest email.",
        ),
    }
}

async fn activate(
    State(state): State<AppState>,
    extract::Json(body): extract::Json<TokenBody>,
) -> Result<Json<Activated>, ApiError> {
    Ok(Json(run(&state, &body.token).await?))
}

#[derive(Deserialize)]
struct ResendBody {
    email: String,
}

async fn resend(
    State(state): State<AppState>,
    extract::Json(body): extract::Json<ResendBody>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    state.accounts.resend_activation(&body.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageBody { message: "If a pending account has this address, a new activation link is on its way." }),
    ))
}
