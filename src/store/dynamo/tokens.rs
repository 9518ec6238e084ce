//! One-time link tokens: an item per token hash, spent by a write on condition that it is
//! unspent and unexpired, in the transaction of the account change it brings.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::{Item, Write, id, item, key, opt_time, s, stamp, stamp_text, text, time, ttl};
use super::owned::{IDENTITY, account_owner, deletions, pointer};
use super::plan::{Plan, Stored};
use super::{DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Status;
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::tokens::{NewOneTimeToken, OneTimeToken, TokenPurpose, TokenStore};
use crate::tokens::opaque::TokenHash;

fn token_key(hash: &TokenHash) -> Item {
    key(format!("T#{}", super::items::hex(hash.as_bytes())), "T")
}

/// The partition of the `listing` index listing an account's reset tokens.
fn resets_of(account_id: Uuid) -> String {
    format!("A#{account_id}#resets")
}

/// The writes of a new token (its email goes with it, in the same transaction): the token,
/// and its pointer in the account's partition, which takes it away with the account.
pub(super) fn token_write(tables: &Tables, token: &NewOneTimeToken) -> StoreResult<[Write; 2]> {
    let mut attributes = vec![
        ("account", s(token.account_id.to_string())),
        ("purpose", s(token.purpose.as_str())),
        ("created", stamp(token.created_at)),
        ("expires", stamp(token.expires_at)),
        ("ttl", ttl(token.expires_at)),
    ];
    if token.purpose == TokenPurpose::PasswordReset {
        let hash = super::items::hex(token.hash.as_bytes());
        attributes.extend([("by_pk", s(resets_of(token.account_id))), ("by_sk", s(hash))]);
    }
    let mut written = item("", "", attributes);
    written.extend(token_key(&token.hash));
    let owned = pointer(tables, &account_owner(token.account_id), &token_key(&token.hash), token.expires_at)?;
    Ok([Write::put(&tables.main, written).when("attribute_not_exists(#pk)"), owned])
}

fn token_from_item(item: &Item) -> StoreResult<OneTimeToken> {
    let purpose = text(item, "purpose")?;
    let purpose = TokenPurpose::parse(purpose).ok_or_else(|| anyhow::anyhow!("bad purpose {purpose:?}"))?;
    Ok(OneTimeToken {
        account_id: id(item, "account")?,
        purpose,
        expires_at: time(item, "expires")?,
        used_at: opt_time(item, "used")?,
    })
}

/// Spends the token `hash`: on condition that it is unspent and unexpired at `now`.
fn spend(tables: &Tables, hash: &TokenHash, now: DateTime<Utc>) -> Write {
    Write::update(&tables.main, token_key(hash), "SET #used = :now")
        .when("attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now")
        .value("now", stamp(now))
}

/// The account once a link proved its address: verified, and active if it was pending.
fn proved(read: &Stored, now: DateTime<Utc>) -> crate::model::account::Account {
    let mut account = read.account.clone();
    account.email_verified = true;
    if account.status == Status::Pending {
        account.status = Status::Active;
    }
    account.updated_at = now;
    account
}

impl DynamoStore {
    async fn read_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        let found = self.get(&self.tables.main, token_key(hash)).await?;
        found.as_ref().map(token_from_item).transpose()
    }

    /// The token, when it is unspent, unexpired at `now` and for one of `purposes`.
    async fn spendable(
        &self,
        hash: &TokenHash,
        purposes: &[TokenPurpose],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OneTimeToken>> {
        let token = self.read_token(hash).await?;
        Ok(token.filter(|t| purposes.contains(&t.purpose) && t.used_at.is_none() && t.expires_at > now))
    }

    /// The hashes of the account's reset tokens unexpired at `now` (the `listing` index: it may lag
    /// a new token by a moment, which a reset racing the request of another link can miss;
    /// that link stays usable, as it would had it been requested just after the reset).
    async fn reset_tokens_of(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<String>> {
        let now = stamp_text(now);
        let mut live = Vec::new();
        for item in self.listed(&resets_of(account_id), false).await? {
            if text(&item, "expires")? > now.as_str() {
                live.push(text(&item, "by_sk")?.to_owned());
            }
        }
        Ok(live)
    }
}

#[async_trait]
impl TokenStore for DynamoStore {
    async fn insert_link(&self, token: &NewOneTimeToken, effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_link", async {
            let mut writes = Vec::new();
            for write in token_write(&self.tables, token)? {
                writes.push(write.build()?);
            }
            for write in self.told(effects).await? {
                writes.push(write.build()?);
            }
            self.transact(writes).await.map_err(|e| e.into_store("insert_link"))
        })
    }

    async fn find_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        timed!(DB, "find_token", self.read_token(hash))
    }

    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "redeem_activation", async {
            let purposes = [TokenPurpose::Activation, TokenPurpose::ActivationThroughProvider];
            let Some(token) = self.spendable(hash, &purposes, now).await? else { return Ok(false) };
            // The confirmation link of a sign-up through a provider keeps that login; any other
            // proof of the address drops the logins linked while it was pending.
            let drops = token.purpose == TokenPurpose::Activation;
            let spent = self
                .change_account_with(token.account_id, Some(IDENTITY), |read, identities| {
                    let account = proved(&read, now);
                    let mut plan = Plan::new(&self.tables, &read, &account, &read.password_hash, ())?;
                    plan.spends(spend(&self.tables, hash, now), || StoreError::Conflict);
                    if drops && read.account.status == Status::Pending {
                        plan.writes.extend(deletions(&self.tables, identities)?);
                    }
                    plan.tell(&self.tables, effects)?;
                    Ok(Some(plan))
                })
                .await;
            match spent {
                Ok(done) => Ok(done.is_some()),
                // A concurrent redemption spent it first.
                Err(StoreError::Conflict) => Ok(false),
                Err(error) => Err(error),
            }
        })
    }

    async fn redeem_reset(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(DB, "redeem_reset", async {
            let purposes = [TokenPurpose::PasswordReset];
            let Some(token) = self.spendable(hash, &purposes, now).await? else { return Ok(false) };
            let mine = super::items::hex(hash.as_bytes());
            let others: Vec<String> =
                self.reset_tokens_of(token.account_id, now).await?.into_iter().filter(|other| *other != mine).collect();
            let done = self
                .change_account_with(token.account_id, Some(IDENTITY), |read, identities| {
                    let account = proved(&read, now);
                    let mut plan = Plan::new(&self.tables, &read, &account, password_hash, ())?;
                    plan.spends(spend(&self.tables, hash, now), || StoreError::Conflict);
                    if read.account.status == Status::Pending {
                        plan.writes.extend(deletions(&self.tables, identities)?);
                    }
                    for other in &others {
                        let other = key(format!("T#{other}"), "T");
                        let spent = Write::update(&self.tables.main, other, "SET #used = if_not_exists(#used, :now)")
                            .when("attribute_exists(#pk)")
                            .value("now", stamp(now));
                        // Only unexpired tokens are listed, and expiry alone deletes one.
                        plan.writes.push(spent);
                    }
                    plan.tell(&self.tables, effects)?;
                    Ok(Some(plan))
                })
                .await;
            match done {
                Ok(done) => Ok(done.is_some()),
                // A concurrent redemption spent it first.
                Err(StoreError::Conflict) => Ok(false),
                Err(error) => Err(error),
            }
        })
    }
}
