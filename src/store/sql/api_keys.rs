//! API keys (`api_keys`). A new key is counted against its owner's under the owner's row lock;
//! a key is found by its hash with its owning account's status in the same read, so a request
//! with a key costs one query, as one with an access token does.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::org_roles::lock_org;
use super::outbox::insert_effects;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::api_key::{ApiKey, FoundKey, KeyOwner, NewApiKey};
use crate::model::outcome::Effects;
use crate::store::api_keys::ApiKeyStore;
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

const COLUMNS: &str = "k.id, k.account_id, k.org_id, k.created_by, k.name, k.prefix, k.scopes, k.created_at, k.expires_at, k.last_used_at";

fn key_from_row(row: &impl Row) -> StoreResult<ApiKey> {
    let owner = match (row.opt_id("account_id")?, row.opt_id("org_id")?) {
        (Some(account), _) => KeyOwner::Account(account),
        (None, Some(org)) => KeyOwner::Org(org),
        (None, None) => return Err(anyhow::anyhow!("an API key of no owner").into()),
    };
    Ok(ApiKey {
        id: row.id("id")?,
        owner,
        created_by: row.opt_id("created_by")?,
        name: row.text("name")?,
        prefix: row.text("prefix")?,
        scopes: row.text("scopes")?.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        created_at: row.time("created_at")?,
        expires_at: row.opt_time("expires_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

fn columns_of(owner: KeyOwner) -> (Option<Uuid>, Option<Uuid>) {
    match owner {
        KeyOwner::Account(id) => (Some(id), None),
        KeyOwner::Org(id) => (None, Some(id)),
    }
}

#[async_trait]
impl<D: Dialect> ApiKeyStore for SqlStore<D> {
    async fn insert_api_key(&self, new: &NewApiKey, max: usize, effects: &Effects) -> StoreResult<bool> {
        let key = &new.key;
        let (account_id, org_id) = columns_of(key.owner);
        let scopes = key.scopes.join(" ");
        let scopes = scopes.as_str();
        timed!(
            DB,
            "insert_api_key",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let held = match key.owner {
                    KeyOwner::Account(id) => {
                        tx.lock(sql!("SELECT id FROM accounts WHERE id = ? FOR UPDATE"), args![id]).await?;
                        tx.fetch_optional(sql!("SELECT COUNT(*) AS n FROM api_keys WHERE account_id = ?"), args![id])
                            .await?
                    }
                    KeyOwner::Org(id) => {
                        lock_org(&mut tx, id).await?;
                        tx.fetch_optional(sql!("SELECT COUNT(*) AS n FROM api_keys WHERE org_id = ?"), args![id]).await?
                    }
                };
                if held.map_or(Ok(0), |r| r.count("n"))? >= max as u64 {
                    return Ok(false);
                }
                tx.execute(
                    sql!(
                        "INSERT INTO api_keys (id, account_id, org_id, created_by, name, prefix, hash, scopes, created_at, expires_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        key.id,
                        account_id,
                        org_id,
                        key.created_by,
                        &key.name,
                        &key.prefix,
                        &new.hash,
                        scopes,
                        key.created_at,
                        key.expires_at
                    ],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn api_keys(&self, owner: KeyOwner) -> StoreResult<Vec<ApiKey>> {
        timed!(DB, "api_keys", async {
            let rows = match owner {
                KeyOwner::Account(id) => {
                    let query =
                        sql!("SELECT {COLUMNS} FROM api_keys k WHERE k.account_id = ? ORDER BY k.created_at, k.id");
                    self.db.pool().fetch_all(query, args![id]).await?
                }
                KeyOwner::Org(id) => {
                    let query = sql!("SELECT {COLUMNS} FROM api_keys k WHERE k.org_id = ? ORDER BY k.created_at, k.id");
                    self.db.pool().fetch_all(query, args![id]).await?
                }
            };
            rows.iter().map(key_from_row).collect()
        })
    }

    async fn api_keys_with_hashes(&self, owner: KeyOwner) -> StoreResult<Vec<NewApiKey>> {
        timed!(DB, "api_keys_with_hashes", async {
            let (account, org) = columns_of(owner);
            let query = sql!(
                "SELECT {COLUMNS}, k.hash FROM api_keys k WHERE k.account_id = ? OR k.org_id = ? \
                 ORDER BY k.created_at, k.id"
            );
            let rows = self.db.pool().fetch_all(query, args![account, org]).await?;
            rows.iter().map(|row| Ok(NewApiKey { key: key_from_row(row)?, hash: row.hash("hash")? })).collect()
        })
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<FoundKey>> {
        timed!(DB, "api_key_by_hash", async {
            if let Some(found) = self.db.api_key_in_place(hash.as_bytes()) {
                return found;
            }
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT {COLUMNS}, a.status AS owner_status
                         FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id WHERE k.hash = ?"
                    ),
                    args![hash],
                )
                .await?;
            let Some(row) = row else { return Ok(None) };
            let key = key_from_row(&row)?;
            let owner_active = match key.owner {
                KeyOwner::Account(_) => row.opt_text("owner_status")?.as_deref() == Some("active"),
                KeyOwner::Org(_) => true,
            };
            Ok(Some(FoundKey { key, owner_active, account: None }))
        })
    }

    async fn api_key_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "api_key_used", async {
            self.db.pool().execute(sql!("UPDATE api_keys SET last_used_at = ? WHERE id = ?"), args![now, id]).await?;
            Ok(())
        })
    }

    async fn delete_api_key(&self, owner: KeyOwner, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_api_key",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let deleted = match owner {
                    KeyOwner::Account(owner) => {
                        let query = sql!("DELETE FROM api_keys WHERE id = ? AND account_id = ?");
                        tx.execute(query, args![id, owner]).await?
                    }
                    KeyOwner::Org(owner) => {
                        tx.execute(sql!("DELETE FROM api_keys WHERE id = ? AND org_id = ?"), args![id, owner]).await?
                    }
                };
                if deleted != 1 {
                    return Ok(false);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }
}
