//! An organization's SCIM tokens: `ST#<id>` in its partition (name, times, hash), found by
//! its hash through the companion `STK#<hash>` and by its id through `DSI#<id>`, the companion
//! of the second owned item `STI#<id>`: the four go together, with the token or with the
//! organization. Only the token's hash is stored.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::items::{Item, Write, hex, id, item, key, opt_time, s, stamp, text, time, unhex};
use super::super::owned::{org_owner, with_companion};
use super::super::{DynamoStore, Tables};
use super::{ATTEMPTS, Attempt, org_turn};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::scim::{NewScimToken, ScimToken};
use crate::tokens::opaque::TokenHash;

fn token_item_key(org_id: Uuid, id: Uuid) -> Item {
    key(org_owner(org_id), format!("ST#{id}"))
}

fn token_hash_key(hash: &str) -> Item {
    key(format!("STK#{hash}"), "STK")
}

fn token_id_key(id: Uuid) -> Item {
    key(format!("DSI#{id}"), "DSI")
}

/// The owned item naming the token's id companion.
fn token_lookup_key(org_id: Uuid, id: Uuid) -> Item {
    key(org_owner(org_id), format!("STI#{id}"))
}

fn token_from(item: &Item, org_id: Uuid) -> StoreResult<ScimToken> {
    Ok(ScimToken {
        id: id(item, "id")?,
        org_id,
        name: text(item, "name")?.to_owned(),
        created_at: time(item, "created")?,
        last_used_at: opt_time(item, "used")?,
    })
}

/// The four items of a token: the token and its hash's companion, the lookup item and its
/// id's companion.
fn token_writes(tables: &Tables, new: &NewScimToken) -> Vec<Write> {
    let token = &new.token;
    let hash = hex(new.hash.as_bytes());
    let (by_hash, by_id) = (token_hash_key(&hash), token_id_key(token.id));
    let ids = || vec![("org", s(token.org_id.to_string())), ("id", s(token.id.to_string()))];
    let mut owned = item("", "", ids());
    owned.extend([("name".to_owned(), s(&token.name)), ("created".to_owned(), stamp(token.created_at))]);
    owned.insert("hash".to_owned(), s(&hash));
    owned.extend(token_item_key(token.org_id, token.id));
    let mut lookup = item("", "", ids());
    lookup.extend(token_lookup_key(token.org_id, token.id));
    let mut hashed = item("", "", ids());
    hashed.extend(by_hash.clone());
    let mut identified = item("", "", ids());
    identified.extend(by_id.clone());
    let fresh = "attribute_not_exists(#pk)";
    vec![
        Write::put(&tables.main, with_companion(owned, &by_hash)).when(fresh),
        Write::put(&tables.main, hashed).when(fresh),
        Write::put(&tables.main, with_companion(lookup, &by_id)).when(fresh),
        Write::put(&tables.main, identified).when(fresh),
    ]
}

impl DynamoStore {
    /// The token's organization by its id.
    async fn token_org(&self, token_id: Uuid) -> StoreResult<Option<Uuid>> {
        let found = self.get(&self.tables.main, token_id_key(token_id)).await?;
        found.map(|item| id(&item, "org")).transpose()
    }

    pub(super) async fn insert_token(&self, new: &NewScimToken, max: usize, effects: &Effects) -> StoreResult<bool> {
        let org_id = new.token.org_id;
        for _ in 0..ATTEMPTS {
            let Some(version) = self.org_version(org_id).await? else {
                return Err(anyhow::anyhow!("no organization {org_id} to hold a SCIM token").into());
            };
            // Counted after the organization's version, which the insert raises: exact.
            if self.partition(&self.tables.main, &org_owner(org_id), "ST#").await?.len() >= max {
                return Ok(false);
            }
            let mut writes = vec![org_turn(&self.tables, org_id, version)];
            writes.extend(token_writes(&self.tables, new));
            writes.extend(self.told(effects).await?);
            match self.attempt(writes, &[1, 2, 3, 4]).await? {
                Attempt::Written => return Ok(true),
                Attempt::Refused(_) => return Err(StoreError::Conflict),
                Attempt::Again => {}
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("the organization {org_id} kept changing")))
    }

    pub(super) async fn tokens_of(&self, org_id: Uuid) -> StoreResult<Vec<ScimToken>> {
        let items = self.partition(&self.tables.main, &org_owner(org_id), "ST#").await?;
        let mut tokens = items.iter().map(|item| token_from(item, org_id)).collect::<StoreResult<Vec<_>>>()?;
        tokens.sort_by_key(|t| (t.created_at, t.id));
        Ok(tokens)
    }

    pub(super) async fn tokens_with_hashes(&self, org_id: Uuid) -> StoreResult<Vec<NewScimToken>> {
        let items = self.partition(&self.tables.main, &org_owner(org_id), "ST#").await?;
        let mut tokens = Vec::with_capacity(items.len());
        for found in &items {
            let hash = unhex(text(found, "hash")?).and_then(|bytes| TokenHash::from_bytes(&bytes));
            let hash = hash.ok_or_else(|| StoreError::Other(anyhow::anyhow!("a SCIM token's hash is not hex")))?;
            tokens.push(NewScimToken { token: token_from(found, org_id)?, hash });
        }
        tokens.sort_by_key(|t| (t.token.created_at, t.token.id));
        Ok(tokens)
    }

    pub(super) async fn token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<ScimToken>> {
        let found = self.get(&self.tables.main, token_hash_key(&hex(hash.as_bytes()))).await?;
        let Some(companion) = found else { return Ok(None) };
        let (org_id, token_id) = (id(&companion, "org")?, id(&companion, "id")?);
        // Read through the owned item and its owner: what a deletion left behind finds nothing.
        let Some(token) = self.get(&self.tables.main, token_item_key(org_id, token_id)).await? else {
            return Ok(None);
        };
        if self.org_version(org_id).await?.is_none() {
            return Ok(None);
        }
        token_from(&token, org_id).map(Some)
    }

    pub(super) async fn token_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let Some(org_id) = self.token_org(id).await? else { return Ok(()) };
        let used = Write::update(&self.tables.main, token_item_key(org_id, id), "SET #used = :now")
            .when("attribute_exists(#pk)")
            .value("now", stamp(now));
        // A token revoked meanwhile stays revoked.
        self.update_if(used).await?;
        Ok(())
    }

    pub(super) async fn delete_token(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        let Some(token) = self.get(&self.tables.main, token_item_key(org_id, id)).await? else { return Ok(false) };
        let hash = text(&token, "hash")?;
        // The token's own delete, on condition that it is there, makes the revocation once.
        let mut writes = vec![
            Write::delete(&self.tables.main, token_item_key(org_id, id)).when("attribute_exists(#pk)"),
            Write::delete(&self.tables.main, token_hash_key(hash)),
            Write::delete(&self.tables.main, token_lookup_key(org_id, id)),
            Write::delete(&self.tables.main, token_id_key(id)),
        ];
        writes.extend(self.told(effects).await?);
        self.write_if(writes, "delete_scim_token").await
    }
}
