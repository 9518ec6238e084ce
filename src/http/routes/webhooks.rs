//! Webhook endpoints for admins: `GET|POST /admin/webhooks`, `GET|PATCH|DELETE
//! /admin/webhooks/{id}`, the delivery log `GET /admin/webhooks/{id}/deliveries` and
//! `POST /admin/webhooks/{id}/deliveries/{event_id}/replay`. The log pages like the audit
//! trail: newest first, `next_cursor` passed back as `cursor`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::webhooks::WebhookSpec;
use crate::accounts::{Error, FieldError};
use crate::contract::{DeliveryBody, WebhookBody};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path, Query};
use crate::http::state::AppState;
use crate::model::webhook::DeliveryStatus;

/// Deliveries per page unless `limit` says otherwise, and the most `limit` may ask for.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks", get(list).post(create))
        .route("/admin/webhooks/{id}", get(read).patch(update).delete(remove))
        .route("/admin/webhooks/{id}/deliveries", get(deliveries))
        .route("/admin/webhooks/{id}/deliveries/{event_id}/replay", post(replay))
}

#[derive(Serialize, ToSchema)]
struct WebhookList {
    webhooks: Vec<WebhookBody>,
}

/// An endpoint as submitted; on `PATCH`, what is absent stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct WebhookInput {
    /// `https` (or `http`) on a public address; required at creation.
    #[schema(example = "https://app.example.com/hooks/gatehouse")]
    url: Option<String>,
    /// What it receives: `user.created`, `user.activated`, `user.updated`, `user.deleted`,
    /// `user.login`, `user.password_changed`, `user.mfa_changed`, `session.revoked`,
    /// `identity.linked`.
    #[schema(example = json!(["user.created", "user.deleted"]))]
    events: Option<Vec<String>>,
    /// A note for admins, at most 200 characters.
    description: Option<String>,
    /// Default `true`. A disabled endpoint is written no new deliveries; those it was owed
    /// already wait, and go once it is enabled again.
    enabled: Option<bool>,
}

impl From<WebhookInput> for WebhookSpec {
    fn from(i: WebhookInput) -> Self {
        WebhookSpec { url: i.url, events: i.events, description: i.description, enabled: i.enabled }
    }
}

/// A page of the delivery log, newest first.
#[derive(Serialize, ToSchema)]
struct DeliveryPage {
    deliveries: Vec<DeliveryBody>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DeliveryQuery {
    /// Only deliveries in this state: `queued`, `sending`, `delivered` or `failed`.
    status: Option<String>,
    /// Deliveries per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// An id in a path; one that is not a UUID names nothing.
fn id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text).map_err(|_| Error::NotFoundWebhook.into())
}

#[utoipa::path(
    get, path = "/admin/webhooks", summary = "Webhook endpoints", operation_id = "listWebhooks", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Every endpoint, oldest first", body = WebhookList), Errors<(code::Unauthorized, code::Forbidden, code::Unavailable)>)
)]
async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
) -> Result<Json<WebhookList>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    Ok(Json(WebhookList { webhooks: admin.webhooks().await?.into_iter().map(WebhookBody::from).collect() }))
}

#[utoipa::path(
    post, path = "/admin/webhooks", summary = "Register a webhook endpoint", operation_id = "createWebhook", tag = "admin", security(("bearer" = [])),
    request_body = WebhookInput,
    responses((status = 201, description = "Registered; its signing `secret` (`whsec_…`) is shown this once", body = WebhookBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::ValidationFailed, code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    JsonBody(input): JsonBody<WebhookInput>,
) -> Result<Response, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let made = admin.create_webhook(input.into()).await?;
    Ok((StatusCode::CREATED, Json(WebhookBody::from(made))).into_response())
}

#[utoipa::path(
    get, path = "/admin/webhooks/{id}", summary = "A webhook endpoint", operation_id = "getWebhook", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, description = "The endpoint", body = WebhookBody), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(text): Path<String>,
) -> Result<Json<WebhookBody>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    Ok(Json(admin.webhook(id(&text)?).await?.into()))
}

#[utoipa::path(
    patch, path = "/admin/webhooks/{id}", summary = "Change a webhook endpoint", operation_id = "updateWebhook", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = WebhookInput,
    responses((status = 200, description = "The endpoint as changed", body = WebhookBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::NotFound, code::ValidationFailed, code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(text): Path<String>,
    JsonBody(input): JsonBody<WebhookInput>,
) -> Result<Json<WebhookBody>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    Ok(Json(admin.update_webhook(id(&text)?, input.into()).await?.into()))
}

#[utoipa::path(
    delete, path = "/admin/webhooks/{id}", summary = "Remove a webhook endpoint", operation_id = "deleteWebhook", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Removed, with every delivery still owed to it"), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(text): Path<String>,
) -> Result<StatusCode, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    admin.delete_webhook(id(&text)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/admin/webhooks/{id}/deliveries", summary = "A webhook endpoint's delivery log", operation_id = "listWebhookDeliveries", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id"), DeliveryQuery),
    responses((status = 200, description = "Its deliveries, newest first: state, attempts, the last answer", body = DeliveryPage), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn deliveries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(text): Path<String>,
    Query(query): Query<DeliveryQuery>,
) -> Result<Json<DeliveryPage>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let mut errors = Vec::new();
    let status = query.status.as_deref().map(|s| DeliveryStatus::parse(s.trim()));
    if matches!(status, Some(None)) {
        errors.push(FieldError::new("status", "status is queued, sending, delivered or failed"));
    }
    let limit = query.limit.as_deref().map_or(Ok(DEFAULT_LIMIT), |text| text.trim().parse::<u32>());
    let limit = limit.ok().filter(|n| (1..=MAX_LIMIT).contains(n));
    if limit.is_none() {
        errors.push(FieldError::new("limit", "limit is a whole number from 1 to 500"));
    }
    let before = match query.cursor.as_deref().map(|text| Uuid::parse_str(text.trim())) {
        Some(Err(_)) => {
            errors.push(FieldError::new("cursor", "cursor is the next_cursor of a previous page"));
            None
        }
        cursor => cursor.and_then(Result::ok),
    };
    let (Some(limit), true) = (limit, errors.is_empty()) else {
        return Err(ApiError::ValidationFailed(errors));
    };
    let mut found = admin.webhook_deliveries(id(&text)?, status.flatten(), before, limit + 1).await?;
    let next_cursor = match found.len() > limit as usize {
        true => {
            found.truncate(limit as usize);
            found.last().map(|d| d.event_id.to_string())
        }
        false => None,
    };
    Ok(Json(DeliveryPage { deliveries: found.into_iter().map(DeliveryBody::from).collect(), next_cursor }))
}

#[utoipa::path(
    post, path = "/admin/webhooks/{id}/deliveries/{event_id}/replay", summary = "Send a webhook delivery again", operation_id = "replayWebhookDelivery", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id"), ("event_id" = Uuid, Path, description = "The delivery's `id` (its `webhook-id`)")),
    responses((status = 202, description = "Queued again, due now, with the same `webhook-id` and body and another day of attempts", body = DeliveryBody), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn replay(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((endpoint, event)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let event = Uuid::parse_str(&event).map_err(|_| ApiError::from(Error::NotFoundDelivery))?;
    let replayed = admin.replay_webhook(id(&endpoint)?, event).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryBody::from(replayed))).into_response())
}
