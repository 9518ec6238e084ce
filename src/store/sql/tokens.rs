//! One-time link tokens (`one_time_tokens`): stored with the email carrying them, looked up by
//! hash, and spent once — activating the account or setting its new password in the same
//! transaction. Proving the address any way but the confirmation link of a provider sign-up
//! removes the identities linked while the account was pending (see
//! [`drop_unconfirmed_identities`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::insert_effects;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::tokens::{NewOneTimeToken, OneTimeToken, TokenPurpose, TokenStore};
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

/// A purpose as stored: the `purpose` column (which a check constraint keeps to two values) and
/// `through_provider`, which tells a provider sign-up's activation link from the others.
fn stored(purpose: TokenPurpose) -> (&'static str, bool) {
    match purpose {
        TokenPurpose::Activation => ("activation", false),
        TokenPurpose::ActivationThroughProvider => ("activation", true),
        TokenPurpose::PasswordReset => ("password_reset", false),
    }
}

pub(super) async fn insert_token(tx: &mut impl Exec, token: &NewOneTimeToken) -> StoreResult<()> {
    let (purpose, through_provider) = stored(token.purpose);
    tx.execute(
        sql!(
            "INSERT INTO one_time_tokens (hash, account_id, purpose, through_provider, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?)"
        ),
        args![&token.hash, token.account_id, purpose, through_provider, token.created_at, token.expires_at],
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
    let (purpose, through_provider) = stored(purpose);
    let spent = tx
        .execute(
            sql!(
                "UPDATE one_time_tokens SET used_at = ?
                 WHERE hash = ? AND purpose = ? AND through_provider = ? AND used_at IS NULL AND expires_at > ?"
            ),
            args![now, hash, purpose, through_provider, now],
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
    async fn insert_link(&self, token: &NewOneTimeToken, effects: &Effects) -> StoreResult<()> {
        timed!(
            DB,
            "insert_link",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_token(&mut tx, token).await?;
                insert_effects(&mut tx, effects).await?;
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
                    sql!(
                        "SELECT account_id, purpose, through_provider, expires_at, used_at FROM one_time_tokens
                         WHERE hash = ?"
                    ),
                    args![hash],
                )
                .await?;
            let Some(row) = row else { return Ok(None) };
            let purpose = row.text("purpose")?;
            let purpose = match (TokenPurpose::parse(&purpose), row.bool("through_provider")?) {
                (Some(TokenPurpose::Activation), true) => TokenPurpose::ActivationThroughProvider,
                (Some(purpose), _) => purpose,
                (None, _) => return Err(anyhow::anyhow!("bad purpose {purpose:?}").into()),
            };
            Ok(Some(OneTimeToken {
                account_id: row.id("account_id")?,
                purpose,
                expires_at: row.time("expires_at")?,
                used_at: row.opt_time("used_at")?,
            }))
        })
    }

    async fn redeem_activation(&self, hash: &TokenHash, now: DateTime<Utc>, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "redeem_activation",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let account_id = match spend_token(&mut tx, hash, TokenPurpose::Activation, now).await? {
                    Some(account_id) => {
                        drop_unconfirmed_identities(&mut tx, account_id).await?;
                        account_id
                    }
                    None => match spend_token(&mut tx, hash, TokenPurpose::ActivationThroughProvider, now).await? {
                        Some(account_id) => account_id,
                        None => return Ok(false),
                    },
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
                insert_effects(&mut tx, effects).await?;
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
        effects: &Effects,
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
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }
}
