//! The HTTP edge: routes, extractors, the one error type, and the middleware every request
//! passes through (request id, tracing span, timeout, body limit, security headers).
//! Status codes and JSON shapes live here and nowhere else.

pub mod error;
pub mod extract;
mod middleware;
pub mod openapi;
mod pages;
pub mod routes;
pub mod views;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, header};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use self::error::ApiError;
use crate::accounts::Accounts;
use crate::mail::outbox::Outbox;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub accounts: Accounts,
    pub outbox: Outbox,
    /// The last mail-server check and its outcome, so readiness probes stay cheap.
    pub mailer_health: Arc<Mutex<Option<(Instant, bool)>>>,
}

impl AppState {
    pub fn new(accounts: Accounts, outbox: Outbox) -> Self {
        Self { accounts, outbox, mailer_health: Arc::new(Mutex::new(None)) }
    }
}

/// The whole application: every route, the fallbacks, and the middleware.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let routes = Router::new()
        .merge(routes::root::router())
        .merge(routes::users::router())
        .merge(routes::auth::router())
        .merge(routes::activation::router())
        .merge(routes::password::router())
        .merge(routes::wellknown::router())
        .merge(routes::health::router())
        .merge(openapi::router())
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });

    let layers = ServiceBuilder::new()
        .layer(axum::middleware::from_fn(middleware::request_id))
        .layer(middleware::trace_layer())
        .layer(axum::middleware::from_fn(middleware::record_metrics))
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
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));

    routes.layer(layers).with_state(state)
}
