//! The outbox (`outbox`): emails written in the transaction of the change that causes them,
//! claimed in batches by the delivery worker, and settled: sent (bodies erased), retried later,
//! or failed.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Arg, Dialect, Exec, Row, SqlStore, Transaction, args, placeholders, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::StoreResult;
use crate::store::outbox::{Claimer, NewEmail, OutboxStore, QueuedEmail};

pub(super) async fn insert_email(tx: &mut impl Exec, email: &NewEmail) -> StoreResult<()> {
    tx.execute(
        sql!(
            "INSERT INTO outbox (id, kind, recipient, subject, body_text, body_html, message_id, status, attempts,
                                 next_attempt_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)"
        ),
        args![
            email.id,
            email.kind,
            &email.recipient,
            &email.subject,
            &email.text_body,
            &email.html_body,
            &email.message_id,
            email.created_at,
            email.created_at,
        ],
    )
    .await?;
    Ok(())
}

fn queued_from_row(row: &impl Row) -> StoreResult<QueuedEmail> {
    Ok(QueuedEmail {
        id: row.id("id")?,
        kind: row.text("kind")?,
        recipient: row.text("recipient")?,
        subject: row.text("subject")?,
        text_body: row.opt_text("body_text")?.unwrap_or_default(),
        html_body: row.opt_text("body_html")?.unwrap_or_default(),
        message_id: row.text("message_id")?,
        attempts: row.int("attempts")?.try_into().unwrap_or(u32::MAX),
    })
}

#[async_trait]
impl<D: Dialect> OutboxStore for SqlStore<D> {
    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()> {
        timed!(
            DB,
            "queue_email",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_email(&mut tx, email).await?;
                tx.commit().await
            })
        )
    }

    /// Rows another replica is claiming right now are skipped, not waited for (`SKIP LOCKED`),
    /// so each email goes to one replica; on SQLite the write transaction alone does that.
    async fn claim_emails(
        &self,
        claimer: Claimer,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<QueuedEmail>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        timed!(DB, "claim_emails", async {
            // Most polls find nothing due: find that out without opening a transaction.
            let due = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT 1 AS due FROM outbox
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
                let ids = tx
                    .fetch_all(
                        sql!(
                            "SELECT id FROM outbox
                             WHERE (status = 'queued' AND next_attempt_at <= ?)
                                OR (status = 'sending' AND claimed_until <= ?)
                             ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED"
                        ),
                        args![now, now, i64::from(limit)],
                    )
                    .await?
                    .iter()
                    .map(|row| row.id("id"))
                    .collect::<StoreResult<Vec<Uuid>>>()?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let list = placeholders(ids.len());
                let mut claim: Vec<Arg<'_>> = vec![until.into(), claimer.into()];
                claim.extend(ids.iter().map(|&id| Arg::from(id)));
                let update = format!(
                    "UPDATE outbox SET status = 'sending', claimed_until = ?, claimed_by = ?, attempts = attempts + 1
                     WHERE id IN ({list})"
                );
                tx.execute_text(&D::prepare(&update), &claim).await?;
                let read = format!(
                    "SELECT id, kind, recipient, subject, body_text, body_html, message_id, attempts FROM outbox
                     WHERE id IN ({list}) ORDER BY id"
                );
                let rows = tx.fetch_all_text(&D::prepare(&read), &claim[2..]).await?;
                tx.commit().await?;
                rows.iter().map(queued_from_row).collect()
            })
            .await
        })
    }

    async fn renew_claims(&self, claimer: Claimer, until: DateTime<Utc>) -> StoreResult<u64> {
        timed!(DB, "renew_claims", async {
            self.db
                .pool()
                .execute(
                    sql!("UPDATE outbox SET claimed_until = ? WHERE claimed_by = ? AND status = 'sending'"),
                    args![until, claimer],
                )
                .await
        })
    }

    async fn email_sent(&self, claimer: Claimer, id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(DB, "email_sent", async {
            let settled = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE outbox SET status = 'sent', sent_at = ?, body_text = NULL, body_html = NULL,
                                           claimed_until = NULL, claimed_by = NULL, last_error = NULL
                         WHERE id = ? AND claimed_by = ? AND status = 'sending'"
                    ),
                    args![now, id, claimer],
                )
                .await?;
            Ok(settled == 1)
        })
    }

    async fn email_retry(
        &self,
        claimer: Claimer,
        id: Uuid,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<bool> {
        timed!(DB, "email_retry", async {
            let settled = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?, claimed_until = NULL,
                                           claimed_by = NULL
                         WHERE id = ? AND claimed_by = ? AND status = 'sending'"
                    ),
                    args![next_attempt_at, error, id, claimer],
                )
                .await?;
            Ok(settled == 1)
        })
    }

    async fn email_failed(&self, claimer: Claimer, id: Uuid, _now: DateTime<Utc>, error: &str) -> StoreResult<bool> {
        timed!(DB, "email_failed", async {
            let settled = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE outbox SET status = 'failed', last_error = ?, claimed_until = NULL, claimed_by = NULL
                         WHERE id = ? AND claimed_by = ? AND status = 'sending'"
                    ),
                    args![error, id, claimer],
                )
                .await?;
            Ok(settled == 1)
        })
    }

    async fn outbox_backlog(&self) -> StoreResult<u64> {
        timed!(DB, "outbox_backlog", async {
            let row = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT COUNT(*) AS n FROM outbox WHERE status IN ('queued', 'sending')"), args![])
                .await?;
            row.map_or(Ok(0), |row| row.count("n"))
        })
    }
}
