//! The store as a whole (readiness), and the probe the conformance tests count with: a scan of
//! the tables, classifying each item by its key (test-sized tables only; never asked by the
//! server).

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::DynamoStore;
use super::effects::job_pk;
use super::items::{Item, key, opt_text, sdk_error, text};
use crate::store::error::StoreResult;
use crate::store::probe::{Held, Probe};
use crate::store::seeding::SeedingStore;
use crate::store::{Health, Store};

#[async_trait]
impl Health for DynamoStore {
    async fn ping(&self) -> StoreResult<()> {
        self.ping_tables().await
    }
}

#[async_trait]
impl Store for DynamoStore {
    fn probe(&self) -> Option<&dyn Probe> {
        Some(self)
    }

    fn seeding(&self) -> Option<&dyn SeedingStore> {
        Some(self)
    }
}

impl DynamoStore {
    async fn scan(&self, table: &str) -> StoreResult<Vec<Item>> {
        let scan = self.client.scan().table_name(table).consistent_read(true);
        scan.into_paginator().items().send().try_collect().await.map_err(sdk_error)
    }
}

/// The number of strings in the set attribute `name`.
fn set_size(item: &Item, name: &str) -> u64 {
    match item.get(name) {
        Some(AttributeValue::Ss(set)) => set.len() as u64,
        _ => 0,
    }
}

#[async_trait]
impl Probe for DynamoStore {
    async fn count(&self, what: Held) -> StoreResult<u64> {
        let table = match what {
            Held::AuditEvents => &self.tables.audit,
            Held::Emails => &self.tables.jobs,
            _ => &self.tables.main,
        };
        let items = self.scan(table).await?;
        let mut counted = 0;
        let mut distinct = HashSet::new();
        for item in &items {
            let (pk, sk) = (text(item, "pk")?, text(item, "sk")?);
            counted += match what {
                Held::Sessions => u64::from(pk.starts_with("S#")),
                Held::SessionOwners => {
                    if pk.starts_with("S#") {
                        distinct.insert(text(item, "account")?.to_owned());
                    }
                    0
                }
                Held::RefreshTokens => u64::from(pk.starts_with("R#")),
                Held::OneTimeTokens => u64::from(pk.starts_with("T#")),
                Held::AuditEvents => 1,
                Held::EmailChanges => u64::from(pk.starts_with("C#")),
                Held::RateLimits => u64::from(pk.starts_with("RL#")),
                Held::Emails => u64::from(sk == "J" && opt_text(item, "kind")? == Some("email")),
                Held::Authenticators => u64::from(sk == "MFA" && item.contains_key("secret")),
                Held::RecoveryCodes => {
                    if sk == "MFA" {
                        set_size(item, "codes")
                    } else {
                        0
                    }
                }
                Held::Identities => u64::from(pk.starts_with("A#") && sk.starts_with("ID#")),
                Held::Clients => u64::from(pk.starts_with("CL#") && sk == "CL"),
                Held::KeyGenerations | Held::NewestKeyGeneration => {
                    if pk == "KEYS"
                        && let Some(generation) = sk.strip_prefix("G#")
                    {
                        distinct.insert(generation.to_owned());
                    }
                    0
                }
            };
        }
        Ok(match what {
            Held::SessionOwners | Held::KeyGenerations => distinct.len() as u64,
            Held::NewestKeyGeneration => distinct.iter().filter_map(|g| g.parse::<u64>().ok()).max().unwrap_or(0),
            _ => counted,
        })
    }

    async fn email_erased(&self, id: Uuid) -> StoreResult<bool> {
        let Some(job) = self.get(&self.tables.jobs, key(job_pk(id), "J")).await? else { return Ok(false) };
        Ok(opt_text(&job, "kind")? == Some("email") && !job.contains_key("body"))
    }
}
