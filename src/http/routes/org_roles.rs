//! An organization's roles (`roles:manage`): `GET|POST /orgs/{org}/roles` lists the built-in
//! and custom ones and defines one; `PATCH|DELETE /orgs/{org}/roles/{name}` changes a custom
//! role's permissions or removes one nobody holds. Its holders have a change at their next
//! request.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::contract::org::RoleBody;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/roles", get(list).post(create))
        .route("/orgs/{org}/roles/{name}", patch(update).delete(remove))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewRole {
    /// 1 to 48 of `a-z`, `0-9`, `_` and `-`, starting with a letter; not a built-in role's.
    name: String,
    /// gatehouse's own (`members:invite`…) and any of the app's, `resource:action`; at most 100.
    permissions: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    /// Replaces the role's permissions whole.
    permissions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct RoleList {
    roles: Vec<RoleBody>,
}

#[utoipa::path(
    get, path = "/orgs/{org}/roles", summary = "An organization's roles", operation_id = "listOrgRoles", tag = "organizations", security(("bearer" = [])),
    description = "Needs `roles:manage`. The built-in `owner`, `admin` and `member`, then the organization's own by name.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "The roles", body = RoleList), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
) -> Result<Json<RoleList>, ApiError> {
    let roles = state.organizations.org_roles(&caller, &org).await?;
    Ok(Json(RoleList { roles: roles.into_iter().map(|r| RoleBody::new(r.name, r.permissions, r.builtin)).collect() }))
}

#[utoipa::path(
    post, path = "/orgs/{org}/roles", summary = "Define a role", operation_id = "createOrgRole", tag = "organizations", security(("bearer" = [])),
    description = "Needs `roles:manage`, and every one of gatehouse's own permissions the role grants (nobody makes a role mightier than itself).",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = NewRole,
    responses((status = 201, description = "Defined", body = RoleBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::RoleTaken, code::ValidationFailed, code::Unavailable)>)
)]
async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<NewRole>,
) -> Result<Response, ApiError> {
    let role = state.organizations.create_org_role(&caller, &org, &input.name, input.permissions, &client).await?;
    Ok((StatusCode::CREATED, Json(RoleBody::new(role.name, role.permissions, false))).into_response())
}

#[utoipa::path(
    patch, path = "/orgs/{org}/roles/{name}", summary = "Change a role's permissions", operation_id = "updateOrgRole", tag = "organizations", security(("bearer" = [])),
    description = "Needs `roles:manage`, and gatehouse's own permissions the role grants before and after. Built-in roles do not change (`403`).",
    params(("org" = String, Path, description = "The organization's id or slug"), ("name" = String, Path, description = "The role's name")),
    request_body = RoleChange,
    responses((status = 200, description = "The role as it is now", body = RoleBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, name)): Path<(String, String)>,
    JsonBody(input): JsonBody<RoleChange>,
) -> Result<Json<RoleBody>, ApiError> {
    let role = state.organizations.update_org_role(&caller, &org, &name, input.permissions, &client).await?;
    Ok(Json(RoleBody::new(role.name, role.permissions, false)))
}

#[utoipa::path(
    delete, path = "/orgs/{org}/roles/{name}", summary = "Remove a role", operation_id = "deleteOrgRole", tag = "organizations", security(("bearer" = [])),
    description = "Needs `roles:manage`. Refused (`409 role_in_use`) while a member holds it or a pending invitation offers it.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("name" = String, Path, description = "The role's name")),
    responses((status = 204, description = "Removed"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::RoleInUse, code::Unavailable)>)
)]
async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.organizations.delete_org_role(&caller, &org, &name, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
