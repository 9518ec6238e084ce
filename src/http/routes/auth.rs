//! Login (`POST /auth`, JSON or form), refresh, logout and the caller's sessions.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::{FieldError, LoginId};
use crate::contract::{SessionBody, TokenBody};
use crate::http::error::{ApiError, Errors, code, tokens};
use crate::http::extract::{Auth, Client, DEVICE_COOKIE, EnrollingAuth, JsonOrForm, Path, Query};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth", post(log_in).delete(log_out))
        .route("/auth/refresh", post(refresh))
        .route("/auth/sessions", axum::routing::get(sessions))
        .route("/auth/sessions/{id}", delete(end_session))
}

/// `{"email" or "username", "password"}`; OAuth2 password-grant fields are accepted and ignored.
#[derive(Deserialize, utoipa::ToSchema)]
struct LoginBody {
    email: Option<String>,
    username: Option<String>,
    /// An organization's id or slug: the session starts in it, and its access tokens carry
    /// the `org` claim (`403 not_a_member` when the account is not a member).
    org: Option<String>,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[utoipa::path(
    post, path = "/auth", summary = "Log in", operation_id = "login", tag = "login",
    description = "Log in with `email` or `username` and `password`. Also takes `application/x-www-form-urlencoded` (OAuth2 password grant); a `username` holding `@` is read as an email.",
    request_body(content((LoginBody = "application/json"), (LoginBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A token pair. With rate limits on, a `gatehouse_device` cookie marks this client as known to the account: the login lockout others cause does not hold it back.", body = TokenBody), Errors<(code::MalformedRequest, code::InvalidCredentials, code::MfaRequired, code::AccountNotActivated, code::AccountDisabled, (code::NotAMember, code::NotFound, code::MfaEnrolmentRequired, code::LoginMethodNotAllowed), code::PayloadTooLarge, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn log_in(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonOrForm<LoginBody>,
) -> Result<Response, ApiError> {
    let LoginBody { email, username, org, password } = body.value;
    let id = LoginId::from_fields(email, username)
        .ok_or_else(|| ApiError::MalformedRequest("Send `email` or `username` with the `password`.".into()))?;
    let mut pair = tokens(state.authentication.log_in(id, password, org.as_deref(), client).await?)?;
    let cookie = pair.device_token.take().map(|token| device_cookie(&token, state.edge.https));
    let mut response = Json(TokenBody::from(pair)).into_response();
    if let Some(Ok(cookie)) = cookie.map(|c| HeaderValue::from_str(&c)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The device cookie: sent back only to `/auth`, never readable by scripts, never sent by
/// another site's requests.
fn device_cookie(token: &str, https: bool) -> String {
    let secure = if https { "; Secure" } else { "" };
    format!("{DEVICE_COOKIE}={token}; Path=/auth; Max-Age=31536000; HttpOnly; SameSite=Strict{secure}")
}

#[derive(Deserialize, utoipa::ToSchema)]
struct RefreshBody {
    #[schema(value_type = String, format = Password)]
    refresh_token: SecretString,
}

#[utoipa::path(
    post, path = "/auth/refresh", summary = "Refresh the token pair", operation_id = "refreshToken", tag = "login",
    description = "Spends the refresh token for a new pair. Presenting it again within the grace period (`GATEHOUSE_REFRESH_GRACE`, 30 s) answers with the same new refresh token; presenting a spent one after that revokes the whole session.",
    request_body(content((RefreshBody = "application/json"), (RefreshBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A new token pair", body = TokenBody), Errors<(code::MalformedRequest, code::TokenInvalid, code::PayloadTooLarge, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonOrForm<RefreshBody>,
) -> Result<Json<TokenBody>, ApiError> {
    use secrecy::ExposeSecret;
    Ok(Json(state.authentication.refresh(body.value.refresh_token.expose_secret(), client).await?.into()))
}

#[derive(Deserialize)]
struct LogoutQuery {
    scope: Option<String>,
}

#[utoipa::path(
    delete, path = "/auth", summary = "Log out", operation_id = "logout", tag = "login", security(("bearer" = [])),
    params(("scope" = Option<String>, Query, description = "`all` ends every session of the account")),
    responses((status = 204, description = "Logged out"), Errors<(code::MalformedRequest, code::Unauthorized, code::ValidationFailed, code::Unavailable)>)
)]
async fn log_out(
    State(state): State<AppState>,
    EnrollingAuth(caller): EnrollingAuth,
    Client(client): Client,
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
    state.authentication.log_out(&caller, everywhere, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, utoipa::ToSchema)]
struct SessionList {
    sessions: Vec<SessionBody>,
}

#[utoipa::path(
    get, path = "/auth/sessions", summary = "Your live sessions", operation_id = "listSessions", tag = "login", security(("bearer" = [])),
    responses((status = 200, description = "The caller's live sessions", body = SessionList), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn sessions(
    State(state): State<AppState>,
    EnrollingAuth(caller): EnrollingAuth,
) -> Result<Json<SessionList>, ApiError> {
    let list = state.authentication.list_sessions(&caller).await?;
    Ok(Json(SessionList { sessions: list.into_iter().map(|s| SessionBody::new(s, caller.session_id())).collect() }))
}

#[utoipa::path(
    delete, path = "/auth/sessions/{id}", summary = "End one of your sessions", operation_id = "endSession", tag = "login", security(("bearer" = [])),
    params(("id" = String, Path, description = "A session id from `GET /auth/sessions`")),
    responses((status = 204, description = "Ended"), Errors<(code::MalformedRequest, code::Unauthorized, code::NotFound, code::Unavailable)>)
)]
async fn end_session(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("session"))?;
    state.authentication.end_session(&caller, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
