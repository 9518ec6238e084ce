//! Administration: the account list and the outbox. Accounts are listed newest first through
//! the `listing` index (`by_pk = A`, `by_sk = <id>`, UUIDv7), filtered by DynamoDB as it reads
//! them: status, role, creation time, and the search, a substring of the lower-cased address,
//! username or name, as on SQL. What is degraded is the cost, not the answer: a search or a
//! filter reads through the accounts until a page is full (every account, for a count), where
//! SQL has an index; the index lags a write by a moment. The outbox is listed newest first
//! through the job table's `target` index (`target_pk = email`).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::Select;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::effects::{due_sk, job_pk, lane_pk};
use super::items::{Item, Write, item, key, names, number, opt_time, s, sdk_error, stamp, text, time};
use super::plan::stored_from_item;
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Account;
use crate::store::admin::{AccountQuery, AdminStore, OutboxEntry, OutboxQuery, Retried};
use crate::store::error::StoreResult;
use crate::store::jobs::JobKind;

/// The query of the account list's index and the filter of `query`, as (key condition, filter,
/// values).
fn account_filter(query: &AccountQuery) -> (String, Option<String>, Vec<(&'static str, String)>) {
    let mut condition = "#by_pk = :accounts".to_owned();
    let mut values = vec![(":accounts", "A".to_owned())];
    if let Some(before) = query.before {
        condition.push_str(" AND #by_sk < :before");
        values.push((":before", before.to_string()));
    }
    let mut filters = Vec::new();
    if let Some(status) = query.status {
        filters.push("#status = :status".to_owned());
        values.push((":status", status.as_str().to_owned()));
    }
    if let Some(role) = query.role {
        filters.push("#role = :role".to_owned());
        values.push((":role", role.as_str().to_owned()));
    }
    if let Some(after) = query.created_after {
        filters.push("#created >= :after".to_owned());
        values.push((":after", super::items::stamp_text(after)));
    }
    if let Some(before) = query.created_before {
        filters.push("#created < :created_before".to_owned());
        values.push((":created_before", super::items::stamp_text(before)));
    }
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        filters
            .push("(contains(#email_norm, :q) OR contains(#username_norm, :q) OR contains(#name_norm, :q))".to_owned());
        values.push((":q", q.to_lowercase()));
    }
    let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
    (condition, filter, values)
}

fn outbox_from_item(item: &Item) -> StoreResult<OutboxEntry> {
    let status = match text(item, "status")? {
        "done" => "sent".to_owned(),
        "held" => "queued".to_owned(),
        other => other.to_owned(),
    };
    let payload: serde_json::Value = serde_json::from_str(text(item, "payload")?).map_err(anyhow::Error::from)?;
    let sent = status == "sent";
    Ok(OutboxEntry {
        id: super::jobs::job_id(item)?,
        kind: text(item, "topic")?.to_owned(),
        recipient: text(item, "target")?.to_owned(),
        subject: payload["subject"].as_str().unwrap_or_default().to_owned(),
        status,
        attempts: number(item, "attempts")?.try_into().unwrap_or(u32::MAX),
        last_error: super::items::opt_text(item, "last_error")?.map(str::to_owned),
        created_at: time(item, "created")?,
        next_attempt_at: time(item, "next_at")?,
        sent_at: if sent { opt_time(item, "finished")? } else { None },
    })
}

impl DynamoStore {
    /// The accounts matching `query`, newest first: at most `limit` of them, or, with
    /// `count_to`, only how many (up to that bound).
    async fn accounts_matching(
        &self,
        query: &AccountQuery,
        limit: Option<usize>,
        count_to: Option<u64>,
    ) -> StoreResult<(Vec<Account>, u64)> {
        let (condition, filter, values) = account_filter(query);
        let mut request = self
            .client
            .query()
            .table_name(&self.tables.main)
            .index_name("listing")
            .key_condition_expression(&condition)
            .set_filter_expression(filter.clone())
            .set_expression_attribute_names(names(&[&condition, filter.as_deref().unwrap_or_default()]))
            .scan_index_forward(false);
        for (name, value) in values {
            request = request.expression_attribute_values(name, s(value));
        }
        if count_to.is_some() {
            request = request.select(Select::Count);
        }
        let (mut accounts, mut counted) = (Vec::new(), 0u64);
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_error)?;
            counted += u64::try_from(page.count()).unwrap_or(0);
            if let Some(bound) = count_to
                && counted >= bound
            {
                return Ok((accounts, bound));
            }
            for found in page.items() {
                accounts.push(stored_from_item(found)?.account);
                if limit.is_some_and(|limit| accounts.len() >= limit) {
                    return Ok((accounts, counted));
                }
            }
        }
        Ok((accounts, counted))
    }
}

#[async_trait]
impl AdminStore for DynamoStore {
    async fn list_accounts(&self, query: &AccountQuery) -> StoreResult<Vec<Account>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        timed!(DB, "list_accounts", async {
            let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
            Ok(self.accounts_matching(query, Some(limit), None).await?.0)
        })
    }

    async fn count_accounts(&self, query: &AccountQuery) -> StoreResult<u64> {
        timed!(DB, "count_accounts", async {
            let all = AccountQuery { before: None, ..query.clone() };
            Ok(self.accounts_matching(&all, None, Some(u64::MAX)).await?.1)
        })
    }

    async fn count_accounts_up_to(&self, query: &AccountQuery, at_most: u64) -> StoreResult<u64> {
        timed!(DB, "count_accounts_up_to", async {
            let all = AccountQuery { before: None, ..query.clone() };
            Ok(self.accounts_matching(&all, None, Some(at_most)).await?.1)
        })
    }

    async fn list_outbox(&self, query: &OutboxQuery) -> StoreResult<Vec<OutboxEntry>> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        timed!(DB, "list_outbox", async {
            let condition = match query.before {
                Some(_) => "#target_pk = :emails AND #target_sk < :before",
                None => "#target_pk = :emails",
            };
            let mut filters = Vec::new();
            if query.status.is_some() {
                filters.push("#status = :status");
            }
            if query.recipient.is_some() {
                filters.push("#lane = :lane");
            }
            let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
            let mut request = self
                .client
                .query()
                .table_name(&self.tables.jobs)
                .index_name("target")
                .key_condition_expression(condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(names(&[condition, filter.as_deref().unwrap_or_default()]))
                .expression_attribute_values(":emails", s(JobKind::Email.as_str()))
                .scan_index_forward(false);
            if let Some(before) = query.before {
                request = request.expression_attribute_values(":before", s(before.to_string()));
            }
            if let Some(status) = &query.status {
                request =
                    request.expression_attribute_values(":status", s(if status == "sent" { "done" } else { status }));
            }
            if let Some(recipient) = &query.recipient {
                request =
                    request.expression_attribute_values(":lane", s(format!("email {}", recipient.to_lowercase())));
            }
            let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
            let mut listed = Vec::new();
            let mut items = request.into_paginator().items().send();
            while let Some(found) = items.next().await {
                listed.push(outbox_from_item(&found.map_err(sdk_error)?)?);
                if listed.len() >= limit {
                    break;
                }
            }
            Ok(listed)
        })
    }

    async fn find_outbox(&self, id: Uuid) -> StoreResult<Option<OutboxEntry>> {
        timed!(DB, "find_outbox", async {
            let Some(job) = self.get(&self.tables.jobs, key(job_pk(id), "J")).await? else { return Ok(None) };
            match text(&job, "kind")? == JobKind::Email.as_str() {
                true => outbox_from_item(&job).map(Some),
                false => Ok(None),
            }
        })
    }

    /// Keeps `last_error`, so the list still says why the email failed until the next attempt
    /// replaces it.
    async fn retry_email(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Retried> {
        timed!(DB, "retry_email", async {
            let Some(job) = self.get(&self.tables.jobs, key(job_pk(id), "J")).await? else {
                return Ok(Retried::NotFound);
            };
            if text(&job, "kind")? != JobKind::Email.as_str() {
                return Ok(Retried::NotFound);
            }
            let requeue = Write::update(
                &self.tables.jobs,
                key(job_pk(id), "J"),
                "SET #status = :queued, #attempts = :zero, #next_at = :now, #due_pk = :kind, #due_sk = :due \
                 REMOVE #claimed_until, #claimed_by, #finished",
            )
            .when("#status = :failed")
            .value("queued", s("queued"))
            .value("failed", s("failed"))
            .value("zero", super::items::n(0))
            .value("now", stamp(now))
            .value("kind", s(JobKind::Email.as_str()))
            .value("due", s(due_sk(now, id)));
            // Back in its lane, in the place of its id.
            let lane = lane_pk(JobKind::Email, text(&job, "lane")?);
            let entry = item(lane, id.to_string(), vec![("created", stamp(time(&job, "created")?))]);
            match self.write_if(vec![requeue, Write::put(&self.tables.jobs, entry)], "retry_email").await? {
                true => Ok(Retried::Requeued),
                false => Ok(Retried::NotFailed),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_filter_is_in_the_expression_with_its_value() {
        let query = AccountQuery {
            q: Some("Ada".into()),
            status: Some(crate::model::account::Status::Active),
            role: None,
            created_after: None,
            created_before: None,
            before: Some(Uuid::nil()),
            limit: 5,
        };
        let (condition, filter, values) = account_filter(&query);
        assert!(condition.contains(":before"));
        let filter = filter.unwrap();
        assert!(filter.contains("#status = :status") && filter.contains("contains(#name_norm, :q)"));
        assert!(values.contains(&(":q", "ada".to_owned())));
    }
}
