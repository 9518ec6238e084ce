//! The admin API: list, search and create accounts (`/admin/users`), act on one account (its
//! sessions, a reset link, the activation link), and inspect and retry the outbox
//! (`/admin/outbox`). Reading and editing one account, role and status included, is
//! `/user/{key}` (see `users.rs`). Every route needs an active admin's token.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::FieldError;
use crate::accounts::admin::{NewUser, parse_role, parse_status, parse_time};
use crate::contract::{AccountBody, MessageBody, OutboxEmail, OutboxPage, SessionBody, UserPage};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{self, Auth, Client, Path, Query, page_cursor, page_limit, page_of};
use crate::http::state::AppState;
use crate::model::admin::{AccountQuery, OutboxQuery};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users).post(create_user))
        .route("/admin/users/{key}/sessions", get(user_sessions).delete(end_user_sessions))
        .route("/admin/users/{key}/identities", get(user_identities))
        .route("/admin/users/{key}/password-reset", post(send_password_reset))
        .route("/admin/users/{key}/activation", post(resend_activation))
        .route("/admin/outbox", get(list_outbox))
        .route("/admin/outbox/{id}/retry", post(retry_email))
}

/// The filters of the account list, as sent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// A case-insensitive substring of the email, username or name.
    q: Option<String>,
    /// `pending`, `active` or `disabled`.
    status: Option<String>,
    /// `user` or `admin`.
    role: Option<String>,
    /// Only accounts created at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    created_after: Option<String>,
    /// Only accounts created before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    created_before: Option<String>,
    /// Accounts per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The value, or `None` with its problem noted.
fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

fn account_query(query: UsersQuery) -> Result<AccountQuery, ApiError> {
    let mut errors = Vec::new();
    let e = &mut errors;
    let status = query.status.as_deref().filter(|s| !s.is_empty()).and_then(|s| keep(e, parse_status(s)));
    let role = query.role.as_deref().filter(|s| !s.is_empty()).and_then(|s| keep(e, parse_role(s)));
    let created_after = query.created_after.as_deref().and_then(|t| keep(e, parse_time("created_after", t.trim())));
    let created_before = query.created_before.as_deref().and_then(|t| keep(e, parse_time("created_before", t.trim())));
    if let Some(q) = &query.q
        && q.chars().count() > 254
    {
        errors.push(FieldError::new("q", "q has at most 254 characters"));
    }
    let limit = page_limit(query.limit.as_deref(), &mut errors);
    let before = page_cursor(query.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::ValidationFailed(errors));
    }
    Ok(AccountQuery { q: query.q, status, role, created_after, created_before, before, limit })
}

#[utoipa::path(
    get, path = "/admin/users", summary = "List and search accounts", operation_id = "listUsers", tag = "admin", security(("bearer" = [])),
    description = "Newest first. `q` matches a case-insensitive substring of the email, username or name; filters combine. Page with `cursor` (keyset: every page costs the same).",
    params(UsersQuery),
    responses((status = 200, description = "A page of accounts", body = UserPage), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn list_users(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Query(query): Query<UsersQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let mut query = account_query(query)?;
    let page = query.limit;
    // One more than a page: whether it comes back says whether there is a next page.
    query.limit += 1;
    let found = admin.list_users(&query).await?;
    let (users, next_cursor) = page_of(found.users, page, |last| last.id.to_string());
    Ok(Json(UserPage { users: users.into_iter().map(AccountBody::from).collect(), next_cursor, total: found.total }))
}

/// A new account, made by an admin.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateUser {
    email: String,
    /// Without one, an active account is emailed a link to choose its password.
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
    username: Option<String>,
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    data: Option<serde_json::Value>,
    /// Admin-written data (plan, tenant, permissions), copied into access tokens.
    #[schema(value_type = Option<Object>)]
    app_data: Option<serde_json::Value>,
    /// `user` (default) or `admin`.
    role: Option<String>,
    /// `active` (default: the admin vouches for the address) or `pending` (an activation email is sent).
    status: Option<String>,
}

#[utoipa::path(
    post, path = "/admin/users", summary = "Create an account", operation_id = "createUser", tag = "admin", security(("bearer" = [])),
    description = "Active (with a password, or emailed a link to choose one) or pending (emailed the activation link), with a role.",
    request_body = CreateUser,
    responses((status = 201, description = "Created; `Location: /user/{id}`", body = AccountBody,
            headers(("location" = String, description = "/user/{id}"))), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::EmailTaken, code::UsernameTaken, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn create_user(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    extract::Json(body): extract::Json<CreateUser>,
) -> Result<Response, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let input = NewUser {
        email: body.email,
        password: body.password,
        username: body.username,
        name: body.name,
        data: body.data,
        app_data: body.app_data,
        role: body.role,
        status: body.status,
    };
    let account = admin.create_user(input).await?;
    let location = HeaderValue::from_str(&format!("/user/{}", account.id)).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(AccountBody::from(account))).into_response())
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AdminSessionList)]
pub struct SessionList {
    sessions: Vec<SessionBody>,
}

#[utoipa::path(
    get, path = "/admin/users/{key}/sessions", summary = "An account's live sessions", operation_id = "listUserSessions", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 200, description = "Its live sessions", body = SessionList), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
pub async fn user_sessions(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
) -> Result<Json<SessionList>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let sessions = admin.sessions(&key).await?;
    Ok(Json(SessionList { sessions: sessions.into_iter().map(|s| SessionBody::new(s, caller.session_id())).collect() }))
}

#[utoipa::path(
    get, path = "/admin/users/{key}/identities", summary = "An account's linked identities", operation_id = "listUserIdentities", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 200, description = "The identities at providers that log in to it", body = crate::contract::IdentityList), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
pub async fn user_identities(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
) -> Result<Json<crate::contract::IdentityList>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    Ok(Json(crate::contract::IdentityList::new(admin.identities(&key).await?)))
}

#[utoipa::path(
    delete, path = "/admin/users/{key}/sessions", summary = "End all of an account's sessions", operation_id = "endUserSessions", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 204, description = "Every session ended; its tokens are refused from the next request on"), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
pub async fn end_user_sessions(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.as_admin(&caller, &client).await?.end_sessions(&key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/admin/users/{key}/password-reset", summary = "Email an account a reset link", operation_id = "sendPasswordReset", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 202, description = "The link is on its way", body = MessageBody), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn send_password_reset(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    state.accounts.as_admin(&caller, &client).await?.send_password_reset(&key).await?;
    Ok((StatusCode::ACCEPTED, Json(MessageBody { message: "A password-reset link is on its way." })))
}

#[utoipa::path(
    post, path = "/admin/users/{key}/activation", summary = "Email a pending account its activation link again", operation_id = "resendUserActivation", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 202, description = "The link is on its way", body = MessageBody), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn resend_activation(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    state.accounts.as_admin(&caller, &client).await?.resend_activation(&key).await?;
    Ok((StatusCode::ACCEPTED, Json(MessageBody { message: "A new activation link is on its way." })))
}

/// The filters of the outbox list, as sent.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutboxParams {
    /// `queued`, `sending`, `sent` or `failed`.
    status: Option<String>,
    /// Only emails to this address.
    recipient: Option<String>,
    /// Emails per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/admin/outbox", summary = "Emails queued, sent and failed", operation_id = "listOutbox", tag = "admin", security(("bearer" = [])),
    description = "Newest first: recipient, kind, status, attempts, last error and times. Never a body, a token or a link.",
    params(OutboxParams),
    responses((status = 200, description = "A page of emails", body = OutboxPage), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn list_outbox(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Query(params): Query<OutboxParams>,
) -> Result<Json<OutboxPage>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let mut errors = Vec::new();
    let status = params.status.filter(|s| !s.is_empty());
    if let Some(status) = &status
        && !["queued", "sending", "sent", "failed"].contains(&status.as_str())
    {
        errors.push(FieldError::new("status", "status is queued, sending, sent or failed"));
    }
    let limit = page_limit(params.limit.as_deref(), &mut errors);
    let before = page_cursor(params.cursor.as_deref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::ValidationFailed(errors));
    }
    let recipient = params.recipient.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
    let query = OutboxQuery { status, recipient, before, limit: limit + 1 };
    let emails = admin.outbox(&query).await?;
    let (emails, next_cursor) = page_of(emails, limit, |last| last.id.to_string());
    Ok(Json(OutboxPage { emails: emails.into_iter().map(OutboxEmail::from).collect(), next_cursor }))
}

#[utoipa::path(
    post, path = "/admin/outbox/{id}/retry", summary = "Retry a failed email", operation_id = "retryEmail", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The email's id")),
    responses((status = 200, description = "Queued again, due now", body = OutboxEmail), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn retry_email(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<OutboxEmail>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let id = Uuid::parse_str(id.trim()).map_err(|_| ApiError::NotFound("email"))?;
    let entry = admin.retry_email(id).await.map_err(|e| match e {
        crate::accounts::Error::NotFound => ApiError::NotFound("email"),
        other => other.into(),
    })?;
    Ok(Json(entry.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::account::{Role, Status};

    fn query(pairs: &[(&str, &str)]) -> UsersQuery {
        serde_urlencoded::from_str(&serde_urlencoded::to_string(pairs).unwrap()).unwrap()
    }

    #[test]
    fn the_user_filters_are_parsed_and_bad_ones_all_reported() {
        let id = Uuid::now_v7();
        let parsed = account_query(query(&[
            ("q", "Ann"),
            ("status", "active"),
            ("role", "admin"),
            ("created_after", "2026-01-01T00:00:00Z"),
            ("limit", "500"),
            ("cursor", &id.to_string()),
        ]))
        .unwrap();
        assert_eq!(
            (parsed.status, parsed.role, parsed.limit, parsed.before),
            (Some(Status::Active), Some(Role::Admin), 500, Some(id))
        );
        assert_eq!(account_query(query(&[])).unwrap().limit, 50);
        let Err(ApiError::ValidationFailed(errors)) = account_query(query(&[
            ("status", "asleep"),
            ("role", "king"),
            ("created_before", "tuesday"),
            ("limit", "501"),
            ("cursor", "x"),
        ])) else {
            panic!("expected a validation failure")
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["status", "role", "created_before", "limit", "cursor"]);
    }
}
