//! Seeding accounts in bulk, for load tests: each account's item, address marker and username
//! claim, in `BatchWriteItem`s of 25 (unconditional: seeding writes new, distinct accounts by
//! its definition). The history of the growth benchmark is the SQL stores' alone: on DynamoDB
//! it writes nothing, and says so in what it returns.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::accounts::{email_pk, username_pk};
use super::items::{Item, item, s, sdk_error, stamp};
use super::plan::account_item;
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::{Account, Role, Status};
use crate::store::error::{StoreError, StoreResult};
use crate::store::seeding::{HistoryPlan, SeedingStore, seed_identity};

/// The most items one `BatchWriteItem` takes.
const BATCH: usize = 25;

impl DynamoStore {
    /// Writes `items` in batches, again for what DynamoDB left unprocessed (it may, under load).
    async fn put_all(&self, items: Vec<Item>) -> StoreResult<()> {
        for chunk in items.chunks(BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|written| {
                    let put =
                        PutRequest::builder().set_item(Some(written.clone())).build().map_err(anyhow::Error::from)?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<StoreResult<_>>()?;
            for attempt in 0..10u64 {
                let written = self
                    .client
                    .batch_write_item()
                    .request_items(self.tables.main.clone(), requests)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests =
                    written.unprocessed_items.and_then(|mut left| left.remove(&self.tables.main)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50 * (attempt + 1))).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::Unavailable(anyhow::anyhow!("DynamoDB kept leaving seeded items unwritten")));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SeedingStore for DynamoStore {
    async fn seed_accounts(
        &self,
        prefix: &str,
        count: u64,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        timed!(DB, "seed_accounts", async {
            let mut items = Vec::with_capacity(3 * BATCH * 40);
            for n in 1..=count {
                let (email, username, name) = seed_identity(prefix, n);
                let account = Account {
                    id: Uuid::now_v7(),
                    email: email.clone(),
                    username: Some(username.clone()),
                    name: Some(name),
                    data: serde_json::Map::new(),
                    app_data: serde_json::Map::new(),
                    role: Role::User,
                    status: Status::Active,
                    email_verified: true,
                    locale: None,
                    created_at: now,
                    updated_at: now,
                };
                let id = s(account.id.to_string());
                items.push(account_item(&account, password_hash, 1, 1)?);
                items.push(item(email_pk(&email.to_lowercase()), "E", vec![("account", id.clone())]));
                let claim = vec![("account", id), ("at", stamp(now))];
                items.push(item(username_pk(&username.to_lowercase()), "U", claim));
                if items.len() >= 3 * BATCH * 40 {
                    self.put_all(std::mem::take(&mut items)).await?;
                }
            }
            self.put_all(items).await?;
            Ok(count)
        })
    }

    /// Nothing: the growth benchmark's history (and the purge it measures) is the SQL stores'.
    async fn seed_history(&self, _plan: &HistoryPlan, _now: DateTime<Utc>) -> StoreResult<HistoryPlan> {
        Ok(HistoryPlan::default())
    }
}
