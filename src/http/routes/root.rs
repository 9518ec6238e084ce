//! `GET /`: a greeting, personal when a valid token comes with it; `GET /protected`: a
//! resource only a valid token opens; `GET /favicon.ico`: nothing, said plainly (browsers ask
//! for it on every page of gatehouse's, whose pages name no icon).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::contract::AccountBody;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{MaybeAuth, SessionAuth};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(hello)).route("/protected", get(protected)).route("/favicon.ico", get(no_icon))
}

/// `204`, cached for a day: no icon, and no `404` in the browser's console or the log.
async fn no_icon() -> impl axum::response::IntoResponse {
    (axum::http::StatusCode::NO_CONTENT, [(axum::http::header::CACHE_CONTROL, "public, max-age=86400")])
}

#[derive(Serialize, utoipa::ToSchema)]
struct Hello {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<AccountBody>,
}

#[utoipa::path(
    get, path = "/", summary = "Greeting (personal with a token)", operation_id = "getGreeting", tag = "account", security((), ("bearer" = [])),
    description = "Anonymous: `Hello World`. With a valid token: a personal greeting and the account.",
    responses((status = 200, description = "The greeting", body = Hello), Errors<(code::Unavailable,)>)
)]
async fn hello(State(state): State<AppState>, MaybeAuth(caller): MaybeAuth) -> Result<Json<Hello>, ApiError> {
    let Some(caller) = caller else {
        return Ok(Json(Hello { message: "Hello World".into(), user: None }));
    };
    let account = state.authentication.into_me(caller).await?;
    Ok(Json(Hello { message: format!("Hello {}", account.display_name()), user: Some(account.into()) }))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Protected {
    #[schema(value_type = String)]
    message: &'static str,
    user_id: uuid::Uuid,
}

#[utoipa::path(
    get, path = "/protected", summary = "A protected resource", operation_id = "getProtected", tag = "account", security(("bearer" = [])),
    responses((status = 200, description = "The protected resource", body = Protected), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn protected(SessionAuth(caller): SessionAuth) -> Json<Protected> {
    Json(Protected { message: "You are in: this resource needs a valid access token.", user_id: caller.account_id })
}
