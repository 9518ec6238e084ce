//! Identities at social login providers, and the logins waiting at a provider (see
//! [`logins`]). An identity is an item of its account's partition (`A#<account>`,
//! `ID#<identity id>`) with a companion under its issuer and subject (`IDP#…`), put on
//! condition that it is free: an identity is linked once, to one account. Linking one raises
//! the account's version in the same transaction, so that a change of the account planned
//! without it (an activation that drops a pending account's identities) plans again; removing
//! one is written on condition of the version read, so that two removals at once cannot both
//! leave the account without a way in.

mod logins;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::new_account;
use super::items::{Item, Write, WriteError, id, item, key, n, opt_text, opt_time, s, stamp, text, time};
use super::owned::{IDENTITY, PASSKEY, account_owner, companion_of, with_companion};
use super::plan::account_pk;
use super::{DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::accounts::NewAccount;
use crate::store::error::{StoreError, StoreResult};
use crate::store::identities::{Identity, IdentityKey, IdentityStore, Keyed, NewOidcLogin, OidcLogin, Pending, Unlink};
use crate::store::tokens::NewOneTimeToken;
use crate::tokens::opaque::TokenHash;

/// How many times a change is written again when a concurrent one came first.
const ATTEMPTS: usize = 8;

fn identity_key(account_id: Uuid, id: Uuid) -> Item {
    key(account_owner(account_id), format!("{IDENTITY}{id}"))
}

/// The companion of an identity, under its issuer and subject (the issuer's length first, so
/// that no issuer and subject run into another pair).
fn provider_key(key_of: IdentityKey<'_>) -> Item {
    key(format!("IDP#{}#{}#{}", key_of.issuer.len(), key_of.issuer, key_of.subject), "IDP")
}

/// The issuer and subject a companion's key names (see [`provider_key`]).
fn key_of_companion(pk: &str) -> StoreResult<(String, String)> {
    let unreadable =
        || StoreError::Other(anyhow::anyhow!("an identity's companion key is not IDP#<length>#<issuer>#<subject>"));
    let rest = pk.strip_prefix("IDP#").ok_or_else(unreadable)?;
    let (length, rest) = rest.split_once('#').ok_or_else(unreadable)?;
    let length: usize = length.parse().map_err(|_| unreadable())?;
    let issuer = rest.get(..length).ok_or_else(unreadable)?;
    let subject = rest.get(length..).and_then(|tail| tail.strip_prefix('#')).ok_or_else(unreadable)?;
    Ok((issuer.to_owned(), subject.to_owned()))
}

/// The partition of the `listing` index that finds an identity by its id alone.
fn by_id(id: Uuid) -> String {
    format!("{IDENTITY}{id}")
}

fn identity_from_item(found: &Item) -> StoreResult<Identity> {
    Ok(Identity {
        id: id(found, "id")?,
        account_id: id(found, "account")?,
        provider: text(found, "provider")?.to_owned(),
        email: opt_text(found, "email")?.map(str::to_owned),
        created_at: time(found, "created")?,
        last_login_at: opt_time(found, "last_login")?,
    })
}

/// The writes of a new identity: its companion first (its condition failing means the
/// identity is linked already: [`StoreError::Conflict`]), then the identity.
fn identity_writes(tables: &Tables, identity: &Identity, key_of: IdentityKey<'_>) -> [Write; 2] {
    let mut attributes = vec![
        ("id", s(identity.id.to_string())),
        ("account", s(identity.account_id.to_string())),
        ("provider", s(identity.provider.as_str())),
        ("created", stamp(identity.created_at)),
        ("by_pk", s(by_id(identity.id))),
        ("by_sk", s(IDENTITY)),
    ];
    attributes.extend(identity.email.as_ref().map(|email| ("email", s(email.as_str()))));
    attributes.extend(identity.last_login_at.map(|at| ("last_login", stamp(at))));
    let mut owned = item("", "", attributes);
    owned.extend(identity_key(identity.account_id, identity.id));
    let companion = provider_key(key_of);
    let owned = with_companion(owned, &companion);
    let named = vec![("account", s(identity.account_id.to_string())), ("identity", s(identity.id.to_string()))];
    let mut marker = item("", "", named);
    marker.extend(companion);
    let fresh = "attribute_not_exists(#pk)";
    [Write::put(&tables.main, marker).when(fresh), Write::put(&tables.main, owned).when(fresh)]
}

/// The writes deleting the identity `stored` (an item as read) and its companion.
fn deletion(tables: &Tables, stored: &Item) -> StoreResult<Vec<Write>> {
    let own = key(text(stored, "pk")?, text(stored, "sk")?);
    let mut writes = vec![Write::delete(&tables.main, own).when("attribute_exists(#pk)")];
    writes.extend(companion_of(stored)?.map(|companion| Write::delete(&tables.main, companion)));
    Ok(writes)
}

/// Raises the account's version: on condition that it exists (linking), or that it is still the
/// version `read` (removing, decided on what was read at that version).
fn bump_account(tables: &Tables, account_id: Uuid, read: Option<i64>) -> Write {
    let bump =
        Write::update(&tables.main, key(account_pk(account_id), "A"), "SET #ver = #ver + :one").value("one", n(1));
    match read {
        Some(version) => bump.when("#ver = :ver").value("ver", n(version)),
        None => bump.when("attribute_exists(#pk)"),
    }
}

impl DynamoStore {
    /// The items of the `listing` index's partition `by_pk` (eventually consistent: an item written
    /// a moment ago may not be there yet).
    pub(super) async fn by_index(&self, by_pk: &str) -> StoreResult<Vec<Item>> {
        self.listed(by_pk, false).await
    }

    /// The writes deleting every identity of the account `account_id` with their companions,
    /// for the transaction of a change of the account planned at the version that listed them
    /// (linking one raises it).
    #[allow(dead_code, reason = "for the activation that drops a pending account's identities")]
    pub(super) async fn identity_deletions(&self, account_id: Uuid) -> StoreResult<Vec<Write>> {
        let mut writes = Vec::new();
        for stored in self.partition(&self.tables.main, &account_owner(account_id), IDENTITY).await? {
            writes.extend(deletion(&self.tables, &stored)?);
        }
        Ok(writes)
    }
}

#[async_trait]
impl IdentityStore for DynamoStore {
    async fn insert_oidc_login(&self, login: &NewOidcLogin) -> StoreResult<()> {
        timed!(DB, "insert_oidc_login", self.put_oidc_login(login))
    }

    async fn start_oidc_login(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        pending: &Pending,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        timed!(DB, "start_oidc_login", self.start_waiting_login(provider, start_hash, pending, now))
    }

    async fn oidc_link_account(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        timed!(DB, "oidc_link_account", self.waiting_link_account(provider, start_hash, now))
    }

    async fn take_oidc_login(
        &self,
        provider: &str,
        state_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OidcLogin>> {
        timed!(DB, "take_oidc_login", self.take_waiting_login(provider, state_hash, now))
    }

    async fn identity(&self, key_of: IdentityKey<'_>) -> StoreResult<Option<Identity>> {
        timed!(DB, "identity", async {
            let Some(marker) = self.get(&self.tables.main, provider_key(key_of)).await? else { return Ok(None) };
            let owned = identity_key(id(&marker, "account")?, id(&marker, "identity")?);
            self.get(&self.tables.main, owned).await?.as_ref().map(identity_from_item).transpose()
        })
    }

    async fn identities(&self, account_id: Uuid) -> StoreResult<Vec<Identity>> {
        timed!(DB, "identities", async {
            let items = self.partition(&self.tables.main, &account_owner(account_id), IDENTITY).await?;
            let mut identities = items.iter().map(identity_from_item).collect::<StoreResult<Vec<_>>>()?;
            identities.sort_by_key(|identity| (identity.created_at, identity.id));
            Ok(identities)
        })
    }

    async fn keyed_identities(&self, account_id: Uuid) -> StoreResult<Vec<Keyed>> {
        timed!(DB, "keyed_identities", async {
            let items = self.partition(&self.tables.main, &account_owner(account_id), IDENTITY).await?;
            let mut keyed = Vec::with_capacity(items.len());
            for found in &items {
                let (issuer, subject) = key_of_companion(opt_text(found, "also_pk")?.unwrap_or_default())?;
                keyed.push(Keyed { identity: identity_from_item(found)?, issuer, subject });
            }
            keyed.sort_by_key(|k| (k.identity.created_at, k.identity.id));
            Ok(keyed)
        })
    }

    async fn insert_identity(
        &self,
        identity: &Identity,
        key_of: IdentityKey<'_>,
        effects: &Effects,
    ) -> StoreResult<()> {
        timed!(DB, "insert_identity", async {
            // The companion's condition makes the identity linked once; the account's version,
            // raised on condition that the account exists, makes its concurrent changes plan
            // again with the identity.
            let mut writes = Vec::from(identity_writes(&self.tables, identity, key_of));
            writes.push(bump_account(&self.tables, identity.account_id, None));
            writes.extend(self.told(effects).await?);
            let built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
            for _ in 0..ATTEMPTS {
                match self.transact(built.clone()).await {
                    Ok(()) => return Ok(()),
                    Err(WriteError::Conflict) => continue,
                    Err(failed @ WriteError::Condition(_)) if failed.failed(0) => return Err(StoreError::Conflict),
                    Err(failed @ WriteError::Condition(_)) if failed.failed(2) => {
                        return Err(anyhow::anyhow!(
                            "an identity for the account {}, which is gone",
                            identity.account_id
                        )
                        .into());
                    }
                    Err(failed) => return Err(failed.into_store("insert_identity")),
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!("insert_identity: kept meeting concurrent writes")))
        })
    }

    async fn insert_account_with_identity(
        &self,
        account: &NewAccount,
        identity: &Identity,
        key_of: IdentityKey<'_>,
        activation: Option<&NewOneTimeToken>,
        effects: &Effects,
    ) -> StoreResult<()> {
        timed!(DB, "insert_account_with_identity", async {
            let mut plan = new_account(&self.tables, account)?.with_value(());
            let [marker, owned] = identity_writes(&self.tables, identity, key_of);
            plan.refused_by(marker, || StoreError::Conflict);
            plan.writes.push(owned);
            if let Some(token) = activation {
                plan.writes.extend(super::tokens::token_write(&self.tables, token)?);
            }
            plan.tell(&self.tables, effects)?;
            self.write_new(plan).await
        })
    }

    async fn identity_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "identity_used", async {
            // Found through the index, which may miss an identity linked a moment ago: its
            // link wrote when it was last used (a login by it is a linking's own).
            for found in self.by_index(&by_id(id)).await? {
                let own = key(text(&found, "pk")?, text(&found, "sk")?);
                let used = Write::update(&self.tables.main, own, "SET #last_login = :now")
                    .when("attribute_exists(#pk)")
                    .value("now", stamp(now));
                // An identity removed meanwhile is not written back.
                self.update_if(used).await?;
            }
            Ok(())
        })
    }

    async fn delete_identity(&self, account_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<Unlink> {
        timed!(DB, "delete_identity", async {
            let told = self.told(effects).await?;
            let told = told.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
            for _ in 0..ATTEMPTS {
                let Some(account) = self.read_account(account_id).await? else { return Ok(Unlink::NotFound) };
                let owner = account_owner(account_id);
                let identities = self.partition(&self.tables.main, &owner, IDENTITY).await?;
                let own_sk = format!("{IDENTITY}{id}");
                let mut mine = None;
                for stored in &identities {
                    if text(stored, "sk")? == own_sk {
                        mine = Some(stored);
                    }
                }
                let Some(mine) = mine else { return Ok(Unlink::NotFound) };
                let passkeys = self.partition(&self.tables.main, &owner, PASSKEY).await?;
                if identities.len() == 1 && passkeys.is_empty() && !account.account.email_verified {
                    return Ok(Unlink::LastWayIn);
                }
                // Decided on the account at the version read: the removal is written on
                // condition that it is still that version, and raises it, so that of two
                // removals at once the second decides again.
                let mut writes = deletion(&self.tables, mine)?;
                writes.push(bump_account(&self.tables, account_id, Some(account.version)));
                let mut built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
                built.extend(told.iter().cloned());
                match self.transact(built).await {
                    Ok(()) => return Ok(Unlink::Removed),
                    Err(WriteError::Store(error)) => return Err(error),
                    // Changed meanwhile: decide again.
                    Err(_) => continue,
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!(
                "the account {account_id} kept changing while an identity was removed"
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_companion_key_gives_back_the_issuer_and_subject_it_was_made_of() {
        for (issuer, subject) in [("https://accounts.example.com", "123"), ("https://x/#a#", "#b#c"), ("é", "")] {
            let made = provider_key(IdentityKey { issuer, subject });
            let pk = text(&made, "pk").unwrap();
            assert_eq!(key_of_companion(pk).unwrap(), (issuer.to_owned(), subject.to_owned()));
        }
        assert!(key_of_companion("IDP#99#short#x").is_err());
        assert!(key_of_companion("A#1").is_err());
    }
}
