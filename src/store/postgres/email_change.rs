//! PostgreSQL: email-address change links. Locks are taken parent first, as everywhere in this
//! store: the account row, then its links. A redemption locks the account `FOR UPDATE` (its
//! email is a unique key), so concurrent redemptions queue there, and all but the first then
//! find the link spent.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::{ACCOUNT_COLUMNS, PostgresStore, Tx, account_from_row, get, insert_email, map_err};
use crate::accounts::domain::Account;
use crate::store::email_change::{ChangeKind, EmailChangeStore, EmailChangeToken, NewEmailChange, Redeemed};
use crate::store::{NewEmail, StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

fn change_from_row(row: &PgRow) -> StoreResult<EmailChangeToken> {
    let kind: String = get(row, "kind")?;
    Ok(EmailChangeToken {
        account_id: get(row, "account_id")?,
        kind: ChangeKind::parse(&kind).ok_or_else(|| StoreError::Other(anyhow::anyhow!("bad kind {kind:?}")))?,
        email: get(row, "email")?,
        expires_at: get(row, "expires_at")?,
        used_at: get(row, "used_at")?,
    })
}

async fn insert_change(tx: &mut Tx, change: &NewEmailChange) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO email_changes (hash, account_id, kind, email, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(change.hash.as_bytes().as_slice())
    .bind(change.account_id)
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
/// The account row and then the link are locked; both are read as they stand once the locks
/// are held.
async fn open_link(
    tx: &mut Tx,
    hash: &TokenHash,
    kind: ChangeKind,
    now: DateTime<Utc>,
) -> StoreResult<Option<(EmailChangeToken, String)>> {
    let previous: Option<String> = sqlx::query_scalar(
        "SELECT email FROM accounts WHERE id = (SELECT account_id FROM email_changes WHERE hash = $1)
         FOR UPDATE",
    )
    .bind(hash.as_bytes().as_slice())
    .fetch_optional(&mut **tx)
    .await
    .map_err(map_err)?;
    let Some(previous) = previous else { return Ok(None) };
    let row = sqlx::query(
        "SELECT account_id, kind, email, expires_at, used_at FROM email_changes WHERE hash = $1 FOR UPDATE",
    )
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
    let row = sqlx::query(&format!(
        "UPDATE accounts SET email = $1, email_normalized = $2, email_verified = TRUE, updated_at = $3
         WHERE id = $4
         RETURNING {ACCOUNT_COLUMNS}"
    ))
    .bind(email)
    .bind(email.trim().to_lowercase())
    .bind(now)
    .bind(account_id)
    .fetch_one(&mut **tx)
    .await
    .map_err(map_err)?;
    Ok(account_from_row(&row)?.account)
}

#[async_trait]
impl EmailChangeStore for PostgresStore {
    async fn insert_email_change(&self, change: &NewEmailChange, email: &NewEmail) -> StoreResult<()> {
        let mut tx = self.tx().await?;
        sqlx::query("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE")
            .bind(change.account_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        sqlx::query(
            "UPDATE email_changes SET used_at = $1 WHERE account_id = $2 AND kind = 'confirm' AND used_at IS NULL",
        )
        .bind(change.created_at)
        .bind(change.account_id)
        .execute(&mut *tx)
        .await
        .map_err(map_err)?;
        insert_change(&mut tx, change).await?;
        insert_email(&mut tx, email).await?;
        tx.commit().await.map_err(map_err)
    }

    async fn find_email_change(&self, hash: &TokenHash) -> StoreResult<Option<EmailChangeToken>> {
        let row = sqlx::query("SELECT account_id, kind, email, expires_at, used_at FROM email_changes WHERE hash = $1")
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
        let mut tx = self.tx().await?;
        let Some((link, previous)) = open_link(&mut tx, hash, ChangeKind::Confirm, now).await? else {
            tx.rollback().await.map_err(map_err)?;
            return Ok(Redeemed::AlreadySpent);
        };
        sqlx::query("UPDATE email_changes SET used_at = $1 WHERE hash = $2")
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
    }

    async fn redeem_email_revert(
        &self,
        hash: &TokenHash,
        notice: Option<&NewEmail>,
        now: DateTime<Utc>,
    ) -> StoreResult<Redeemed> {
        let mut tx = self.tx().await?;
        let Some((link, previous)) = open_link(&mut tx, hash, ChangeKind::Revert, now).await? else {
            tx.rollback().await.map_err(map_err)?;
            return Ok(Redeemed::AlreadySpent);
        };
        let account = set_email(&mut tx, link.account_id, &link.email, now).await?;
        // This link and every other pending one of the account.
        sqlx::query("UPDATE email_changes SET used_at = $1 WHERE account_id = $2 AND used_at IS NULL")
            .bind(now)
            .bind(link.account_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        if let Some(notice) = notice {
            insert_email(&mut tx, notice).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Redeemed::Changed { account, previous })
    }
}
