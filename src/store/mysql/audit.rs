//! The audit trail in MySQL/MariaDB: ids as CHAR(36) text (which sorts as the UUIDs do), times
//! as DATETIME(6) in UTC, the detail as JSON (LONGTEXT on MariaDB, read back as text either way).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::types::Json;
use sqlx::{MySql, QueryBuilder, Row};
use uuid::Uuid;

use super::{MySqlStore, map_err, retrying, uuid};
use crate::audit::{AuditEvent, AuditStore, EventFilter, like_prefix};
use crate::store::{StoreError, StoreResult};

const COLUMNS: &str = "id, at, kind, account_id, actor_id, ip, user_agent, request_id, detail";
/// Rows per `INSERT`: 9 parameters each, well under the 65,535 of a prepared statement.
const ROWS_PER_INSERT: usize = 500;

#[async_trait]
impl AuditStore for MySqlStore {
    async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let stored: Vec<AuditEvent> = events.iter().map(AuditEvent::storable).collect();
        let stored = &stored;
        retrying(|| async move {
            let mut tx = self.begin().await?;
            for chunk in stored.chunks(ROWS_PER_INSERT) {
                let mut insert = QueryBuilder::<MySql>::new(format!("INSERT INTO audit_events ({COLUMNS}) "));
                insert.push_values(chunk, |mut row, event| {
                    row.push_bind(event.id.to_string())
                        .push_bind(event.at)
                        .push_bind(event.kind.as_str())
                        .push_bind(event.account_id.map(|id| id.to_string()))
                        .push_bind(event.actor_id.map(|id| id.to_string()))
                        .push_bind(event.ip.as_deref())
                        .push_bind(event.user_agent.as_deref())
                        .push_bind(event.request_id.as_deref())
                        .push_bind(event.detail.as_ref().map(|detail| detail.to_string()));
                });
                // A retried write of events stored already skips them (without the blanket
                // leniency of INSERT IGNORE).
                insert.push(" ON DUPLICATE KEY UPDATE id = id");
                insert.build().execute(&mut *tx).await.map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<MySql>::new(format!("SELECT {COLUMNS} FROM audit_events WHERE TRUE"));
        if let Some(id) = filter.account_id {
            query.push(" AND account_id = ").push_bind(id.to_string());
        }
        match filter.kind.as_deref() {
            Some(prefix) if prefix.ends_with('.') => {
                query.push(" AND kind LIKE ").push_bind(like_prefix(prefix)).push(" ESCAPE '!'");
            }
            Some(kind) => {
                query.push(" AND kind = ").push_bind(kind.to_owned());
            }
            None => {}
        }
        if let Some(ip) = &filter.ip {
            query.push(" AND ip = ").push_bind(ip.clone());
        }
        if let Some(since) = filter.since {
            query.push(" AND at >= ").push_bind(since.naive_utc());
        }
        if let Some(until) = filter.until {
            query.push(" AND at < ").push_bind(until.naive_utc());
        }
        if let Some(before) = filter.before {
            query.push(" AND id < ").push_bind(before.to_string());
        }
        query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit));
        let rows = query.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < ?")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

fn optional_uuid(row: &MySqlRow, column: &str) -> StoreResult<Option<Uuid>> {
    let text: Option<String> = row.try_get(column).map_err(map_err)?;
    text.map(|text| Uuid::parse_str(&text).map_err(|e| StoreError::Other(anyhow::anyhow!("bad uuid in {column}: {e}"))))
        .transpose()
}

fn event_from_row(row: &MySqlRow) -> StoreResult<AuditEvent> {
    // `Json` reads MySQL's JSON type and MariaDB's LONGTEXT alike.
    let detail: Option<Json<serde_json::Value>> = row.try_get("detail").map_err(map_err)?;
    Ok(AuditEvent {
        id: uuid(row, "id")?,
        at: row.try_get("at").map_err(map_err)?,
        kind: row.try_get("kind").map_err(map_err)?,
        account_id: optional_uuid(row, "account_id")?,
        actor_id: optional_uuid(row, "actor_id")?,
        ip: row.try_get("ip").map_err(map_err)?,
        user_agent: row.try_get("user_agent").map_err(map_err)?,
        request_id: row.try_get("request_id").map_err(map_err)?,
        detail: detail.map(|Json(detail)| detail),
    })
}
