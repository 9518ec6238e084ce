//! An organization's email domains (`org:update`): `POST /orgs/{org}/domains` claims one and
//! answers the DNS TXT record that proves it; `POST …/{domain}/verify` asks DNS for it;
//! `PATCH …/{domain}` sets the role accounts there join with; `DELETE` gives it up.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::contract::org::DomainBody;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/domains", get(list).post(add))
        .route("/orgs/{org}/domains/{domain}", get(read).patch(update).delete(remove))
        .route("/orgs/{org}/domains/{domain}/verify", post(verify))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewDomain {
    /// A domain name like `example.com` (an international one is kept in its `xn--` form); not
    /// a public mail service's.
    domain: String,
    /// The role accounts whose verified address is in the domain join with once it is
    /// verified: `admin`, `member` or a custom role, never `owner`; none (the default): they
    /// do not join.
    #[serde(default)]
    auto_join_role: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DomainChange {
    /// The role to join with, or `null` to stop joining.
    auto_join_role: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct DomainList {
    domains: Vec<DomainBody>,
}

#[utoipa::path(
    get, path = "/orgs/{org}/domains", summary = "An organization's domains", operation_id = "listOrgDomains", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:update`.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "Its domains, by name", body = DomainList), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
) -> Result<Json<DomainList>, ApiError> {
    let domains = state.organizations.org_domains(&caller, &org).await?;
    Ok(Json(DomainList { domains: domains.into_iter().map(DomainBody::from).collect() }))
}

#[utoipa::path(
    post, path = "/orgs/{org}/domains", summary = "Claim a domain", operation_id = "addOrgDomain", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:update` (and, with `auto_join_role`, `members:invite` and every permission that role grants). Answers the TXT record to publish (`challenge`); then ask for `POST /orgs/{org}/domains/{domain}/verify`, which tells whether another organization holds it. Public mail services' domains are refused. At most 50 an organization.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = NewDomain,
    responses((status = 201, description = "Claimed, not yet verified", body = DomainBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::DomainExists, code::PublicMailDomain, code::ValidationFailed, code::Unavailable)>)
)]
async fn add(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<NewDomain>,
) -> Result<Response, ApiError> {
    let domain =
        state.organizations.add_org_domain(&caller, &org, &input.domain, input.auto_join_role, &client).await?;
    Ok((StatusCode::CREATED, Json(DomainBody::from(domain))).into_response())
}

#[utoipa::path(
    get, path = "/orgs/{org}/domains/{domain}", summary = "One of an organization's domains", operation_id = "getOrgDomain", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:update`.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("domain" = String, Path, description = "The domain")),
    responses((status = 200, description = "The domain", body = DomainBody), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((org, domain)): Path<(String, String)>,
) -> Result<Json<DomainBody>, ApiError> {
    Ok(Json(state.organizations.org_domain(&caller, &org, &domain).await?.into()))
}

#[utoipa::path(
    post, path = "/orgs/{org}/domains/{domain}/verify", summary = "Verify a domain", operation_id = "verifyOrgDomain", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:update`. Asks DNS (`GATEHOUSE_DNS_RESOLVER`, else the system's servers) for the TXT records at `_gatehouse-challenge.<domain>`; one holding the challenge's value verifies the domain for this organization alone. Already verified: answers it as it is. At most 30 checks an hour an organization (`429`).",
    params(("org" = String, Path, description = "The organization's id or slug"), ("domain" = String, Path, description = "The domain")),
    responses((status = 200, description = "Verified", body = DomainBody), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::DomainTaken, code::DomainNotVerified, code::RateLimited, code::DnsUnavailable, code::Unavailable)>)
)]
async fn verify(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, domain)): Path<(String, String)>,
) -> Result<Json<DomainBody>, ApiError> {
    Ok(Json(state.organizations.verify_org_domain(&caller, &org, &domain, &client).await?.into()))
}

#[utoipa::path(
    patch, path = "/orgs/{org}/domains/{domain}", summary = "Set a domain's auto-join role", operation_id = "updateOrgDomain", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:update`, `members:invite` and every permission the role grants (never `owner`). Accounts whose confirmed address is in the verified domain join with the role at their next login, once each: an account that leaves, or is removed, is not joined again. Each join judges the offer again: a setter removed or demoted since voids it. `null` stops it; members stay.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("domain" = String, Path, description = "The domain")),
    request_body = DomainChange,
    responses((status = 200, description = "The domain as it is now", body = DomainBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, domain)): Path<(String, String)>,
    JsonBody(input): JsonBody<DomainChange>,
) -> Result<Json<DomainBody>, ApiError> {
    let domain =
        state.organizations.set_domain_auto_join(&caller, &org, &domain, input.auto_join_role, &client).await?;
    Ok(Json(domain.into()))
}

#[utoipa::path(
    delete, path = "/orgs/{org}/domains/{domain}", summary = "Give up a domain", operation_id = "deleteOrgDomain", tag = "organizations", security(("bearer" = [])),
    description = "Needs `org:update`. Verified or not; accounts it joined stay members. Another organization may then claim and verify it.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("domain" = String, Path, description = "The domain")),
    responses((status = 204, description = "Given up"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, domain)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.organizations.remove_org_domain(&caller, &org, &domain, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
