//! Changing the email address: the request (`POST /email/change`, with a token and the current
//! password), the link sent to the new address (`/email/confirm`), and the undo link sent to
//! the old one (`/email/revert`; a browser gets a page with a button, so that fetching the link
//! alone changes nothing).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::accounts::ClientInfo;
use crate::contract::{AccountBody, MessageBody};
use crate::http::error::{ApiError, Errors, Problem, code};
use crate::http::extract::{self, Auth, Client, JsonOrForm, Query, wants_html};
use crate::http::pages;
use crate::http::state::AppState;
use crate::model::email_change::ChangeKind;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/email/change", post(request))
        .route("/email/confirm", get(follow_confirm).post(confirm))
        .route("/email/revert", get(follow_revert).post(revert))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ChangeRequest {
    new_email: String,
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// Where a browser that follows the confirmation link goes next (`303`); it must start with
    /// a prefix listed in `GATEHOUSE_REDIRECT_ALLOW`, else `422`.
    redirect_to: Option<String>,
}

#[utoipa::path(
    post, path = "/email/change", summary = "Change your email address", operation_id = "requestEmailChange", tag = "account", security(("bearer" = [])),
    description = "Emails a confirmation link to `new_email`; the address changes only when it is followed. The old address is then told, with a link that undoes the change.",
    request_body = ChangeRequest,
    responses((status = 202, description = "Accepted: a link is on its way to the new address", body = MessageBody), Errors<(code::MalformedRequest, code::Unauthorized, code::InvalidCredentials, code::EmailTaken, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
async fn request(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    extract::Json(body): extract::Json<ChangeRequest>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    let redirect_to = body.redirect_to.as_deref();
    state.accounts.request_email_change(&caller, &body.new_email, body.current_password, redirect_to, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(MessageBody { message: "Follow the link sent to the new address to confirm it." })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = EmailChangeToken)]
struct TokenBody {
    token: String,
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
    redirect_to: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Changed {
    #[schema(value_type = String)]
    message: &'static str,
    user: AccountBody,
}

fn token_from(query: Result<Query<TokenQuery>, ApiError>) -> Result<String, ApiError> {
    match query {
        Ok(Query(TokenQuery { token: Some(token), .. })) => Ok(token),
        Ok(_) => Err(ApiError::MalformedRequest("The link has no token; copy the whole link from the email.".into())),
        Err(error) => Err(error),
    }
}

/// A failed link as a page for a browser, as problem+json otherwise.
fn link_problem(error: ApiError, html: bool) -> Response {
    match (html, error) {
        (true, ApiError::TokenExpired) => pages::link_problem(StatusCode::GONE, "link-expired"),
        (true, ApiError::TokenInvalid | ApiError::MalformedRequest(_)) => {
            pages::link_problem(StatusCode::BAD_REQUEST, "link-invalid")
        }
        (true, ApiError::EmailTaken) => pages::link_problem(StatusCode::CONFLICT, "link-address-taken"),
        (_, error) => error.into_response(),
    }
}

async fn do_confirm(state: &AppState, token: &str, client: &ClientInfo) -> Result<Changed, ApiError> {
    let account = state.accounts.confirm_email_change(token, client).await?;
    Ok(Changed { message: "Your email address has changed.", user: account.into() })
}

#[utoipa::path(
    get, path = "/email/confirm", summary = "Follow the link sent to the new address", operation_id = "followEmailConfirmLink", tag = "account",
    params(("token" = Option<String>, Query, description = "The token from the emailed link"),
        ("redirect_to" = Option<String>, Query, description = "Where the change request asked a browser to go next")),
    responses((status = 200, description = "Changed: JSON, or a page for a browser", content((Changed = "application/json"), ("text/html"))),
        (status = 303, description = "Changed, for a browser whose link carries an allowed `redirect_to`: sent there"),
        (status = 400, description = "`malformed_request` or `token_invalid`", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 409, description = "`email_taken`: another account has the address by now", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 410, description = "`token_expired`", content((Problem = "application/problem+json"), ("text/html"))), Errors<(code::Unavailable,)>)
)]
async fn follow_confirm(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, ApiError>,
) -> Response {
    let html = wants_html(&headers);
    let redirect_to = query.as_ref().ok().and_then(|Query(query)| query.redirect_to.clone());
    let result = match token_from(query) {
        Ok(token) => do_confirm(&state, &token, &client).await,
        Err(error) => Err(error),
    };
    let policy = state.accounts.policy();
    match (html, result) {
        (true, Ok(_)) if let Some(to) = policy.redirects.recheck(redirect_to.as_deref()) => pages::see_other(&to),
        (true, Ok(changed)) => pages::email_confirmed(&changed.user.email, policy.app_url.as_ref()),
        (false, Ok(changed)) => Json(changed).into_response(),
        (html, Err(error)) => link_problem(error, html),
    }
}

#[utoipa::path(
    post, path = "/email/confirm", summary = "Confirm the new address with the token", operation_id = "confirmEmailChange", tag = "account",
    request_body = TokenBody,
    responses((status = 200, description = "Changed", body = Changed), Errors<(code::MalformedRequest, code::TokenInvalid, code::EmailTaken, code::TokenExpired, code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn confirm(
    State(state): State<AppState>,
    Client(client): Client,
    extract::Json(body): extract::Json<TokenBody>,
) -> Result<Json<Changed>, ApiError> {
    Ok(Json(do_confirm(&state, &body.token, &client).await?))
}

#[utoipa::path(
    get, path = "/email/revert", summary = "The undo page sent to the old address", operation_id = "followEmailRevertLink", tag = "account",
    description = "A browser gets a page with a button that posts to `POST /email/revert`; showing it spends nothing. Others get `{\"message\"}` if the link is usable.",
    params(("token" = Option<String>, Query, description = "The token from the emailed link")),
    responses((status = 200, description = "The undo page, or JSON saying the link is usable", content((MessageBody = "application/json"), ("text/html"))),
        (status = 400, description = "`malformed_request` or `token_invalid`", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 410, description = "`token_expired`", content((Problem = "application/problem+json"), ("text/html"))), Errors<(code::Unavailable,)>)
)]
async fn follow_revert(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, ApiError>,
) -> Response {
    let html = wants_html(&headers);
    let token = match token_from(query) {
        Ok(token) => token,
        Err(error) => return link_problem(error, html),
    };
    match state.accounts.check_change_link(&token, ChangeKind::Revert).await {
        Ok(()) if html => pages::revert_form(&token),
        Ok(()) => Json(MessageBody { message: "POST this token to /email/revert to restore the old address." })
            .into_response(),
        Err(error) => link_problem(error.into(), html),
    }
}

#[utoipa::path(
    post, path = "/email/revert", summary = "Undo an email change", operation_id = "revertEmailChange", tag = "account",
    description = "Restores the old address, cancels pending changes and ends every session. Takes JSON, or the form of the undo page (which then gets a page).",
    request_body(content((TokenBody = "application/json"), (TokenBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Restored", content((Changed = "application/json"), ("text/html"))),
        (status = 400, description = "`malformed_request` or `token_invalid`", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 409, description = "`email_taken`: another account has the old address by now", content((Problem = "application/problem+json"), ("text/html"))),
        (status = 410, description = "`token_expired`", content((Problem = "application/problem+json"), ("text/html"))), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn revert(State(state): State<AppState>, Client(client): Client, body: JsonOrForm<TokenBody>) -> Response {
    let html = body.kind == extract::BodyKind::Form;
    match state.accounts.revert_email_change(&body.value.token, &client).await {
        Ok(account) if html => pages::revert_done(&account.email),
        Ok(account) => {
            Json(Changed { message: "Your old email address is back; every session has ended.", user: account.into() })
                .into_response()
        }
        Err(error) => link_problem(error.into(), html),
    }
}
