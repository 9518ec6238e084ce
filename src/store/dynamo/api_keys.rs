//! API keys. A key is an item of its owner's partition (`A#<account>` or `O#<org>`, sort key
//! `AK#<key id>`) with a companion under the hash of its secret (`K#<hash>`) that holds the
//! whole key, so that the lookup a request with a key makes reads one item, then the owner (its
//! status, and whether it is there at all: a deleted owner's keys are not found, even before
//! the cascade removed them). The owner's count of keys is the item `AK#count` of its
//! partition, raised on condition that it is under the bound in the transaction of every new
//! key and lowered in that of every revocation: two keys added at once cannot both pass it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::DynamoStore;
use super::items::{Item, Write, WriteError, hex, id, item, key, n, opt_text, opt_time, s, stamp, text, time, unhex};
use super::owned::{account_owner, companion_of, org_owner, owner_exists, with_companion};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Status;
use crate::model::api_key::{ApiKey, FoundKey, KeyOwner, NewApiKey};
use crate::model::outcome::Effects;
use crate::store::api_keys::ApiKeyStore;
use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// How many times a new key is written again when a concurrent write met it.
const ATTEMPTS: usize = 8;

/// The sort key prefix of an owner's keys.
const API_KEY: &str = "AK#";

/// The sort key of an owner's count of keys.
const COUNT: &str = "AK#count";

fn owner_pk(owner: KeyOwner) -> String {
    match owner {
        KeyOwner::Account(id) => account_owner(id),
        KeyOwner::Org(id) => org_owner(id),
    }
}

fn owned_key(owner: KeyOwner, id: Uuid) -> Item {
    key(owner_pk(owner), format!("{API_KEY}{id}"))
}

fn hash_key(hash: &TokenHash) -> Item {
    key(format!("K#{}", hex(hash.as_bytes())), "K")
}

/// The partition of the `listing` index that finds a key by its id alone.
fn by_id(id: Uuid) -> String {
    format!("{API_KEY}{id}")
}

/// A key's attributes, as both its item and its companion hold them.
fn attributes(key_of: &ApiKey) -> Vec<(&'static str, aws_sdk_dynamodb::types::AttributeValue)> {
    let mut attributes = vec![
        ("id", s(key_of.id.to_string())),
        ("name", s(key_of.name.as_str())),
        ("prefix", s(key_of.prefix.as_str())),
        ("scopes", s(key_of.scopes.join(" "))),
        ("created", stamp(key_of.created_at)),
    ];
    attributes.push(match key_of.owner {
        KeyOwner::Account(account) => ("account", s(account.to_string())),
        KeyOwner::Org(org) => ("org", s(org.to_string())),
    });
    attributes.extend(key_of.created_by.map(|by| ("created_by", s(by.to_string()))));
    attributes.extend(key_of.expires_at.map(|at| ("expires", stamp(at))));
    attributes.extend(key_of.last_used_at.map(|at| ("last_used", stamp(at))));
    attributes
}

fn opt_id(found: &Item, name: &str) -> StoreResult<Option<Uuid>> {
    opt_text(found, name)?.map(|text| Uuid::parse_str(text).map_err(|e| anyhow::Error::from(e).into())).transpose()
}

fn key_from_item(found: &Item) -> StoreResult<ApiKey> {
    let owner = match (opt_id(found, "account")?, opt_id(found, "org")?) {
        (Some(account), _) => KeyOwner::Account(account),
        (None, Some(org)) => KeyOwner::Org(org),
        (None, None) => return Err(anyhow::anyhow!("an API key of no owner").into()),
    };
    Ok(ApiKey {
        id: id(found, "id")?,
        owner,
        created_by: opt_id(found, "created_by")?,
        name: text(found, "name")?.to_owned(),
        prefix: text(found, "prefix")?.to_owned(),
        scopes: text(found, "scopes")?.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        created_at: time(found, "created")?,
        expires_at: opt_time(found, "expires")?,
        last_used_at: opt_time(found, "last_used")?,
    })
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn insert_api_key(&self, new: &NewApiKey, max: usize, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "insert_api_key", async {
            let key_of = &new.key;
            let owner = owner_pk(key_of.owner);
            let companion = hash_key(&new.hash);
            let mut owned = item("", "", attributes(key_of));
            owned.extend(owned_key(key_of.owner, key_of.id));
            owned.extend([("by_pk".to_owned(), s(by_id(key_of.id))), ("by_sk".to_owned(), s(API_KEY))]);
            let owned = with_companion(owned, &companion);
            let mut found_by = item("", "", attributes(key_of));
            found_by.extend(companion);
            let fresh = "attribute_not_exists(#pk)";
            let mut writes = vec![
                // The bound: the owner's count, raised on condition that it is under it.
                Write::update(
                    &self.tables.main,
                    key(owner.as_str(), COUNT),
                    "SET #n = if_not_exists(#n, :zero) + :one",
                )
                .when("attribute_not_exists(#n) OR #n < :max")
                .value("zero", n(0))
                .value("one", n(1))
                .value("max", n(max)),
                Write::put(&self.tables.main, found_by).when(fresh),
                Write::put(&self.tables.main, owned).when(fresh),
                owner_exists(&self.tables, &owner),
            ];
            writes.extend(self.told(effects).await?);
            let built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
            for _ in 0..ATTEMPTS {
                match self.transact(built.clone()).await {
                    Ok(()) => return Ok(true),
                    Err(WriteError::Conflict) => continue,
                    Err(failed @ WriteError::Condition(_)) if failed.failed(0) => return Ok(false),
                    Err(failed @ WriteError::Condition(_)) if failed.failed(1) => return Err(StoreError::Conflict),
                    Err(failed @ WriteError::Condition(_)) if failed.failed(3) => {
                        return Err(anyhow::anyhow!("an API key for {owner}, which is gone").into());
                    }
                    Err(failed) => return Err(failed.into_store("insert_api_key")),
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!("insert_api_key: kept meeting concurrent writes")))
        })
    }

    async fn api_keys(&self, owner: KeyOwner) -> StoreResult<Vec<ApiKey>> {
        timed!(DB, "api_keys", async {
            let items = self.partition(&self.tables.main, &owner_pk(owner), API_KEY).await?;
            let mut keys = Vec::with_capacity(items.len());
            for found in &items {
                if text(found, "sk")? != COUNT {
                    keys.push(key_from_item(found)?);
                }
            }
            keys.sort_by_key(|k| (k.created_at, k.id));
            Ok(keys)
        })
    }

    async fn api_keys_with_hashes(&self, owner: KeyOwner) -> StoreResult<Vec<NewApiKey>> {
        timed!(DB, "api_keys_with_hashes", async {
            let items = self.partition(&self.tables.main, &owner_pk(owner), API_KEY).await?;
            let mut keys = Vec::with_capacity(items.len());
            for found in &items {
                if text(found, "sk")? == COUNT {
                    continue;
                }
                // The companion's key is `K#<the hash, hex>`.
                let unreadable = || StoreError::Other(anyhow::anyhow!("an API key's companion key is not K#<hash>"));
                let companion =
                    opt_text(found, "also_pk")?.and_then(|pk| pk.strip_prefix("K#")).ok_or_else(unreadable)?;
                let hash = unhex(companion).and_then(|bytes| TokenHash::from_bytes(&bytes)).ok_or_else(unreadable)?;
                keys.push(NewApiKey { key: key_from_item(found)?, hash });
            }
            keys.sort_by_key(|k| (k.key.created_at, k.key.id));
            Ok(keys)
        })
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<FoundKey>> {
        timed!(DB, "api_key_by_hash", async {
            let Some(found) = self.get(&self.tables.main, hash_key(hash)).await? else { return Ok(None) };
            let key_of = key_from_item(&found)?;
            match key_of.owner {
                KeyOwner::Account(owner) => {
                    let Some(stored) = self.read_account(owner).await? else { return Ok(None) };
                    let owner_active = stored.account.status == Status::Active;
                    Ok(Some(FoundKey { key: key_of, owner_active, account: Some(stored.account) }))
                }
                KeyOwner::Org(owner) => {
                    if self.get(&self.tables.main, key(org_owner(owner), "O")).await?.is_none() {
                        return Ok(None);
                    }
                    Ok(Some(FoundKey { key: key_of, owner_active: true, account: None }))
                }
            }
        })
    }

    async fn api_key_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "api_key_used", async {
            // Found through the index, which may miss a key made a moment ago (its next use,
            // a minute on, is recorded).
            for found in self.by_index(&by_id(id)).await? {
                let mut keys = vec![key(text(&found, "pk")?, text(&found, "sk")?)];
                keys.extend(companion_of(&found)?);
                let used = keys
                    .into_iter()
                    .map(|k| {
                        Write::update(&self.tables.main, k, "SET #last_used = :now")
                            .when("attribute_exists(#pk)")
                            .value("now", stamp(now))
                    })
                    .collect();
                // The key and its companion together; a key revoked meanwhile is not written back.
                self.write_if(used, "api_key_used").await?;
            }
            Ok(())
        })
    }

    async fn delete_api_key(&self, owner: KeyOwner, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_api_key", async {
            let Some(stored) = self.get(&self.tables.main, owned_key(owner, id)).await? else { return Ok(false) };
            let mut writes = vec![
                Write::delete(&self.tables.main, owned_key(owner, id)).when("attribute_exists(#pk)"),
                Write::update(&self.tables.main, key(owner_pk(owner), COUNT), "ADD #n :less").value("less", n(-1)),
            ];
            writes.extend(companion_of(&stored)?.map(|companion| Write::delete(&self.tables.main, companion)));
            writes.extend(self.told(effects).await?);
            // `false`: revoked meanwhile.
            self.write_if(writes, "delete_api_key").await
        })
    }
}
