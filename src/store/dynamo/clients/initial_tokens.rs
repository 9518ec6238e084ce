//! Initial access tokens for client registration. A token is the item `IT#<id>`/`IT` (listed
//! through the `listing` index, `by_pk = IT`), found by its hash through the marker
//! `IT#<hash, hex>`/`ITH`. A registration takes one use by one conditional update of the token
//! (`uses > 0`, unexpired), so a token good for `n` registrations gives `n` however many race.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::super::DynamoStore;
use super::super::items::{
    Item, Write, hex, id, item, key, n, number, opt_text, s, stamp, stamp_text, text, time, ttl,
};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::clients::{InitialToken, InitialTokenStore};
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

/// The partition of the `listing` index listing every token.
const TOKENS: &str = "IT";

fn token_key(id: Uuid) -> Item {
    key(format!("IT#{id}"), "IT")
}

fn marker_key(hash: &TokenHash) -> Item {
    key(format!("IT#{}", hex(hash.as_bytes())), "ITH")
}

fn token_from_item(item: &Item) -> StoreResult<InitialToken> {
    Ok(InitialToken {
        id: id(item, "id")?,
        name: text(item, "name")?.to_owned(),
        created_by: opt_text(item, "created_by")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?,
        uses_left: number(item, "uses")?,
        created_at: time(item, "created")?,
        expires_at: time(item, "expires")?,
    })
}

#[async_trait]
impl InitialTokenStore for DynamoStore {
    async fn insert_initial_token(&self, token: &InitialToken, hash: &TokenHash, effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_initial_token", async {
            let mut attributes = vec![
                ("id", s(token.id.to_string())),
                ("hash", s(hex(hash.as_bytes()))),
                ("name", s(token.name.as_str())),
                ("uses", n(token.uses_left)),
                ("created", stamp(token.created_at)),
                ("expires", stamp(token.expires_at)),
                ("ttl", ttl(token.expires_at)),
                ("by_pk", s(TOKENS)),
                ("by_sk", s(format!("{}#{}", stamp_text(token.created_at), token.id))),
            ];
            attributes.extend(token.created_by.map(|admin| ("created_by", s(admin.to_string()))));
            let mut written = item("", "", attributes);
            written.extend(token_key(token.id));
            let mut marker = item("", "", vec![("token", s(token.id.to_string())), ("ttl", ttl(token.expires_at))]);
            marker.extend(marker_key(hash));
            let fresh = "attribute_not_exists(#pk)";
            let mut writes = vec![
                Write::put(&self.tables.main, written).when(fresh),
                Write::put(&self.tables.main, marker).when(fresh),
            ];
            writes.extend(self.told(effects).await?);
            self.insert_new(writes, "insert_initial_token").await
        })
    }

    /// Through the `listing` index: a token issued a moment ago may be missing from the list.
    async fn list_initial_tokens(&self, now: DateTime<Utc>) -> StoreResult<Vec<InitialToken>> {
        timed!(DB, "list_initial_tokens", async {
            let mut tokens = Vec::new();
            for item in self.listed(TOKENS, false).await? {
                let token = token_from_item(&item)?;
                if token.expires_at > now {
                    tokens.push(token);
                }
            }
            tokens.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
            Ok(tokens)
        })
    }

    async fn delete_initial_token(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_initial_token", async {
            let Some(found) = self.get(&self.tables.main, token_key(id)).await? else { return Ok(false) };
            let marker = key(format!("IT#{}", text(&found, "hash")?), "ITH");
            let mut writes = vec![
                Write::delete(&self.tables.main, token_key(id)).when("attribute_exists(#pk)"),
                Write::delete(&self.tables.main, marker),
            ];
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "delete_initial_token").await
        })
    }

    async fn spend_initial_token(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(DB, "spend_initial_token", async {
            let Some(marker) = self.get(&self.tables.main, marker_key(hash)).await? else { return Ok(false) };
            // The one write that takes a use: on condition that one is left and the token is
            // unexpired (and not withdrawn meanwhile).
            let spend = Write::update(&self.tables.main, token_key(id(&marker, "token")?), "SET #uses = #uses - :one")
                .when("attribute_exists(#pk) AND #uses > :zero AND #expires > :now")
                .value("one", n(1))
                .value("zero", n(0))
                .value("now", stamp(now));
            Ok(self.update_if(spend).await?.is_some())
        })
    }
}
