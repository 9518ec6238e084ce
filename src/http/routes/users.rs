//! Accounts: sign-up (`POST /user`), the caller's own account (`/user`, or `/user/me`), and
//! reading, editing and deleting an account by id, username or email (`/user/{key}`).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::accounts::{Edit, SignUp, SignedUp};
use crate::contract::{AccountBody, MessageBody};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{self, Auth, Client, Object, Path};
use crate::http::state::AppState;

/// The path key that names the caller's own account.
const ME: &str = "me";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user", post(sign_up).get(me).put(replace_mine).patch(patch_mine).delete(delete_mine))
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

#[utoipa::path(
    post, path = "/user", summary = "Sign up", operation_id = "signUp", tag = "sign-up",
    description = "Sign up. Creates a `pending` account and emails the confirmation link. Top-level fields other than the listed ones are kept in `data`.",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "Created; `Location: /user/{id}`", body = AccountBody,
         headers(("location" = String, description = "/user/{id}"))),
        (status = 202, description = "Accepted (only with `GATEHOUSE_SIGNUP_CONCEAL_EXISTING=true`, for a new and a taken address alike)", body = MessageBody), Errors<(code::MalformedRequest, code::SignupDisabled, code::EmailTaken, code::UsernameTaken, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    extract::Json(Object(mut body)): extract::Json<Object>,
) -> Result<Response, ApiError> {
    let (email, password) = (take_string(&mut body, "email")?, take_string(&mut body, "password")?);
    let missing = [("email", email.is_none()), ("password", password.is_none())];
    let (Some(email), Some(password)) = (email, password) else {
        let missing = missing.into_iter().filter(|(_, missing)| *missing).map(|(field, _)| field.to_owned());
        return Err(ApiError::MissingFields(missing.collect()));
    };
    let username = take_string(&mut body, "username")?;
    let name = take_string(&mut body, "name")?;
    let data = body.remove("data");
    let redirect_to = take_string(&mut body, "redirect_to")?;
    let locale = take_string(&mut body, "locale")?;
    let password = SecretString::from(password);
    let input = SignUp { email, password, username, name, data, extra: body, redirect_to, locale };
    let account = match state.accounts.sign_up(input, &client).await? {
        SignedUp::Created(account) if !state.accounts.policy().signup_conceal_existing => account,
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
    get, path = "/user", summary = "Your own account", operation_id = "getCurrentUser", tag = "account", security(("bearer" = [])),
    responses((status = 200, description = "The caller's own account", body = AccountBody), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn me(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.authentication.into_me(caller).await?.into()))
}

#[utoipa::path(
    get, path = "/user/{key}", summary = "Read an account", operation_id = "getUser", tag = "account", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email, or `me`")),
    responses((status = 200, description = "The account", body = AccountBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.get_account(&caller, &key).await?.into()))
}

#[utoipa::path(
    put, path = "/user/{key}", summary = "Replace an account's profile", operation_id = "replaceUser", tag = "account", security(("bearer" = [])),
    description = "Replaces `name` and `data` (omitted: cleared). Top-level fields other than the account's own are kept in `data`, as on sign-up, so `{\"phone\": \"+49…\"}` replaces the JSON data with that. `username` changes only when the body names it (`null` clears it). An admin may also set `role` and `status` (omitted: unchanged); disabling ends the account's sessions at once.",
    params(("key" = String, Path, description = "The account's id, username or email, or `me`")),
    request_body = ProfileEdit,
    responses((status = 200, description = "The updated account", body = AccountBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::NotFound, code::EmailTaken, code::UsernameTaken, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
async fn replace(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
    extract::Json(Object(body)): extract::Json<Object>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, &key, Edit::Replace(body), &client).await?.into()))
}

#[utoipa::path(
    put, path = "/user", summary = "Replace your own profile", operation_id = "replaceCurrentUser", tag = "account", security(("bearer" = [])),
    description = "`PUT /user/me`: see `replaceUser`.",
    request_body = ProfileEdit,
    responses((status = 200, description = "The updated account", body = AccountBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::UsernameTaken, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
async fn replace_mine(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    extract::Json(Object(body)): extract::Json<Object>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, ME, Edit::Replace(body), &client).await?.into()))
}

#[utoipa::path(
    patch, path = "/user/{key}", summary = "Merge-patch an account's profile", operation_id = "updateUser", tag = "account", security(("bearer" = [])),
    description = "A JSON merge patch (RFC 7396) of the same fields as PUT: `null` removes, objects merge.",
    params(("key" = String, Path, description = "The account's id, username or email, or `me`")),
    request_body(content = ProfileEdit, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated account", body = AccountBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::NotFound, code::EmailTaken, code::UsernameTaken, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
    extract::Json(Object(body)): extract::Json<Object>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, &key, Edit::MergePatch(body), &client).await?.into()))
}

#[utoipa::path(
    patch, path = "/user", summary = "Merge-patch your own profile", operation_id = "updateCurrentUser", tag = "account", security(("bearer" = [])),
    description = "`PATCH /user/me`: see `updateUser`.",
    request_body(content = ProfileEdit, content_type = "application/merge-patch+json"),
    responses((status = 200, description = "The updated account", body = AccountBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::UsernameTaken, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
async fn patch_mine(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    extract::Json(Object(body)): extract::Json<Object>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, ME, Edit::MergePatch(body), &client).await?.into()))
}

#[utoipa::path(
    delete, path = "/user/{key}", summary = "Delete an account", operation_id = "deleteUser", tag = "account", security(("bearer" = [])),
    params(("key" = String, Path, description = "The account's id, username or email, or `me`")),
    responses((status = 204, description = "Deleted, with everything of it (and the organizations it alone belonged to); its sessions ended"), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotFound, code::LastOwner, code::Unavailable)>)
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

#[utoipa::path(
    delete, path = "/user", summary = "Delete your own account", operation_id = "deleteCurrentUser", tag = "account", security(("bearer" = [])),
    description = "`DELETE /user/me`: see `deleteUser`.",
    responses((status = 204, description = "Deleted, with everything of it (and the organizations it alone belonged to); its sessions ended"), Errors<(code::Unauthorized, code::Forbidden, code::LastOwner, code::Unavailable)>)
)]
async fn delete_mine(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_account(&caller, ME, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `POST /user`. Any other top-level field is kept in `data`.
#[derive(ToSchema, Debug)]
#[allow(dead_code)]
#[schema(example = json!({"email": "ann@example.com", "password": "correct horse battery staple", "username": "ann", "phone": "+49 30 1234"}))]
pub struct SignUpRequest {
    email: String,
    /// 8 to 1024 characters, not a common password, not the email or username.
    #[schema(format = Password)]
    password: String,
    username: Option<String>,
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    /// Where a browser that follows the activation link goes next (`303`); it must start with a
    /// prefix listed in `GATEHOUSE_REDIRECT_ALLOW`, else `422`. Never kept in `data`.
    #[schema(example = "https://app.example.com/welcome")]
    redirect_to: Option<String>,
    /// The language of the account's emails: `en`, `de`, `fr` or `es` (a tag like `de-AT`
    /// counts as its language); else `422`. Omitted: the first of these the request's
    /// `Accept-Language` names, else none (the operator's default). Never kept in `data`.
    #[schema(example = "de")]
    locale: Option<String>,
}

/// The profile fields of an account. Other top-level fields are kept in `data`.
#[derive(ToSchema, Debug)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Ann Lee", "data": {"city": "Berlin"}}))]
pub struct ProfileEdit {
    /// Changes only when given; `null` clears it.
    username: Option<String>,
    /// Replaced by PUT (omitted: cleared).
    name: Option<String>,
    /// Replaced by PUT (omitted: cleared), merged by PATCH.
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    /// Admins only: `user` or `admin`.
    role: Option<String>,
    /// Admins only: `pending`, `active` or `disabled`.
    status: Option<String>,
    /// The language of the account's emails: `en`, `de`, `fr` or `es`; `null` for the
    /// operator's default. Changes only when given.
    locale: Option<String>,
}
