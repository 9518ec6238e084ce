//! Accounts: sign-up (`POST /user`), the caller's own account (`GET /user`), and reading,
//! editing and deleting an account by id, username or email (`/user/{key}`).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::accounts::{Edit, SignUp, SignedUp};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{self, Auth, Client, Path};
use crate::http::views::{AccountBody, MessageBody};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user", post(sign_up).get(me))
        .route("/user/{key}", get(read).put(replace).patch(patch).delete(delete))
}

/// Takes a string field out of the body: `None` when absent or null, 400 when not a string.
fn take_string(body: &mut Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::MalformedRequest(format!("The field `{field}` must be a string."))),
    }
}

fn required(value: Option<String>, field: &str) -> Result<String, ApiError> {
    value.ok_or_else(|| ApiError::MalformedRequest(format!("The field `{field}` is required.")))
}

#[utoipa::path(
    post, path = "/user", summary = "Sign up", tag = "accounts",
    description = "Sign up. Creates a `pending` account and emails the confirmation link. Top-level fields other than the listed ones are kept in `data`.",
    request_body = crate::http::openapi::SignUpRequest,
    responses(
        (status = 201, description = "Created; `Location: /user/{id}`", body = AccountBody,
         headers(("location" = String, description = "/user/{id}"))),
        (status = 202, description = "Accepted (only with `GATEHOUSE_SIGNUP_CONCEAL_EXISTING=true`, for a new and a taken address alike)", body = MessageBody),
        (status = 400, description = "`malformed_request`: the body is not valid JSON, or a field is missing or of the wrong type", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 409, description = "`email_taken` or `username_taken`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 413, description = "`payload_too_large`: the body is over 64 KiB", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 415, description = "`unsupported_media_type`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "`validation_failed`, with `errors[]`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 429, description = "`rate_limited`: too many attempts; see `Retry-After`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "`unavailable`: the database, session store or hashing pool cannot serve now", body = crate::http::openapi::Problem, content_type = "application/problem+json"))
)]
async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    extract::Json(mut body): extract::Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let email = required(take_string(&mut body, "email")?, "email")?;
    let password = required(take_string(&mut body, "password")?, "password")?;
    let username = take_string(&mut body, "username")?;
    let name = take_string(&mut body, "name")?;
    let data = body.remove("data");
    let input = SignUp { email, password: SecretString::from(password), username, name, data, extra: body };
    let account = match state.accounts.sign_up(input, &client).await? {
        SignedUp::Created(account) if !state.accounts.settings().signup_conceal_existing => account,
        // Concealing: a new account and a taken address get the same answer.
        SignedUp::Created(_) | SignedUp::Concealed => {
            let message = MessageBody { message: "Check your inbox: a confirmation link is on its way." };
            return Ok((StatusCode::ACCEPTED, Json(message)).into_response());
        }
    };
    let location = HeaderValue::from_str(&format!("/user/{}", account.id)).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(AccountBody::from(account))).into_response())
}

#[utoipa::path(
    get, path = "/user", summary = "Your own account", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, description = "The caller's own account", body = AccountBody), (status = 401, description = "`unauthorized`: no token, or a bad, expired or revoked one", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "`unavailable`: the database, session store or hashing pool cannot serve now", body = crate::http::openapi::Problem, content_type = "application/problem+json"))
)]
async fn me(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.into_me(caller).await?.into()))
}

#[utoipa::path(
    get, path = "/user/{key}", summary = "Read an account", tag = "accounts", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 200, description = "The account", body = AccountBody), (status = 400, description = "`malformed_request`: the path is not valid", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "`unauthorized`: no token, or a bad, expired or revoked one", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 403, description = "`forbidden`: not your account, and you are not an admin", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 404, description = "`not_found`: (admins) no such account", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "`unavailable`: the database, session store or hashing pool cannot serve now", body = crate::http::openapi::Problem, content_type = "application/problem+json"))
)]
async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.get_account(&caller, &key).await?.into()))
}

#[utoipa::path(
    put, path = "/user/{key}", summary = "Replace an account's fields", tag = "accounts", security(("bearer" = [])),
    description = "Replaces `name`, `username` and `data` (omitted ones are cleared). An admin may also set `role` and `status` (omitted: unchanged); disabling ends the account's sessions at once.",
    params(("key" = String, Path, description = "The account's id, username or email")),
    request_body = crate::http::openapi::ProfileEdit,
    responses((status = 200, description = "The updated account", body = AccountBody),
        (status = 400, description = "`malformed_request`: the body is not valid JSON, or a field is missing or of the wrong type", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "`unauthorized`: no token, or a bad, expired or revoked one", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 403, description = "`forbidden`: not your account, and you are not an admin", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 404, description = "`not_found`: (admins) no such account", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 409, description = "`email_taken` or `username_taken`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 413, description = "`payload_too_large`: the body is over 64 KiB", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 415, description = "`unsupported_media_type`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "`validation_failed`, with `errors[]`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "`unavailable`: the database, session store or hashing pool cannot serve now", body = crate::http::openapi::Problem, content_type = "application/problem+json"))
)]
async fn replace(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
    extract::Json(body): extract::Json<Map<String, Value>>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, &key, Edit::Replace(body), &client).await?.into()))
}

#[utoipa::path(
    patch, path = "/user/{key}", summary = "Merge-patch an account", tag = "accounts", security(("bearer" = [])),
    description = "A JSON merge patch (RFC 7396) of the same fields as PUT: `null` removes, objects merge.",
    params(("key" = String, Path, description = "The account's id, username or email")),
    request_body(content = crate::http::openapi::ProfileEdit, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated account", body = AccountBody),
        (status = 400, description = "`malformed_request`: the body is not valid JSON, or a field is missing or of the wrong type", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "`unauthorized`: no token, or a bad, expired or revoked one", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 403, description = "`forbidden`: not your account, and you are not an admin", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 404, description = "`not_found`: (admins) no such account", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 409, description = "`email_taken` or `username_taken`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 413, description = "`payload_too_large`: the body is over 64 KiB", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 415, description = "`unsupported_media_type`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 422, description = "`validation_failed`, with `errors[]`", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "`unavailable`: the database, session store or hashing pool cannot serve now", body = crate::http::openapi::Problem, content_type = "application/problem+json"))
)]
async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
    extract::Json(body): extract::Json<Map<String, Value>>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, &key, Edit::MergePatch(body), &client).await?.into()))
}

#[utoipa::path(
    delete, path = "/user/{key}", summary = "Delete an account", tag = "accounts", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 204, description = "Deleted, with everything of it; its sessions ended"), (status = 400, description = "`malformed_request`: the path is not valid", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 401, description = "`unauthorized`: no token, or a bad, expired or revoked one", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 403, description = "`forbidden`: not your account, and you are not an admin", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 404, description = "`not_found`: (admins) no such account", body = crate::http::openapi::Problem, content_type = "application/problem+json"), (status = 503, description = "`unavailable`: the database, session store or hashing pool cannot serve now", body = crate::http::openapi::Problem, content_type = "application/problem+json"))
)]
async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_account(&caller, &key, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
