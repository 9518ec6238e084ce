//! The reads the ports share: a partition, a partition through a filter, what the `listing` index
//! lists, a count, and a batch of items by key.

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Select};

use super::DynamoStore;
use super::items::{Item, names, s, sdk_error};
use crate::store::error::{StoreError, StoreResult};

/// How many times the keys a batch read left unprocessed (DynamoDB was throttling) are asked
/// for again, waiting twice as long each time from [`FIRST_PAUSE_MS`]: about 6 s in all.
const UNPROCESSED_ROUNDS: u32 = 7;
const FIRST_PAUSE_MS: u64 = 50;

impl DynamoStore {
    /// The items of the partition `pk` whose sort keys begin with `prefix` and that pass
    /// `filter` (strongly consistent, every page).
    pub(super) async fn partition_where(
        &self,
        pk: &str,
        prefix: &str,
        filter: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> StoreResult<Vec<Item>> {
        let condition = "#pk = :pk AND begins_with(#sk, :prefix)";
        let mut query = self
            .client
            .query()
            .table_name(&self.tables.main)
            .key_condition_expression(condition)
            .set_expression_attribute_names(names(&[condition, filter]))
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true);
        if !filter.is_empty() {
            query = query.filter_expression(filter);
        }
        for (name, value) in values {
            query = query.expression_attribute_values(format!(":{name}"), value);
        }
        query.into_paginator().items().send().try_collect().await.map_err(sdk_error)
    }

    /// Every item the `listing` index lists under `by_pk`, through every page, in the order of `by_sk`
    /// (its reverse when `newest_first`). The index lags the table by a moment: what was written
    /// just before may be missing, and what was deleted just before still listed.
    pub(super) async fn listed(&self, by_pk: &str, newest_first: bool) -> StoreResult<Vec<Item>> {
        let condition = "#by_pk = :pk";
        let query = self
            .client
            .query()
            .table_name(&self.tables.main)
            .index_name("listing")
            .key_condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
            .expression_attribute_values(":pk", s(by_pk))
            .scan_index_forward(!newest_first);
        query.into_paginator().items().send().try_collect().await.map_err(sdk_error)
    }

    /// How many items of the partition `pk` have sort keys beginning with `prefix` (strongly
    /// consistent).
    pub(super) async fn count(&self, pk: &str, prefix: &str) -> StoreResult<u64> {
        let condition = "#pk = :pk AND begins_with(#sk, :prefix)";
        let mut pages = self
            .client
            .query()
            .table_name(&self.tables.main)
            .key_condition_expression(condition)
            .set_expression_attribute_names(names(&[condition]))
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
            .select(Select::Count)
            .into_paginator()
            .send();
        let mut counted = 0u64;
        while let Some(page) = pages.next().await {
            counted += u64::try_from(page.map_err(sdk_error)?.count()).unwrap_or(0);
        }
        Ok(counted)
    }

    /// The items of `keys` of the main table (strongly consistent, in no particular order;
    /// missing ones are left out). Keys DynamoDB leaves unprocessed are asked for again after a
    /// pause that doubles, and the read fails as unavailable when throttling outlasts them.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(anyhow::Error::from)?,
            );
            let mut round = 0;
            while let Some(request) = pending.take() {
                if round > 0 {
                    if round > UNPROCESSED_ROUNDS {
                        let why = anyhow::anyhow!("DynamoDB left keys of a batch read unprocessed {round} times");
                        return Err(StoreError::Unavailable(why));
                    }
                    let pause = FIRST_PAUSE_MS << (round - 1);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                round += 1;
                let answer = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.main, request)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                if let Some(mut items) = answer.responses
                    && let Some(items) = items.remove(&self.tables.main)
                {
                    found.extend(items);
                }
                pending = answer
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.tables.main))
                    .filter(|left| !left.keys().is_empty());
            }
        }
        Ok(found)
    }
}
