//! The connection loop: HTTP/1.1 on the listener, with bounds on how long and how large a
//! request's head may be, each request handed to the application once it is open (and to a
//! small "starting" router until then), and a graceful stop.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

use super::error::ApiError;

/// The most a request line and its headers may weigh; past it hyper answers a bare `431` (it
/// refuses the request before any of our code runs, so the answer cannot be problem+json).
/// hyper's other bound, 100 header fields, stays at its default.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What answers while the database has not been reached: alive, not ready, nothing else.
fn starting_router() -> Router {
    let not_ready = || async { ApiError::Unavailable("Not ready: the database is not reachable yet.".into(), None) };
    let starting =
        || async { ApiError::Unavailable("gatehouse is starting: the database is not reachable yet.".into(), None) };
    Router::new()
        .route("/healthz", get(|| async { Json(serde_json::json!({ "status": "ok" })) }))
        .route("/readyz", get(not_ready))
        .fallback(starting)
}

/// Serves HTTP/1.1 on `listener` until `stop` completes, then lets open requests finish.
/// Each request goes to the router in `app` once it is set, to the starting router until then.
///
/// hyper's own connection builder rather than `axum::serve`, for the two bounds that lacks: a
/// deadline on reading a request's line and headers (`GATEHOUSE_HEADER_TIMEOUT`: a client
/// dribbling bytes cannot hold a connection forever) and a size limit on them.
pub async fn serve(
    listener: TcpListener,
    app: Arc<OnceLock<Router>>,
    header_timeout: Duration,
    stop: impl Future<Output = ()>,
) {
    let starting = starting_router();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_timeout).max_header_size(MAX_HEADER_BYTES);
    let connections = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let (app, starting) = (app.clone(), starting.clone());
        let service = tower::service_fn(move |mut request: axum::extract::Request<hyper::body::Incoming>| {
            // What `into_make_service_with_connect_info` would add: the client IP extractor reads it.
            request.extensions_mut().insert(ConnectInfo(peer));
            app.get().unwrap_or(&starting).clone().oneshot(request)
        });
        let connection =
            connections.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection closed with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// After a failed accept: a connection that died while queued is nothing to worry about;
/// anything else (out of file descriptors…) is logged and followed by a pause.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
