//! One-time link tokens (`one_time_tokens`): stored with the email carrying them, looked up by
//! hash, and spent once — activating the account or setting its new password in the same
//! transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::insert_email;
use super::webhooks::insert_events;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::StoreResult;
use crate::store::outbox::NewEmail;
use crate::store::tokens::{NewOneTimeToken, OneTimeToken, TokenPurpose, TokenStore};
use crate::store::webhooks::Event;
use crate::tokens::opaque::TokenHash;

/// Unlinks the identities of `account_id` while it is pending: they were linked by whoever
/// signed up, which the owner of the address, now proving it another way than the
/// confirmation link (a password reset, a login by email), never agreed to.
pub(super) async fn drop_unconfirmed_identities(tx: &mut impl Exec, account_id: Uuid) -> StoreResult<()> {
    tx.execute(
        sql!(
            "DELETE FROM identities
             WHERE account_id = ? AND EXISTS (SELECT 1 FROM accounts WHERE id = ? AND status = 'pending')"
        ),
        args![account_id, account_id],
    )
    .await?;
    Ok(())
}

pub(super) async fn insert_token(tx: &mut impl Exec, token: &NewOneTimeToken) -> StoreResult<()> {
    tx.execute(
        sql!("INSERT INTO one_time_tokens (hash, account_id, purpose, created_at, expires_at) VALUES (?, ?, ?, ?, ?)"),
        args![&token.hash, token.account_id, token.purpose.as_str(), token.created_at, token.expires_at],
    )
    .await?;
    Ok(())
}

/// Spends a one-time token of the given purpose; the account it belonged to, if it was live.
///
/// The account row is locked first, the order a cascading delete takes (parent, then its
/// tokens), so concurrent requests queue instead of deadlocking; the conditional update then
/// makes the token single-use, since a concurrent spender re-checks `used_at IS NULL` once it
/// holds the row.
async fn spend_token(
    tx: &mut impl Exec,
    hash: &TokenHash,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> StoreResult<Option<Uuid>> {
    tx.lock(
        sql!(
            "SELECT 1 FROM accounts WHERE id = (SELECT account_id FROM one_time_tokens WHERE hash = ?)
             FOR NO KEY UPDATE"
        ),
        args![hash],
    )
    .await?;
    let spent = tx
        .execute(
            sql!(
                "UPDATE one_time_tokens SET used_at = ?
                 WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?"
            ),
            args![now, hash, purpose.as_str(), now],
        )
        .await?;
    if spent != 1 {
        return Ok(None);
    }
    let row = tx.fetch_optional(sql!("SELECT account_id FROM one_time_tokens WHERE hash = ?"), args![hash]).await?;
    row.map(|row| row.id("account_id")).transpose()
}

#[async_trait]
impl<D: Dialect> TokenStore for SqlStore<D> {
    async fn insert_link(&self, token: &NewOneTimeToken, email: &NewEmail) -> StoreResult<()> {
        timed!(
            DB,
            "insert_link",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_token(&mut tx, token).await?;
                insert_email(&mut tx, email).await?;
                tx.commit().await
            })
        )
    }

    async fn find_token(&self, hash: &TokenHash) -> StoreResult<Option<OneTimeToken>> {
        timed!(DB, "find_token", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT account_id, purpose, expires_at, used_at FROM one_time_tokens WHERE hash = ?"),
                    args![hash],
                )
                .await?;
            let Some(row) = row else { return Ok(None) };
            let purpose = row.text("purpose")?;
            Ok(Some(OneTimeToken {
                account_id: row.id("account_id")?,
                purpose: TokenPurpose::parse(&purpose).ok_or_else(|| anyhow::anyhow!("bad purpose {purpose:?}"))?,
                expires_at: row.time("expires_at")?,
                used_at: row.opt_time("used_at")?,
            }))
        })
    }

    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>, events: &[Event]) -> StoreResult<bool> {
        timed!(
            DB,
            "redeem_activation",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::Activation, now).await? else {
                    return Ok(false);
                };
                tx.execute(
                    sql!(
                        "UPDATE accounts SET email_verified = TRUE, updated_at = ?,
                                             status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
                         WHERE id = ?"
                    ),
                    args![now, account_id],
                )
                .await?;
                insert_events(&mut tx, events).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn redeem_reset(
        &self,
        hash: &TokenHash,
        password_hash: &str,
        now: DateTime<Utc>,
        notice: Option<&NewEmail>,
        events: &[Event],
    ) -> StoreResult<bool> {
        timed!(
            DB,
            "redeem_reset",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let Some(account_id) = spend_token(&mut tx, hash, TokenPurpose::PasswordReset, now).await? else {
                    return Ok(false);
                };
                drop_unconfirmed_identities(&mut tx, account_id).await?;
                tx.execute(
                    sql!(
                        "UPDATE accounts SET password_hash = ?, email_verified = TRUE, updated_at = ?,
                                             status = CASE WHEN status = 'pending' THEN 'active' ELSE status END
                         WHERE id = ?"
                    ),
                    args![password_hash, now, account_id],
                )
                .await?;
                tx.execute(
                    sql!(
                        "UPDATE one_time_tokens SET used_at = ?
                         WHERE account_id = ? AND purpose = 'password_reset' AND used_at IS NULL"
                    ),
                    args![now, account_id],
                )
                .await?;
                if let Some(notice) = notice {
                    insert_email(&mut tx, notice).await?;
                }
                insert_events(&mut tx, events).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }
}
