//! API keys: an account's own (`/user/api-keys`) and an organization's
//! (`/orgs/{org}/api-keys`, `api_keys:manage`). A key (`gh_…`) is shown once, in the answer
//! that made it, and is then a bearer token wherever an access token is (see
//! `accounts::api_keys` for what it may do).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::api_keys::KeyInput;
use crate::contract::rfc3339;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path};
use crate::http::state::AppState;
use crate::model::api_key::{ApiKey, KeyOwner};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/user/api-keys", get(list).post(create))
        .route("/user/api-keys/{id}", delete(revoke))
        .route("/orgs/{org}/api-keys", get(org_list).post(org_create))
        .route("/orgs/{org}/api-keys/{id}", delete(org_revoke))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    /// Shown in lists: 1 to 100 characters.
    name: String,
    /// What apps are told the key may do (introspection's `scope`, forward-auth's
    /// `Remote-Scopes`): at most 32, each 1 to 64 of letters, digits and `:._-/`.
    #[serde(default)]
    scopes: Vec<String>,
    /// When it stops opening anything (RFC 3339, in the future); never, when not given.
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

impl From<KeyRequest> for KeyInput {
    fn from(request: KeyRequest) -> Self {
        Self { name: request.name, scopes: request.scopes, expires_at: request.expires_at }
    }
}

/// An API key: never the key itself but in the answer that made it.
#[derive(Serialize, ToSchema)]
struct KeyBody {
    id: Uuid,
    name: String,
    /// The key's start (`gh_` and 8 characters), to tell keys apart.
    prefix: String,
    scopes: Vec<String>,
    /// The organization a key of an organization acts for.
    #[serde(skip_serializing_if = "Option::is_none")]
    org_id: Option<Uuid>,
    created_at: String,
    expires_at: Option<String>,
    /// When it last opened a request (to the minute), if ever.
    last_used_at: Option<String>,
    /// The key (`gh_…`): only in the answer that made it; send it as `Authorization: Bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
}

impl From<ApiKey> for KeyBody {
    fn from(key: ApiKey) -> Self {
        Self {
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            scopes: key.scopes,
            org_id: match key.owner {
                KeyOwner::Org(org) => Some(org),
                KeyOwner::Account(_) => None,
            },
            created_at: rfc3339(&key.created_at),
            expires_at: key.expires_at.as_ref().map(rfc3339),
            last_used_at: key.last_used_at.as_ref().map(rfc3339),
            key: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct KeyList {
    api_keys: Vec<KeyBody>,
}

fn made(key: ApiKey, secret: &secrecy::SecretString) -> Response {
    let mut body = KeyBody::from(key);
    body.key = Some(secret.expose_secret().to_owned());
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn key_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound("API key"))
}

#[utoipa::path(
    get, path = "/user/api-keys", summary = "My API keys", operation_id = "listApiKeys", tag = "api-keys", security(("bearer" = [])),
    description = "The caller's keys, oldest first; never the keys themselves.",
    responses((status = 200, description = "The keys", body = KeyList), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn list(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<KeyList>, ApiError> {
    let keys = state.organizations.api_keys(&caller).await?;
    Ok(Json(KeyList { api_keys: keys.into_iter().map(Into::into).collect() }))
}

#[utoipa::path(
    post, path = "/user/api-keys", summary = "Make an API key", operation_id = "createApiKey", tag = "api-keys", security(("bearer" = [])),
    description = "A key of the caller's own (`key`, shown this once, kept only as its hash): a bearer token wherever an access token is, acting as the caller, except for managing keys, changing credentials, second factors or the address, and deleting the account (`403 api_key_forbidden`). At most 50. Not with an API key.",
    request_body = KeyRequest,
    responses((status = 201, description = "Made; `key` is shown this once", body = KeyBody), Errors<(code::MalformedRequest, code::Unauthorized, code::ApiKeyForbidden, code::ValidationFailed, code::Unavailable)>)
)]
async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    JsonBody(request): JsonBody<KeyRequest>,
) -> Result<Response, ApiError> {
    let (key, secret) = state.organizations.create_api_key(&caller, request.into(), &client).await?;
    Ok(made(key, &secret))
}

#[utoipa::path(
    delete, path = "/user/api-keys/{id}", summary = "Revoke an API key", operation_id = "revokeApiKey", tag = "api-keys", security(("bearer" = [])),
    description = "The next request with the key is refused, on every replica. Not with an API key.",
    params(("id" = Uuid, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), Errors<(code::Unauthorized, code::ApiKeyForbidden, code::NotFound, code::Unavailable)>)
)]
async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.organizations.revoke_api_key(&caller, key_id(&id)?, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/orgs/{org}/api-keys", summary = "An organization's API keys", operation_id = "listOrgApiKeys", tag = "api-keys", security(("bearer" = [])),
    description = "Needs `api_keys:manage`.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "The keys", body = KeyList), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn org_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
) -> Result<Json<KeyList>, ApiError> {
    let keys = state.organizations.org_api_keys(&caller, &org).await?;
    Ok(Json(KeyList { api_keys: keys.into_iter().map(Into::into).collect() }))
}

#[utoipa::path(
    post, path = "/orgs/{org}/api-keys", summary = "Make an organization's API key", operation_id = "createOrgApiKey", tag = "api-keys", security(("bearer" = [])),
    description = "Needs `api_keys:manage`. The key acts as the organization for apps: forward-auth answers with `Remote-User` the key's id and `Remote-Org` the organization, introspection with `sub` the key's id and `org`. It opens none of gatehouse's own routes (`403 api_key_forbidden`). At most 50 an organization.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = KeyRequest,
    responses((status = 201, description = "Made; `key` is shown this once", body = KeyBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::ApiKeyForbidden, code::ValidationFailed, code::Unavailable)>)
)]
async fn org_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(request): JsonBody<KeyRequest>,
) -> Result<Response, ApiError> {
    let (key, secret) = state.organizations.create_org_api_key(&caller, &org, request.into(), &client).await?;
    Ok(made(key, &secret))
}

#[utoipa::path(
    delete, path = "/orgs/{org}/api-keys/{id}", summary = "Revoke an organization's API key", operation_id = "revokeOrgApiKey", tag = "api-keys", security(("bearer" = [])),
    description = "Needs `api_keys:manage`. The next request with the key is refused, on every replica.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("id" = Uuid, Path, description = "The key's id")),
    responses((status = 204, description = "Revoked"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::ApiKeyForbidden, code::Unavailable)>)
)]
async fn org_revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.organizations.revoke_org_api_key(&caller, &org, key_id(&id)?, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
