//! `GET /.well-known/oauth-protected-resource[/PATH]` (RFC 9728): a protected resource's
//! metadata, answered for the resource itself. The proxy in front of a resource of
//! `GATEHOUSE_RESOURCES` routes this address of the resource's host to gatehouse; which
//! resource is meant is the host the proxy forwards (`X-Forwarded-Host`, `-Proto`, or
//! `X-Original-URL`), believed only from `GATEHOUSE_TRUSTED_PROXIES`, and the path after the
//! well-known name (RFC 9728's path-inserted form). Anything else is `404`: gatehouse describes
//! only the resources its operator named, and only to their proxies.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::request::{Forwarded, forwarded};
use crate::http::error::{ApiError, Errors, code};
use crate::http::state::AppState;
use crate::model::resource::canonical;

/// The well-known name, before the resource's path.
pub(super) const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// RFC 9728 protected resource metadata.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct ResourceMetadata {
    /// The resource's URL, in its canonical form: what tokens for it carry as `aud`.
    #[schema(example = "https://mcp.example.com/")]
    resource: String,
    /// gatehouse's issuer: where a client gets a token for the resource.
    authorization_servers: Vec<String>,
    /// The resource's scopes (`GATEHOUSE_RESOURCES`).
    scopes_supported: Vec<String>,
    /// Tokens go in the `Authorization` header.
    bearer_methods_supported: Vec<&'static str>,
    /// What a DPoP proof to it may be signed with (RFC 9449).
    dpop_signing_alg_values_supported: &'static [&'static str],
    /// `GATEHOUSE_DPOP_RESOURCES`: it takes only DPoP-bound tokens.
    dpop_bound_access_tokens_required: bool,
}

#[utoipa::path(
    get, path = "/.well-known/oauth-protected-resource", summary = "Protected resource metadata (RFC 9728)",
    operation_id = "getProtectedResourceMetadata", tag = "forward-auth",
    description = "Asked through the proxy in front of a protected resource (`GATEHOUSE_RESOURCES`), at the resource's \
        host: which authorization server issues its tokens and which scopes it has. The resource is the forwarded host \
        (from `GATEHOUSE_TRUSTED_PROXIES` only) and the path after the well-known name \
        (`/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`). Any other request is `404`.",
    responses(
        (status = 200, description = "The resource's metadata", body = ResourceMetadata),
        Errors<(code::NotFound,)>
    )
)]
pub(super) async fn protected_resource(State(state): State<AppState>, parts: Parts) -> Response {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let unknown = || ApiError::NotFound("protected resource").into_response();
    if !peer.is_some_and(|ip| state.edge.proxies.trusts(ip)) {
        return unknown();
    }
    let Forwarded::Request(target) = forwarded(&parts.headers) else { return unknown() };
    let Some(path) = parts.uri.path().strip_prefix(WELL_KNOWN) else { return unknown() };
    let scheme = target.url.scheme();
    let Ok(url) = canonical(&format!("{scheme}://{}{path}", target.authority.for_url(scheme))) else {
        return unknown();
    };
    let policy = state.authentication.policy();
    let Some(resource) = policy.resources.iter().find(|resource| resource.url() == url) else { return unknown() };
    let metadata = ResourceMetadata {
        resource: resource.url().to_owned(),
        authorization_servers: vec![state.authentication.keys().issuer().to_owned()],
        scopes_supported: resource.scopes().to_vec(),
        bearer_methods_supported: vec!["header"],
        dpop_signing_alg_values_supported: &crate::tokens::dpop::ALGORITHMS,
        dpop_bound_access_tokens_required: resource.dpop_required(),
    };
    let mut response = Json(metadata).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}
