//! Webhook endpoints (`webhook_endpoints`) and the deliveries owed to them
//! (`webhook_deliveries`): written by [`insert_events`] inside the transaction of the change
//! they tell of, claimed in batches by the delivery worker (`SKIP LOCKED`, as the outbox's
//! emails are), and settled.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::{Dialect, Exec, Row, SqlStore, Transaction, args, read_account, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::StoreResult;
use crate::store::outbox::Claimer;
use crate::store::webhooks::{
    ClaimedDelivery, Delivery, DeliveryQuery, DeliveryStatus, Endpoint, Event, EventType, Settlement, WebhookStore,
};

const ENDPOINT_COLUMNS: &str = "id, url, events, description, enabled, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "endpoint_id, event_id, event_type, account_id, occurred_at, status, attempts, \
                                next_attempt_at, last_response_status, last_error, delivered_at";

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
    let status = row.text("status")?;
    Ok(Delivery {
        endpoint_id: row.id("endpoint_id")?,
        event_id: row.id("event_id")?,
        kind: row.text("event_type")?,
        account_id: row.id("account_id")?,
        occurred_at: row.time("occurred_at")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| anyhow::anyhow!("a webhook delivery has the unknown status {status:?}"))?,
        attempts: row.int("attempts")?.try_into().unwrap_or(u32::MAX),
        next_attempt_at: row.time("next_attempt_at")?,
        last_response_status: row.opt_int("last_response_status")?.and_then(|s| u16::try_from(s).ok()),
        last_error: row.opt_text("last_error")?,
        delivered_at: row.opt_time("delivered_at")?,
    })
}

/// The enabled endpoints that receive events of `kind`.
async fn subscribers(exec: &mut impl Exec, kind: EventType) -> StoreResult<Vec<Uuid>> {
    let pattern = format!("% {} %", kind.as_str());
    exec.fetch_all(sql!("SELECT id FROM webhook_endpoints WHERE enabled = ? AND events LIKE ?"), args![true, &pattern])
        .await?
        .iter()
        .map(|row| row.id("id"))
        .collect()
}

/// Writes one delivery of each event to every enabled endpoint that receives its type, with the
/// account as it stands now in this transaction. An event nobody receives costs one look at
/// the (small) endpoint table; an event of an account that is not there is nobody's news.
pub(super) async fn insert_events(tx: &mut impl Exec, events: &[Event]) -> StoreResult<()> {
    for event in events {
        let receivers = subscribers(tx, event.kind).await?;
        if receivers.is_empty() {
            continue;
        }
        let Some(stored) = read_account(tx, event.account_id).await? else { continue };
        let mut data = event.detail.clone();
        data.insert("account".into(), serde_json::to_value(&stored.account).map_err(anyhow::Error::from)?);
        let data = Value::Object(data).to_string();
        let (id, at) = (Uuid::now_v7(), Utc::now());
        for endpoint in receivers {
            tx.execute(
                sql!(
                    "INSERT INTO webhook_deliveries (endpoint_id, event_id, event_type, account_id, data, occurred_at,
                                                     status, attempts, next_attempt_at)
                     VALUES (?, ?, ?, ?, ?, ?, 'queued', 0, ?)"
                ),
                args![endpoint, id, event.kind.as_str(), event.account_id, &data, at, at],
            )
            .await?;
        }
    }
    Ok(())
}

fn claimed_from_row(row: &impl Row) -> StoreResult<ClaimedDelivery> {
    Ok(ClaimedDelivery {
        endpoint_id: row.id("endpoint_id")?,
        event_id: row.id("event_id")?,
        kind: row.text("event_type")?,
        occurred_at: row.time("occurred_at")?,
        data: row.text("data")?,
        attempts: row.int("attempts")?.try_into().unwrap_or(u32::MAX),
        url: row.text("url")?,
        secret_sealed: row.bytes("secret_sealed")?,
    })
}

#[async_trait]
impl<D: Dialect> WebhookStore for SqlStore<D> {
    async fn insert_endpoint(&self, endpoint: &Endpoint, secret_sealed: &[u8]) -> StoreResult<()> {
        timed!(DB, "insert_endpoint", async {
            self.db
                .pool()
                .execute(
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
            Ok(())
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

    async fn update_endpoint(&self, endpoint: &Endpoint) -> StoreResult<bool> {
        timed!(DB, "update_endpoint", async {
            let updated = self
                .db
                .pool()
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
            Ok(updated == 1)
        })
    }

    async fn delete_endpoint(&self, id: Uuid) -> StoreResult<bool> {
        timed!(DB, "delete_endpoint", async {
            let mut tx = self.db.begin().await?;
            // Not left to the foreign key: SQLite enforces it only where the connection asks.
            tx.execute(sql!("DELETE FROM webhook_deliveries WHERE endpoint_id = ?"), args![id]).await?;
            let deleted = tx.execute(sql!("DELETE FROM webhook_endpoints WHERE id = ?"), args![id]).await?;
            tx.commit().await?;
            Ok(deleted == 1)
        })
    }

    /// Opens a write transaction only when an endpoint receives one of the events: on the login
    /// path, with no endpoint registered, this is one read.
    async fn queue_events(&self, events: &[Event]) -> StoreResult<()> {
        timed!(DB, "queue_events", async {
            let mut pool = self.db.pool();
            let mut wanted = false;
            for event in events {
                wanted |= !subscribers(&mut pool, event.kind).await?.is_empty();
            }
            if !wanted {
                return Ok(());
            }
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_events(&mut tx, events).await?;
                tx.commit().await
            })
            .await
        })
    }

    async fn claim_deliveries(
        &self,
        claimer: Claimer,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        timed!(DB, "claim_deliveries", async {
            // Most polls find nothing due: find that out without opening a transaction.
            let due = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT 1 AS due FROM webhook_deliveries
                         WHERE (status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND claimed_until <= ?)
                         LIMIT 1"
                    ),
                    args![now, now],
                )
                .await?;
            if due.is_none() {
                return Ok(Vec::new());
            }
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let keys = tx
                    .fetch_all(
                        sql!(
                            "SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d
                             WHERE ((d.status = 'queued' AND d.next_attempt_at <= ?)
                                    OR (d.status = 'sending' AND d.claimed_until <= ?))
                               AND d.endpoint_id IN (SELECT id FROM webhook_endpoints WHERE enabled = ?)
                               AND NOT EXISTS (
                                   SELECT 1 FROM webhook_deliveries e
                                   WHERE e.endpoint_id = d.endpoint_id AND e.account_id = d.account_id
                                     AND e.event_id < d.event_id AND e.status IN ('queued', 'sending'))
                             ORDER BY d.event_id LIMIT ? FOR UPDATE SKIP LOCKED"
                        ),
                        args![now, now, true, i64::from(limit)],
                    )
                    .await?
                    .iter()
                    .map(|row| Ok((row.id("endpoint_id")?, row.id("event_id")?)))
                    .collect::<StoreResult<Vec<(Uuid, Uuid)>>>()?;
                let mut claimed = Vec::with_capacity(keys.len());
                for (endpoint_id, event_id) in keys {
                    tx.execute(
                        sql!(
                            "UPDATE webhook_deliveries
                             SET status = 'sending', claimed_until = ?, claimed_by = ?, attempts = attempts + 1
                             WHERE endpoint_id = ? AND event_id = ?"
                        ),
                        args![until, claimer, endpoint_id, event_id],
                    )
                    .await?;
                    let row = tx
                        .fetch_optional(
                            sql!(
                                "SELECT d.endpoint_id, d.event_id, d.event_type, d.occurred_at, d.data, d.attempts, w.url,
                                        w.secret_sealed
                                 FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
                                 WHERE d.endpoint_id = ? AND d.event_id = ?"
                            ),
                            args![endpoint_id, event_id],
                        )
                        .await?;
                    claimed.extend(row.as_ref().map(claimed_from_row).transpose()?);
                }
                tx.commit().await?;
                Ok(claimed)
            })
            .await
        })
    }

    async fn renew_deliveries(&self, claimer: Claimer, until: DateTime<Utc>) -> StoreResult<u64> {
        timed!(DB, "renew_deliveries", async {
            self.db
                .pool()
                .execute(
                    sql!("UPDATE webhook_deliveries SET claimed_until = ? WHERE claimed_by = ? AND status = 'sending'"),
                    args![until, claimer],
                )
                .await
        })
    }

    async fn settle_delivery(
        &self,
        claimer: Claimer,
        endpoint_id: Uuid,
        event_id: Uuid,
        settlement: &Settlement,
    ) -> StoreResult<bool> {
        let (status, delivered_at, next, response, error): (_, _, Option<DateTime<Utc>>, _, _) = match settlement {
            Settlement::Delivered { at, status } => ("delivered", Some(*at), None, Some(*status), None),
            Settlement::Retry { at, status, error } => ("queued", None, Some(*at), *status, Some(error.as_str())),
            Settlement::Failed { status, error } => ("failed", None, None, *status, Some(error.as_str())),
        };
        // A status of -1 stands for "no answer" (the column is then NULL): one statement for all.
        let response = response.map_or(-1, i64::from);
        timed!(DB, "settle_delivery", async {
            let settled = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE webhook_deliveries
                         SET status = ?, delivered_at = ?, next_attempt_at = COALESCE(?, next_attempt_at),
                             last_response_status = CASE WHEN ? < 0 THEN NULL ELSE ? END, last_error = ?,
                             claimed_until = NULL, claimed_by = NULL
                         WHERE endpoint_id = ? AND event_id = ? AND claimed_by = ? AND status = 'sending'"
                    ),
                    args![status, delivered_at, next, response, response, error, endpoint_id, event_id, claimer],
                )
                .await?;
            Ok(settled == 1)
        })
    }

    async fn deliveries(&self, query: &DeliveryQuery) -> StoreResult<Vec<Delivery>> {
        timed!(DB, "deliveries", async {
            let status = query.status.map(DeliveryStatus::as_str);
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                         WHERE endpoint_id = ? AND (? IS NULL OR status = ?) AND (? IS NULL OR event_id < ?)
                         ORDER BY event_id DESC LIMIT ?"
                    ),
                    args![query.endpoint_id, status, status, query.before, query.before, i64::from(query.limit)],
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
                    sql!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?"),
                    args![endpoint_id, event_id],
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
                        "UPDATE webhook_deliveries SET status = 'queued', attempts = 0, next_attempt_at = ?,
                                                       delivered_at = NULL, last_error = NULL,
                                                       last_response_status = NULL
                         WHERE endpoint_id = ? AND event_id = ? AND status IN ('delivered', 'failed')"
                    ),
                    args![now, endpoint_id, event_id],
                )
                .await?;
            Ok(replayed == 1)
        })
    }

    async fn webhook_backlog(&self) -> StoreResult<u64> {
        timed!(DB, "webhook_backlog", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE status IN ('queued', 'sending')"),
                    args![],
                )
                .await?;
            row.map_or(Ok(0), |row| row.count("n"))
        })
    }
}
