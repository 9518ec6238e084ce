//! The job queue (`jobs`): written by [`insert_job`] inside the transaction of the change that
//! causes a job, claimed in batches (`SKIP LOCKED`, so each job goes to one replica; on SQLite
//! the write transaction alone does that), renewed while the worker works, and settled in
//! batches: one transaction, one statement per kind of ending.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Arg, Dialect, Exec, Row, SqlStore, Transaction, args, placeholders, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::StoreResult;
use crate::store::jobs::{Backlog, Claimer, Job, JobKind, JobStore, NewJob, Outcome, Settled};

/// The columns a claimed job is read with.
const JOB_COLUMNS: &str = "id, kind, topic, target, account_id, ref_id, payload, body, attempts, created_at";

pub(super) async fn insert_job(tx: &mut impl Exec, job: &NewJob) -> StoreResult<()> {
    tx.execute(
        sql!(
            "INSERT INTO jobs (id, kind, lane, topic, target, account_id, ref_id, payload, body, status, attempts,
                               next_attempt_at, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)"
        ),
        args![
            job.id,
            job.kind.as_str(),
            &job.lane,
            &job.topic,
            &job.target,
            job.account_id,
            job.ref_id,
            &job.payload,
            &job.body,
            job.created_at,
            job.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// Holds the queued jobs of `kind` going to `target` (an endpoint switched off), or lets them go
/// again, due at `now`. Jobs being sent finish their attempt.
pub(super) async fn hold_jobs(
    tx: &mut impl Exec,
    kind: JobKind,
    target: &str,
    held: bool,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    match held {
        true => {
            tx.execute(
                sql!("UPDATE jobs SET status = 'held' WHERE kind = ? AND target = ? AND status = 'queued'"),
                args![kind.as_str(), target],
            )
            .await
        }
        false => {
            tx.execute(
                sql!(
                    "UPDATE jobs SET status = 'queued', next_attempt_at = ?
                     WHERE kind = ? AND target = ? AND status = 'held'"
                ),
                args![now, kind.as_str(), target],
            )
            .await
        }
    }
}

fn kind_of(name: &str) -> StoreResult<JobKind> {
    JobKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == name)
        .ok_or_else(|| anyhow::anyhow!("a job of the unknown kind {name:?}").into())
}

fn job_from_row(row: &impl Row) -> StoreResult<Job> {
    Ok(Job {
        id: row.id("id")?,
        kind: kind_of(&row.text("kind")?)?,
        topic: row.text("topic")?,
        target: row.text("target")?,
        account_id: row.opt_id("account_id")?,
        ref_id: row.opt_id("ref_id")?,
        payload: row.text("payload")?,
        body: row.opt_text("body")?,
        attempts: row.int("attempts")?.try_into().unwrap_or(u32::MAX),
        created_at: row.time("created_at")?,
    })
}

/// The condition (one `?`, the id list's values after it) that a job is among `n` ids.
fn among(n: usize) -> String {
    format!("id IN ({})", placeholders(n))
}

#[async_trait]
impl<D: Dialect> JobStore for SqlStore<D> {
    async fn queue_jobs(&self, jobs: &[NewJob]) -> StoreResult<()> {
        timed!(
            DB,
            "queue_jobs",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                for job in jobs {
                    insert_job(&mut tx, job).await?;
                }
                tx.commit().await
            })
        )
    }

    async fn claim_jobs(
        &self,
        kind: JobKind,
        claimer: Claimer,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        timed!(DB, "claim_jobs", async {
            // Most polls find nothing due: find that out without opening a transaction.
            let due = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT 1 AS due FROM jobs
                         WHERE kind = ? AND ((status = 'queued' AND next_attempt_at <= ?)
                                             OR (status = 'sending' AND claimed_until <= ?))
                         LIMIT 1"
                    ),
                    args![kind.as_str(), now, now],
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
                            "SELECT d.id FROM jobs d
                             WHERE d.kind = ? AND ((d.status = 'queued' AND d.next_attempt_at <= ?)
                                                   OR (d.status = 'sending' AND d.claimed_until <= ?))
                               AND NOT EXISTS (
                                   SELECT 1 FROM jobs e
                                   WHERE e.lane = d.lane AND e.status IN ('queued', 'held', 'sending')
                                     AND (e.created_at < d.created_at OR (e.created_at = d.created_at AND e.id < d.id)))
                             ORDER BY d.next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED"
                        ),
                        args![kind.as_str(), now, now, i64::from(limit)],
                    )
                    .await?
                    .iter()
                    .map(|row| row.id("id"))
                    .collect::<StoreResult<Vec<Uuid>>>()?;
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let mut claim: Vec<Arg<'_>> = vec![until.into(), claimer.into()];
                claim.extend(ids.iter().map(|&id| Arg::from(id)));
                let update = format!(
                    "UPDATE jobs SET status = 'sending', claimed_until = ?, claimed_by = ?, attempts = attempts + 1
                     WHERE {}",
                    among(ids.len())
                );
                tx.execute_text(&D::prepare(&update), &claim).await?;
                let read = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {}", among(ids.len()));
                let rows = tx.fetch_all_text(&D::prepare(&read), &claim[2..]).await?;
                tx.commit().await?;
                rows.iter().map(job_from_row).collect()
            })
            .await
        })
    }

    /// The kind and status lead the `jobs_due` index, so a renewal reads the jobs being sent
    /// only, however many finished ones the table keeps.
    async fn renew_jobs(&self, kind: JobKind, claimer: Claimer, until: DateTime<Utc>) -> StoreResult<u64> {
        timed!(DB, "renew_jobs", async {
            self.db
                .pool()
                .execute(
                    sql!("UPDATE jobs SET claimed_until = ? WHERE kind = ? AND status = 'sending' AND claimed_by = ?"),
                    args![until, kind.as_str(), claimer],
                )
                .await
        })
    }

    /// The jobs that went (most of a batch) are settled by one statement per receiver status;
    /// each retry, failure and deferral by a statement of its own (they are rare, and each has
    /// its own time and error).
    async fn settle_jobs(&self, claimer: Claimer, settled: &[Settled]) -> StoreResult<u64> {
        if settled.is_empty() {
            return Ok(0);
        }
        let mut done: BTreeMap<Option<u16>, Vec<Uuid>> = BTreeMap::new();
        let mut others = Vec::new();
        for job in settled {
            match &job.outcome {
                Outcome::Done { status } => done.entry(*status).or_default().push(job.id),
                _ => others.push(job),
            }
        }
        let (done, others) = (&done, &others);
        let at = settled.iter().map(|job| job.at).max().unwrap_or_else(Utc::now);
        timed!(
            DB,
            "settle_jobs",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let mut applied = 0;
                for (status, ids) in done {
                    for chunk in ids.chunks(D::MAX_PARAMETERS.saturating_sub(8).clamp(1, 500)) {
                        let status = status_arg(*status);
                        let mut values: Vec<Arg<'_>> = vec![at.into(), status.into(), status.into(), claimer.into()];
                        values.extend(chunk.iter().map(|&id| Arg::from(id)));
                        let update = format!(
                            "UPDATE jobs SET status = 'done', finished_at = ?, last_status = CASE WHEN ? < 0 THEN NULL ELSE ? END, body = NULL,
                                             last_error = NULL, claimed_until = NULL, claimed_by = NULL
                             WHERE claimed_by = ? AND status = 'sending' AND {}",
                            among(chunk.len())
                        );
                        applied += tx.execute_text(&D::prepare(&update), &values).await?;
                    }
                }
                for job in others.iter() {
                    applied += settle_one(&mut tx, claimer, job).await?;
                }
                tx.commit().await?;
                Ok(applied)
            })
        )
    }

    async fn job_backlog(&self, kind: JobKind) -> StoreResult<Backlog> {
        timed!(DB, "job_backlog", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs
                         WHERE kind = ? AND status IN ('queued', 'held', 'sending')"
                    ),
                    args![kind.as_str()],
                )
                .await?;
            match row {
                Some(row) => Ok(Backlog { jobs: row.count("n")?, oldest: row.opt_time("oldest")? }),
                None => Ok(Backlog::default()),
            }
        })
    }
}

/// A receiver's status as bound: `-1` for none, which the statements store as NULL (a NULL
/// integer binds differently on each server).
fn status_arg(status: Option<u16>) -> i64 {
    status.map_or(-1, i64::from)
}

/// Settles one job that did not go: tried again later, given up, or put back untried.
async fn settle_one(tx: &mut impl Exec, claimer: Claimer, job: &Settled) -> StoreResult<u64> {
    match &job.outcome {
        Outcome::Done { .. } => Ok(0),
        Outcome::Retry { at, status, error } => {
            tx.execute(
                sql!(
                    "UPDATE jobs SET status = 'queued', next_attempt_at = ?, last_status = CASE WHEN ? < 0 THEN NULL ELSE ? END,
                                     last_error = ?,
                                     claimed_until = NULL, claimed_by = NULL
                     WHERE id = ? AND claimed_by = ? AND status = 'sending'"
                ),
                args![*at, status_arg(*status), status_arg(*status), error.as_str(), job.id, claimer],
            )
            .await
        }
        Outcome::Failed { status, error } => {
            tx.execute(
                sql!(
                    "UPDATE jobs SET status = 'failed', finished_at = ?, last_status = CASE WHEN ? < 0 THEN NULL ELSE ? END,
                                     last_error = ?,
                                     claimed_until = NULL, claimed_by = NULL
                     WHERE id = ? AND claimed_by = ? AND status = 'sending'"
                ),
                args![job.at, status_arg(*status), status_arg(*status), error.as_str(), job.id, claimer],
            )
            .await
        }
        Outcome::Deferred { at } => {
            tx.execute(
                sql!(
                    "UPDATE jobs SET status = 'queued', next_attempt_at = ?, attempts = attempts - 1,
                                     claimed_until = NULL, claimed_by = NULL
                     WHERE id = ? AND claimed_by = ? AND status = 'sending'"
                ),
                args![*at, job.id, claimer],
            )
            .await
        }
    }
}
