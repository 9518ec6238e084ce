//! Signing keys (each an item of the partition `KEYS`, sorted by generation; a new generation is
//! written on condition that it is free, so replicas racing on an empty table agree on one
//! first key) and the generated sealing key (one item, written once).

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::DynamoStore;
use super::items::{Item, Write, WriteError, item, key, n, names, s, sdk_error, stamp, text, time};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::{StoreError, StoreResult};
use crate::store::keys::KeyStore;
use crate::tokens::jwt::{KeyAlgorithm, SigningKey};

const KEYS: &str = "KEYS";
/// How many times a rotation tries the next generation when another replica took it.
const ROTATION_ATTEMPTS: usize = 10;

fn generation_sk(generation: i64) -> String {
    format!("G#{generation:010}")
}

fn bytes(item: &Item, name: &str) -> StoreResult<Vec<u8>> {
    match item.get(name) {
        Some(AttributeValue::B(blob)) => Ok(blob.as_ref().to_vec()),
        _ => Err(anyhow::anyhow!("an item without its bytes {name:?}").into()),
    }
}

fn key_item(key: &SigningKey, generation: i64) -> Item {
    item(
        KEYS,
        generation_sk(generation),
        vec![
            ("kid", s(key.kid.as_str())),
            ("algorithm", s(key.algorithm.name())),
            ("private", AttributeValue::B(Blob::new(key.private_pkcs8.clone()))),
            ("public", AttributeValue::B(Blob::new(key.public_key.clone()))),
            ("created", stamp(key.created_at)),
            ("generation", n(generation)),
        ],
    )
}

fn key_from_item(item: &Item) -> StoreResult<SigningKey> {
    let algorithm = text(item, "algorithm")?;
    Ok(SigningKey {
        kid: text(item, "kid")?.to_owned(),
        algorithm: KeyAlgorithm::parse(algorithm)
            .ok_or_else(|| anyhow::anyhow!("signing key with unknown algorithm {algorithm:?}"))?,
        private_pkcs8: bytes(item, "private")?,
        public_key: bytes(item, "public")?,
        created_at: time(item, "created")?,
    })
}

impl DynamoStore {
    /// The signing keys' items, oldest generation first (a strongly consistent query).
    async fn key_items(&self) -> StoreResult<Vec<Item>> {
        let pages = self
            .client
            .query()
            .table_name(&self.tables.main)
            .key_condition_expression("#pk = :pk")
            .set_expression_attribute_names(names(&["#pk"]))
            .expression_attribute_values(":pk", s(KEYS))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        pages.try_collect().await.map_err(sdk_error)
    }

    /// Writes `key` as generation `generation`; `false` when that generation is taken.
    async fn put_generation(&self, key: &SigningKey, generation: i64) -> StoreResult<bool> {
        let write = Write::put(&self.tables.main, key_item(key, generation)).when("attribute_not_exists(#pk)");
        match self.transact(vec![write.build()?]).await {
            Ok(()) => Ok(true),
            Err(WriteError::Condition(_) | WriteError::Conflict) => Ok(false),
            Err(WriteError::Store(error)) => Err(error),
        }
    }
}

#[async_trait]
impl KeyStore for DynamoStore {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        timed!(DB, "signing_keys", async { self.key_items().await?.iter().map(key_from_item).collect() })
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        timed!(DB, "insert_first_signing_key", async {
            // Taken: another replica's first key is the one.
            self.put_generation(key, 1).await.map(|_| ())
        })
    }

    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        timed!(DB, "insert_signing_key", async {
            for _ in 0..ROTATION_ATTEMPTS {
                let newest =
                    self.key_items().await?.last().map(|item| super::items::number(item, "generation")).transpose()?;
                if self.put_generation(key, newest.unwrap_or(0) + 1).await? {
                    return Ok(());
                }
            }
            Err(StoreError::Other(anyhow::anyhow!("no free signing key generation after {ROTATION_ATTEMPTS} attempts")))
        })
    }

    async fn delete_signing_keys_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        timed!(DB, "delete_signing_keys_before", async {
            let items = self.key_items().await?;
            let Some((_, older)) = items.split_last() else { return Ok(0) };
            let mut deleted = 0;
            for old in older {
                if time(old, "created")? < before {
                    let sk = text(old, "sk")?.to_owned();
                    let gone = self.client.delete_item().table_name(&self.tables.main).set_key(Some(key(KEYS, sk)));
                    gone.send().await.map_err(sdk_error)?;
                    deleted += 1;
                }
            }
            Ok(deleted)
        })
    }

    async fn sealing_key(&self) -> StoreResult<Option<Vec<u8>>> {
        timed!(DB, "sealing_key", async {
            let found = self.get(&self.tables.main, key("SEALING", "generated")).await?;
            found.as_ref().map(|item| bytes(item, "secret")).transpose()
        })
    }

    async fn insert_first_sealing_key(&self, secret: &[u8], now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "insert_first_sealing_key", async {
            let sealing = item(
                "SEALING",
                "generated",
                vec![("secret", AttributeValue::B(Blob::new(secret))), ("created", stamp(now))],
            );
            let write = Write::put(&self.tables.main, sealing).when("attribute_not_exists(#pk)");
            match self.transact(vec![write.build()?]).await {
                // Taken: another replica's key is the one.
                Ok(()) | Err(WriteError::Condition(_) | WriteError::Conflict) => Ok(()),
                Err(WriteError::Store(error)) => Err(error),
            }
        })
    }
}
