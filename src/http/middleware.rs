//! Middleware: the request id, the per-request tracing span, the request timeout, and the
//! answer to a panic.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, OnResponse, TraceLayer};
use tracing::Span;
use uuid::Uuid;

use super::error::ApiError;

pub const REQUEST_ID: &str = "x-request-id";

/// A request id the client sent is kept when it looks like one (at most 128 visible ASCII
/// characters, no spaces); otherwise a fresh UUIDv7 is made. It is echoed on the response.
pub async fn request_id(mut req: Request, next: Next) -> Response<Body> {
    let sent = req.headers().get(REQUEST_ID).filter(|v| {
        let bytes = v.as_bytes();
        !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
    });
    let id = match sent {
        Some(value) => value.clone(),
        None => HeaderValue::from_str(&Uuid::now_v7().to_string()).expect("a UUID is a valid header value"),
    };
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

#[derive(Clone, Debug)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &Request<B>) -> Span {
        let route = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str).unwrap_or("(unmatched)");
        let request_id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default();
        // The path only: query strings can hold one-time tokens and must never be logged.
        tracing::info_span!(
            "request",
            method = %req.method(),
            route,
            request_id,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
            account_id = tracing::field::Empty,
        )
    }
}

#[derive(Clone, Debug)]
pub struct ResponseLog;

impl<B> OnResponse<B> for ResponseLog {
    fn on_response(self, response: &Response<B>, latency: Duration, span: &Span) {
        let status = response.status().as_u16();
        let latency_ms = latency.as_secs_f64() * 1000.0;
        span.record("status", status);
        span.record("latency_ms", latency_ms);
        if status >= 500 {
            tracing::warn!(status, latency_ms, "request answered");
        } else {
            tracing::info!(status, latency_ms, "request answered");
        }
    }
}

pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), ResponseLog, (), (), ()> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(ResponseLog)
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

/// Answers 503 when a request takes longer than the configured timeout.
pub async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response<Body> {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable("The request took too long; try again.".into(), None).into_response(),
    }
}

/// A panic in a handler is a bug: log it and answer a plain 500 problem.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    ApiError::Internal(anyhow::anyhow!("handler panicked: {what}")).into_response()
}

/// Counts and times every request by method, matched route and status.
pub async fn record_metrics(req: Request, next: Next) -> Response<Body> {
    let started = std::time::Instant::now();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let response = next.run(req).await;
    let route = route.as_deref().unwrap_or("(unmatched)");
    crate::metrics::http_request(method.as_str(), route, response.status().as_u16(), started.elapsed());
    response
}
