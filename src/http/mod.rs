//! The HTTP edge: routes, extractors, the one error type, and the middleware every request
//! passes through (request id, tracing span, timeout, body limit, security headers).
//! Status codes and JSON shapes live here and nowhere else.

pub mod browser;
pub mod client_auth;
pub mod client_ip;
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
    let routes = match cors(&edge.cors_origins) {
        Some(cors) => routes.layer(cors),
        None => routes,
    };
    routes.with_state(state)
}

/// CORS for the configured origins: bearer tokens in `Authorization`, no cookies (credentials
/// stay off, so another site can never ride on a browser's cookies).
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::Method;
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(allowed))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT,
                HeaderName::from_static(middleware::REQUEST_ID),
            ])
            .expose_headers([header::LOCATION, header::RETRY_AFTER, HeaderName::from_static(middleware::REQUEST_ID)])
            .max_age(Duration::from_secs(600)),
    )
}
