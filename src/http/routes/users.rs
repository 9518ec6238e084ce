//! Accounts: sign-up (`POST /user`), the caller's own account (`GET /user`), and reading,
//! editing and deleting an account by id, username or email (`/user/{key}`).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::accounts::{Edit, SignUp};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::{self, Auth};
use crate::http::views::AccountBody;

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

async fn sign_up(
    State(state): State<AppState>,
    extract::Json(mut body): extract::Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let email = required(take_string(&mut body, "email")?, "email")?;
    let password = required(take_string(&mut body, "password")?, "password")?;
    let username = take_string(&mut body, "username")?;
    let name = take_string(&mut body, "name")?;
    let data = body.remove("data");
    let input = SignUp { email, password: SecretString::from(password), username, name, data, extra: body };
    let account = state.accounts.sign_up(input).await?;
    let location = HeaderValue::from_str(&format!("/user/{}", account.id)).map_err(|e| ApiError::Internal(e.into()))?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(AccountBody::from(account))).into_response())
}

async fn me(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.me(&caller).await?.into()))
}

async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.get_account(&caller, &key).await?.into()))
}

async fn replace(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
    extract::Json(body): extract::Json<Map<String, Value>>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, &key, Edit::Replace(body)).await?.into()))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
    extract::Json(body): extract::Json<Map<String, Value>>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.accounts.update_account(&caller, &key, Edit::MergePatch(body)).await?.into()))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.delete_account(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
