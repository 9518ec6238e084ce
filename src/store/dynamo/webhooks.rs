//! Webhook endpoints and the deliveries owed to them. The endpoints are one partition (`WH`,
//! sorted by id), read whole by every change that tells of an event (see
//! [`DynamoStore::deliveries_of`]); a delivery is a job of the job table, listed by its
//! endpoint through the `target` index (`target_pk = webhook#<endpoint>`, `target_sk = <event
//! id>`), which lags a write by a moment: the delivery log is an operator's view, not a
//! decision.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::effects::{ENDPOINTS, due_sk, job_pk, lane_pk, target_pk};
use super::items::{Item, Write, id, item, key, names, number, opt_text, opt_time, s, sdk_error, stamp, text, time};
use super::jobs::job_id;
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::jobs::JobKind;
use crate::store::webhooks::{Delivery, DeliveryQuery, DeliveryStatus, Endpoint, EventType, WebhookStore};

fn endpoint_key(id: Uuid) -> Item {
    key(ENDPOINTS, id.to_string())
}

fn endpoint_from_item(item: &Item) -> StoreResult<Endpoint> {
    Ok(Endpoint {
        id: Uuid::parse_str(text(item, "sk")?).map_err(anyhow::Error::from)?,
        url: text(item, "url")?.to_owned(),
        events: text(item, "events")?.split_whitespace().filter_map(EventType::parse).collect(),
        description: text(item, "description")?.to_owned(),
        enabled: matches!(item.get("enabled"), Some(AttributeValue::Bool(true))),
        created_at: time(item, "created")?,
        updated_at: time(item, "updated")?,
    })
}

/// The stored form of an endpoint's event list: space-separated.
fn event_list(events: &[EventType]) -> String {
    events.iter().map(|event| event.as_str()).collect::<Vec<_>>().join(" ")
}

fn delivery_from_item(item: &Item) -> StoreResult<Delivery> {
    let stored = text(item, "status")?;
    let status = match stored {
        "done" => DeliveryStatus::Delivered,
        "held" => DeliveryStatus::Queued,
        other => DeliveryStatus::parse(other)
            .ok_or_else(|| anyhow::anyhow!("a webhook delivery has the unknown status {stored:?}"))?,
    };
    let last_status = match item.contains_key("last_status") {
        true => u16::try_from(number(item, "last_status")?).ok(),
        false => None,
    };
    Ok(Delivery {
        endpoint_id: id(item, "target")?,
        event_id: id(item, "ref")?,
        kind: text(item, "topic")?.to_owned(),
        account_id: id(item, "account")?,
        occurred_at: time(item, "created")?,
        status,
        attempts: number(item, "attempts")?.try_into().unwrap_or(u32::MAX),
        next_attempt_at: time(item, "next_at")?,
        last_response_status: last_status,
        last_error: opt_text(item, "last_error")?.map(str::to_owned),
        delivered_at: match status {
            DeliveryStatus::Delivered => opt_time(item, "finished")?,
            _ => None,
        },
    })
}

/// How a delivery status is stored in the job.
fn stored_status(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Delivered => "done",
        other => other.as_str(),
    }
}

impl DynamoStore {
    /// The endpoint's deliveries newest first, from the `target` index: those of events before
    /// `before`, up to `limit` of them (every one without).
    async fn endpoint_jobs(
        &self,
        endpoint_id: Uuid,
        before: Option<Uuid>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let condition = match before {
            Some(_) => "#target_pk = :target AND #target_sk < :before",
            None => "#target_pk = :target",
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.jobs)
            .index_name("target")
            .key_condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
            .expression_attribute_values(":target", s(target_pk(JobKind::Webhook, &endpoint_id.to_string())))
            .scan_index_forward(false);
        if let Some(before) = before {
            query = query.expression_attribute_values(":before", s(before.to_string()));
        }
        let mut pages = query.into_paginator().items().send();
        let mut found = Vec::new();
        while let Some(job) = pages.next().await {
            found.push(job.map_err(sdk_error)?);
            if limit.is_some_and(|limit| found.len() >= limit) {
                break;
            }
        }
        Ok(found)
    }

    /// The job of the endpoint's delivery of `event_id`, read strongly consistent.
    async fn delivery_job(&self, endpoint_id: Uuid, event_id: Uuid) -> StoreResult<Option<Item>> {
        let condition = "#target_pk = :target AND #target_sk = :event";
        let query = self
            .client
            .query()
            .table_name(&self.tables.jobs)
            .index_name("target")
            .key_condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
            .expression_attribute_values(":target", s(target_pk(JobKind::Webhook, &endpoint_id.to_string())))
            .expression_attribute_values(":event", s(event_id.to_string()))
            .limit(1);
        let Some(listed) = query.send().await.map_err(sdk_error)?.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        // The index lags: the job itself says where the delivery stands.
        self.get(&self.tables.jobs, key(text(&listed, "pk")?, "J")).await
    }

    /// Holds the endpoint's queued deliveries (it was switched off) or makes its held ones due
    /// at `now` (switched on). One conditional write per delivery: one the worker took
    /// meanwhile is left to it.
    async fn hold_deliveries(&self, endpoint_id: Uuid, held: bool, now: DateTime<Utc>) -> StoreResult<()> {
        let kind = JobKind::Webhook.as_str();
        for job in self.endpoint_jobs(endpoint_id, None, None).await? {
            let job_id = job_id(&job)?;
            let write = match held {
                true => {
                    Write::update(&self.tables.jobs, key(job_pk(job_id), "J"), "SET #status = :held, #due_pk = :due_pk")
                        .when("#status = :queued")
                        .value("due_pk", s(format!("{kind}#held")))
                }
                false => Write::update(
                    &self.tables.jobs,
                    key(job_pk(job_id), "J"),
                    "SET #status = :queued, #next_at = :now, #due_pk = :due_pk, #due_sk = :due",
                )
                .when("#status = :held")
                .value("now", stamp(now))
                .value("due_pk", s(kind))
                .value("due", s(due_sk(now, job_id))),
            };
            let write = write.value("held", s("held")).value("queued", s("queued"));
            self.update_if(write).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl WebhookStore for DynamoStore {
    async fn insert_endpoint(&self, endpoint: &Endpoint, secret_sealed: &[u8], effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_endpoint", async {
            let written = item(
                ENDPOINTS,
                endpoint.id.to_string(),
                vec![
                    ("url", s(endpoint.url.as_str())),
                    ("events", s(event_list(&endpoint.events))),
                    ("description", s(endpoint.description.as_str())),
                    ("enabled", AttributeValue::Bool(endpoint.enabled)),
                    ("created", stamp(endpoint.created_at)),
                    ("updated", stamp(endpoint.updated_at)),
                    ("secret", AttributeValue::B(secret_sealed.to_vec().into())),
                ],
            );
            let mut writes = vec![Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)")];
            writes.extend(self.told(effects).await?);
            self.insert_new(writes, "insert_endpoint").await
        })
    }

    async fn endpoints(&self) -> StoreResult<Vec<Endpoint>> {
        timed!(DB, "endpoints", async {
            let items = self.partition(&self.tables.main, ENDPOINTS, "").await?;
            let mut endpoints = items.iter().map(endpoint_from_item).collect::<StoreResult<Vec<_>>>()?;
            endpoints.sort_by_key(|endpoint| (endpoint.created_at, endpoint.id));
            Ok(endpoints)
        })
    }

    async fn endpoint(&self, id: Uuid) -> StoreResult<Option<Endpoint>> {
        timed!(DB, "endpoint", async {
            self.get(&self.tables.main, endpoint_key(id)).await?.as_ref().map(endpoint_from_item).transpose()
        })
    }

    /// An endpoint switched off holds its queued deliveries; switched on, they are due at once.
    async fn update_endpoint(&self, endpoint: &Endpoint, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "update_endpoint", async {
            let update = "SET #url = :url, #events = :events, #description = :description, #enabled = :enabled, \
                          #updated = :updated";
            let write = Write::update(&self.tables.main, endpoint_key(endpoint.id), update)
                .when("attribute_exists(#pk)")
                .value("url", s(endpoint.url.as_str()))
                .value("events", s(event_list(&endpoint.events)))
                .value("description", s(endpoint.description.as_str()))
                .value("enabled", AttributeValue::Bool(endpoint.enabled))
                .value("updated", stamp(endpoint.updated_at));
            let mut writes = vec![write];
            writes.extend(self.told(effects).await?);
            if !self.write_if(writes, "update_endpoint").await? {
                return Ok(false);
            }
            self.hold_deliveries(endpoint.id, !endpoint.enabled, endpoint.updated_at).await?;
            Ok(true)
        })
    }

    async fn delete_endpoint(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_endpoint", async {
            let mut writes = vec![Write::delete(&self.tables.main, endpoint_key(id)).when("attribute_exists(#pk)")];
            writes.extend(self.told(effects).await?);
            if !self.write_if(writes, "delete_endpoint").await? {
                return Ok(false);
            }
            // Its deliveries after it: a worker finding one of them finds the endpoint gone.
            for job in self.endpoint_jobs(id, None, None).await? {
                let job_id = job_id(&job)?;
                let entry = key(lane_pk(JobKind::Webhook, text(&job, "lane")?), job_id.to_string());
                let writes = vec![
                    Write::delete(&self.tables.jobs, key(job_pk(job_id), "J")),
                    Write::delete(&self.tables.jobs, entry),
                ];
                self.write_if(writes, "delete_endpoint").await?;
            }
            Ok(true)
        })
    }

    async fn endpoint_with_secret(&self, id: Uuid) -> StoreResult<Option<(Endpoint, Vec<u8>)>> {
        timed!(DB, "endpoint_with_secret", async {
            let Some(found) = self.get(&self.tables.main, endpoint_key(id)).await? else { return Ok(None) };
            let Some(AttributeValue::B(secret)) = found.get("secret") else {
                return Err(anyhow::anyhow!("an endpoint without its secret").into());
            };
            Ok(Some((endpoint_from_item(&found)?, secret.clone().into_inner())))
        })
    }

    async fn deliveries(&self, query: &DeliveryQuery) -> StoreResult<Vec<Delivery>> {
        timed!(DB, "deliveries", async {
            let status = query.status.map(stored_status);
            // A held delivery is listed as queued.
            let also = if status == Some("queued") { Some("held") } else { status };
            let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
            let mut listed = Vec::new();
            let mut before = query.before;
            // The index lists what the query filters: page on until the page is full.
            loop {
                let page = self.endpoint_jobs(query.endpoint_id, before, Some(limit.max(1) * 4)).await?;
                let Some(last) = page.last() else { break };
                before = Some(id(last, "ref")?);
                let full = page.len() >= limit.max(1) * 4;
                for job in &page {
                    let stored = text(job, "status")?;
                    if status.is_none_or(|wanted| stored == wanted || Some(stored) == also) {
                        listed.push(delivery_from_item(job)?);
                    }
                }
                if listed.len() >= limit || !full {
                    break;
                }
            }
            listed.truncate(limit);
            Ok(listed)
        })
    }

    async fn delivery(&self, endpoint_id: Uuid, event_id: Uuid) -> StoreResult<Option<Delivery>> {
        timed!(DB, "delivery", async {
            self.delivery_job(endpoint_id, event_id).await?.as_ref().map(delivery_from_item).transpose()
        })
    }

    async fn replay_delivery(&self, endpoint_id: Uuid, event_id: Uuid, now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(DB, "replay_delivery", async {
            let Some(job) = self.delivery_job(endpoint_id, event_id).await? else { return Ok(false) };
            let enabled = self.endpoint(endpoint_id).await?.is_some_and(|endpoint| endpoint.enabled);
            let kind = JobKind::Webhook.as_str();
            let job_id = job_id(&job)?;
            let (status, due_pk) = match enabled {
                true => ("queued", kind.to_owned()),
                false => ("held", format!("{kind}#held")),
            };
            let replay = Write::update(
                &self.tables.jobs,
                key(job_pk(job_id), "J"),
                "SET #status = :status, #attempts = :zero, #next_at = :now, #due_pk = :due_pk, #due_sk = :due \
                 REMOVE #finished, #last_error, #last_status",
            )
            .when("#status = :done OR #status = :failed")
            .value("status", s(status))
            .value("zero", super::items::n(0))
            .value("now", stamp(now))
            .value("due_pk", s(due_pk))
            .value("due", s(due_sk(now, job_id)))
            .value("done", s("done"))
            .value("failed", s("failed"));
            // Back in its lane, in the place of its id.
            let created = vec![("created", stamp(time(&job, "created")?))];
            let entry = item(lane_pk(JobKind::Webhook, text(&job, "lane")?), job_id.to_string(), created);
            self.write_if(vec![replay, Write::put(&self.tables.jobs, entry)], "replay_delivery").await
        })
    }
}
