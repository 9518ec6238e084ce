//! The audit trail: an item per event in its month's partition (`M#<yyyy-mm>`, sorted by the
//! event's UUIDv7, so by time), and in the `account` index when it concerns an account. A list
//! reads the account's index, or the months newest first, and keeps what the filter matches.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use chrono::{DateTime, Datelike, Utc};
use uuid::Uuid;

use super::effects::audit_item;
use super::items::{Item, Write, id, key, names, opt_text, s, sdk_error, text, time};
use super::{DynamoStore, MAX_TRANSACTION};
use crate::audit::{AuditEvent, AuditStore, EventFilter};
use crate::metrics::{DATABASE as DB, timed};
use crate::priority::Pace;
use crate::store::error::StoreResult;

/// The first month whose partition a list or a purge reads: no event is older.
const FIRST_MONTH: (i32, u32) = (2025, 1);
/// The most deletions one call sends (DynamoDB's batch).
const BATCH: usize = 25;

fn event_from_item(item: &Item) -> StoreResult<AuditEvent> {
    let detail = opt_text(item, "detail")?.map(serde_json::from_str).transpose().map_err(anyhow::Error::from)?;
    let owned = |name| opt_text(item, name).map(|v| v.map(str::to_owned));
    Ok(AuditEvent {
        id: id(item, "sk")?,
        at: time(item, "at")?,
        kind: text(item, "kind")?.to_owned(),
        account_id: opt_text(item, "account_pk")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?,
        actor_id: opt_text(item, "actor")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?,
        ip: owned("ip")?,
        user_agent: owned("ua")?,
        request_id: owned("request")?,
        detail,
    })
}

/// The months from `newest` back to the first, as (year, month).
fn months_back(newest: DateTime<Utc>, oldest: Option<DateTime<Utc>>) -> impl Iterator<Item = (i32, u32)> {
    let floor = oldest.map_or(FIRST_MONTH, |at| (at.year(), at.month())).max(FIRST_MONTH);
    std::iter::successors(Some((newest.year(), newest.month())), |&(year, month)| {
        Some(if month == 1 { (year - 1, 12) } else { (year, month - 1) })
    })
    .take_while(move |&month| month >= floor)
}

/// When a UUIDv7 was made.
fn time_of(id: Uuid) -> Option<DateTime<Utc>> {
    let (seconds, nanos) = id.get_timestamp()?.to_unix();
    DateTime::from_timestamp(i64::try_from(seconds).ok()?, nanos)
}

impl DynamoStore {
    /// The events of one partition (a month's, or an account's in the index), newest first,
    /// before `before`, as many as `wanted` of those `filter` keeps, added to `found`.
    async fn events_of(
        &self,
        index: Option<&str>,
        partition: (&str, String),
        filter: &EventFilter,
        found: &mut Vec<AuditEvent>,
    ) -> StoreResult<()> {
        let (pk, value) = partition;
        let condition = match filter.before {
            Some(_) => format!("#{pk} = :pk AND #sk < :before"),
            None => format!("#{pk} = :pk"),
        };
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.audit)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression(&condition)
            .set_expression_attribute_names(names(&[&condition]))
            .expression_attribute_values(":pk", s(value))
            .scan_index_forward(false);
        if let Some(before) = filter.before {
            query = query.expression_attribute_values(":before", s(before.to_string()));
        }
        let mut pages = query.into_paginator().send();
        while let Some(page) = pages.next().await {
            for item in page.map_err(sdk_error)?.items() {
                let event = event_from_item(item)?;
                if filter.matches(&event) {
                    found.push(event);
                    if found.len() >= filter.limit as usize {
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl AuditStore for DynamoStore {
    async fn insert_events(&self, events: &[AuditEvent]) -> StoreResult<()> {
        timed!(DB, "insert_events", async {
            for chunk in events.chunks(MAX_TRANSACTION) {
                // Unconditional: an event stored already is written again as it was.
                let writes = chunk.iter().map(|event| Write::put(&self.tables.audit, audit_item(event))).collect();
                self.insert_new(writes, "insert_events").await?;
            }
            Ok(())
        })
    }

    async fn list_events(&self, filter: &EventFilter) -> StoreResult<Vec<AuditEvent>> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        timed!(DB, "list_events", async {
            let mut found = Vec::new();
            if let Some(account) = filter.account_id {
                self.events_of(Some("account"), ("account_pk", account.to_string()), filter, &mut found).await?;
                return Ok(found);
            }
            let newest = [filter.until, filter.before.and_then(time_of)].into_iter().flatten().min();
            for (year, month) in months_back(newest.unwrap_or_else(Utc::now).min(Utc::now()), filter.since) {
                let partition = ("pk", format!("M#{year:04}-{month:02}"));
                self.events_of(None, partition, filter, &mut found).await?;
                if found.len() >= filter.limit as usize {
                    break;
                }
            }
            Ok(found)
        })
    }

    /// Deletes in batches, month by month; DynamoDB's on-demand capacity absorbs them, so the
    /// pace is not needed.
    async fn purge_events(&self, before: DateTime<Utc>, _pace: Pace) -> StoreResult<u64> {
        timed!(DB, "purge_events", async {
            let mut purged = 0;
            for (year, month) in months_back(before, None) {
                let partition = format!("M#{year:04}-{month:02}");
                let query = self
                    .client
                    .query()
                    .table_name(&self.tables.audit)
                    .key_condition_expression("#pk = :pk")
                    .set_expression_attribute_names(names(&["#pk"]))
                    .expression_attribute_values(":pk", s(partition.as_str()));
                let items: Vec<Item> = query.into_paginator().items().send().try_collect().await.map_err(sdk_error)?;
                let old: Vec<String> = items
                    .iter()
                    .filter(|item| time(item, "at").is_ok_and(|at| at < before))
                    .map(|item| text(item, "sk").map(str::to_owned))
                    .collect::<StoreResult<_>>()?;
                for batch in old.chunks(BATCH) {
                    let mut requests: Vec<WriteRequest> = batch
                        .iter()
                        .map(|sk| {
                            let delete =
                                DeleteRequest::builder().set_key(Some(key(partition.as_str(), sk.as_str()))).build();
                            Ok(WriteRequest::builder().delete_request(delete.map_err(anyhow::Error::from)?).build())
                        })
                        .collect::<StoreResult<_>>()?;
                    // What DynamoDB leaves unprocessed (when it throttles) is sent again.
                    while !requests.is_empty() {
                        let call = self.client.batch_write_item().request_items(&self.tables.audit, requests);
                        let answer = call.send().await.map_err(sdk_error)?;
                        requests = answer
                            .unprocessed_items
                            .and_then(|mut left| left.remove(&self.tables.audit))
                            .unwrap_or_default();
                    }
                    purged += batch.len() as u64;
                }
            }
            Ok(purged)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_run_back_across_a_year_to_the_floor() {
        let at = DateTime::parse_from_rfc3339("2026-02-10T00:00:00Z").unwrap().with_timezone(&Utc);
        let since = DateTime::parse_from_rfc3339("2025-11-30T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(
            months_back(at, Some(since)).collect::<Vec<_>>(),
            vec![(2026, 2), (2026, 1), (2025, 12), (2025, 11)]
        );
        assert_eq!(months_back(at, None).count(), 14, "back to January 2025");
        let id = Uuid::now_v7();
        assert!(time_of(id).is_some_and(|t| (Utc::now() - t).num_seconds().abs() < 5));
    }
}
