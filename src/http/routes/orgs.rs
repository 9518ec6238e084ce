//! Organizations: `POST|GET /orgs`, `GET|PATCH|DELETE /orgs/{org}` and the members,
//! `GET /orgs/{org}/members`, `PATCH|DELETE /orgs/{org}/members/{account_id}`. `{org}` is an
//! organization's id or its slug. Every route reads the caller's membership at the request: a
//! member removed a moment ago gets `403 not_a_member`, whatever token it holds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::orgs::{NewOrg, OrgEdit, OrgView};
use crate::accounts::{Error, FieldError};
use crate::contract::org::{MemberBody, MembershipBody, OrgBody};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path, Query, page_cursor, page_limit, page_of};
use crate::http::state::AppState;
use crate::model::org::{MemberCursor, Membership};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(list).post(create))
        .route("/orgs/{org}", get(read).patch(update).delete(remove))
        .route("/orgs/{org}/members", get(members))
        .route("/orgs/{org}/members/{account_id}", patch(set_role).delete(remove_member))
        .route("/auth/org", post(switch))
        .route("/admin/orgs", get(admin_list))
        .route("/admin/orgs/{org}", get(admin_read))
}

/// An organization with the caller's role and permissions there.
#[derive(Serialize, ToSchema)]
struct OrgStanding {
    org: OrgBody,
    /// `owner`, `admin`, `member` or one of the organization's own (`owner` for an admin who
    /// is not a member).
    role: String,
    permissions: Vec<String>,
    /// When the caller joined (absent for an admin who is not a member).
    #[serde(skip_serializing_if = "Option::is_none")]
    joined_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct OrgList {
    orgs: Vec<OrgStanding>,
}

impl From<Membership> for OrgStanding {
    fn from(membership: Membership) -> Self {
        let joined_at = Some(crate::contract::rfc3339(&membership.joined_at));
        Self { org: membership.org.into(), role: membership.role, permissions: membership.permissions, joined_at }
    }
}

impl From<OrgView> for OrgStanding {
    fn from(view: OrgView) -> Self {
        Self { org: view.org.into(), role: view.standing.role, permissions: view.standing.permissions, joined_at: None }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateOrg {
    /// 1 to 200 characters.
    name: String,
    /// Made from the name when absent.
    slug: Option<String>,
    #[schema(value_type = Option<Object>)]
    data: Option<Map<String, Value>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateOrg {
    name: Option<String>,
    slug: Option<String>,
    /// Replaces the data whole.
    #[schema(value_type = Option<Object>)]
    data: Option<Map<String, Value>>,
    /// Replaces the policy whole: `{"mfa_required"?: bool, "login_methods"?: ["password", "passkey", "email", "social"]}`.
    #[schema(value_type = Option<Object>)]
    policy: Option<Value>,
}

#[derive(Serialize, ToSchema)]
struct MemberPage {
    members: Vec<MemberBody>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MembersQuery {
    /// Members per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RoleInput {
    /// `owner`, `admin`, `member` or one of the organization's own roles.
    role: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SwitchOrg {
    /// The organization's id or slug; `null` leaves the session without one.
    org: Option<String>,
}

/// The session's new access token, in its new organization.
#[derive(Serialize, ToSchema)]
struct SwitchedBody {
    /// Carries the `org` claim (`{id, slug, role, permissions}`), or none.
    access_token: String,
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    expires_in: u64,
    /// The membership the session is now in; absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<MembershipBody>,
}

fn member_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| Error::NotFound.into())
}

#[utoipa::path(
    post, path = "/orgs", summary = "Create an organization", operation_id = "createOrg", tag = "organizations", security(("bearer" = [])),
    description = "The caller becomes its owner. The slug is made from the name when absent. `GATEHOUSE_ORG_CREATION=admins` keeps creation to admins.",
    request_body = CreateOrg,
    responses((status = 201, description = "Created", body = OrgBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::SlugTaken, code::ValidationFailed, code::Unavailable)>)
)]
async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    JsonBody(input): JsonBody<CreateOrg>,
) -> Result<Response, ApiError> {
    let new = NewOrg { name: input.name, slug: input.slug, data: input.data };
    let org = state.organizations.create_org(&caller, new, &client).await?;
    Ok((StatusCode::CREATED, Json(OrgBody::from(org))).into_response())
}

#[utoipa::path(
    get, path = "/orgs", summary = "Your organizations", operation_id = "listOrgs", tag = "organizations", security(("bearer" = [])),
    description = "Every organization the caller is a member of, the oldest membership first, with its role and permissions there.",
    responses((status = 200, description = "The caller's memberships", body = OrgList), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn list(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<OrgList>, ApiError> {
    let orgs = state.organizations.my_orgs(&caller).await?;
    Ok(Json(OrgList { orgs: orgs.into_iter().map(OrgStanding::from).collect() }))
}

#[utoipa::path(
    get, path = "/orgs/{org}", summary = "An organization", operation_id = "getOrg", tag = "organizations", security(("bearer" = [])),
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "The organization, with the caller's role and permissions", body = OrgStanding), Errors<(code::Unauthorized, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
) -> Result<Json<OrgStanding>, ApiError> {
    Ok(Json(state.accounts.org(&caller, &org).await?.into()))
}

#[utoipa::path(
    patch, path = "/orgs/{org}", summary = "Change an organization", operation_id = "updateOrg", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:update`. What is absent stays; `data` is replaced whole.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = UpdateOrg,
    responses((status = 200, description = "The organization as it is now", body = OrgBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::SlugTaken, code::ValidationFailed, code::Unavailable)>)
)]
async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<UpdateOrg>,
) -> Result<Json<OrgBody>, ApiError> {
    let edit = OrgEdit { name: input.name, slug: input.slug, data: input.data, policy: input.policy };
    Ok(Json(state.organizations.update_org(&caller, &org, edit, &client).await?.into()))
}

#[utoipa::path(
    delete, path = "/orgs/{org}", summary = "Delete an organization", operation_id = "deleteOrg", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:delete` (owners). Its memberships go with it.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 204, description = "Deleted"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.organizations.delete_org(&caller, &org, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/orgs/{org}/members", summary = "An organization's members", operation_id = "listOrgMembers", tag = "organizations", security(("bearer" = [])),
    description = "For members. In the order they joined; page with `cursor`.",
    params(("org" = String, Path, description = "The organization's id or slug"), MembersQuery),
    responses((status = 200, description = "A page of members", body = MemberPage), Errors<(code::MalformedRequest, code::Unauthorized, code::NotAMember, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn members(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
    Query(query): Query<MembersQuery>,
) -> Result<Json<MemberPage>, ApiError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let limit = page_limit(query.limit.as_deref(), &mut errors);
    let after = query.cursor.as_deref().map(MemberCursor::parse);
    if let Some(None) = after {
        errors.push(FieldError::new("cursor", "cursor is the next_cursor of a previous page"));
    }
    if !errors.is_empty() {
        return Err(ApiError::ValidationFailed(errors));
    }
    // One more than a page: whether it comes back says whether there is a next page.
    let members = state.organizations.org_members(&caller, &org, after.flatten(), limit + 1).await?;
    let (members, next_cursor) = page_of(members, limit, |last| MemberCursor::of(last).encode());
    Ok(Json(MemberPage { members: members.into_iter().map(MemberBody::from).collect(), next_cursor }))
}

#[utoipa::path(
    patch, path = "/orgs/{org}/members/{account_id}", summary = "Change a member's role", operation_id = "updateOrgMember", tag = "organizations", security(("bearer" = [])),
    description = "Needs `members:update`; an owner's role, and the owner role, only an owner gives. Never leaves the organization without an owner.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("account_id" = Uuid, Path, description = "The member's account id")),
    request_body = RoleInput,
    responses((status = 200, description = "The member as it is now", body = MemberBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::LastOwner, code::ValidationFailed, code::Unavailable)>)
)]
async fn set_role(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, account_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<RoleInput>,
) -> Result<Json<MemberBody>, ApiError> {
    let account_id = member_id(&account_id)?;
    let member = state.organizations.set_member_role(&caller, &org, account_id, &input.role, &client).await?;
    Ok(Json(member.into()))
}

#[utoipa::path(
    delete, path = "/orgs/{org}/members/{account_id}", summary = "Remove a member, or leave", operation_id = "removeOrgMember", tag = "organizations", security(("bearer" = [])),
    description = "Needs `members:remove`, or the member itself (leaving); an owner is removed only by an owner, and never the last one. The removed member's next request to the organization's routes gets `403 not_a_member`.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("account_id" = Uuid, Path, description = "The member's account id")),
    responses((status = 204, description = "Removed"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::LastOwner, code::Unavailable)>)
)]
async fn remove_member(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, account_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let account_id = member_id(&account_id)?;
    state.organizations.remove_member(&caller, &org, account_id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/auth/org", summary = "Switch the session's organization", operation_id = "switchOrg", tag = "organizations", security(("bearer" = [])),
    description = "Makes the organization the session's active one (`null`: none). Answers a new access token of the same session carrying the `org` claim, living no longer than the token presented; the refresh token stays, and refreshed tokens keep the organization. Only a member may enter one (an admin too), and only as its policy allows: `403 mfa_enrolment_required` or `reauthentication_required` when it requires a second factor the session has not proved, `403 login_method_not_allowed` when it does not take the way the session was started.",
    request_body = SwitchOrg,
    responses((status = 200, description = "A new access token", body = SwitchedBody), Errors<(code::MalformedRequest, code::Unauthorized, code::NotAMember, code::NotFound, code::MfaEnrolmentRequired, code::ReauthenticationRequired, code::LoginMethodNotAllowed, code::Unavailable)>)
)]
async fn switch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    JsonBody(input): JsonBody<SwitchOrg>,
) -> Result<Json<SwitchedBody>, ApiError> {
    let switched = state.authentication.switch_org(&caller, input.org.as_deref(), &client).await?;
    Ok(Json(SwitchedBody {
        access_token: switched.token.access_token,
        token_type: "Bearer",
        expires_in: switched.token.expires_in,
        org: switched.membership.map(MembershipBody::from),
    }))
}

#[derive(Serialize, ToSchema)]
struct OrgPage {
    orgs: Vec<OrgBody>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OrgsQuery {
    /// A case-insensitive substring of the name or the slug.
    q: Option<String>,
    /// Organizations per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// An organization as an admin looks it up.
#[derive(Serialize, ToSchema)]
struct AdminOrgBody {
    org: OrgBody,
    /// How many members it has.
    members: u64,
}

#[utoipa::path(
    get, path = "/admin/orgs", summary = "Every organization", operation_id = "adminListOrgs", tag = "admin", security(("bearer" = [])),
    description = "Newest first; `q` matches a case-insensitive substring of the name or slug. Page with `cursor`.",
    params(OrgsQuery),
    responses((status = 200, description = "A page of organizations", body = OrgPage), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ValidationFailed, code::Unavailable)>)
)]
async fn admin_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Query(query): Query<OrgsQuery>,
) -> Result<Json<OrgPage>, ApiError> {
    let admin = state.organizations.as_admin(&caller, &client).await?;
    let mut errors: Vec<FieldError> = Vec::new();
    let limit = page_limit(query.limit.as_deref(), &mut errors);
    let before = page_cursor(query.cursor.as_deref(), &mut errors);
    if query.q.as_ref().is_some_and(|q| q.chars().count() > 200 || q.contains('\0')) {
        errors.push(FieldError::new("q", "q has at most 200 characters, none of them NUL"));
    }
    if !errors.is_empty() {
        return Err(ApiError::ValidationFailed(errors));
    }
    let orgs = admin.orgs(query.q.as_deref(), before, limit + 1).await?;
    let (orgs, next_cursor) = page_of(orgs, limit, |last| last.id.to_string());
    Ok(Json(OrgPage { orgs: orgs.into_iter().map(OrgBody::from).collect(), next_cursor }))
}

#[utoipa::path(
    get, path = "/admin/orgs/{org}", summary = "An organization, for admins", operation_id = "adminGetOrg", tag = "admin", security(("bearer" = [])),
    description = "With its member count. An admin also acts on every organization's own routes (`/orgs/{org}…`) as its owner would.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "The organization", body = AdminOrgBody), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
async fn admin_read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
) -> Result<Json<AdminOrgBody>, ApiError> {
    let admin = state.organizations.as_admin(&caller, &client).await?;
    let found = admin.find_org(&org).await?;
    Ok(Json(AdminOrgBody { org: found.org.into(), members: found.members }))
}
