//! The audit trail in PostgreSQL: native UUID, TIMESTAMPTZ and JSONB columns.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder};

use super::{PostgresStore, get, map_err};
use crate::audit::{AuditEvent, AuditStore, EventFilter, like_prefix};
use crate::store::StoreResult;

const COLUMNS: &str = "id, at, kind, account_id, actor_id, ip, user_agent, request_id, detail";
/// Rows per `INSERT`: 9 parameters each, well under PostgreSQL's 65,535.
const ROWS_PER_INSERT: usize = 500;

#[async_trait]
impl AuditStore for PostgresStore {
    async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.tx().await?;
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Postgres>::new(format!("INSERT INTO audit_events ({COLUMNS}) "));
            insert.push_values(chunk.iter().map(AuditEvent::storable), |mut row, event| {
                row.push_bind(event.id)
                    .push_bind(event.at)
                    .push_bind(event.kind)
                    .push_bind(event.account_id)
                    .push_bind(event.actor_id)
                    .push_bind(event.ip)
                    .push_bind(event.user_agent)
                    .push_bind(event.request_id)
                    .push_bind(event.detail.map(Json));
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
        let mut query = QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM audit_events WHERE TRUE"));
        if let Some(id) = filter.account_id {
            query.push(" AND account_id = ").push_bind(id);
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
            query.push(" AND id < ").push_bind(before);
        }
        query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(filter.limit));
        let rows = query.build().fetch_all(&self.pool).await.map_err(map_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn purge_events(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected())
    }
}

fn event_from_row(row: &PgRow) -> StoreResult<AuditEvent> {
    let detail: Option<Json<serde_json::Value>> = get(row, "detail")?;
    Ok(AuditEvent {
        id: get(row, "id")?,
        at: get(row, "at")?,
        kind: get(row, "kind")?,
        account_id: get(row, "account_id")?,
        actor_id: get(row, "actor_id")?,
        ip: get(row, "ip")?,
        user_agent: get(row, "user_agent")?,
        request_id: get(row, "request_id")?,
        detail: detail.map(|Json(detail)| detail),
    })
}
