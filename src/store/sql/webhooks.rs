//! Webhook endpoints (`webhook_endpoints`) and the deliveries owed to them: jobs of the job
//! queue ([`super::jobs`]), written by [`super::outbox::insert_events`] inside the transaction of the change
//! they tell of, one per endpoint; the event's id is the job's `ref_id`, the endpoint's id its
//! `target`, and its lane the endpoint and the account, so one account's events reach one
//! endpoint in the order they committed.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::jobs::hold_jobs;
use super::outbox::{committed, insert_effects};
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::jobs::JobKind;
use crate::store::webhooks::{Delivery, DeliveryQuery, DeliveryStatus, Endpoint, EventType, WebhookStore};

const ENDPOINT_COLUMNS: &str = "id, url, events, description, enabled, created_at, updated_at";
/// A delivery's columns in `jobs`.
const DELIVERY_COLUMNS: &str = "target, ref_id, topic, account_id, created_at, status, attempts, next_attempt_at, last_status, last_error, finished_at";

/// The stored form of an endpoint's event list: space-separated, a space at each end.
fn event_list(events: &[EventType]) -> String {
    let mut list = String::from(" ");
    for event in events {
        list.push_str(event.as_str());
        list.push(' ');
    }
    list
}

fn endpoint_from_row(row: &impl Row) -> StoreResult<Endpoint> {
    Ok(Endpoint {
        id: row.id("id")?,
        url: row.text("url")?,
        events: row.text("events")?.split_whitespace().filter_map(EventType::parse).collect(),
        description: row.text("description")?,
        enabled: row.bool("enabled")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn delivery_from_row(row: &impl Row) -> StoreResult<Delivery> {
    let stored = row.text("status")?;
    let status = match stored.as_str() {
        "done" => DeliveryStatus::Delivered,
        "held" => DeliveryStatus::Queued,
        other => DeliveryStatus::parse(other)
            .ok_or_else(|| anyhow::anyhow!("a webhook delivery has the unknown status {stored:?}"))?,
    };
    let endpoint = row.text("target")?;
    Ok(Delivery {
        endpoint_id: Uuid::parse_str(&endpoint)
            .map_err(|e| anyhow::anyhow!("a delivery's endpoint {endpoint:?}: {e}"))?,
        event_id: row.opt_id("ref_id")?.ok_or_else(|| anyhow::anyhow!("a webhook delivery without its event"))?,
        kind: row.text("topic")?,
        account_id: row
            .opt_id("account_id")?
            .ok_or_else(|| anyhow::anyhow!("a webhook delivery without its account"))?,
        occurred_at: row.time("created_at")?,
        status,
        attempts: row.int("attempts")?.try_into().unwrap_or(u32::MAX),
        next_attempt_at: row.time("next_attempt_at")?,
        last_response_status: row.opt_int("last_status")?.and_then(|s| u16::try_from(s).ok()),
        last_error: row.opt_text("last_error")?,
        delivered_at: if status == DeliveryStatus::Delivered { row.opt_time("finished_at")? } else { None },
    })
}

/// How a delivery status is stored in `jobs`.
fn stored_status(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Delivered => "done",
        other => other.as_str(),
    }
}

#[async_trait]
impl<D: Dialect> WebhookStore for SqlStore<D> {
    async fn insert_endpoint(&self, endpoint: &Endpoint, secret_sealed: &[u8], effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_endpoint", async {
            let mut tx = self.db.begin().await?;
            tx.execute(
                sql!(
                    "INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, secret_sealed)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                args![
                    endpoint.id,
                    &endpoint.url,
                    &event_list(&endpoint.events),
                    &endpoint.description,
                    endpoint.enabled,
                    endpoint.created_at,
                    endpoint.updated_at,
                    secret_sealed,
                ],
            )
            .await?;
            insert_effects(&mut tx, effects).await?;
            tx.commit().await
        })
    }

    async fn endpoints(&self) -> StoreResult<Vec<Endpoint>> {
        timed!(DB, "endpoints", async {
            let rows = self
                .db
                .pool()
                .fetch_all(sql!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id"), args![])
                .await?;
            rows.iter().map(endpoint_from_row).collect()
        })
    }

    async fn endpoint(&self, id: Uuid) -> StoreResult<Option<Endpoint>> {
        timed!(DB, "endpoint", async {
            let row = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?"), args![id])
                .await?;
            row.as_ref().map(endpoint_from_row).transpose()
        })
    }

    /// An endpoint switched off holds its queued deliveries; switched on, they are due at once.
    async fn update_endpoint(&self, endpoint: &Endpoint, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "update_endpoint",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let updated = tx
                    .execute(
                        sql!(
                            "UPDATE webhook_endpoints SET url = ?, events = ?, description = ?, enabled = ?, updated_at = ?
                             WHERE id = ?"
                        ),
                        args![
                            &endpoint.url,
                            &event_list(&endpoint.events),
                            &endpoint.description,
                            endpoint.enabled,
                            endpoint.updated_at,
                            endpoint.id,
                        ],
                    )
                    .await?;
                let target = endpoint.id.to_string();
                hold_jobs(&mut tx, JobKind::Webhook, &target, !endpoint.enabled, endpoint.updated_at).await?;
                committed(tx, updated == 1, effects).await
            })
        )
    }

    async fn delete_endpoint(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_endpoint", async {
            let mut tx = self.db.begin().await?;
            // Not left to the foreign key: SQLite enforces it only where the connection asks.
            tx.execute(
                sql!("DELETE FROM jobs WHERE kind = ? AND target = ?"),
                args![JobKind::Webhook.as_str(), &id.to_string()],
            )
            .await?;
            let deleted = tx.execute(sql!("DELETE FROM webhook_endpoints WHERE id = ?"), args![id]).await?;
            committed(tx, deleted == 1, effects).await
        })
    }

    async fn endpoint_with_secret(&self, id: Uuid) -> StoreResult<Option<(Endpoint, Vec<u8>)>> {
        timed!(DB, "endpoint_with_secret", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT {ENDPOINT_COLUMNS}, secret_sealed FROM webhook_endpoints WHERE id = ?"),
                    args![id],
                )
                .await?;
            row.as_ref().map(|row| Ok((endpoint_from_row(row)?, row.bytes("secret_sealed")?))).transpose()
        })
    }

    async fn deliveries(&self, query: &DeliveryQuery) -> StoreResult<Vec<Delivery>> {
        timed!(DB, "deliveries", async {
            let status = query.status.map(stored_status);
            // A held delivery is listed as queued.
            let also = if status == Some("queued") { Some("held") } else { status };
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT {DELIVERY_COLUMNS} FROM jobs
                         WHERE kind = ? AND target = ? AND (? IS NULL OR status = ? OR status = ?)
                           AND (? IS NULL OR ref_id < ?)
                         ORDER BY ref_id DESC LIMIT ?"
                    ),
                    args![
                        JobKind::Webhook.as_str(),
                        &query.endpoint_id.to_string(),
                        status,
                        status,
                        also,
                        query.before,
                        query.before,
                        i64::from(query.limit)
                    ],
                )
                .await?;
            rows.iter().map(delivery_from_row).collect()
        })
    }

    async fn delivery(&self, endpoint_id: Uuid, event_id: Uuid) -> StoreResult<Option<Delivery>> {
        timed!(DB, "delivery", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT {DELIVERY_COLUMNS} FROM jobs WHERE kind = ? AND target = ? AND ref_id = ?"),
                    args![JobKind::Webhook.as_str(), &endpoint_id.to_string(), event_id],
                )
                .await?;
            row.as_ref().map(delivery_from_row).transpose()
        })
    }

    async fn replay_delivery(&self, endpoint_id: Uuid, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(DB, "replay_delivery", async {
            let replayed = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE jobs SET status = CASE WHEN EXISTS (SELECT 1 FROM webhook_endpoints
                                                                     WHERE id = ? AND enabled = ?)
                                                       THEN 'queued' ELSE 'held' END,
                                         attempts = 0, next_attempt_at = ?, finished_at = NULL, last_error = NULL,
                                         last_status = NULL
                         WHERE kind = ? AND target = ? AND ref_id = ? AND status IN ('done', 'failed')"
                    ),
                    args![endpoint_id, true, now, JobKind::Webhook.as_str(), &endpoint_id.to_string(), event_id],
                )
                .await?;
            Ok(replayed == 1)
        })
    }
}
