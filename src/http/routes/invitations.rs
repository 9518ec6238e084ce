//! Invitations: an organization's (`POST|GET /orgs/{org}/invitations`,
//! `DELETE /orgs/{org}/invitations/{id}`, `members:invite`), the caller's own
//! (`GET /invitations`), accepting one (`POST /invitations/accept` with the emailed link's
//! token, or `POST /invitations/{id}/accept` from the caller's list), and the link's page
//! (`GET /invitations/accept?token=…`), which hands the token to the account page: there the
//! person logs in or signs up first, then accepts.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::Error;
use crate::accounts::invitations::InviteRequest;
use crate::contract::org::{InvitationBody, MembershipBody, MyInvitationBody};
use crate::http::browser::{account_page, go_to};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path, Query};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/invitations", get(org_list).post(invite))
        .route("/orgs/{org}/invitations/{id}", delete(revoke))
        .route("/invitations", get(mine))
        .route("/invitations/accept", get(page).post(accept))
        .route("/invitations/{id}/accept", post(accept_mine))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    /// `admin`, `member`, one of the organization's own roles, or (by an owner) `owner`; never
    /// one granting more of gatehouse's permissions than the inviter holds.
    role: String,
}

#[derive(Serialize, ToSchema)]
struct InvitationList {
    invitations: Vec<InvitationBody>,
}

#[derive(Serialize, ToSchema)]
struct MyInvitations {
    invitations: Vec<MyInvitationBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AcceptBody {
    /// The `token` of the emailed link.
    #[schema(value_type = String)]
    token: SecretString,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    /// The emailed link's token.
    token: Option<String>,
}

fn invitation_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| Error::NotFoundInvitation.into())
}

#[utoipa::path(
    post, path = "/orgs/{org}/invitations", summary = "Invite an address", operation_id = "createInvitation", tag = "organizations", security(("bearer" = [])),
    description = "Needs `members:invite`. Emails the address a link to `GET /invitations/accept?token=…`, valid `GATEHOUSE_INVITATION_TTL` (7 days). A new invitation of the same address replaces the pending one. Only an account whose verified address is this one can accept. Each organization may send `GATEHOUSE_INVITATION_BUDGET` invitations (100 an hour).",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = InviteBody,
    responses((status = 201, description = "Invited", body = InvitationBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::AlreadyMember, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<InviteBody>,
) -> Result<Response, ApiError> {
    let request = InviteRequest { email: input.email, role: input.role };
    let invitation = state.organizations.invite(&caller, &org, request, &client).await?;
    Ok((StatusCode::CREATED, Json(InvitationBody::from(invitation))).into_response())
}

#[utoipa::path(
    get, path = "/orgs/{org}/invitations", summary = "An organization's pending invitations", operation_id = "listOrgInvitations", tag = "organizations", security(("bearer" = [])),
    description = "Needs `members:invite`. Those not yet accepted, revoked or expired, newest first.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "The pending invitations", body = InvitationList), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn org_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
) -> Result<Json<InvitationList>, ApiError> {
    let invitations = state.organizations.org_invitations(&caller, &org).await?;
    Ok(Json(InvitationList { invitations: invitations.into_iter().map(InvitationBody::from).collect() }))
}

#[utoipa::path(
    delete, path = "/orgs/{org}/invitations/{id}", summary = "Revoke an invitation", operation_id = "revokeInvitation", tag = "organizations", security(("bearer" = [])),
    description = "Needs `members:invite`. Its link stops working at once.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("id" = Uuid, Path, description = "The invitation's id")),
    responses((status = 204, description = "Revoked"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.organizations.revoke_invitation(&caller, &org, invitation_id(&id)?, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/invitations", summary = "Your invitations", operation_id = "listMyInvitations", tag = "organizations", security(("bearer" = [])),
    description = "The pending invitations to the caller's address; none until the address is confirmed.",
    responses((status = 200, description = "Invitations to the caller", body = MyInvitations), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn mine(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<MyInvitations>, ApiError> {
    let invitations = state.organizations.my_invitations(&caller).await?;
    Ok(Json(MyInvitations { invitations: invitations.into_iter().map(MyInvitationBody::from).collect() }))
}

#[utoipa::path(
    post, path = "/invitations/accept", summary = "Accept an invitation", operation_id = "acceptInvitation", tag = "organizations", security(("bearer" = [])),
    description = "With the emailed link's `token`. Only when the caller's confirmed address is the invited one (else `403 invitation_email_mismatch`, whoever holds the link); once; `410 invitation_expired` after its time.",
    request_body = AcceptBody,
    responses((status = 200, description = "The membership", body = MembershipBody), Errors<(code::MalformedRequest, code::Unauthorized, code::InvitationEmailMismatch, code::NotFound, code::InvitationExpired, code::MemberLimitReached, code::Unavailable)>)
)]
async fn accept(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    JsonBody(input): JsonBody<AcceptBody>,
) -> Result<Json<MembershipBody>, ApiError> {
    let membership = state.organizations.accept_invitation(&caller, input.token.expose_secret(), &client).await?;
    Ok(Json(membership.into()))
}

#[utoipa::path(
    post, path = "/invitations/{id}/accept", summary = "Accept one of your invitations", operation_id = "acceptMyInvitation", tag = "organizations", security(("bearer" = [])),
    description = "An invitation of `GET /invitations`, by its id: the same checks as with the link's token.",
    params(("id" = Uuid, Path, description = "The invitation's id")),
    responses((status = 200, description = "The membership", body = MembershipBody), Errors<(code::Unauthorized, code::InvitationEmailMismatch, code::NotFound, code::InvitationExpired, code::MemberLimitReached, code::Unavailable)>)
)]
async fn accept_mine(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<MembershipBody>, ApiError> {
    let membership = state.organizations.accept_invitation_by_id(&caller, invitation_id(&id)?, &client).await?;
    Ok(Json(membership.into()))
}

#[utoipa::path(
    get, path = "/invitations/accept", summary = "The invitation link's page", operation_id = "invitationPage", tag = "organizations",
    description = "Where the emailed link leads: a `303` to the account page, which offers to log in or sign up with the invited address and then accepts. Spends nothing.",
    params(PageQuery),
    responses((status = 303, description = "To the account page"), Errors<(code::MalformedRequest,)>)
)]
async fn page(State(state): State<AppState>, Query(query): Query<PageQuery>) -> Response {
    let public = &state.authentication.settings().public_url;
    match query.token.filter(|t| crate::tokens::opaque::plausible(t)) {
        Some(token) => go_to(account_page(public, "invitation", &token).as_str()),
        None => go_to(account_page(public, "invitation", "").as_str()),
    }
}
