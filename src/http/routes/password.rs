//! Passwords: change (knowing the current one), forgot (email a reset link) and reset (with
//! the link; a browser gets a form and an HTML answer).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::Deserialize;

use crate::accounts::PasswordChange;
use crate::contract::MessageBody;
use crate::http::browser::same_origin;
use crate::http::error::{ApiError, Errors, Problem, code};
use crate::http::extract::{self, BodyKind, Client, JsonOrForm, MaybeAuth, Query};
use crate::http::pages;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/password/change", post(change))
        .route("/password/forgot", post(forgot))
        .route("/password/reset", get(form).post(reset))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ChangeBody {
    email: Option<String>,
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
}

#[utoipa::path(
    post, path = "/password/change", summary = "Change the password", operation_id = "changePassword", tag = "password", security((), ("bearer" = [])),
    description = "With a token, every other session of the account ends; without one, every session ends. A bearer token that opens nothing here (expired, revoked, a SCIM or client app's token) is answered `401`, never taken for no token.",
    request_body = ChangeBody,
    responses((status = 204, description = "Changed"), Errors<(code::MalformedRequest, code::Unauthorized, code::ApiKeyForbidden, code::ImpersonationForbidden, code::InvalidCredentials, code::AccountNotActivated, code::AccountDisabled, code::Forbidden, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
async fn change(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Client(client): Client,
    headers: axum::http::HeaderMap,
    extract::Json(body): extract::Json<ChangeBody>,
) -> Result<StatusCode, ApiError> {
    // A token sent and refused is told, never taken for no token: the body alone would then
    // decide, and a caller would not learn that its credential opens nothing here.
    if caller.is_none() && headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Err(ApiError::Unauthorized { token_sent: true });
    }
    if caller.is_none() && body.email.as_deref().is_none_or(|e| e.trim().is_empty()) {
        return Err(ApiError::MalformedRequest("Send `email` (or an access token) with the passwords.".into()));
    }
    let change =
        PasswordChange { email: body.email, current_password: body.current_password, new_password: body.new_password };
    state.authentication.change_password(caller.as_ref(), change, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ForgotBody {
    email: String,
    /// Where a browser that completes the reset goes next (`303`); it must start with a prefix
    /// listed in `GATEHOUSE_REDIRECT_ALLOW`, else `422`.
    redirect_to: Option<String>,
}

#[utoipa::path(
    post, path = "/password/forgot", summary = "Forgot the password: email a reset link", operation_id = "forgotPassword", tag = "password",
    description = "Emails a reset link. The same answer whether or not the account exists.",
    request_body = ForgotBody,
    responses((status = 202, description = "Accepted", body = MessageBody), Errors<(code::MalformedRequest, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn forgot(
    State(state): State<AppState>,
    Client(client): Client,
    extract::Json(body): extract::Json<ForgotBody>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    state.authentication.forgot_password(&body.email, body.redirect_to.as_deref(), &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageBody { message: "If an account has this address, a password-reset link is on its way." }),
    ))
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
    redirect_to: Option<String>,
}

fn link_problem(error: ApiError) -> Response {
    match error {
        ApiError::TokenExpired => pages::link_problem(StatusCode::GONE, "reset-link-expired"),
        ApiError::TokenInvalid | ApiError::MalformedRequest(_) => {
            pages::link_problem(StatusCode::BAD_REQUEST, "login-link-invalid")
        }
        other => other.into_response(),
    }
}

/// Shows the reset form; the token is checked but not spent.
#[utoipa::path(
    get, path = "/password/reset", summary = "The password-reset form", operation_id = "showPasswordResetForm", tag = "password",
    description = "The link in the reset email: an HTML form that posts to `POST /password/reset`. Showing it does not spend the token.",
    params(("token" = Option<String>, Query, description = "The token from the emailed link"),
        ("redirect_to" = Option<String>, Query, description = "Where forgot-password asked a browser to go once the password is set")),
    responses(
        (status = 200, description = "The form", content_type = "text/html"),
        (status = 400, description = "The link is not valid", content_type = "text/html"),
        (status = 410, description = "The link has expired", content_type = "text/html"), Errors<(code::Unavailable,)>)
)]
async fn form(State(state): State<AppState>, query: Result<Query<TokenQuery>, ApiError>) -> Response {
    let Ok(Query(TokenQuery { token: Some(token), redirect_to })) = query else {
        return link_problem(ApiError::TokenInvalid);
    };
    let redirect_to = state.accounts.policy().redirects.recheck(redirect_to.as_deref());
    match state.authentication.check_reset_token(&token).await {
        Ok(()) => pages::reset_form(&token, redirect_to.as_ref(), None, StatusCode::OK),
        Err(error) => link_problem(error.into()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ResetBody {
    token: String,
    #[schema(value_type = String, format = Password)]
    new_password: SecretString,
    /// From the reset page's form: where the browser goes once the password is set (`303`).
    redirect_to: Option<String>,
}

#[utoipa::path(
    post, path = "/password/reset", summary = "Reset the password with a link", operation_id = "resetPassword", tag = "password",
    description = "Sets the password and ends every session. Also takes the form of the reset page, which then gets HTML answers.",
    request_body(content((ResetBody = "application/json"), (ResetBody = "application/x-www-form-urlencoded"))),
    responses((status = 204, description = "Changed (JSON)"), (status = 200, description = "Changed (form): a page saying so", content_type = "text/html"),
        (status = 400, description = "`malformed_request` or `token_invalid`; a page for a form", content((Problem = "application/problem+json"), ("text/html"))), (status = 410, description = "`token_expired`; a page for a form", content((Problem = "application/problem+json"), ("text/html"))), (status = 422, description = "`validation_failed`, with `errors[]`; the form again for a form", content((Problem = "application/problem+json"), ("text/html"))), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn reset(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<ResetBody>,
) -> Response {
    let ResetBody { token, new_password, redirect_to } = body.value;
    let policy = state.accounts.policy();
    let redirect_to = policy.redirects.recheck(redirect_to.as_deref());
    if body.kind == BodyKind::Form && !same_origin(&headers, &state.edge.origin) {
        // Another site's page posting the form: refused before the token is even looked at.
        return pages::link_problem(StatusCode::FORBIDDEN, "form-from-elsewhere");
    }
    let result = state.authentication.reset_password(&token, new_password, &client).await.map_err(ApiError::from);
    match (body.kind, result) {
        (BodyKind::Json, Ok(())) => StatusCode::NO_CONTENT.into_response(),
        (BodyKind::Json, Err(error)) => error.into_response(),
        (BodyKind::Form, Ok(())) => match &redirect_to {
            Some(to) => pages::see_other(to),
            None => pages::reset_done(policy.app_url.as_ref()),
        },
        (BodyKind::Form, Err(ApiError::ValidationFailed(errors))) => {
            let message = errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; ");
            pages::reset_form(&token, redirect_to.as_ref(), Some(&message), StatusCode::UNPROCESSABLE_ENTITY)
        }
        (BodyKind::Form, Err(error)) => link_problem(error),
    }
}
