//! Middleware: the request id, the per-request tracing span and its closing log line, the
//! metrics, the request timeout, the answer to a panic, and the language of pages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Response, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{MakeSpan, TraceLayer};
use tracing::Span;
use uuid::Uuid;

use super::error::ApiError;
use crate::i18n::{Catalog, Locale};

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
        None => HeaderValue::from_str(Uuid::now_v7().hyphenated().encode_lower(&mut Uuid::encode_buffer()))
            .expect("a UUID is a valid header value"),
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

/// The request span; the line that ends it is written by [`observe`].
pub fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan, (), (), (), (), ()> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_request(())
        .on_response(())
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

/// Counts, times and logs every answered request. The metrics go by method, matched route and
/// status; the log line ("request answered", with status and latency) is written inside the
/// request's span, so it carries the span's fields. A server error is logged at warn and names
/// its method and route itself: at that level the request span, an info one, is off.
pub async fn observe(req: Request, next: Next) -> Response<Body> {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = next.run(req).await;
    let latency = started.elapsed();
    let route = route.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    let status = response.status().as_u16();
    crate::metrics::http_request(&method, route, status, latency);
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let span = Span::current();
    span.record("status", status);
    span.record("latency_ms", latency_ms);
    if status >= 500 {
        tracing::warn!(status, latency_ms, method = %method, route, "request answered");
    } else {
        tracing::info!(status, latency_ms, "request answered");
    }
    response
}

/// Sets the language (the browser's `Accept-Language`, else the default) and the texts of any
/// page this request is answered with.
pub async fn page_language(State(texts): State<Arc<Catalog>>, req: Request, next: Next) -> Response<Body> {
    let asked = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    let locale = texts.pick(asked.and_then(Locale::from_accept_language));
    super::pages::in_language(super::pages::PageContext { texts, locale }, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::{ServiceBuilder, ServiceExt};

    use super::*;

    /// A log writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The JSON log lines written at `level` while `path` is requested from a route that answers
    /// `status`.
    async fn lines_for(level: tracing::Level, path: &str, status: StatusCode) -> Vec<serde_json::Value> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .json()
            .with_current_span(true)
            .flatten_event(true)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = Router::new()
            .route("/things/{id}", get(move || async move { status }))
            .layer(ServiceBuilder::new().layer(trace_layer()).layer(axum::middleware::from_fn(observe)));
        let response = app.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), status);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    #[tokio::test]
    async fn a_server_error_is_logged_at_warn_with_its_method_and_route() {
        let lines = lines_for(tracing::Level::WARN, "/things/7", StatusCode::SERVICE_UNAVAILABLE).await;

        let [line] = lines.as_slice() else { panic!("one line expected: {lines:?}") };
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "request answered");
        assert_eq!(line["status"], 503);
        assert_eq!(line["method"], "GET");
        assert_eq!(line["route"], "/things/{id}", "the matched route, not the path");
        assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{line}");
    }

    #[tokio::test]
    async fn an_answered_request_is_logged_at_info_inside_its_span() {
        let lines = lines_for(tracing::Level::INFO, "/things/7", StatusCode::OK).await;
        assert!(lines_for(tracing::Level::WARN, "/things/7", StatusCode::OK).await.is_empty());

        let [line] = lines.as_slice() else { panic!("one line expected: {lines:?}") };
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["status"], 200);
        assert_eq!(line["span"]["method"], "GET");
        assert_eq!(line["span"]["route"], "/things/{id}");
        assert_eq!(line["span"]["status"], 200, "the status is recorded on the span too");
    }
}
