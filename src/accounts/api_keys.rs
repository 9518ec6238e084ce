//! API keys: an account's (`/user/api-keys`) and an organization's (`/orgs/{org}/api-keys`,
//! `api_keys:manage`), shown once and kept as their SHA-256; and what a key presented as a
//! bearer token opens.
//!
//! An account's key acts as its owner on gatehouse's API, except for what takes a login
//! (`Caller::refuse_key`: managing keys, credentials, second factors, the address, deleting
//! the account); an organization's key acts as the organization for apps (forward-auth and
//! introspection) and opens none of gatehouse's own routes. A key is refused from the request
//! after it is revoked or expires, or its owner is disabled, on every replica: it is read at
//! every request (one query, with its owner's status). Each key has a request budget of its
//! own; `last_used_at` is written at most once a minute.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use secrecy::SecretString;
use uuid::Uuid;

use super::access::matrix::Operation;
use super::authenticator::{BASE62, well_formed_key};
use super::oauth::Introspected;
use super::{Caller, CallerKey, ClientInfo, Core, Error, Organizations, Result, Via};
use crate::model::account::AccountKey;
use crate::model::api_key::{
    ApiKey, FoundKey, KEY_CHARS, KeyOwner, MAX_KEYS, MAX_SCOPES, NewApiKey, SHOWN_CHARS, valid_scope,
};
use crate::model::org::Permission;
use crate::model::org::{OrgKey, Organization};
use crate::model::outcome::{Effects, Kind, Outcome};
use crate::sessions::{AccountRead, KeyMemory};
use crate::tokens::opaque::TokenHash;

/// A new key's secret: the prefix and 43 characters drawn uniformly from base62 by the
/// operating system's generator (256 bits).
fn new_secret() -> String {
    let mut rng = rand::rngs::OsRng;
    let chars: String = (0..KEY_CHARS).map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char).collect();
    format!("{}{chars}", crate::model::api_key::KEY_PREFIX)
}

/// What a key is made with.
#[derive(Debug, Default)]
pub struct KeyInput {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// A key presented as a bearer token, checked, with its owning account as far as it was read
/// with the key (current from the store, or the replica's remembered copy).
#[derive(Clone, Debug)]
pub struct VerifiedKey {
    pub key: ApiKey,
    account: AccountRead,
}

impl Core {
    /// The key `token` is, if it is one that opens anything now: known, unexpired, its owning
    /// account active; one request taken from its budget. `Unauthorized` otherwise.
    pub async fn verify_api_key(&self, token: &str) -> Result<VerifiedKey> {
        if !well_formed_key(token) {
            return Err(Error::Unauthorized);
        }
        let hash = TokenHash::of(token);
        let (found, account) = self.found_key(&hash).await?;
        let now = self.now();
        if !found.owner_active || !found.key.live_at(now) {
            return Err(Error::Unauthorized);
        }
        self.throttle.per_api_key(found.key.id).await?;
        if found.key.last_used_at.is_none_or(|at| now - at > Duration::seconds(60)) {
            if let Some(memory) = self.sessions.key_memory() {
                memory.used(&hash, now);
            }
            let (store, id) = (self.store.clone(), found.key.id);
            tokio::spawn(async move {
                if let Err(error) = store.api_key_used(id, now).await {
                    tracing::debug!(%error, "could not mark the API key used");
                }
            });
        }
        Ok(VerifiedKey { key: found.key, account })
    }

    /// The key of this hash, from the replica's memory of keys when it holds it (with the
    /// owner's remembered copy, fit to show, never to authorise), else from the store (with the
    /// owner read now), then remembered.
    async fn found_key(&self, hash: &TokenHash) -> Result<(FoundKey, AccountRead)> {
        let memory = self.sessions.key_memory();
        if let Some(found) = memory.and_then(|memory| memory.key(hash)) {
            let account = found.account.clone().map_or(AccountRead::Unread { seen: None }, AccountRead::Copy);
            return Ok((found, account));
        }
        let ticket = memory.and_then(KeyMemory::ticket);
        let mut found = self.store.api_key_by_hash(hash).await?.ok_or(Error::Unauthorized)?;
        if let (Some(memory), Some(ticket)) = (memory, ticket) {
            if let (KeyOwner::Account(owner), None, true) = (found.key.owner, &found.account, found.owner_active) {
                found.account = self.store.find_account(&AccountKey::Id(owner)).await?.map(|c| c.account);
            }
            memory.keep(ticket, hash, &found);
        }
        let account = found.account.clone().map_or(AccountRead::Unread { seen: None }, AccountRead::Current);
        Ok((found, account))
    }

    /// The caller an account's key is on gatehouse's API; an organization's key opens none of
    /// it (`ApiKeyForbidden`).
    pub(super) async fn key_caller(&self, token: &str) -> Result<Caller> {
        self.caller_of_key(&self.verify_api_key(token).await?)
    }

    /// What introspection (RFC 7662) tells of a key: inactive for a key that opens nothing
    /// now, and to a client that may not introspect every token (keys are no client's: only a
    /// resource server allowed that learns of them).
    pub(crate) async fn introspect_key(&self, asker_may: bool, token: &str) -> Result<Introspected> {
        if !asker_may {
            return Ok(Introspected::Inactive);
        }
        let key = match self.verify_api_key(token).await {
            Ok(verified) => verified.key,
            Err(Error::Unauthorized) => return Ok(Introspected::Inactive),
            Err(other) => return Err(other),
        };
        let org = match key.owner {
            KeyOwner::Account(_) => None,
            KeyOwner::Org(_) => self.org_of_key(&key).await?,
        };
        Ok(Introspected::Key { key: Box::new(key), issuer: self.keys().issuer().to_owned(), org })
    }

    /// The caller a verified account's key is.
    pub fn caller_of_key(&self, verified: &VerifiedKey) -> Result<Caller> {
        let key = &verified.key;
        let KeyOwner::Account(account_id) = key.owner else { return Err(Error::ApiKeyForbidden) };
        Ok(Caller {
            account_id,
            account: verified.account.clone(),
            via: Via::Key(CallerKey { id: key.id, expires_at: key.expires_at, scopes: key.scopes.clone() }),
        })
    }
}

impl Organizations {
    fn checked_key(&self, owner: KeyOwner, created_by: Uuid, input: KeyInput, secret: &str) -> Result<NewApiKey> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::field("name", "a key's name has 1 to 100 characters, none of them control characters"));
        }
        if input.scopes.len() > MAX_SCOPES || !input.scopes.iter().all(|s| valid_scope(s)) {
            let why = "at most 32 scopes, each 1 to 64 of letters, digits and :._-/";
            return Err(Error::field("scopes", why));
        }
        let mut scopes = input.scopes;
        scopes.sort();
        scopes.dedup();
        let now = self.now();
        if input.expires_at.is_some_and(|at| at <= now + Duration::minutes(1)) {
            return Err(Error::field("expires_at", "the expiry must be in the future"));
        }
        let key = ApiKey {
            id: Uuid::now_v7(),
            owner,
            created_by: Some(created_by),
            name: name.to_owned(),
            prefix: secret[..SHOWN_CHARS].to_owned(),
            scopes,
            created_at: now,
            expires_at: input.expires_at,
            last_used_at: None,
        };
        Ok(NewApiKey { key, hash: TokenHash::of(secret) })
    }

    async fn store_key(&self, new: NewApiKey, made: Outcome, secret: String) -> Result<(ApiKey, SecretString)> {
        let made = made.with("key_id", new.key.id.to_string()).with("name", new.key.name.as_str());
        let effects = Effects::of(made.with("scopes", new.key.scopes.clone()));
        if !self.commit(&effects, self.store.insert_api_key(&new, MAX_KEYS, &effects)).await? {
            return Err(Error::field("name", "at most 50 keys: revoke one before making another"));
        }
        tracing::info!(key_id = %new.key.id, "API key made");
        Ok((new.key, SecretString::from(secret)))
    }

    /// Makes a key of the caller's own: shown once, kept as its hash.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        input: KeyInput,
        client: &ClientInfo,
    ) -> Result<(ApiKey, SecretString)> {
        self.admit(caller, Operation::OwnApiKey).await?;
        let secret = new_secret();
        let new = self.checked_key(KeyOwner::Account(caller.account_id), caller.account_id, input, &secret)?;
        let made = self.outcome(Kind::ApiKeyCreated, Some(caller.account_id), client);
        self.store_key(new, made, secret).await
    }

    /// The caller's keys (a key may list them: it sees no secret).
    pub async fn api_keys(&self, caller: &Caller) -> Result<Vec<ApiKey>> {
        Ok(self.store.api_keys(KeyOwner::Account(caller.account_id)).await?)
    }

    /// Revokes one of the caller's keys: refused from its next request, on every replica.
    pub async fn revoke_api_key(&self, caller: &Caller, id: Uuid, client: &ClientInfo) -> Result<()> {
        caller.refuse_key()?;
        let revoked = self.outcome(Kind::ApiKeyRevoked, Some(caller.account_id), client).with("key_id", id.to_string());
        self.delete_key(KeyOwner::Account(caller.account_id), id, revoked).await
    }

    async fn delete_key(&self, owner: KeyOwner, id: Uuid, revoked: Outcome) -> Result<()> {
        let effects = Effects::of(revoked);
        if !self.commit(&effects, self.store.delete_api_key(owner, id, &effects)).await? {
            return Err(Error::NotFoundApiKey);
        }
        // Every replica forgets its owner's remembered keys before this answers.
        let (KeyOwner::Account(owner_id) | KeyOwner::Org(owner_id)) = owner;
        self.sessions.drop_account_copy(owner_id).await?;
        tracing::info!(key_id = %id, "API key revoked");
        Ok(())
    }

    /// Makes a key of the organization (`api_keys:manage`).
    pub async fn create_org_api_key(
        &self,
        caller: &Caller,
        org: &str,
        input: KeyInput,
        client: &ClientInfo,
    ) -> Result<(ApiKey, SecretString)> {
        self.admit(caller, Operation::OrgApiKey).await?;
        let view = self.org_with(caller, org, Permission::ApiKeysManage).await?;
        let secret = new_secret();
        let new = self.checked_key(KeyOwner::Org(view.org.id), caller.account_id, input, &secret)?;
        let made = self.org_outcome(Kind::ApiKeyCreated, caller, &view.org, client);
        self.store_key(new, made, secret).await
    }

    pub async fn org_api_keys(&self, caller: &Caller, org: &str) -> Result<Vec<ApiKey>> {
        let view = self.org_with(caller, org, Permission::ApiKeysManage).await?;
        Ok(self.store.api_keys(KeyOwner::Org(view.org.id)).await?)
    }

    pub async fn revoke_org_api_key(&self, caller: &Caller, org: &str, id: Uuid, client: &ClientInfo) -> Result<()> {
        caller.refuse_key()?;
        let view = self.org_with(caller, org, Permission::ApiKeysManage).await?;
        let revoked = self.org_outcome(Kind::ApiKeyRevoked, caller, &view.org, client).with("key_id", id.to_string());
        self.delete_key(KeyOwner::Org(view.org.id), id, revoked).await
    }
}

impl Core {
    /// The organization an organization's key acts for (none once it is gone).
    pub async fn org_of_key(&self, key: &ApiKey) -> Result<Option<Organization>> {
        match key.owner {
            KeyOwner::Org(id) => Ok(self.store.find_org(OrgKey::Id(id)).await?),
            KeyOwner::Account(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_has_the_key_shape_and_two_never_meet() {
        let (one, two) = (new_secret(), new_secret());
        assert!(well_formed_key(&one) && well_formed_key(&two), "{one} {two}");
        assert_ne!(one, two);
        assert_eq!(one.len(), crate::model::api_key::KEY_PREFIX.len() + KEY_CHARS);
        for bad in ["gh_", "gh_short", "eyJhbGciOi.x.y", &format!("{}!", &one[..one.len() - 1]), &format!("{one}x")] {
            assert!(!well_formed_key(bad), "{bad}");
        }
    }
}
