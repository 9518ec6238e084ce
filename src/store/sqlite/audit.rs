//! The audit trail in SQLite: ids and times as text (a UUID's and an RFC 3339 UTC time's text
//! sort as the values do), the detail as JSON text.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::{SqliteStore, map_err, uuid};
use crate::audit::{AuditEvent, AuditStore, EventFilter, like_prefix};
use crate::store::{StoreError, StoreResult};

const COLUMNS: &str = "id, at, kind, account_id, actor_id, ip, user_agent, request_id, detail";
/// Rows per `INSERT`: 9 parameters each, well under SQLite's limit on parameters.
const ROWS_PER_INSERT: usize = 500;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(format!("INSERT INTO audit_events ({COLUMNS}) "));
            insert.push_values(chunk.iter().map(AuditEvent::storable), |mut row, event| {
                row.push_bind(event.id.to_string())
                    .push_bind(event.at)
                    .push_bind(event.kind)
                    .push_bind(event.account_id.map(|id| id.to_string()))
                    .push_bind(event.actor_id.map(|id| id.to_string()))
                    .push_bind(event.ip)
                    .push_bind(event.user_agent)
                    .push_bind(event.request_id)
                    .push_bind(event.detail.map(|detail| detail.to_string()));
            });
            insert.push(" ON CONFLICT (id) DO NOTHING");
            insert.build().execute(&mut *tx).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        let mut query = QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS} FROM audit_events WHERE 1 = 1"));
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
            query.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = filter.until {
            query.push(" AND at < ").push_bind(until);
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

fn optional_uuid(row: &SqliteRow, column: &str) -> StoreResult<Option<Uuid>> {
    let text: Option<String> = row.try_get(column).map_err(map_err)?;
    text.map(|text| Uuid::parse_str(&text).map_err(|e| StoreError::Other(anyhow::anyhow!("bad uuid in {column}: {e}"))))
        .transpose()
}

fn event_from_row(row: &SqliteRow) -> StoreResult<AuditEvent> {
    let detail: Option<String> = row.try_get("detail").map_err(map_err)?;
    let detail = detail
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StoreError::Other(anyhow::anyhow!("bad detail json: {e}")))?;
    Ok(AuditEvent {
        id: uuid(row, "id")?,
        at: row.try_get("at").map_err(map_err)?,
        kind: row.try_get("kind").map_err(map_err)?,
        account_id: optional_uuid(row, "account_id")?,
        actor_id: optional_uuid(row, "actor_id")?,
        ip: row.try_get("ip").map_err(map_err)?,
        user_agent: row.try_get("user_agent").map_err(map_err)?,
        request_id: row.try_get("request_id").map_err(map_err)?,
        detail,
    })
}
