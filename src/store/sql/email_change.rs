//! Email-address change links (`email_changes`): a confirmation link to the new address, and,
//! once it is used, an undo link to the old one. Locks are taken parent first, as everywhere:
//! the account row, then its links. A redemption locks the account `FOR UPDATE` (its email is
//! a unique key), so concurrent redemptions queue there, and all but the first then find the
//! link spent.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::insert_effects;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, read_account, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Account;
use crate::model::outcome::Effects;
use crate::store::email_change::{ChangeKind, EmailChangeStore, EmailChangeToken, NewEmailChange, Redeemed};
use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

fn change_from_row(row: &impl Row) -> StoreResult<EmailChangeToken> {
    let kind = row.text("kind")?;
    Ok(EmailChangeToken {
        account_id: row.id("account_id")?,
        kind: ChangeKind::parse(&kind).ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad kind {kind:?}")))?,
        email: row.text("email")?,
        expires_at: row.time("expires_at")?,
        used_at: row.opt_time("used_at")?,
    })
}

async fn insert_change(tx: &mut impl Exec, change: &NewEmailChange) -> StoreResult<()> {
    tx.execute(
        sql!(
            "INSERT INTO email_changes (hash, account_id, kind, email, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)"
        ),
        args![
            &change.hash,
            change.account_id,
            change.kind.as_str(),
            &change.email,
            change.created_at,
            change.expires_at
        ],
    )
    .await?;
    Ok(())
}

/// The link, if it is an unspent, unexpired one of `kind`, with the address its account has now.
/// The account row and then the link are locked; both are read as they stand once the locks
/// are held.
async fn open_link(
    tx: &mut impl Exec,
    hash: &TokenHash,
    kind: ChangeKind,
    now: DateTime<Utc>,
) -> StoreResult<Option<(EmailChangeToken, String)>> {
    let account = tx
        .fetch_optional(
            sql!(
                "SELECT email FROM accounts WHERE id = (SELECT account_id FROM email_changes WHERE hash = ?) FOR UPDATE"
            ),
            args![hash],
        )
        .await?;
    let Some(previous) = account.map(|row| row.text("email")).transpose()? else { return Ok(None) };
    let row = tx
        .fetch_optional(
            sql!("SELECT account_id, kind, email, expires_at, used_at FROM email_changes WHERE hash = ? FOR UPDATE"),
            args![hash],
        )
        .await?;
    let Some(link) = row.as_ref().map(change_from_row).transpose()? else { return Ok(None) };
    if link.kind != kind || link.used_at.is_some() || link.expires_at <= now {
        return Ok(None);
    }
    Ok(Some((link, previous)))
}

/// Gives the account `email` (as typed; compared trimmed and lower-cased), verified.
async fn set_email(tx: &mut impl Exec, account_id: Uuid, email: &str, now: DateTime<Utc>) -> StoreResult<Account> {
    tx.execute(
        sql!("UPDATE accounts SET email = ?, email_normalized = ?, email_verified = TRUE, updated_at = ? WHERE id = ?"),
        args![email, email.trim().to_lowercase().as_str(), now, account_id],
    )
    .await?;
    let account = read_account(tx, account_id).await?;
    account.map(|c| c.account).ok_or_else(|| anyhow::anyhow!("the account of an open email change is gone").into())
}

#[async_trait]
impl<D: Dialect> EmailChangeStore for SqlStore<D> {
    async fn insert_email_change(&self, change: &NewEmailChange, effects: &Effects) -> StoreResult<()> {
        timed!(
            DB,
            "insert_email_change",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.lock(sql!("SELECT 1 FROM accounts WHERE id = ? FOR NO KEY UPDATE"), args![change.account_id])
                    .await?;
                tx.execute(
                    sql!(
                        "UPDATE email_changes SET used_at = ?
                         WHERE account_id = ? AND kind = 'confirm' AND used_at IS NULL"
                    ),
                    args![change.created_at, change.account_id],
                )
                .await?;
                insert_change(&mut tx, change).await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }

    async fn find_email_change(&self, hash: &TokenHash) -> StoreResult<Option<EmailChangeToken>> {
        timed!(DB, "find_email_change", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT account_id, kind, email, expires_at, used_at FROM email_changes WHERE hash = ?"),
                    args![hash],
                )
                .await?;
            row.as_ref().map(change_from_row).transpose()
        })
    }

    async fn redeem_email_change(
        &self,
        hash: &TokenHash,
        revert: &NewEmailChange,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Redeemed> {
        timed!(
            DB,
            "redeem_email_change",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let Some((link, previous)) = open_link(&mut tx, hash, ChangeKind::Confirm, now).await? else {
                    return Ok(Redeemed::AlreadySpent);
                };
                tx.execute(sql!("UPDATE email_changes SET used_at = ? WHERE hash = ?"), args![now, hash]).await?;
                let account = set_email(&mut tx, link.account_id, &link.email, now).await?;
                insert_change(&mut tx, revert).await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(Redeemed::Changed { account, previous })
            })
        )
    }

    async fn redeem_email_revert(
        &self,
        hash: &TokenHash,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Redeemed> {
        timed!(
            DB,
            "redeem_email_revert",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let Some((link, previous)) = open_link(&mut tx, hash, ChangeKind::Revert, now).await? else {
                    return Ok(Redeemed::AlreadySpent);
                };
                let account = set_email(&mut tx, link.account_id, &link.email, now).await?;
                // This link and every other pending one of the account.
                tx.execute(
                    sql!("UPDATE email_changes SET used_at = ? WHERE account_id = ? AND used_at IS NULL"),
                    args![now, link.account_id],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(Redeemed::Changed { account, previous })
            })
        )
    }
}
