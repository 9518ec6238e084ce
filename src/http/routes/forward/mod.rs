//! `GET /auth/forward`: the question a reverse proxy asks before it passes a request to an app
//! (nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`). Who is asking comes from
//! a bearer token (the same check as `GET /protected`) or the browser-session cookie; which
//! request is meant, from the proxy's `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri` (or
//! nginx's `X-Original-URL`). Only a peer in `GATEHOUSE_TRUSTED_PROXIES` may ask (anyone else
//! gets `403`), and rules cannot be set without it (the start is refused).
//!
//! `200` lets the request through, with `Remote-User`, `Remote-Email`, `Remote-Name`,
//! `Remote-Groups` and, for a member, `Remote-Org` and `Remote-Org-Role`, for the proxy to pass
//! on (in place of any the client sent). A forwarded
//! request that could reach the app as another URL than the one judged is refused (`403`): an
//! `X-Original-URL` that disagrees with `X-Forwarded-*`, a host that is not a host, a fragment,
//! or a path whose meaning depends on who reads it (see [`request`]), or a header given twice.
//! Rule paths match in any letter case; hosts in their one canonical form (any case, with or
//! without their trailing dot, Unicode or IDNA, on any port unless the rule names one; a port no
//! rule of the host names, where a rule naming another port would match, is refused). Without a login,
//! an API client gets `401`, and a browser is sent to `/login` with the request's URL to come back
//! to (`302`; with `?redirect=401`, a `401` carrying that `Location`, for nginx, whose
//! `auth_request` passes only 2xx, 401 and 403 on). Logged in without the group a rule asks for:
//! `403`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use self::request::{Forwarded, Target, forwarded};
use crate::accounts::access;
use crate::accounts::authenticator::{ClientCaller, Door, Principal};
use crate::accounts::{Caller, Error, Via};
use crate::config::RemoteUser;
use crate::config::forward::{Access, UnnamedPort};
use crate::http::browser::{browser_caller, checked_next};
use crate::http::dpop::{self, Presented};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Query, wants_html};
use crate::http::state::AppState;
use crate::model::account::Account;
use crate::model::api_key::ApiKey;
use crate::model::org::Membership;

mod metadata;
mod request;

pub use self::metadata::__path_protected_resource;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/forward", any(forward))
        .route(metadata::WELL_KNOWN, get(metadata::protected_resource))
        .route(&format!("{}/{{*path}}", metadata::WELL_KNOWN), get(metadata::protected_resource))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ForwardQuery {
    /// `401`: answer a browser without a login `401` with the login page in `Location` (nginx).
    redirect: Option<String>,
}

#[utoipa::path(
    get, path = "/auth/forward", summary = "Forward-auth check for reverse proxies", operation_id = "forwardAuth", tag = "forward-auth",
    description = "Asked by nginx `auth_request`, Caddy `forward_auth` or Traefik `ForwardAuth` before a request reaches an app (any method). Reads a bearer token or the `gatehouse_session` cookie, and the forwarded request from `X-Forwarded-Method`/`-Proto`/`-Host`/`-Uri` or `X-Original-URL` (only from `GATEHOUSE_TRUSTED_PROXIES`); `GATEHOUSE_FORWARD_RULES` says what each host and path requires. At a protected resource's rule, a client's token bound to a key (DPoP) comes as `Authorization: DPoP` with the client's `DPoP` proof for the forwarded request, and is answered with `Remote-Dpop-Jkt`.",
    params(ForwardQuery),
    responses(
        (status = 200, description = "Let through; `Remote-User` (the account id; with `GATEHOUSE_FORWARD_REMOTE_USER=username` the username, else the id), `Remote-Email`, `Remote-Name`, `Remote-Groups` (the role and `app_data.roles`, comma-separated) name the account; `Remote-Org` (its slug), `Remote-Org-Id` and `Remote-Org-Role` the organization of an `org:` rule, or else the session's active one (read at this request: a removed member has none). Key tenant data on `Remote-Org-Id`: a slug can be given up and taken by another organization. A `public` rule answers 200 without them. At a `resource` rule, a client's access token for the resource passes with `Remote-User` (the person, or the client for client credentials), `Remote-Client` and `Remote-Scopes` (and `Remote-Dpop-Jkt`, the key a DPoP-bound token was proven with); refusals there carry RFC 9728's `WWW-Authenticate` challenge (`resource_metadata`, `scope`, and `invalid_token` or a 403's `insufficient_scope`).",
            headers(("Remote-User" = String), ("Remote-Email" = String), ("Remote-Name" = String), ("Remote-Groups" = String), ("Remote-Org" = String), ("Remote-Org-Id" = String), ("Remote-Org-Role" = String), ("Remote-Key" = String), ("Remote-Scopes" = String), ("Remote-Client" = String), ("Remote-Dpop-Jkt" = String), ("Remote-Actor" = String))),
        (status = 302, description = "A browser without a login: to `/login?next=<the request's URL>` (the URL must be under `GATEHOUSE_REDIRECT_ALLOW`)"),
        Errors<(code::Unauthorized, code::Forbidden, code::Unavailable)>
    )
)]
async fn forward(State(state): State<AppState>, parts: Parts, Query(query): Query<ForwardQuery>) -> Response {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    // Only a proxy may ask: from anyone else the forwarded headers, and so the rules, would be
    // the asker's to choose.
    if !peer.is_some_and(|ip| state.edge.proxies.trusts(ip)) {
        tracing::warn!(peer = ?peer, "a forward-auth check from a peer not in GATEHOUSE_TRUSTED_PROXIES was refused");
        return ApiError::Forbidden.into_response();
    }
    let target = match forwarded(&parts.headers) {
        Forwarded::Absent => None,
        Forwarded::Request(target) => Some(target),
        Forwarded::Suspicious(why) => {
            tracing::warn!(why, "a forwarded request was refused");
            return ApiError::Forbidden.into_response();
        }
    };
    let access = match &target {
        Some(target) => match state.edge.forward_rules.access(&target.authority, target.url.path()) {
            Ok(access) => access.clone(),
            Err(UnnamedPort) => {
                tracing::warn!(authority = %target.authority, "a forwarded request on a port no rule of its host names was refused");
                return ApiError::Forbidden.into_response();
            }
        },
        None => Access::Authenticated,
    };
    if access == Access::Public {
        return StatusCode::OK.into_response();
    }
    let sent = dpop::presented(&parts);
    let with_dpop = matches!(sent, Some(Ok(Presented { dpop: true, .. })));
    // A resource that takes only DPoP-bound tokens takes no browser session, and sends nobody
    // to log in.
    let dpop_only = matches!(&access, Access::Resource { resource, .. } if state.oauth.dpop_required(resource));
    let caller = match sent {
        Some(Ok(sent)) => {
            let principal = match (&access, &target) {
                (Access::Resource { resource, .. }, Some(target)) => {
                    let possession = sent.possession(&target.method, target.url.as_str());
                    state.oauth.resource_principal(resource, sent.token, possession).await
                }
                // Only a client's token for a resource is ever bound to a key.
                _ if sent.dpop => Err(Error::Unauthorized),
                _ => state.authentication.principal(Door::Forward, sent.token).await,
            };
            match principal {
                Ok(Principal::Organization { key }) => return org_key_answer(&state, &key, &access).await,
                Ok(Principal::Client(client)) => return client_answer(&state, &client, &access).await,
                Ok(Principal::Person(caller)) => Some(*caller),
                Ok(Principal::Directory(_)) | Err(Error::Unauthorized | Error::ApiKeyForbidden) => None,
                Err(other) => return ApiError::from(other).into_response(),
            }
        }
        Some(Err(())) => None,
        None if dpop_only => None,
        None => match browser_caller(&state, &parts.headers).await {
            Ok(caller) => caller,
            Err(error) => return error.into_response(),
        },
    };
    let Some(caller) = caller else {
        let back = target.as_ref().filter(|_| !dpop_only);
        let mut answer = not_logged_in(&state, &parts.headers, back, sent.is_some(), query.redirect.as_deref());
        if let (Access::Resource { resource, scope }, StatusCode::UNAUTHORIZED) = (&access, answer.status()) {
            let error = sent.is_some().then_some("invalid_token");
            challenge(&state, &mut answer, resource, scope.as_deref(), error);
            if with_dpop || dpop_only {
                dpop::challenge(&mut answer, error);
            }
        }
        return answer;
    };
    let membership = match org_of(&state, &caller, &access).await {
        Ok(membership) => membership,
        Err(error) => return error.into_response(),
    };
    if matches!(access, Access::Org { .. }) && membership.is_none() {
        return ApiError::Forbidden.into_response();
    }
    let actor = caller.impersonator();
    let key = match &caller.via {
        Via::Key(key) => Some((key.id, key.scopes.clone())),
        Via::Session(_) => None,
    };
    match account_of(&state, caller, &access).await {
        Ok(account) if allowed(&account, &access) => {
            let mut response = remote_headers(&account, membership.as_ref(), state.edge.remote_user);
            if let Some((id, scopes)) = &key {
                key_headers(&mut response, *id, scopes);
            }
            // An admin acting as the account: the app may show it, or refuse.
            if let Some(actor) = actor {
                set_headers(&mut response, vec![("remote-actor", actor.to_string())]);
            }
            response
        }
        Ok(_) => ApiError::Forbidden.into_response(),
        Err(error) => error.into_response(),
    }
}

/// The membership the answer names, read now: for an `org:` rule the rule's organization's
/// (`None` when the caller is not a member, or lacks the role, permission or group the rule
/// asks for; a group's name in any case, as SCIM compares them); else the session's active organization's, if it has one and the caller is still in it.
async fn org_of(state: &AppState, caller: &Caller, access: &Access) -> Result<Option<Membership>, ApiError> {
    match access {
        Access::Org { slug, need } => {
            let membership = state.organizations.membership_of(caller.account_id, slug, caller.proved()).await?;
            Ok(membership.filter(|m| access::meets(m, need.as_deref())))
        }
        _ => Ok(state.organizations.active_membership(caller).await?),
    }
}

/// The caller's account: as read with the session, or its copy, when it only names who passes;
/// as the database has it when a group decides.
async fn account_of(state: &AppState, caller: Caller, access: &Access) -> Result<Account, ApiError> {
    Ok(match access {
        Access::Group(_) | Access::Org { .. } => state.authentication.me(&caller).await?,
        _ => state.authentication.into_me(caller).await?,
    })
}

/// Warns, at start, of each rule's `group:NAME` that is also a role's name: accounts of that
/// role have it, and so do accounts whose `app_data.roles` lists the name.
pub fn warn_of_role_groups(rules: &crate::config::forward::ForwardRules) {
    for group in access::role_named(rules.groups()) {
        tracing::warn!(
            group,
            "a forward-auth rule asks for group:{group}, which accounts whose role is {group} have, and also \
             accounts whose app_data.roles lists \"{group}\": keep role names out of app_data.roles, or name \
             the group another way"
        );
    }
}

fn allowed(account: &Account, access: &Access) -> bool {
    match access {
        Access::Group(group) => access::in_group(account, group),
        Access::Public | Access::Authenticated | Access::Org { .. } | Access::Resource { .. } => true,
    }
}

/// The answer for a client app's token at a protected resource's rule: `403` with RFC 6750's
/// `insufficient_scope` challenge when the rule asks for a scope the token lacks (the client
/// asks the person again, for more); else let through with `Remote-User` (the person, as
/// `Remote-User` names people; the client itself for client credentials), `Remote-Client`,
/// `Remote-Scopes` and, when the person granted one, the organization's headers.
async fn client_answer(state: &AppState, client: &ClientCaller, access: &Access) -> Response {
    let Access::Resource { resource, scope } = access else { return ApiError::Forbidden.into_response() };
    if let Some(needed) = scope.as_deref().filter(|needed| !client.scopes.iter().any(|s| s == needed)) {
        let mut answer = ApiError::Forbidden.into_response();
        challenge(state, &mut answer, resource, Some(needed), Some("insufficient_scope"));
        return answer;
    }
    let user = match (client.account_id, state.edge.remote_user) {
        (Some(id), RemoteUser::Username) => match state.authentication.stored_account(id).await {
            Ok(account) => account.username.unwrap_or_else(|| id.to_string()),
            Err(error) => return ApiError::from(error).into_response(),
        },
        (Some(id), RemoteUser::Id) => id.to_string(),
        (None, _) => client.client_id.clone(),
    };
    let mut values = vec![
        ("remote-user", user),
        ("remote-client", client.client_id.clone()),
        ("remote-scopes", client.scopes.join(",")),
    ];
    // The key the token is bound to, proven with this request: an app that checks proofs
    // itself (for a method or path the proxy does not see) knows which key to expect.
    if let Some(jkt) = &client.dpop_jkt {
        values.push(("remote-dpop-jkt", jkt.clone()));
    }
    if let Some(org) = &client.org {
        values.push(("remote-org", org.slug.clone()));
        values.push(("remote-org-role", org.role.clone()));
        values.push(("remote-org-id", org.id.to_string()));
    }
    let mut response = StatusCode::OK.into_response();
    set_headers(&mut response, values);
    response
}

/// RFC 9728's challenge on a refusal at a protected resource: where its metadata is (which
/// names gatehouse as its authorization server), the scope to ask for, and why a token sent
/// was refused (`invalid_token`, `insufficient_scope`).
fn challenge(state: &AppState, answer: &mut Response, resource: &str, scope: Option<&str>, error: Option<&str>) {
    let Some(resource) = state.authentication.policy().resources.iter().find(|r| r.url() == resource) else { return };
    let mut parts = Vec::new();
    if let Some(error) = error {
        parts.push(format!("error=\"{error}\""));
    }
    let scopes = match scope {
        Some(scope) => scope.to_owned(),
        None => resource.scopes().join(" "),
    };
    if !scopes.is_empty() {
        parts.push(format!("scope=\"{scopes}\""));
    }
    parts.push(format!("resource_metadata=\"{}\"", resource.metadata_url()));
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", parts.join(", "))) {
        answer.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
}

/// The answer for an organization's API key, which acts as the organization: let through
/// where a login is enough and at an `org:` rule of its own organization that asks for no
/// role, permission or group (a key holds none), with `Remote-User` the key's id (its `sub`),
/// the organization's headers, `Remote-Key` and `Remote-Scopes`.
async fn org_key_answer(state: &AppState, key: &ApiKey, access: &Access) -> Response {
    let org = match state.authentication.org_of_key(key).await {
        Ok(Some(org)) => org,
        Ok(None) => return ApiError::Forbidden.into_response(),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let allowed = match access {
        Access::Public | Access::Authenticated | Access::Resource { .. } => true,
        Access::Org { slug, need: None } => *slug == org.slug,
        Access::Org { .. } | Access::Group(_) => false,
    };
    if !allowed {
        return ApiError::Forbidden.into_response();
    }
    let mut response = StatusCode::OK.into_response();
    set_headers(
        &mut response,
        vec![
            ("remote-user", key.id.to_string()),
            ("remote-org", org.slug.clone()),
            ("remote-org-id", org.id.to_string()),
        ],
    );
    key_headers(&mut response, key.id, &key.scopes);
    response
}

/// `Remote-Key` (the key's id) and `Remote-Scopes` (its scopes, comma-separated).
fn key_headers(response: &mut Response, id: Uuid, scopes: &[String]) {
    set_headers(response, vec![("remote-key", id.to_string()), ("remote-scopes", scopes.join(","))]);
}

fn set_headers(response: &mut Response, values: Vec<(&'static str, String)>) {
    let headers = response.headers_mut();
    for (name, value) in values {
        let clean: String = value.chars().filter(|c| !c.is_control()).collect();
        if let Ok(value) = HeaderValue::from_bytes(clean.as_bytes()) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// The `Remote-*` headers naming the account. `Remote-User` is what apps key on, so it is a name
/// that never passes to another person: the account's id, or (when the operator chose it) its
/// username, which is never given to another account once given. With a membership,
/// `Remote-Org` (its slug), `Remote-Org-Id` and `Remote-Org-Role`; without, none (never the
/// client's own).
fn remote_headers(account: &Account, membership: Option<&Membership>, remote_user: RemoteUser) -> Response {
    let mut response = StatusCode::OK.into_response();
    let user = match (remote_user, &account.username) {
        (RemoteUser::Username, Some(username)) => username.clone(),
        _ => account.id.to_string(),
    };
    let mut values = vec![
        ("remote-user", user),
        ("remote-email", account.email.clone()),
        ("remote-name", account.name.clone().unwrap_or_default()),
        ("remote-groups", access::groups(account).join(",")),
    ];
    if let Some(membership) = membership {
        values.push(("remote-org", membership.org.slug.clone()));
        values.push(("remote-org-role", membership.role.clone()));
        values.push(("remote-org-id", membership.org.id.to_string()));
    }
    set_headers(&mut response, values);
    response
}

/// No login: `401` for an API client (it sent a token, does not ask for HTML, or the request
/// is not a page load); for a browser, the login page with the way back.
fn not_logged_in(
    state: &AppState,
    headers: &HeaderMap,
    target: Option<&Target>,
    token_sent: bool,
    redirect: Option<&str>,
) -> Response {
    let unauthorized = ApiError::Unauthorized { token_sent }.into_response();
    let page_load = target.is_none_or(|t| matches!(t.method.as_str(), "GET" | "HEAD"));
    if token_sent || !wants_html(headers) || !page_load {
        return unauthorized;
    }
    let Some(back) = target.and_then(|t| checked_next(state, Some(t.url.as_str()))) else {
        return unauthorized;
    };
    let mut login = Url::parse(&format!("{}/login", state.authentication.settings().public_url_issuer()))
        .unwrap_or_else(|_| state.authentication.settings().public_url.clone());
    login.query_pairs_mut().append_pair("next", &back);
    let Ok(location) = HeaderValue::from_str(login.as_str()) else { return unauthorized };
    let status = if redirect == Some("401") { StatusCode::UNAUTHORIZED } else { StatusCode::FOUND };
    let mut response = unauthorized;
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, location);
    response
}
