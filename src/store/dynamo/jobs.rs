//! The job queue (emails, webhook deliveries, logout notices) and the outbox that writes to it.
//!
//! A claim reads the `due` index (what is due, or whose claim ran out, oldest first), asks the
//! partition of each lane found there for the lane's first job (strongly consistent), and
//! takes that job by a write on condition that it is due: of replicas claiming at once, each
//! job goes to one, and a lane's jobs go in the order written. Settling a job that ended (sent or given
//! up) removes its lane entry in the same transaction, which lets the lane's next job go.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::effects::{due_sk, job_pk, job_writes, lane_pk};
use super::items::{Item, Write, WriteError, key, n, names, opt_text, s, sdk_error, stamp, stamp_text, text, time};
use super::{DynamoStore, MAX_TRANSACTION};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::jobs::{Backlog, Claimer, Job, JobKind, JobStore, NewJob, Outcome, Settled};
use crate::store::outbox::{NewEmail, OutboxStore, email_job};

/// How many times a write of new items is tried when it meets a concurrent transaction.
const ATTEMPTS: usize = 4;

fn kind_of(name: &str) -> StoreResult<JobKind> {
    JobKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == name)
        .ok_or_else(|| anyhow::anyhow!("a job of the unknown kind {name:?}").into())
}

fn opt_id(item: &Item, name: &str) -> StoreResult<Option<Uuid>> {
    opt_text(item, name)?
        .map(|id| Uuid::parse_str(id).map_err(|_| anyhow::anyhow!("{name:?} is not a UUID").into()))
        .transpose()
}

pub(super) fn job_id(item: &Item) -> StoreResult<Uuid> {
    let pk = text(item, "pk")?;
    Uuid::parse_str(pk.trim_start_matches("J#")).map_err(|_| anyhow::anyhow!("a job item keyed {pk:?}").into())
}

fn job_from_item(item: &Item) -> StoreResult<Job> {
    Ok(Job {
        id: job_id(item)?,
        kind: kind_of(text(item, "kind")?)?,
        topic: text(item, "topic")?.to_owned(),
        target: text(item, "target")?.to_owned(),
        account_id: opt_id(item, "account")?,
        ref_id: opt_id(item, "ref")?,
        payload: text(item, "payload")?.to_owned(),
        body: opt_text(item, "body")?.map(str::to_owned),
        attempts: super::items::number(item, "attempts")?.try_into().unwrap_or(u32::MAX),
        created_at: time(item, "created")?,
    })
}

/// The update that settles a job, and whether the job has ended (its lane entry goes).
fn settlement(job: &Settled, claimer: Claimer, table: &str) -> (Write, bool) {
    let key = key(job_pk(job.id), "J");
    let released = "REMOVE #claimed_until, #claimed_by";
    let (write, ended) = match &job.outcome {
        Outcome::Done { status } => {
            let update = format!(
                "SET #status = :done, #finished = :at{} {released}, #body, #last_error, #due_pk, #due_sk",
                last_status(*status)
            );
            (Write::update(table, key, update).value("done", s("done")).value("at", stamp(job.at)), true)
        }
        Outcome::Failed { status, error } => {
            let update = format!(
                "SET #status = :failed, #finished = :at, #last_error = :error{} {released}, #due_pk, #due_sk",
                last_status(*status)
            );
            let write = Write::update(table, key, update).value("failed", s("failed")).value("at", stamp(job.at));
            (write.value("error", s(error.as_str())), true)
        }
        Outcome::Retry { at, status, error } => {
            let update = format!(
                "SET #status = :queued, #next_at = :next, #due_sk = :due, #last_error = :error{} {released}",
                last_status(*status)
            );
            let write = Write::update(table, key, update).value("queued", s("queued")).value("next", stamp(*at));
            (write.value("due", s(due_sk(*at, job.id))).value("error", s(error.as_str())), false)
        }
        Outcome::Deferred { at } => {
            let update = format!(
                "SET #status = :queued, #next_at = :next, #due_sk = :due, #attempts = #attempts - :one {released}"
            );
            let write = Write::update(table, key, update).value("queued", s("queued")).value("next", stamp(*at));
            (write.value("due", s(due_sk(*at, job.id))).value("one", n(1)), false)
        }
    };
    let status = match &job.outcome {
        Outcome::Done { status } | Outcome::Failed { status, .. } | Outcome::Retry { status, .. } => *status,
        Outcome::Deferred { .. } => None,
    };
    let write = write
        .when("#status = :sending AND #claimed_by = :claimer")
        .value("sending", s("sending"))
        .value("claimer", s(claimer.to_string()));
    let write = match status {
        Some(status) => write.value("last_status", n(status)),
        None => write,
    };
    (write, ended)
}

/// The part of a settling update that records the receiver's status (when it has one).
fn last_status(status: Option<u16>) -> &'static str {
    match status {
        Some(_) => ", #last_status = :last_status",
        None => "",
    }
}

impl DynamoStore {
    /// Writes new items in one transaction, again when it met a concurrent one.
    pub(super) async fn insert_new(&self, writes: Vec<Write>, what: &str) -> StoreResult<()> {
        let built: Vec<TransactWriteItem> = writes.into_iter().map(Write::build).collect::<StoreResult<_>>()?;
        for _ in 0..ATTEMPTS {
            match self.transact(built.clone()).await {
                Err(WriteError::Conflict) => continue,
                done => return done.map_err(|e| e.into_store(what)),
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("{what}: kept meeting concurrent writes")))
    }

    /// The items of the `due` index's partition `due_pk` (every page).
    async fn due_items(
        &self,
        due_pk: &str,
        before: Option<DateTime<Utc>>,
        limit: Option<i32>,
    ) -> StoreResult<Vec<Item>> {
        let condition = match before {
            Some(_) => "#due_pk = :kind AND #due_sk <= :bound",
            None => "#due_pk = :kind",
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.jobs)
            .index_name("due")
            .key_condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
            .expression_attribute_values(":kind", s(due_pk));
        if let Some(at) = before {
            // Every key of a time up to `at`: the id after `#` sorts below `~`.
            query = query.expression_attribute_values(":bound", s(format!("{}#~", stamp_text(at))));
        }
        match limit {
            Some(limit) => Ok(query.limit(limit).send().await.map_err(sdk_error)?.items.unwrap_or_default()),
            None => query.into_paginator().items().send().try_collect().await.map_err(sdk_error),
        }
    }

    /// The id of the first job of a lane (strongly consistent).
    async fn first_of_lane(&self, kind: JobKind, lane: &str) -> StoreResult<Option<String>> {
        let query = self
            .client
            .query()
            .table_name(&self.tables.jobs)
            .key_condition_expression("#pk = :pk")
            .set_expression_attribute_names(names(&["#pk"]))
            .expression_attribute_values(":pk", s(lane_pk(kind, lane)))
            .consistent_read(true)
            .limit(1);
        let found = query.send().await.map_err(sdk_error)?;
        found.items().first().map(|entry| text(entry, "sk").map(str::to_owned)).transpose()
    }

    /// Takes the job for `claimer` until `until`, if it is still due at `now`.
    async fn take(
        &self,
        id: Uuid,
        claimer: Claimer,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Option<Job>> {
        let update = "SET #status = :sending, #claimed_until = :until, #claimed_by = :claimer, \
                      #attempts = #attempts + :one, #due_sk = :due";
        let condition = "(#status = :queued AND #next_at <= :now) OR (#status = :sending AND #claimed_until <= :now)";
        let take = Write::update(&self.tables.jobs, key(job_pk(id), "J"), update)
            .when(condition)
            .value("sending", s("sending"))
            .value("queued", s("queued"))
            .value("until", stamp(until))
            .value("claimer", s(claimer.to_string()))
            .value("one", n(1))
            .value("due", s(due_sk(until, id)))
            .value("now", stamp(now));
        // `None`: taken by another claimer, or settled, meanwhile.
        self.update_if(take).await?.as_ref().map(job_from_item).transpose()
    }
}

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn queue_email(&self, email: &NewEmail) -> StoreResult<()> {
        timed!(DB, "queue_email", self.insert_new(job_writes(&self.tables, &email_job(email)).into(), "queue_email"))
    }

    async fn record(&self, effects: &Effects) -> StoreResult<()> {
        if effects.is_empty() {
            return Ok(());
        }
        timed!(DB, "record", async { self.insert_new(self.told(effects).await?, "record").await })
    }
}

#[async_trait]
impl JobStore for DynamoStore {
    async fn queue_jobs(&self, jobs: &[NewJob]) -> StoreResult<()> {
        timed!(DB, "queue_jobs", async {
            for chunk in jobs.chunks(MAX_TRANSACTION / 2) {
                let writes = chunk.iter().flat_map(|job| job_writes(&self.tables, job)).collect();
                self.insert_new(writes, "queue_jobs").await?;
            }
            Ok(())
        })
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
            let page = i32::try_from(limit.saturating_mul(4).clamp(1, 1000)).unwrap_or(1000);
            let candidates = self.due_items(kind.as_str(), Some(now), Some(page)).await?;
            let mut lanes = HashSet::new();
            let mut claimed = Vec::new();
            for candidate in &candidates {
                if claimed.len() >= limit as usize {
                    break;
                }
                let lane = text(candidate, "lane")?;
                if !lanes.insert(lane.to_owned()) {
                    continue;
                }
                // The lane's first job goes first: the candidate, or an earlier one (a retry
                // due later than the candidate), if that is due.
                let Some(first) = self.first_of_lane(kind, lane).await? else { continue };
                let id = Uuid::parse_str(&first).map_err(|_| anyhow::anyhow!("a lane entry keyed {first:?}"))?;
                if let Some(job) = self.take(id, claimer, now, until).await? {
                    claimed.push(job);
                }
            }
            Ok(claimed)
        })
    }

    async fn renew_jobs(&self, kind: JobKind, claimer: Claimer, until: DateTime<Utc>) -> StoreResult<u64> {
        timed!(DB, "renew_jobs", async {
            let mut renewed = 0;
            for item in self.due_items(kind.as_str(), None, None).await? {
                if opt_text(&item, "claimed_by")? != Some(claimer.to_string().as_str()) {
                    continue;
                }
                let id = job_id(&item)?;
                let renewal = Write::update(
                    &self.tables.jobs,
                    key(job_pk(id), "J"),
                    "SET #claimed_until = :until, #due_sk = :due",
                )
                .when("#status = :sending AND #claimed_by = :claimer")
                .value("until", stamp(until))
                .value("due", s(due_sk(until, id)))
                .value("sending", s("sending"))
                .value("claimer", s(claimer.to_string()));
                match self.transact(vec![renewal.build()?]).await {
                    Ok(()) => renewed += 1,
                    Err(WriteError::Store(error)) => return Err(error),
                    Err(_) => {}
                }
            }
            Ok(renewed)
        })
    }

    async fn settle_jobs(&self, claimer: Claimer, settled: &[Settled]) -> StoreResult<u64> {
        timed!(DB, "settle_jobs", async {
            let mut applied = 0;
            for job in settled {
                // The lane, whose entry a final settlement deletes in the same transaction.
                let Some(item) = self.get(&self.tables.jobs, key(job_pk(job.id), "J")).await? else { continue };
                let (write, ended) = settlement(job, claimer, &self.tables.jobs);
                let mut writes = vec![write.build()?];
                if ended {
                    let entry = key(lane_pk(kind_of(text(&item, "kind")?)?, text(&item, "lane")?), job.id.to_string());
                    writes.push(Write::delete(&self.tables.jobs, entry).build()?);
                }
                match self.transact(writes).await {
                    Ok(()) => applied += 1,
                    Err(WriteError::Store(error)) => return Err(error),
                    // Taken over by another claimer meanwhile.
                    Err(_) => {}
                }
            }
            Ok(applied)
        })
    }

    async fn job_backlog(&self, kind: JobKind) -> StoreResult<Backlog> {
        timed!(DB, "job_backlog", async {
            let mut backlog = Backlog::default();
            for due_pk in [kind.as_str().to_owned(), format!("{}#held", kind.as_str())] {
                for item in self.due_items(&due_pk, None, None).await? {
                    let created = time(&item, "created")?;
                    backlog.jobs += 1;
                    backlog.oldest = Some(backlog.oldest.map_or(created, |oldest| oldest.min(created)));
                }
            }
            Ok(backlog)
        })
    }
}
