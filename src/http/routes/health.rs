//! `GET /healthz` (the process answers), `GET /readyz` (the database and the session store
//! answer, so this replica can serve; the mail server's state is reported but never makes it
//! unready — the outbox holds mail until the server is back) and `GET /metrics` (Prometheus
//! text).

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::http::error::{ApiError, Errors, code};
use crate::http::state::AppState;

/// How long a mail-server check is trusted; readiness probes must not hammer SMTP.
const MAILER_CHECK_TTL: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).route("/metrics", get(metrics))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Health {
    #[schema(value_type = String)]
    status: &'static str,
}

/// Readiness, with what the outbox waits on.
#[derive(Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `ready`.
    #[schema(value_type = String)]
    status: &'static str,
    /// `reachable`, `unreachable` (emails wait in the outbox and are sent once it is back), or
    /// `not_configured` (no `GATEHOUSE_SMTP_URL`: emails are written to the log).
    #[schema(value_type = String)]
    mail_server: &'static str,
}

#[utoipa::path(
    get, path = "/healthz", summary = "Liveness", operation_id = "getHealth", tag = "service",
    responses((status = 200, description = "The process answers", body = Health))
)]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(
    get, path = "/readyz", summary = "Readiness", operation_id = "getReadiness", tag = "service",
    description = "Ready: the database and the session store answer. The mail server's state is in the body (and in the metric `gatehouse_mail_server_up`) but never makes a replica unready: the outbox holds mail until the server is back.",
    responses((status = 200, description = "The database and session store answer", body = Readiness), Errors<(code::Unavailable,)>)
)]
async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let checks = tokio::time::timeout(Duration::from_secs(3), state.authentication.check_ready()).await;
    match checks {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            return Err(ApiError::Unavailable(
                "Not ready: the database or session store is unreachable.".into(),
                Some(error.into()),
            ));
        }
        Err(_) => {
            return Err(ApiError::Unavailable(
                "Not ready: the database or session store is not answering.".into(),
                None,
            ));
        }
    }
    let mail_server = match state.outbox.transport().has_server() {
        false => "not_configured",
        true if mailer_ok(&state).await => "reachable",
        true => "unreachable",
    };
    Ok(Json(Readiness { status: "ready", mail_server }))
}

async fn mailer_ok(state: &AppState) -> bool {
    if let Some((at, ok)) = *state.mailer_health.lock().unwrap_or_else(|p| p.into_inner())
        && at.elapsed() < MAILER_CHECK_TTL
    {
        return ok;
    }
    let result = state.outbox.transport().ping().await;
    if let Err(error) = &result {
        tracing::warn!(%error, "mail server check failed");
    }
    let ok = result.is_ok();
    ::metrics::gauge!(crate::metrics::MAIL_SERVER_UP).set(if ok { 1.0 } else { 0.0 });
    *state.mailer_health.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), ok));
    ok
}

#[utoipa::path(
    get, path = "/metrics", summary = "Prometheus metrics", operation_id = "getMetrics", tag = "service",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain"))
)]
async fn metrics(State(state): State<AppState>) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    ::metrics::gauge!("gatehouse_password_hash_queue_depth").set(state.authentication.hasher().queued() as f64);
    let handle = crate::metrics::handle();
    handle.run_upkeep();
    let mut response = handle.render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
