//! What a change tells, as items of its own transaction: each email a job in its lane's
//! partition of the job table, each outcome an audit item.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Tables;
use super::items::{Item, Write, item, n, s, stamp, stamp_text};
use crate::model::audit::AuditEvent;
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::jobs::{JobKind, NewJob};
use crate::store::outbox::email_job;

/// The partition of a lane's entries: one per job waiting, held or being sent, sorted by id
/// (UUIDv7: the order written), so that a strongly consistent query finds the lane's first.
pub(super) fn lane_pk(kind: JobKind, lane: &str) -> String {
    format!("L#{}#{lane}", kind.as_str())
}

pub(super) fn job_pk(id: Uuid) -> String {
    format!("J#{id}")
}

/// The `due` index's sort key of a job claimable from `at`.
pub(super) fn due_sk(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}#{id}", stamp_text(at))
}

/// The writes of a new job: the job, queued, due at once (listed in the `due` index), and its
/// lane's entry.
pub(super) fn job_writes(tables: &Tables, job: &NewJob) -> [Write; 2] {
    let fresh = "attribute_not_exists(#pk)";
    let entry = item(lane_pk(job.kind, &job.lane), job.id.to_string(), vec![("created", stamp(job.created_at))]);
    [Write::put(&tables.jobs, job_item(job)).when(fresh), Write::put(&tables.jobs, entry).when(fresh)]
}

fn job_item(job: &NewJob) -> Item {
    let mut attributes = vec![
        ("kind", s(job.kind.as_str())),
        ("lane", s(job.lane.as_str())),
        ("topic", s(job.topic.as_str())),
        ("target", s(job.target.as_str())),
        ("payload", s(job.payload.as_str())),
        ("status", s("queued")),
        ("attempts", n(0)),
        ("next_at", stamp(job.created_at)),
        ("created", stamp(job.created_at)),
        ("due_pk", s(job.kind.as_str())),
        ("due_sk", s(due_sk(job.created_at, job.id))),
    ];
    if let Some(account) = job.account_id {
        attributes.push(("account", s(account.to_string())));
    }
    if let Some(reference) = job.ref_id {
        attributes.push(("ref", s(reference.to_string())));
    }
    if let Some(body) = &job.body {
        attributes.push(("body", s(body.as_str())));
    }
    item(job_pk(job.id), "J", attributes)
}

/// The partition of the audit events of `at`'s month.
pub(super) fn audit_pk(at: DateTime<Utc>) -> String {
    format!("M#{}", at.format("%Y-%m"))
}

/// An audit event's item: in its month's partition, and (when it concerns an account) in the
/// `account` index.
pub(super) fn audit_item(event: &AuditEvent) -> Item {
    let event = event.storable();
    let mut attributes = vec![("at", stamp(event.at)), ("kind", s(event.kind.as_str()))];
    if let Some(account) = event.account_id {
        attributes.push(("account_pk", s(account.to_string())));
    }
    let texts = [("actor", event.actor_id.map(|a| a.to_string())), ("ip", event.ip), ("ua", event.user_agent)];
    for (name, value) in texts.into_iter().chain([("request", event.request_id)]) {
        if let Some(value) = value {
            attributes.push((name, s(value)));
        }
    }
    if let Some(detail) = &event.detail {
        attributes.push(("detail", s(detail.to_string())));
    }
    item(audit_pk(event.at), event.id.to_string(), attributes)
}

/// The writes that tell of a change, to go in its transaction: its emails (as jobs) and its
/// audit events. Each is new, so each is written on condition that its key is free (a
/// retried transaction never writes one twice).
pub(super) fn writes(tables: &Tables, effects: &Effects) -> StoreResult<Vec<Write>> {
    let fresh = "attribute_not_exists(#pk)";
    let mut writes = Vec::with_capacity(2 * effects.emails.len() + effects.outcomes.len());
    for email in &effects.emails {
        writes.extend(job_writes(tables, &email_job(email)));
    }
    for event in effects.audit() {
        writes.push(Write::put(&tables.audit, audit_item(&event)).when(fresh));
    }
    Ok(writes)
}
