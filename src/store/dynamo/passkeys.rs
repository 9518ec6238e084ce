//! Passkeys and WebAuthn ceremonies. A passkey is an item of its account's partition
//! (`A#<id>`/`PK#<passkey id>`) with a companion under its credential id (`PC#<hex>`), put on
//! condition that it is free: a credential is stored once, on one account. A ceremony is the
//! item `CE#<hash>`, spent by a conditional write, so a challenge answers once.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::{Item, Write, WriteError, hex, id, item, key, opt_text, opt_time, s, stamp, text, time, ttl};
use super::owned::{PASSKEY, account_owner, companion_of, owner_exists, with_companion};
use super::{DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::passkeys::{Ceremony, NewCeremony, PasskeyStore, StoredPasskey};

fn passkey_key(account_id: Uuid, id: Uuid) -> Item {
    key(account_owner(account_id), format!("{PASSKEY}{id}"))
}

fn credential_key(credential_id: &[u8]) -> Item {
    key(format!("PC#{}", hex(credential_id)), "PC")
}

fn ceremony_key(hash: &[u8; 32]) -> Item {
    key(format!("CE#{}", hex(hash)), "CE")
}

fn flag(item: &Item, name: &str) -> bool {
    matches!(item.get(name), Some(AttributeValue::Bool(true)))
}

fn passkey_from_item(item: &Item) -> StoreResult<StoredPasskey> {
    let Some(AttributeValue::B(credential_id)) = item.get("credential") else {
        return Err(anyhow::anyhow!("a passkey without its credential id").into());
    };
    Ok(StoredPasskey {
        id: id(item, "id")?,
        account_id: id(item, "account")?,
        credential_id: credential_id.clone().into_inner(),
        passkey: text(item, "passkey")?.to_owned(),
        name: text(item, "name")?.to_owned(),
        backup_eligible: flag(item, "backup_eligible"),
        backup_state: flag(item, "backup_state"),
        created_at: time(item, "created")?,
        last_used_at: opt_time(item, "last_used")?,
    })
}

/// The writes deleting the passkey `stored` (an item as read) and its credential's companion.
pub(super) fn deletion(tables: &Tables, stored: &Item) -> StoreResult<Vec<Write>> {
    let own = key(text(stored, "pk")?, text(stored, "sk")?);
    let mut writes = vec![Write::delete(&tables.main, own).when("attribute_exists(#pk)")];
    writes.extend(companion_of(stored)?.map(|companion| Write::delete(&tables.main, companion)));
    Ok(writes)
}

#[async_trait]
impl PasskeyStore for DynamoStore {
    async fn insert_passkey(&self, passkey: &StoredPasskey, effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_passkey", async {
            let mut attributes = vec![
                ("id", s(passkey.id.to_string())),
                ("account", s(passkey.account_id.to_string())),
                ("credential", AttributeValue::B(passkey.credential_id.clone().into())),
                ("passkey", s(passkey.passkey.as_str())),
                ("name", s(passkey.name.as_str())),
                ("backup_eligible", AttributeValue::Bool(passkey.backup_eligible)),
                ("backup_state", AttributeValue::Bool(passkey.backup_state)),
                ("created", stamp(passkey.created_at)),
            ];
            if let Some(used) = passkey.last_used_at {
                attributes.push(("last_used", stamp(used)));
            }
            let mut owned = item("", "", attributes);
            owned.extend(passkey_key(passkey.account_id, passkey.id));
            let companion = credential_key(&passkey.credential_id);
            let owned = with_companion(owned, &companion);
            let named = vec![("account", s(passkey.account_id.to_string())), ("passkey", s(passkey.id.to_string()))];
            let mut marker = item("", "", named);
            marker.extend(companion);
            let fresh = "attribute_not_exists(#pk)";
            let mut writes = vec![
                Write::put(&self.tables.main, marker).when(fresh),
                Write::put(&self.tables.main, owned).when(fresh),
                owner_exists(&self.tables, &account_owner(passkey.account_id)),
            ];
            writes.extend(self.told(effects).await?);
            let built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
            match self.transact(built).await {
                Ok(()) => Ok(()),
                // The credential is stored already, on this account or another.
                Err(failed @ WriteError::Condition(_)) if failed.failed(0) => Err(StoreError::Conflict),
                Err(failed) => Err(failed.into_store("insert_passkey")),
            }
        })
    }

    async fn passkeys(&self, account_id: Uuid) -> StoreResult<Vec<StoredPasskey>> {
        timed!(DB, "passkeys", async {
            let items = self.partition(&self.tables.main, &account_owner(account_id), PASSKEY).await?;
            let mut passkeys = items.iter().map(passkey_from_item).collect::<StoreResult<Vec<_>>>()?;
            passkeys.sort_by_key(|passkey| (passkey.created_at, passkey.id));
            Ok(passkeys)
        })
    }

    async fn passkey_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>> {
        timed!(DB, "passkey_by_credential", async {
            let Some(marker) = self.get(&self.tables.main, credential_key(credential_id)).await? else {
                return Ok(None);
            };
            let owned = passkey_key(id(&marker, "account")?, id(&marker, "passkey")?);
            self.get(&self.tables.main, owned).await?.as_ref().map(passkey_from_item).transpose()
        })
    }

    async fn record_passkey_use(&self, passkey: &StoredPasskey, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "record_passkey_use", async {
            let update = "SET #passkey = :passkey, #backup_eligible = :eligible, #backup_state = :state, \
                          #last_used = :now";
            let used = Write::update(&self.tables.main, passkey_key(passkey.account_id, passkey.id), update)
                .when("attribute_exists(#pk)")
                .value("passkey", s(passkey.passkey.as_str()))
                .value("eligible", AttributeValue::Bool(passkey.backup_eligible))
                .value("state", AttributeValue::Bool(passkey.backup_state))
                .value("now", stamp(now));
            // A passkey deleted meanwhile is not written back.
            self.update_if(used).await.map(|_| ())
        })
    }

    async fn delete_passkey(&self, account_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_passkey", async {
            let Some(stored) = self.get(&self.tables.main, passkey_key(account_id, id)).await? else {
                return Ok(false);
            };
            let mut writes = deletion(&self.tables, &stored)?;
            writes.extend(self.told(effects).await?);
            self.write_if(writes, "delete_passkey").await
        })
    }

    async fn insert_ceremony(&self, ceremony: &NewCeremony) -> StoreResult<()> {
        timed!(DB, "insert_ceremony", async {
            let mut attributes = vec![
                ("purpose", s(ceremony.purpose.as_str())),
                ("state", s(ceremony.state.as_str())),
                ("expires", stamp(ceremony.expires_at)),
                ("ttl", ttl(ceremony.expires_at)),
            ];
            if let Some(account) = ceremony.account_id {
                attributes.push(("account", s(account.to_string())));
            }
            let mut written = item("", "", attributes);
            written.extend(ceremony_key(&ceremony.hash));
            let write = Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)");
            self.insert_new(vec![write], "insert_ceremony").await
        })
    }

    async fn take_ceremony(
        &self,
        hash: &[u8; 32],
        purpose: Ceremony,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Option<Uuid>, String)>> {
        timed!(DB, "take_ceremony", async {
            let take = Write::update(&self.tables.main, ceremony_key(hash), "SET #used = :now")
                .when(
                    "attribute_exists(#pk) AND #purpose = :purpose AND attribute_not_exists(#used) AND #expires > :now",
                )
                .value("purpose", s(purpose.as_str()))
                .value("now", stamp(now));
            let Some(taken) = self.update_if(take).await? else { return Ok(None) };
            let account = opt_text(&taken, "account")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?;
            Ok(Some((account, text(&taken, "state")?.to_owned())))
        })
    }
}
