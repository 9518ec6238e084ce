//! MySQL/MariaDB: email-address change links. Locks are taken parent first: the account row,
//! then its links. A redemption locks the account `FOR UPDATE`, so concurrent redemptions
//! queue there, and all but the first then find the link spent. Each transaction is retried
//! once if the server picks it as a deadlock victim.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, Row, Transaction};
use uuid::Uuid;

use super::{MySqlStore, insert_email, map_err, read_account, retrying, uuid};
use crate::accounts::domain::Account;
use crate::store::email_change::{ChangeKind, EmailChangeStore, EmailChangeToken, NewEmailChange, Redeemed};
use crate::store::{NewEmail, StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

type Tx = Transaction<'static, MySql>;

fn change_from_row(row: &MySqlRow) -> StoreResult<EmailChangeToken> {
    let kind: String = row.try_get("kind").map_err(map_err)?;
    Ok(EmailChangeToken {
        account_id: uuid(row, "account_id")?,
        kind: ChangeKind::parse(&kind).ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad kind {kind:?}")))?,
        email: row.try_get("email").map_err(map_err)?,
        expires_at: row.try_get("expires_at").map_err(map_err)?,
        used_at: row.try_get("used_at").map_err(map_err)?,
    })
}

async fn insert_change(tx: &mut Tx, change: &NewEmailChange) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO email_changes (hash, account_id, kind, email, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(change.hash.as_bytes().as_slice())
    .bind(change.account_id.to_string())
    .bind(change.kind.as_str())
    .bind(&change.email)
    .bind(change.created_at)
    .bind(change.expires_at)
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(())
}

/// The link, if it is an unspent, unexpired one of `kind`, with the address its account has now.
/// The account row and then the link are locked (locking reads see the latest commits).
async fn open_link(
    tx: &mut Tx,
    hash: &TokenHash,
    kind: ChangeKind,
    now: DateTime<Utc>,
) -> StoreResult<Option<(EmailChangeToken, String)>> {
    let owner: Option<String> = sqlx::query_scalar("SELECT account_id FROM email_changes WHERE hash = ?")
        .bind(hash.as_bytes().as_slice())
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    let Some(owner) = owner else { return Ok(None) };
    let previous: Option<String> = sqlx::query_scalar("SELECT email FROM accounts WHERE id = ? FOR UPDATE")
        .bind(&owner)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    let Some(previous) = previous else { return Ok(None) };
    let row =
        sqlx::query("SELECT account_id, kind, email, expires_at, used_at FROM email_changes WHERE hash = ? FOR UPDATE")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
    let Some(link) = row.as_ref().map(change_from_row).transpose()? else { return Ok(None) };
    if link.kind != kind || link.used_at.is_some() || link.expires_at <= now {
        return Ok(None);
    }
    Ok(Some((link, previous)))
}

/// Gives the account `email` (as typed; compared trimmed and lower-cased), verified.
async fn set_email(tx: &mut Tx, account_id: Uuid, email: &str, now: DateTime<Utc>) -> StoreResult<Account> {
    sqlx::query(
        "UPDATE accounts SET email = ?, email_normalized = ?, email_verified = TRUE, updated_at = ? WHERE id = ?",
    )
    .bind(email)
    .bind(email.trim().to_lowercase())
    .bind(now)
    .bind(account_id.to_string())
    .execute(&mut **tx)
    .await
    .map_err(map_err)?;
    let stored = read_account(tx, account_id).await?;
    Ok(stored.ok_or_else(|| anyhow::anyhow!("the account just updated is missing"))?.account)
}

#[async_trait]
impl EmailChangeStore for MySqlStore {
    async fn insert_email_change(&self, change: &NewEmailChange, email: &NewEmail) -> StoreResult<()> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            sqlx::query("SELECT id FROM accounts WHERE id = ? FOR UPDATE")
                .bind(change.account_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            sqlx::query(
                "UPDATE email_changes SET used_at = ? WHERE account_id = ? AND kind = 'confirm' AND used_at IS NULL",
            )
            .bind(change.created_at)
            .bind(change.account_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            insert_change(&mut tx, change).await?;
            insert_email(&mut tx, email).await?;
            tx.commit().await.map_err(map_err)
        })
        .await
    }

    async fn find_email_change(&self, hash: &TokenHash) -> StoreResult<Option<EmailChangeToken>> {
        let row = sqlx::query("SELECT account_id, kind, email, expires_at, used_at FROM email_changes WHERE hash = ?")
            .bind(hash.as_bytes().as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.as_ref().map(change_from_row).transpose()
    }

    async fn redeem_email_change(
        &self,
        hash: &TokenHash,
        revert: &NewEmailChange,
        notice: &NewEmail,
        now: DateTime<Utc>,
    ) -> StoreResult<Redeemed> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            let Some((link, previous)) = open_link(&mut tx, hash, ChangeKind::Confirm, now).await? else {
                tx.rollback().await.map_err(map_err)?;
                return Ok(Redeemed::AlreadySpent);
            };
            sqlx::query("UPDATE email_changes SET used_at = ? WHERE hash = ?")
                .bind(now)
                .bind(hash.as_bytes().as_slice())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let account = set_email(&mut tx, link.account_id, &link.email, now).await?;
            insert_change(&mut tx, revert).await?;
            insert_email(&mut tx, notice).await?;
            tx.commit().await.map_err(map_err)?;
            Ok(Redeemed::Changed { account, previous })
        })
        .await
    }

    async fn redeem_email_revert(
        &self,
        hash: &TokenHash,
        notice: Option<&NewEmail>,
        now: DateTime<Utc>,
    ) -> StoreResult<Redeemed> {
        retrying(|| async move {
            let mut tx = self.begin().await?;
            let Some((link, previous)) = open_link(&mut tx, hash, ChangeKind::Revert, now).await? else {
                tx.rollback().await.map_err(map_err)?;
                return Ok(Redeemed::AlreadySpent);
            };
            let account = set_email(&mut tx, link.account_id, &link.email, now).await?;
            // This link and every other pending one of the account.
            sqlx::query("UPDATE email_changes SET used_at = ? WHERE account_id = ? AND used_at IS NULL")
                .bind(now)
                .bind(link.account_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            if let Some(notice) = notice {
                insert_email(&mut tx, notice).await?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok(Redeemed::Changed { account, previous })
        })
        .await
    }
}
