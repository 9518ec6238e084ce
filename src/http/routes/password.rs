//! Passwords: change (knowing the current one), forgot (email a reset link) and reset (with
//! the link; a browser gets a form and an HTML answer).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;

use crate::accounts::PasswordChange;
use crate::http::error::ApiError;
use crate::http::extract::{self, BodyKind, JsonOrForm, MaybeAuth};
use crate::http::views::MessageBody;
use crate::http::{AppState, pages};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/password/change", post(change))
        .route("/password/forgot", post(forgot))
        .route("/password/reset", get(form).post(reset))
}

#[derive(Deserialize)]
struct ChangeBody {
    email: Option<String>,
    current_password: SecretString,
    new_password: SecretString,
}

async fn change(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    extract::Json(body): extract::Json<ChangeBody>,
) -> Result<StatusCode, ApiError> {
    if caller.is_none() && body.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
        return Err(ApiError::MalformedRequest("Send `email` (or an access token) with the passwords.".into()));
    }
    let change =
        PasswordChange { email: body.email, current_password: body.current_password, new_password: body.new_password };
    state.accounts.change_password(caller.as_ref(), change).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ForgotBody {
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    extract::Json(body): extract::Json<ForgotBody>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    state.accounts.forgot_password(&body.email).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageBody { message: "If an account has this address, a password-reset link is on its way." }),
    ))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn link_problem(error: ApiError) -> Response {
    match error {
        ApiError::TokenExpired => pages::link_problem(
            StatusCode::GONE,
            "This link has expired",
            "Password-reset links expire after a while. Ask for a new one and use the newest email.",
        ),
        ApiError::TokenInvalid | ApiError::MalformedRequest(_) => pages::link_problem(
            StatusCode::BAD_REQUEST,
            "This link is not valid",
            "The link is incomplete, unknown or already used. Ask for a new one and use the newest email.",
        ),
        other => other.into_response(),
    }
}

/// Shows the reset form; the token is checked but not spent.
async fn form(State(state): State<AppState>, Query(query): Query<TokenQuery>) -> Response {
    let Some(token) = query.token else {
        return link_problem(ApiError::TokenInvalid);
    };
    match state.accounts.check_reset_token(&token).await {
        Ok(()) => pages::reset_form(&token, None, StatusCode::OK),
        Err(error) => link_problem(error.into()),
    }
}

#[derive(Deserialize)]
struct ResetBody {
    token: String,
    new_password: SecretString,
}

async fn reset(State(state): State<AppState>, body: JsonOrForm<ResetBody>) -> Response {
    let ResetBody { token, new_password } = body.value;
    let result = state.accounts.reset_password(&token, new_password).await.map_err(ApiError::from);
    match (body.kind, result) {
        (BodyKind::Json, Ok(())) => StatusCode::NO_CONTENT.into_response(),
        (BodyKind::Json, Err(error)) => error.into_response(),
        (BodyKind::Form, Ok(())) => pages::reset_done(),
        (BodyKind::Form, Err(ApiError::ValidationFailed(errors))) => {
            let message = errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
            pages::reset_form(&token, Some(&message), StatusCode::UNPROCESSABLE_ENTITY)
        }
        (BodyKind::Form, Err(error)) => link_problem(error),
    }
}
