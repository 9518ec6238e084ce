//! What belongs to an account or an organization and goes with it. The SQL store has foreign
//! keys that cascade; here an owner's items live in the owner's own partition (`A#<id>` for an
//! account, `O#<id>` for an organization), where a strongly consistent query finds every one of
//! them, and an item that must also be found by another key (a passkey by its credential, an
//! API key by its hash, a member by the organization) has a companion item under that key,
//! named by the owned item's `also_pk`/`also_sk` and deleted with it.
//!
//! A write that adds to an owner checks, in its transaction, that the owner exists
//! ([`owner_exists`]); deleting the owner writes the owner's item, so nothing is added to an
//! owner once it is gone, and [`DynamoStore::drop_owned`] (run after the deletion commits)
//! finds everything that was added before. Should it be interrupted, what it left is
//! unreachable: every read through a companion reads the owned item, and every owned item's
//! reader reads its owner.

use chrono::{DateTime, Utc};

use super::items::{Item, Write, item, key, opt_text, text, ttl};
use super::{DynamoStore, MAX_TRANSACTION, Tables};
use crate::store::error::StoreResult;

/// The sort-key prefix of an account's identities in its partition (read by the changes that
/// drop a pending account's unconfirmed ones).
pub(super) const IDENTITY: &str = "ID#";

/// The sort-key prefix of an account's passkeys in its partition (counted with its factors).
pub(super) const PASSKEY: &str = "PK#";

/// The owner item's sort key (`A` for an account, `O` for an organization).
fn owner_sk(owner_pk: &str) -> &'static str {
    if owner_pk.starts_with("O#") { "O" } else { "A" }
}

/// The condition, in the transaction of a write adding to the owner `owner_pk` (`A#<id>` or
/// `O#<id>`), that the owner exists.
pub(super) fn owner_exists(tables: &Tables, owner_pk: &str) -> Write {
    Write::check(&tables.main, key(owner_pk, owner_sk(owner_pk)), "attribute_exists(#pk)")
}

/// Names `companion` (a key) in `owned` as the item deleted with it.
pub(super) fn with_companion(mut owned: Item, companion: &Item) -> Item {
    for (name, attribute) in [("also_pk", "pk"), ("also_sk", "sk")] {
        if let Some(value) = companion.get(attribute) {
            owned.insert(name.to_owned(), value.clone());
        }
    }
    owned
}

/// The key of `owned`'s companion, if it has one.
pub(super) fn companion_of(owned: &Item) -> StoreResult<Option<Item>> {
    match (opt_text(owned, "also_pk")?, opt_text(owned, "also_sk")?) {
        (Some(pk), Some(sk)) => Ok(Some(key(pk, sk))),
        _ => Ok(None),
    }
}

/// An item of the owner's partition that only names `companion` (a link, a code kept under its
/// own key), so that it goes with the owner; it expires with it.
pub(super) fn pointer(tables: &Tables, owner_pk: &str, companion: &Item, expires: DateTime<Utc>) -> StoreResult<Write> {
    let sk = text(companion, "pk")?;
    let owned = with_companion(item(owner_pk, sk, vec![("ttl", ttl(expires))]), companion);
    Ok(Write::put(&tables.main, owned))
}

/// The writes deleting `owned` (items of an owner's partition, as read) with their companions.
pub(super) fn deletions(tables: &Tables, owned: &[Item]) -> StoreResult<Vec<Write>> {
    let mut writes = Vec::new();
    for found in owned {
        writes.push(Write::delete(&tables.main, key(text(found, "pk")?, text(found, "sk")?)));
        writes.extend(companion_of(found)?.map(|companion| Write::delete(&tables.main, companion)));
    }
    Ok(writes)
}

impl DynamoStore {
    /// Deletes every item of the owner `owner_pk`'s partition but the owner's own, with their
    /// companions: the cascade of a deletion, after it committed.
    pub(super) async fn drop_owned(&self, owner_pk: &str) -> StoreResult<()> {
        let items = self.partition(&self.tables.main, owner_pk, "").await?;
        let mut deletes = Vec::new();
        for owned in &items {
            let sk = text(owned, "sk")?;
            if sk == owner_sk(owner_pk) {
                continue;
            }
            deletes.push(key(owner_pk, sk));
            deletes.extend(companion_of(owned)?);
        }
        for chunk in deletes.chunks(MAX_TRANSACTION) {
            let writes = chunk.iter().map(|k| Write::delete(&self.tables.main, k.clone())).collect();
            // Deletes without conditions: only a conflict with another write can stop them.
            self.write_if(writes, "drop_owned").await?;
        }
        Ok(())
    }
}

/// The owner partition of an account.
pub(super) fn account_owner(id: uuid::Uuid) -> String {
    super::plan::account_pk(id)
}

/// The owner partition of an organization.
#[allow(dead_code, reason = "the organization ports are being written")]
pub(super) fn org_owner(id: uuid::Uuid) -> String {
    format!("O#{id}")
}
