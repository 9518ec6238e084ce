//! SCIM 2.0 provisioning (RFC 7644) at `/scim/v2`, and the organization's SCIM tokens.
//!
//! Who may call: `/orgs/{org}/scim/tokens` takes an access token of a member holding
//! `sso:manage` with a standing covering `admin`'s (a SCIM client speaks for the
//! organization's members). `/scim/v2/Users` and `/scim/v2/Groups` take only a SCIM token
//! (`Authorization: Bearer scim_…`), which decides the organization: no id, path or header
//! names another, and an access token is not one. The discovery documents
//! (`ServiceProviderConfig`, `Schemas`, `ResourceTypes`) are public: they say what the server
//! does, nothing of any organization. Answers and errors are `application/scim+json`, errors
//! in RFC 7644's shape (`status`, `scimType`, `detail`).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts;
use crate::accounts::authenticator::{Door, Principal};
use crate::accounts::scim::{ListPage, ScimCaller};
use crate::federation::scim::{self as wire, MEDIA_TYPE};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path, bearer};
use crate::http::state::AppState;
use crate::model::scim::ScimToken;

/// The largest SCIM body: a group of ten thousand members fits.
const MAX_SCIM_BODY: usize = 2 * 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/scim/tokens", get(list_tokens).post(create_token))
        .route("/orgs/{org}/scim/tokens/{id}", delete(revoke_token))
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route(
            "/scim/v2/Users/{id}",
            get(read_user).put(replace_user).patch(patch_user).delete(delete_user).post(search_by_post),
        )
        .route("/scim/v2/Groups", get(list_groups).post(create_group))
        .route(
            "/scim/v2/Groups/{id}",
            get(read_group).put(replace_group).patch(patch_group).delete(delete_group).post(search_by_post),
        )
        .route("/scim/v2/ServiceProviderConfig", get(service_provider_config))
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema))
        .route("/scim/v2/.search", post(search_by_post_at_root))
        .route("/scim/v2/{*rest}", any(unknown))
        .layer(DefaultBodyLimit::max(MAX_SCIM_BODY))
}

// ---- the organization's SCIM tokens

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenInput {
    /// Shown to admins (`SCIM` when not given), 1 to 100 characters.
    #[serde(default)]
    name: Option<String>,
}

/// A SCIM token, never the token itself but when it is made.
#[derive(Serialize, ToSchema)]
struct TokenBody {
    id: Uuid,
    name: String,
    created_at: String,
    /// When it last opened a request (to the minute), if ever.
    last_used_at: Option<String>,
    /// The token (`scim_…`): only in the answer that made it. Give it to the identity
    /// provider as its bearer token, with the base URL `{public_url}/scim/v2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl From<ScimToken> for TokenBody {
    fn from(token: ScimToken) -> Self {
        Self {
            id: token.id,
            name: token.name,
            created_at: crate::contract::rfc3339(&token.created_at),
            last_used_at: token.last_used_at.as_ref().map(crate::contract::rfc3339),
            token: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct TokenList {
    tokens: Vec<TokenBody>,
}

#[utoipa::path(
    get, path = "/orgs/{org}/scim/tokens", summary = "An organization's SCIM tokens", operation_id = "listScimTokens", tag = "scim", security(("bearer" = [])),
    description = "Needs `sso:manage`. The tokens themselves are never shown again.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "Its tokens", body = TokenList), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn list_tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = state.organizations.scim_tokens(&caller, &org).await?;
    Ok(Json(TokenList { tokens: tokens.into_iter().map(Into::into).collect() }))
}

#[utoipa::path(
    post, path = "/orgs/{org}/scim/tokens", summary = "Make a SCIM token", operation_id = "createScimToken", tag = "scim", security(("bearer" = [])),
    description = "Needs `sso:manage` with a standing covering `admin`'s permissions. The token (`token`, shown once, kept only as its hash) lets the organization's identity provider provision its members at `/scim/v2`. At most two at once, so one can replace the other.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = TokenInput,
    responses((status = 201, description = "Made; `token` is shown this once", body = TokenBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn create_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<TokenInput>,
) -> Result<Response, ApiError> {
    let (token, secret) = state.organizations.create_scim_token(&caller, &org, input.name.as_deref(), &client).await?;
    let mut body = TokenBody::from(token);
    body.token = Some(secret.expose_secret().to_owned());
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[utoipa::path(
    delete, path = "/orgs/{org}/scim/tokens/{id}", summary = "Revoke a SCIM token", operation_id = "revokeScimToken", tag = "scim", security(("bearer" = [])),
    description = "Needs `sso:manage`. The next request with the token is refused, on every replica.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("id" = Uuid, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn revoke_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("SCIM token"))?;
    state.organizations.revoke_scim_token(&caller, &org, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- SCIM itself

/// A SCIM answer: JSON as `application/scim+json`.
fn scim_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// A refusal in RFC 7644's shape, with the status (and `Retry-After`, `WWW-Authenticate`)
/// gatehouse's own answer would have.
fn scim_error(error: accounts::Error) -> Response {
    if let accounts::Error::Scim { status, scim_type, detail } = &error {
        let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST);
        return scim_json(status, wire::error(status.as_u16(), *scim_type, detail));
    }
    let unauthorized = matches!(error, accounts::Error::Unauthorized);
    let answer = ApiError::from(error).into_response();
    let status = answer.status();
    let detail = match status {
        StatusCode::UNAUTHORIZED if unauthorized => "the SCIM token is missing, unknown or revoked",
        StatusCode::TOO_MANY_REQUESTS => "too many requests; retry after the time Retry-After gives",
        StatusCode::SERVICE_UNAVAILABLE => "a backing service is unavailable; try again shortly",
        other => other.canonical_reason().unwrap_or("refused"),
    };
    let mut response = scim_json(status, wire::error(status.as_u16(), None, detail));
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = answer.headers().get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

type ScimResult = Result<Response, Response>;

/// The organization of the request's SCIM token; 401 for any other.
struct ScimAuth(ScimCaller);

impl FromRequestParts<AppState> for ScimAuth {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(Ok(token)) = bearer(parts) else { return Err(scim_error(accounts::Error::Unauthorized)) };
        match state.authentication.principal(Door::Scim, token).await.map_err(scim_error)? {
            Principal::Directory(directory) => Ok(ScimAuth(directory)),
            Principal::Person(_) | Principal::Organization { .. } | Principal::Client(_) => {
                Err(scim_error(accounts::Error::Unauthorized))
            }
        }
    }
}

/// A request refused before it reaches the account rules: `400` with its `scimType`.
#[derive(Debug)]
struct Unreadable {
    scim_type: &'static str,
    detail: String,
}

impl From<Unreadable> for Response {
    fn from(refused: Unreadable) -> Self {
        scim_json(StatusCode::BAD_REQUEST, wire::error(400, Some(refused.scim_type), &refused.detail))
    }
}

/// A request's JSON body, as `application/scim+json` or `application/json`.
fn body_of(bytes: &Bytes) -> Result<Value, Unreadable> {
    serde_json::from_slice(bytes)
        .map_err(|e| Unreadable { scim_type: "invalidSyntax", detail: format!("the body is not JSON: {e}") })
}

/// A list's query: `filter`, `startIndex`, `count`, `excludedAttributes`.
#[derive(Debug, Default)]
struct ListQuery {
    filter: Option<String>,
    start_index: Option<u64>,
    count: Option<u32>,
    /// `attributes`: only these (with `id` and `schemas`).
    attributes: Vec<String>,
    /// `excludedAttributes`: all but these.
    excluded: Vec<String>,
}

impl ListQuery {
    /// Whether a group's members are asked for.
    fn members(&self) -> bool {
        let named = |names: &[String]| names.iter().any(|n| n.eq_ignore_ascii_case("members"));
        !named(&self.excluded) && (self.attributes.is_empty() || named(&self.attributes))
    }

    /// A resource cut to what the query asks for.
    fn project(&self, resource: Value) -> Value {
        wire::project(resource, &self.attributes, &self.excluded)
    }
}

fn list_query(raw: Option<&str>) -> Result<ListQuery, Unreadable> {
    let mut query = ListQuery::default();
    let bad =
        |name: &str| Unreadable { scim_type: "invalidValue", detail: format!("`{name}` is a non-negative integer") };
    for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match name.to_ascii_lowercase().as_str() {
            "filter" => query.filter = Some(value.into_owned()),
            "startindex" => query.start_index = Some(value.parse().map_err(|_| bad("startIndex"))?),
            "count" => query.count = Some(value.parse().map_err(|_| bad("count"))?),
            "attributes" => query.attributes = names(&value),
            "excludedattributes" => query.excluded = names(&value),
            _ => {}
        }
    }
    Ok(query)
}

/// A comma-separated list of attribute paths.
fn names(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

fn listed<T>(page: ListPage<T>, render: impl Fn(&T) -> Value) -> Response {
    let resources = page.items.iter().map(render).collect();
    scim_json(StatusCode::OK, wire::list(resources, page.total, page.start_index))
}

fn created(resource: Value) -> Response {
    let location = resource["meta"]["location"].as_str().and_then(|l| HeaderValue::from_str(l).ok());
    let mut response = scim_json(StatusCode::CREATED, resource);
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn list_users(State(state): State<AppState>, ScimAuth(who): ScimAuth, RawQuery(raw): RawQuery) -> ScimResult {
    let query = list_query(raw.as_deref())?;
    let page = state.federation.scim_users(&who, query.filter.as_deref(), query.start_index, query.count).await;
    Ok(listed(page.map_err(scim_error)?, |u| query.project(wire::resource::user(u, public(&state)))))
}

async fn create_user(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    body: Bytes,
) -> ScimResult {
    let user = state.federation.scim_create_user(&who, &body_of(&body)?, &client).await.map_err(scim_error)?;
    Ok(created(wire::resource::user(&user, public(&state))))
}

async fn read_user(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    let query = list_query(raw.as_deref())?;
    let user = state.federation.scim_user(&who, &id).await.map_err(scim_error)?;
    Ok(scim_json(StatusCode::OK, query.project(wire::resource::user(&user, public(&state)))))
}

async fn replace_user(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let user = state.federation.scim_replace_user(&who, &id, &body_of(&body)?, &client).await.map_err(scim_error)?;
    Ok(scim_json(StatusCode::OK, wire::resource::user(&user, public(&state))))
}

async fn patch_user(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let user = state.federation.scim_patch_user(&who, &id, &body_of(&body)?, &client).await.map_err(scim_error)?;
    Ok(scim_json(StatusCode::OK, wire::resource::user(&user, public(&state))))
}

async fn delete_user(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    Path(id): Path<String>,
) -> ScimResult {
    state.federation.scim_delete_user(&who, &id, &client).await.map_err(scim_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_groups(State(state): State<AppState>, ScimAuth(who): ScimAuth, RawQuery(raw): RawQuery) -> ScimResult {
    let query = list_query(raw.as_deref())?;
    let page = state
        .federation
        .scim_groups(&who, query.filter.as_deref(), query.start_index, query.count, query.members())
        .await;
    Ok(listed(page.map_err(scim_error)?, |g| query.project(wire::resource::group(g, public(&state)))))
}

async fn create_group(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    body: Bytes,
) -> ScimResult {
    let group = state.federation.scim_create_group(&who, &body_of(&body)?, &client).await.map_err(scim_error)?;
    Ok(created(wire::resource::group(&group, public(&state))))
}

async fn read_group(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ScimResult {
    let query = list_query(raw.as_deref())?;
    let group = state.federation.scim_group(&who, &id).await.map_err(scim_error)?;
    Ok(scim_json(StatusCode::OK, query.project(wire::resource::group(&group, public(&state)))))
}

async fn replace_group(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let group = state.federation.scim_replace_group(&who, &id, &body_of(&body)?, &client).await.map_err(scim_error)?;
    Ok(scim_json(StatusCode::OK, wire::resource::group(&group, public(&state))))
}

async fn patch_group(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let group = state.federation.scim_patch_group(&who, &id, &body_of(&body)?, &client).await.map_err(scim_error)?;
    Ok(scim_json(StatusCode::OK, wire::resource::group(&group, public(&state))))
}

async fn delete_group(
    State(state): State<AppState>,
    ScimAuth(who): ScimAuth,
    Client(client): Client,
    Path(id): Path<String>,
) -> ScimResult {
    state.federation.scim_delete_group(&who, &id, &client).await.map_err(scim_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST …/.search`: not offered (`ServiceProviderConfig` says lists are filtered by `GET`).
async fn search_by_post(Path(id): Path<String>) -> Response {
    match id.as_str() {
        ".search" => not_implemented(),
        _ => scim_json(StatusCode::METHOD_NOT_ALLOWED, wire::error(405, None, "a resource is not posted to")),
    }
}

async fn search_by_post_at_root() -> Response {
    not_implemented()
}

fn not_implemented() -> Response {
    let detail = "searching by POST is not offered: filter with GET and ?filter=";
    scim_json(StatusCode::NOT_IMPLEMENTED, wire::error(501, None, detail))
}

/// Any other path under `/scim/v2`: SCIM's own 404.
async fn unknown() -> Response {
    scim_json(StatusCode::NOT_FOUND, wire::error(404, None, "no such SCIM endpoint"))
}

// ---- discovery (RFC 7644 §4)

fn base(state: &AppState) -> String {
    format!("{}/scim/v2", public(state).trim_end_matches('/'))
}

async fn service_provider_config(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, crate::federation::scim::discovery::service_provider_config(&base(&state)))
}

async fn resource_types(State(state): State<AppState>) -> Response {
    let types = crate::federation::scim::discovery::resource_types(&base(&state));
    let total = types.len() as u64;
    scim_json(StatusCode::OK, wire::list(types, total, 1))
}

async fn resource_type(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let types = crate::federation::scim::discovery::resource_types(&base(&state));
    match types.into_iter().find(|t| t["id"].as_str() == Some(id.as_str())) {
        Some(found) => scim_json(StatusCode::OK, found),
        None => scim_json(StatusCode::NOT_FOUND, wire::error(404, None, "no such resource type")),
    }
}

async fn schemas(State(state): State<AppState>) -> Response {
    let schemas = crate::federation::scim::discovery::schemas(&base(&state));
    let total = schemas.len() as u64;
    scim_json(StatusCode::OK, wire::list(schemas, total, 1))
}

async fn schema(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let schemas = crate::federation::scim::discovery::schemas(&base(&state));
    match schemas.into_iter().find(|s| s["id"].as_str() == Some(id.as_str())) {
        Some(found) => scim_json(StatusCode::OK, found),
        None => scim_json(StatusCode::NOT_FOUND, wire::error(404, None, "no such schema")),
    }
}

/// The public URL the resources' locations are under.
fn public(state: &AppState) -> &str {
    state.authentication.settings().public_url.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_are_read_leniently_but_numbers_checked() {
        let q =
            list_query(Some("filter=userName%20eq%20%22a%22&StartIndex=3&count=5&excludedAttributes=members,%20name"));
        let q = q.unwrap();
        assert_eq!((q.filter.as_deref(), q.start_index, q.count), (Some("userName eq \"a\""), Some(3), Some(5)));
        assert_eq!(q.excluded, ["members", "name"]);
        assert!(list_query(Some("count=-1")).is_err());
        assert!(list_query(Some("startIndex=x")).is_err());
    }
}
