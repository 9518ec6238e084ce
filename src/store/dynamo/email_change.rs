//! Email change links: an item per link hash (`C#<hash>`), listed per account in the `listing`
//! index. Following one moves the account's address marker (`E#…`) in the transaction that
//! changes the address: a taken address cancels it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::{Item, Write, hex, item, key, opt_time, s, stamp, stamp_text, text, time, ttl};
use super::owned::{account_owner, pointer};
use super::plan::{Plan, Stored};
use super::{DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Account;
use crate::model::outcome::Effects;
use crate::store::email_change::{ChangeKind, EmailChangeStore, EmailChangeToken, NewEmailChange, Redeemed};
use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

fn change_key(hash: &TokenHash) -> Item {
    key(format!("C#{}", hex(hash.as_bytes())), "C")
}

/// The partition of the `listing` index listing an account's change links.
fn changes_of(account_id: Uuid) -> String {
    format!("A#{account_id}#changes")
}

/// The writes of a new link: the link, and its pointer in the account's partition, which
/// takes it away with the account.
fn change_write(tables: &Tables, change: &NewEmailChange) -> StoreResult<[Write; 2]> {
    let mut written = item(
        "",
        "",
        vec![
            ("account", s(change.account_id.to_string())),
            ("kind", s(change.kind.as_str())),
            ("email", s(change.email.as_str())),
            ("created", stamp(change.created_at)),
            ("expires", stamp(change.expires_at)),
            // Kept a week past its end, as the SQL store's purge keeps it: a late click hears
            // "expired", not "unknown".
            ("ttl", ttl(change.expires_at + chrono::Duration::days(7))),
            ("by_pk", s(changes_of(change.account_id))),
            ("by_sk", s(hex(change.hash.as_bytes()))),
        ],
    );
    written.extend(change_key(&change.hash));
    let owned = pointer(
        tables,
        &account_owner(change.account_id),
        &change_key(&change.hash),
        change.expires_at + chrono::Duration::days(7),
    )?;
    Ok([Write::put(&tables.main, written).when("attribute_not_exists(#pk)"), owned])
}

fn change_from_item(found: &Item) -> StoreResult<EmailChangeToken> {
    let kind = text(found, "kind")?;
    Ok(EmailChangeToken {
        account_id: super::items::id(found, "account")?,
        kind: ChangeKind::parse(kind).ok_or_else(|| anyhow::anyhow!("bad kind {kind:?}"))?,
        email: text(found, "email")?.to_owned(),
        expires_at: time(found, "expires")?,
        used_at: opt_time(found, "used")?,
    })
}

/// Spends the link `pk` (open ones only: a write on condition that it is unspent and unexpired).
fn spend(tables: &Tables, link: Item, now: DateTime<Utc>) -> Write {
    Write::update(&tables.main, link, "SET #used = :now")
        .when("attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now")
        .value("now", stamp(now))
}

/// Spends every open link of the account the index lists (of the kind, when given), but `mine`.
fn spend_open(tables: &Tables, open: &[(String, String)], now: DateTime<Utc>) -> Vec<Write> {
    open.iter()
        .map(|(pk, _)| {
            Write::update(&tables.main, key(pk.as_str(), "C"), "SET #used = if_not_exists(#used, :now)")
                .when("attribute_exists(#pk)")
                .value("now", stamp(now))
        })
        .collect()
}

/// The writes that make `email` the account's address: the account, and its marker moved.
fn readdress(tables: &Tables, read: &Stored, email: &str, now: DateTime<Utc>) -> StoreResult<Plan<Account>> {
    let mut account = read.account.clone();
    account.email = email.to_owned();
    account.email_verified = true;
    account.updated_at = now;
    let mut plan = Plan::new(tables, read, &account, &read.password_hash, account.clone())?;
    let (old, new) = (read.account.email.trim().to_lowercase(), email.trim().to_lowercase());
    if old != new {
        let id = s(read.account.id.to_string());
        let gone =
            Write::delete(&tables.main, key(format!("E#{old}"), "E")).when("#account = :id").value("id", id.clone());
        plan.writes.push(gone);
        let marker = item(format!("E#{new}"), "E", vec![("account", id.clone())]);
        let taken =
            Write::put(&tables.main, marker).when("attribute_not_exists(#pk) OR #account = :id").value("id", id);
        plan.refused_by(taken, || StoreError::EmailTaken);
    }
    Ok(plan)
}

impl DynamoStore {
    /// The open links of the account (the `listing` index, which may lag a link made a moment ago),
    /// as (pk, kind).
    async fn open_changes(
        &self,
        account_id: Uuid,
        kind: Option<ChangeKind>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(String, String)>> {
        let items = self.listed(&changes_of(account_id), false).await?;
        let now = stamp_text(now);
        let mut open = Vec::new();
        for found in &items {
            let unspent = opt_time(found, "used")?.is_none() && text(found, "expires")? > now.as_str();
            let of_kind = kind.is_none_or(|kind| text(found, "kind").is_ok_and(|k| k == kind.as_str()));
            if unspent && of_kind {
                open.push((text(found, "pk")?.to_owned(), text(found, "kind")?.to_owned()));
            }
        }
        Ok(open)
    }

    async fn open_link(
        &self,
        hash: &TokenHash,
        kind: ChangeKind,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailChangeToken>> {
        let link = self.find_email_change(hash).await?;
        Ok(link.filter(|link| link.kind == kind && link.used_at.is_none() && link.expires_at > now))
    }

    /// Follows an open link of `kind`: its address becomes the account's; `extra` adds writes.
    async fn follow(
        &self,
        hash: &TokenHash,
        kind: ChangeKind,
        now: DateTime<Utc>,
        effects: &Effects,
        extra: impl Fn() -> Vec<Write>,
    ) -> StoreResult<Redeemed> {
        let Some(link) = self.open_link(hash, kind, now).await? else { return Ok(Redeemed::AlreadySpent) };
        let changed = self
            .change_account(link.account_id, |read| {
                let previous = read.account.email.clone();
                let planned = readdress(&self.tables, &read, &link.email, now)?;
                let value = (planned.value.clone(), previous);
                let mut plan = planned.with_value(value);
                plan.spends(spend(&self.tables, change_key(hash), now), || StoreError::Conflict);
                plan.writes.extend(extra());
                plan.tell(&self.tables, effects)?;
                Ok(Some(plan))
            })
            .await;
        match changed {
            Ok(Some((account, previous))) => Ok(Redeemed::Changed { account, previous }),
            // Spent by a concurrent request, or the account is gone.
            Ok(None) | Err(StoreError::Conflict) => Ok(Redeemed::AlreadySpent),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl EmailChangeStore for DynamoStore {
    async fn insert_email_change(&self, change: &NewEmailChange, effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_email_change", async {
            // A new confirmation link spends the account's earlier ones.
            let open = self.open_changes(change.account_id, Some(ChangeKind::Confirm), change.created_at).await?;
            let mut writes = spend_open(&self.tables, &open, change.created_at);
            writes.extend(change_write(&self.tables, change)?);
            writes.extend(self.told(effects).await?);
            self.insert_new(writes, "insert_email_change").await
        })
    }

    async fn find_email_change(&self, hash: &TokenHash) -> StoreResult<Option<EmailChangeToken>> {
        timed!(DB, "find_email_change", async {
            let found = self.get(&self.tables.main, change_key(hash)).await?;
            found.as_ref().map(change_from_item).transpose()
        })
    }

    async fn redeem_email_change(
        &self,
        hash: &TokenHash,
        revert: &NewEmailChange,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Redeemed> {
        timed!(DB, "redeem_email_change", async {
            let revert_writes = change_write(&self.tables, revert)?;
            self.follow(hash, ChangeKind::Confirm, now, effects, || revert_writes.iter().map(Write::clone).collect())
                .await
        })
    }

    async fn redeem_email_revert(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Redeemed> {
        timed!(DB, "redeem_email_revert", async {
            let Some(link) = self.open_link(hash, ChangeKind::Revert, now).await? else {
                return Ok(Redeemed::AlreadySpent);
            };
            // Going back spends every other open link of the account.
            let mine = change_key(hash).remove("pk");
            let open: Vec<_> = self
                .open_changes(link.account_id, None, now)
                .await?
                .into_iter()
                .filter(|(pk, _)| Some(s(pk.as_str())) != mine)
                .collect();
            self.follow(hash, ChangeKind::Revert, now, effects, || spend_open(&self.tables, &open, now)).await
        })
    }
}
