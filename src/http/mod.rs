//! The HTTP edge: routes, extractors, the one error type, and the middleware every request
//! passes through (request id, tracing span, timeout, body limit, security headers).
//! Status codes and JSON shapes live here and nowhere else.

pub mod browser;
pub mod client_auth;
pub mod client_ip;
pub mod dpop;
pub mod error;
pub mod extract;
pub mod introspection;
mod middleware;
pub mod openapi;
mod pages;
pub mod routes;
pub mod serve;
pub mod state;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use self::error::ApiError;
pub use self::state::{AppState, Edge};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole application: every route, the fallbacks, and the middleware.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let edge = state.edge.clone();
    let routes = Router::new()
        .merge(routes::root::router())
        .merge(routes::users::router())
        .merge(routes::device::router())
        .merge(routes::impersonation::router())
        .merge(routes::auth::router())
        .merge(routes::mfa::router())
        .merge(routes::passkeys::router())
        .merge(routes::orgs::router())
        .merge(routes::org_roles::router())
        .merge(routes::org_domains::router())
        .merge(routes::sso::router())
        .merge(routes::api_keys::router())
        .merge(routes::sso_oidc::router())
        .merge(routes::scim::router())
        .merge(routes::invitations::router())
        .merge(routes::activation::router())
        .merge(routes::password::router())
        .merge(routes::passwordless::router())
        .merge(routes::social::router())
        .merge(routes::login::router())
        .merge(routes::forward::router())
        .merge(routes::oauth::router())
        .merge(routes::par::router())
        .merge(routes::clients::router())
        .merge(routes::registration::router())
        .merge(routes::webhooks::router())
        .merge(routes::email::router())
        .merge(routes::events::router())
        .merge(routes::admin::router())
        .merge(routes::import::router())
        .merge(routes::wellknown::router())
        .merge(routes::health::router())
        .merge(openapi::router())
        .merge(routes::console::router())
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });

    let layers = ServiceBuilder::new()
        .layer(axum::middleware::from_fn(middleware::request_id))
        .layer(middleware::trace_layer())
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(request_timeout, middleware::timeout))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.accounts.policy().texts.clone(), middleware::page_language));

    let routes = routes.layer(layers);
    let routes = if edge.https {
        // Browsers that once reached gatehouse over https never try plain http again.
        routes.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ))
    } else {
        routes
    };
    routes.layer(cors(&edge.cors_origins)).with_state(state)
}

/// CORS: for the configured origins everywhere, and for any origin at the agent's front door
/// (discovery, the keys, client registration, the token endpoint), which browser-based MCP
/// clients call from wherever they run. Bearer tokens in `Authorization`, never cookies:
/// credentials stay off, so another site can never ride on a browser's cookies, and the
/// front door's endpoints take no cookie at all.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let listed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let allowed = AllowOrigin::predicate(move |origin: &HeaderValue, request: &axum::http::request::Parts| {
        listed.contains(origin) || open_to_any_origin(request.uri.path())
    });
    CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static(middleware::REQUEST_ID),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("dpop"),
        ])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            header::WWW_AUTHENTICATE,
            HeaderName::from_static(middleware::REQUEST_ID),
            HeaderName::from_static("dpop-nonce"),
        ])
        .max_age(Duration::from_secs(600))
}

/// The agent's front door, which any origin may call: the discovery documents (in every form),
/// the keys, client registration (RFC 7591 and 7592), pushed requests and the token endpoint.
fn open_to_any_origin(path: &str) -> bool {
    path.starts_with("/.well-known/")
        || path == "/oauth2/token"
        || path == "/oauth2/par"
        || path == "/oauth2/register"
        || path.starts_with("/oauth2/register/")
}
