//! What a change tells, as items of its own transaction: each email a job in its lane's
//! partition of the job table, each outcome an audit item.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};

use super::items::{Item, Write, item, n, s, stamp, stamp_text, text};
use super::{DynamoStore, Tables};
use crate::model::account::Account;
use crate::model::audit::AuditEvent;
use crate::model::outcome::Effects;
use crate::model::webhook::{Event, receives};
use crate::store::error::StoreResult;
use crate::store::jobs::{self, JobKind, NewJob};
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
    // The outbox is listed newest first through the `target` index.
    if job.kind == JobKind::Email {
        attributes.push(("target_pk", s(job.kind.as_str())));
        attributes.push(("target_sk", s(job.id.to_string())));
    }
    if let Some(reference) = job.ref_id {
        attributes.push(("ref", s(reference.to_string())));
        // A webhook delivery is listed by its endpoint, newest event first (`target` index).
        if job.kind == JobKind::Webhook {
            attributes.push(("target_pk", s(target_pk(job.kind, &job.target))));
            attributes.push(("target_sk", s(reference.to_string())));
        }
    }
    if let Some(body) = &job.body {
        attributes.push(("body", s(body.as_str())));
    }
    item(job_pk(job.id), "J", attributes)
}

/// The `target` index's partition of the jobs of `kind` for `target` (a webhook endpoint's
/// deliveries).
pub(super) fn target_pk(kind: JobKind, target: &str) -> String {
    format!("{}#{target}", kind.as_str())
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
/// audit events (its webhook deliveries need reads: see [`DynamoStore::told`]). Each is new,
/// so each is written on condition that its key is free (a retried transaction never writes
/// one twice).
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

/// The partition of the webhook endpoints (a handful: one consistent query lists them).
pub(super) const ENDPOINTS: &str = "WH";

impl DynamoStore {
    /// The writes that tell of a change, for its transaction: its emails, its audit events and
    /// its webhook deliveries, with the account as it is now.
    pub(super) async fn told(&self, effects: &Effects) -> StoreResult<Vec<Write>> {
        let mut told = writes(&self.tables, effects)?;
        told.extend(self.deliveries_of(&effects.webhooks(), None).await?);
        Ok(told)
    }

    /// What a change tells (its emails, audit events and webhook deliveries), built once for
    /// every attempt of its transaction.
    pub(super) async fn told_built(&self, effects: &Effects) -> StoreResult<Vec<TransactWriteItem>> {
        self.told(effects).await?.into_iter().map(Write::build).collect()
    }

    /// One delivery of each event to every enabled endpoint that receives its type, carrying
    /// the account as `account` has it (the change's result) or, for another account, as read
    /// now. An event nobody receives costs the one query of the endpoints; an event of an
    /// account that is not there is nobody's news.
    pub(super) async fn deliveries_of(&self, events: &[Event], account: Option<&Account>) -> StoreResult<Vec<Write>> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let endpoints = self.partition(&self.tables.main, ENDPOINTS, "").await?;
        let mut deliveries = Vec::new();
        for event in events {
            let mut receivers = Vec::new();
            for endpoint in &endpoints {
                let enabled = matches!(endpoint.get("enabled"), Some(AttributeValue::Bool(true)));
                if receives(enabled, text(endpoint, "events")?, event.kind) {
                    receivers.push(text(endpoint, "sk")?.to_owned());
                }
            }
            if receivers.is_empty() {
                continue;
            }
            let read;
            let subject = match account {
                Some(account) if account.id == event.account_id => account,
                _ => match self.read_account(event.account_id).await? {
                    Some(stored) => {
                        read = stored.account;
                        &read
                    }
                    None => continue,
                },
            };
            for job in jobs::deliveries(event, subject, receivers)? {
                deliveries.extend(job_writes(&self.tables, &job));
            }
        }
        Ok(deliveries)
    }
}
