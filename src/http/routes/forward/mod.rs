//! `GET /auth/forward`: the question a reverse proxy asks before it passes a request to an app
//! (nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`). Who is asking comes from
//! a bearer token (the same check as `GET /protected`) or the browser-session cookie; which
//! request is meant, from the proxy's `X-Forwarded-Method`, `-Proto`, `-Host` and `-Uri` (or
//! nginx's `X-Original-URL`), believed only from `GATEHOUSE_TRUSTED_PROXIES`.
//!
//! `200` lets the request through, with `Remote-User`, `Remote-Email`, `Remote-Name` and
//! `Remote-Groups` for the proxy to pass on (in place of any the client sent). A forwarded
//! request that could reach the app as another URL than the one judged is refused (`403`): an
//! `X-Original-URL` that disagrees with `X-Forwarded-*`, a host that is not a host, a fragment,
//! or a path that percent-encodes a letter, digit, `-._~`, slash or backslash. Rule paths match
//! in any letter case. Without a login,
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
use axum::routing::any;
use serde::Deserialize;
use url::Url;

use crate::accounts::domain::Account;
use crate::accounts::{Caller, Error};
use crate::config::forward::Access;
use crate::http::client_ip::is_trusted;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Query, bearer, wants_html};
use crate::http::routes::login::{browser_caller, checked_next};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/forward", any(forward))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct ForwardQuery {
    /// `401`: answer a browser without a login `401` with the login page in `Location` (nginx).
    redirect: Option<String>,
}

/// The request the proxy asks about.
struct Target {
    method: String,
    url: Url,
}

/// What a trusted proxy's headers say of the request: nothing, the request, or something that
/// cannot be the request a proxy forwards (the app might see another URL than the one judged).
enum Forwarded {
    Absent,
    Request(Target),
    Suspicious(&'static str),
}

/// Whether `host` is a host with an optional port and nothing else.
fn plain_host(host: &str) -> bool {
    !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

/// Whether a path percent-encodes a character no client needs to (a letter, a digit, `-._~`)
/// or a separator (`/`, `\`): the rules compare the path as written, and an app that decodes
/// it first would route `/%61dmin` or `/public/..%2fadmin` where no rule looked.
fn hides_characters(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.iter().enumerate().filter(|(_, b)| **b == b'%').any(|(at, _)| {
        let hex = path.get(at + 1..at + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
        hex.is_none_or(|c| c.is_ascii_alphanumeric() || b"-._~/\\".contains(&c))
    })
}

/// The forwarded request, from a trusted proxy's headers.
fn forwarded(headers: &HeaderMap) -> Forwarded {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let method = get("x-forwarded-method").or(get("x-original-method")).unwrap_or("GET").to_ascii_uppercase();
    let from_parts = match get("x-forwarded-host") {
        None => None,
        Some(host) if !plain_host(host) => return Forwarded::Suspicious("the forwarded host is not a host"),
        Some(host) => {
            let proto = get("x-forwarded-proto").unwrap_or("https");
            let uri = get("x-forwarded-uri").unwrap_or("/");
            if !matches!(proto, "http" | "https") || !uri.starts_with('/') {
                return Forwarded::Suspicious("the forwarded scheme or path is not one");
            }
            Some(format!("{proto}://{host}{uri}"))
        }
    };
    let original = get("x-original-url").map(str::to_owned);
    let text = match (from_parts, original) {
        (None, None) => return Forwarded::Absent,
        (Some(parts), Some(original)) if parts != original => {
            return Forwarded::Suspicious("X-Original-URL and X-Forwarded-* name different requests");
        }
        (Some(url), _) | (None, Some(url)) => url,
    };
    if text.contains('#') {
        return Forwarded::Suspicious("the forwarded URL holds a fragment");
    }
    // The authority as written, up to the path: a `?` or `@` there would move the real path
    // into a query or the host into credentials.
    let authority = text.split_once("://").map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
    if !plain_host(authority) {
        return Forwarded::Suspicious("the forwarded host is not a host");
    }
    let Ok(url) = Url::parse(&text) else { return Forwarded::Suspicious("the forwarded URL does not parse") };
    if hides_characters(url.path()) || !url.host_str().is_some_and(plain_host) {
        return Forwarded::Suspicious(
            "the forwarded path escapes a letter, digit or separator, or the host is not one",
        );
    }
    Forwarded::Request(Target { method, url })
}

/// `host[:port]` as the forward rules name it.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

#[utoipa::path(
    get, path = "/auth/forward", summary = "Forward-auth check for reverse proxies", operation_id = "forwardAuth", tag = "forward-auth",
    description = "Asked by nginx `auth_request`, Caddy `forward_auth` or Traefik `ForwardAuth` before a request reaches an app (any method). Reads a bearer token or the `gatehouse_session` cookie, and the forwarded request from `X-Forwarded-Method`/`-Proto`/`-Host`/`-Uri` or `X-Original-URL` (only from `GATEHOUSE_TRUSTED_PROXIES`); `GATEHOUSE_FORWARD_RULES` says what each host and path requires.",
    params(ForwardQuery),
    responses(
        (status = 200, description = "Let through; `Remote-User` (username, else email), `Remote-Email`, `Remote-Name`, `Remote-Groups` (the role and `app_data.roles`, comma-separated) name the account. A `public` rule answers 200 without them.",
            headers(("Remote-User" = String), ("Remote-Email" = String), ("Remote-Name" = String), ("Remote-Groups" = String))),
        (status = 302, description = "A browser without a login: to `/login?next=<the request's URL>` (the URL must be under `GATEHOUSE_REDIRECT_ALLOW`)"),
        Errors<(code::Unauthorized, code::Forbidden, code::Unavailable)>
    )
)]
async fn forward(State(state): State<AppState>, parts: Parts, Query(query): Query<ForwardQuery>) -> Response {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let trusted = peer.is_some_and(|ip| is_trusted(ip, &state.edge.trusted_proxies));
    let target = match trusted.then(|| forwarded(&parts.headers)) {
        None | Some(Forwarded::Absent) => None,
        Some(Forwarded::Request(target)) => Some(target),
        Some(Forwarded::Suspicious(why)) => {
            tracing::warn!(why, "a forwarded request was refused");
            return ApiError::Forbidden.into_response();
        }
    };
    let access = match &target {
        Some(target) => state.edge.forward_rules.access(&authority(&target.url), target.url.path()).clone(),
        None => Access::Authenticated,
    };
    if access == Access::Public {
        return StatusCode::OK.into_response();
    }
    let sent = bearer(&parts);
    let caller = match sent {
        Some(Ok(token)) => match state.accounts.authenticate(token).await {
            Ok(caller) => Some(caller),
            Err(Error::Unauthorized) => None,
            Err(other) => return ApiError::from(other).into_response(),
        },
        Some(Err(())) => None,
        None => match browser_caller(&state, &parts.headers).await {
            Ok(caller) => caller,
            Err(error) => return error.into_response(),
        },
    };
    let Some(caller) = caller else {
        return not_logged_in(&state, &parts.headers, target.as_ref(), sent.is_some(), query.redirect.as_deref());
    };
    match account_of(&state, caller, &access).await {
        Ok(account) if allowed(&account, &access) => remote_headers(&account),
        Ok(_) => ApiError::Forbidden.into_response(),
        Err(error) => error.into_response(),
    }
}

/// The caller's account: as read with the session, or its copy, when it only names who passes;
/// as the database has it when a group decides.
async fn account_of(state: &AppState, caller: Caller, access: &Access) -> Result<Account, ApiError> {
    Ok(match access {
        Access::Group(_) => state.accounts.me(&caller).await?,
        _ => state.accounts.into_me(caller).await?,
    })
}

/// The account's groups: its role, then the strings of `app_data.roles`.
fn groups(account: &Account) -> Vec<String> {
    let mut groups = vec![account.role.as_str().to_owned()];
    if let Some(serde_json::Value::Array(roles)) = account.app_data.get("roles") {
        groups.extend(roles.iter().filter_map(|r| r.as_str()).filter(|r| !r.contains(',')).map(str::to_owned));
    }
    groups
}

fn allowed(account: &Account, access: &Access) -> bool {
    match access {
        Access::Group(group) => groups(account).iter().any(|g| g == group),
        Access::Public | Access::Authenticated => true,
    }
}

fn remote_headers(account: &Account) -> Response {
    let mut response = StatusCode::OK.into_response();
    let headers = response.headers_mut();
    let values = [
        ("remote-user", account.display_name().to_owned()),
        ("remote-email", account.email.clone()),
        ("remote-name", account.name.clone().unwrap_or_default()),
        ("remote-groups", groups(account).join(",")),
    ];
    for (name, value) in values {
        let clean: String = value.chars().filter(|c| !c.is_control()).collect();
        if let Ok(value) = HeaderValue::from_bytes(clean.as_bytes()) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
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
    let mut login = Url::parse(&format!("{}/login", state.accounts.settings().public_url_issuer()))
        .unwrap_or_else(|_| state.accounts.settings().public_url.clone());
    login.query_pairs_mut().append_pair("next", &back);
    let Ok(location) = HeaderValue::from_str(login.as_str()) else { return unauthorized };
    let status = if redirect == Some("401") { StatusCode::UNAUTHORIZED } else { StatusCode::FOUND };
    let mut response = unauthorized;
    *response.status_mut() = status;
    response.headers_mut().insert(header::LOCATION, location);
    response
}
