//! Login (`POST /auth`, JSON or form), refresh, logout and the caller's sessions.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{FieldError, LoginId};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{Auth, Client, JsonOrForm};
use crate::http::views::{SessionBody, TokenBody};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth", post(log_in).delete(log_out))
        .route("/auth/refresh", post(refresh))
        .route("/auth/sessions", axum::routing::get(sessions))
        .route("/auth/sessions/{id}", delete(end_session))
}

/// `{"email" or "username", "password"}`; OAuth2 password-grant fields are accepted and ignored.
#[derive(Deserialize)]
struct LoginBody {
    email: Option<String>,
    username: Option<String>,
    password: SecretString,
}

async fn log_in(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonOrForm<LoginBody>,
) -> Result<Json<TokenBody>, ApiError> {
    let LoginBody { email, username, password } = body.value;
    let id = LoginId::from_fields(email, username)
        .ok_or_else(|| ApiError::MalformedRequest("Send `email` or `username` with the `password`.".into()))?;
    Ok(Json(state.accounts.log_in(id, password, client).await?.into()))
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: SecretString,
}

async fn refresh(State(state): State<AppState>, body: JsonOrForm<RefreshBody>) -> Result<Json<TokenBody>, ApiError> {
    use secrecy::ExposeSecret;
    Ok(Json(state.accounts.refresh(body.value.refresh_token.expose_secret()).await?.into()))
}

#[derive(Deserialize)]
struct LogoutQuery {
    scope: Option<String>,
}

async fn log_out(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(query): Query<LogoutQuery>,
) -> Result<StatusCode, ApiError> {
    let everywhere = match query.scope.as_deref() {
        None | Some("") | Some("current") | Some("local") => false,
        Some("all") | Some("global") => true,
        Some(_) => {
            return Err(ApiError::ValidationFailed(vec![FieldError::new(
                "scope",
                "scope is all, or left out for this session",
            )]));
        }
    };
    state.accounts.log_out(&caller, everywhere).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize)]
struct SessionList {
    sessions: Vec<SessionBody>,
}

async fn sessions(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<SessionList>, ApiError> {
    let list = state.accounts.list_sessions(&caller).await?;
    Ok(Json(SessionList { sessions: list.into_iter().map(|s| SessionBody::new(s, caller.session_id)).collect() }))
}

async fn end_session(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("session"))?;
    state.accounts.end_session(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
