//! The audit trail (`audit_events`): batches appended in one transaction (an event stored
//! already is skipped, so a retried write does not fail), listed newest first with filters,
//! purged past retention.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Arg, Built, Dialect, Exec, Row, SqlStore, Transaction, args, like_pattern};
use crate::audit::{AuditEvent, AuditStore, EventFilter};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::Pace;
use crate::store::error::StoreResult;

const COLUMNS: &str = "id, at, kind, account_id, actor_id, ip, user_agent, request_id, detail";
/// Rows per `INSERT`, at 9 values each.
const ROWS_PER_INSERT: usize = 500;

fn event_from_row(row: &impl Row) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: row.id("id")?,
        at: row.time("at")?,
        kind: row.text("kind")?,
        account_id: row.opt_id("account_id")?,
        actor_id: row.opt_id("actor_id")?,
        ip: row.opt_text("ip")?,
        user_agent: row.opt_text("user_agent")?,
        request_id: row.opt_text("request_id")?,
        detail: row.opt_json("detail")?,
    })
}

/// Appends audit rows inside a transaction; a row whose id is stored already is skipped.
pub(super) async fn insert_audit<E: Exec>(tx: &mut E, events: &[AuditEvent]) -> StoreResult<()> {
    let stored: Vec<AuditEvent> = events.iter().map(AuditEvent::storable).collect();
    let rows_per_insert = ROWS_PER_INSERT.min(E::Dialect::MAX_PARAMETERS / 9);
    for chunk in stored.chunks(rows_per_insert) {
        let mut insert = Built::new(format!("INSERT INTO audit_events ({COLUMNS}) VALUES "));
        for (n, event) in chunk.iter().enumerate() {
            let values: [Arg<'_>; 9] = [
                event.id.into(),
                event.at.into(),
                event.kind.as_str().into(),
                event.account_id.into(),
                event.actor_id.into(),
                event.ip.as_deref().into(),
                event.user_agent.as_deref().into(),
                event.request_id.as_deref().into(),
                Arg::Json(event.detail.as_ref()),
            ];
            insert.push(if n == 0 { "(?, ?, ?, ?, ?, ?, ?, ?, ?)" } else { ", (?, ?, ?, ?, ?, ?, ?, ?, ?)" }, &values);
        }
        insert.push(&format!(" {}", E::Dialect::skip_duplicates("id")), &[]);
        insert.execute(tx).await?;
    }
    Ok(())
}

#[async_trait]
impl<D: Dialect> AuditStore for SqlStore<D> {
    async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        timed!(
            DB,
            "insert_events",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_audit(&mut tx, events).await?;
                tx.commit().await
            })
        )
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        timed!(DB, "list_events", async {
            let mut query = Built::new(format!("SELECT {COLUMNS} FROM audit_events WHERE TRUE"));
            if let Some(id) = filter.account_id {
                query.and("account_id = ?", id);
            }
            let prefix;
            match filter.kind.as_deref() {
                Some(kind) if kind.ends_with('.') => {
                    prefix = like_pattern(kind, true);
                    query.and("kind LIKE ? ESCAPE '!'", prefix.as_str());
                }
                Some(kind) => {
                    query.and("kind = ?", kind);
                }
                None => {}
            }
            if let Some(ip) = &filter.ip {
                query.and("ip = ?", ip);
            }
            if let Some(since) = filter.since {
                query.and("at >= ?", since);
            }
            if let Some(until) = filter.until {
                query.and("at < ?", until);
            }
            if let Some(before) = filter.before {
                query.and("id < ?", before);
            }
            query.push(" ORDER BY id DESC LIMIT ?", args![i64::from(filter.limit)]);
            let rows = query.fetch_all(&mut self.db.pool()).await?;
            rows.iter().map(event_from_row).collect()
        })
    }

    async fn purge_events(&self, before: DateTime<Utc>, pace: Pace) -> StoreResult<u64> {
        // In batches, as the other purges: a year of events must not hold the write lock.
        let delete = super::housekeeping::limited_delete("audit_events", "id", "at < ?");
        timed!(DB, "purge_events", self.purge_batches(&delete, before, pace))
    }
}
