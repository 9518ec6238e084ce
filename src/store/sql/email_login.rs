//! Logins by email (`email_logins`) and browser hand-offs (`login_handoffs`): a code attempt is
//! taken by one conditional `UPDATE` before the code is compared, and a login or hand-off is
//! spent by another, so neither counts nor spends twice however many requests race.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::insert_account_row;
use super::outbox::insert_effects;
use super::tokens::drop_unconfirmed_identities;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::email_login::{
    EmailLogin, EmailLoginStore, HandoffBinding, LinkFacts, LinkState, NewEmailLogin, Redeem, SpentHandoff,
};
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

fn login_from_row(row: &impl Row) -> StoreResult<EmailLogin> {
    let code_hash = row.bytes("code_hash")?;
    Ok(EmailLogin {
        id: row.id("id")?,
        email: row.text("email")?,
        account_id: row.opt_id("account_id")?,
        code_hash: TokenHash::from_bytes(&code_hash)
            .ok_or_else(|| anyhow::anyhow!("a stored code hash is not 32 bytes"))?,
        handoff: binding_from_row(row)?,
    })
}

/// The `handoff_browser` and `handoff_challenge` columns of a row.
pub(super) fn binding_from_row(row: &impl Row) -> StoreResult<HandoffBinding> {
    let browser = match row.opt_bytes("handoff_browser")? {
        Some(bytes) => Some(
            TokenHash::from_bytes(&bytes).ok_or_else(|| anyhow::anyhow!("a stored browser binding is not 32 bytes"))?,
        ),
        None => None,
    };
    Ok(HandoffBinding { browser, challenge: row.opt_text("handoff_challenge")? })
}

#[async_trait]
impl<D: Dialect> EmailLoginStore for SqlStore<D> {
    async fn insert_email_login(&self, login: &NewEmailLogin, effects: &Effects) -> StoreResult<()> {
        timed!(
            DB,
            "insert_email_login",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.execute(
                    sql!(
                        "UPDATE email_logins SET expires_at = ?
                         WHERE email_normalized = ? AND used_at IS NULL AND expires_at > ?"
                    ),
                    args![login.created_at, &login.email_normalized, login.created_at],
                )
                .await?;
                tx.execute(
                    sql!(
                        "INSERT INTO email_logins (id, email, email_normalized, account_id, link_hash, code_hash,
                                                   handoff_browser, handoff_challenge, created_at, expires_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        login.id,
                        &login.email,
                        &login.email_normalized,
                        login.account_id,
                        &login.link_hash,
                        &login.code_hash,
                        login.handoff.browser.as_ref(),
                        &login.handoff.challenge,
                        login.created_at,
                        login.expires_at,
                    ],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }

    async fn email_login_by_link(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkState> {
        timed!(DB, "email_login_by_link", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT id, email, account_id, code_hash, handoff_browser, handoff_challenge, attempts,
                                expires_at, used_at
                         FROM email_logins WHERE link_hash = ?"
                    ),
                    args![hash],
                )
                .await?;
            let Some(row) = row else { return Ok(LinkState::Unknown) };
            let facts = LinkFacts {
                used: row.opt_time("used_at")?.is_some(),
                attempts: row.int("attempts")?,
                expires_at: row.time("expires_at")?,
            };
            Ok(LinkState::of(login_from_row(&row)?, facts, max_attempts, now))
        })
    }

    async fn take_code_attempt(
        &self,
        email_normalized: &str,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailLogin>> {
        timed!(DB, "take_code_attempt", async {
            let mut pool = self.db.pool();
            let newest = pool
                .fetch_optional(
                    sql!(
                        "SELECT id FROM email_logins
                         WHERE email_normalized = ? AND used_at IS NULL AND expires_at > ?
                         ORDER BY created_at DESC LIMIT 1"
                    ),
                    args![email_normalized, now],
                )
                .await?;
            let Some(id) = newest.map(|row| row.id("id")).transpose()? else { return Ok(None) };
            let taken = pool
                .execute(
                    sql!(
                        "UPDATE email_logins SET attempts = attempts + 1
                         WHERE id = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?"
                    ),
                    args![id, now, i64::from(max_attempts)],
                )
                .await?;
            if taken != 1 {
                return Ok(None);
            }
            let row = pool
                .fetch_optional(
                    sql!("SELECT id, email, account_id, code_hash, handoff_browser, handoff_challenge FROM email_logins WHERE id = ?"),
                    args![id],
                )
                .await?;
            row.map(|row| login_from_row(&row)).transpose()
        })
    }

    async fn redeem_email_login(
        &self,
        id: Uuid,
        attempts_bound: u32,
        redeem: Redeem<'_>,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Option<Uuid>> {
        let redeem = &redeem;
        timed!(
            DB,
            "redeem_email_login",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let spent = tx
                    .execute(
                        sql!(
                            "UPDATE email_logins SET used_at = ?
                             WHERE id = ? AND used_at IS NULL AND expires_at > ? AND attempts <= ?"
                        ),
                        args![now, id, now, i64::from(attempts_bound)],
                    )
                    .await?;
                if spent != 1 {
                    return Ok(None);
                }
                let account_id = match redeem {
                    Redeem::Existing { account_id, fresh_password } => {
                        if let Some(fresh_password) = fresh_password {
                            drop_unconfirmed_identities(&mut tx, *account_id).await?;
                            tx.execute(
                                sql!(
                                    "UPDATE accounts SET password_hash = ?, status = 'active', email_verified = TRUE,
                                                         updated_at = ?
                                     WHERE id = ? AND status = 'pending'"
                                ),
                                args![*fresh_password, now, *account_id],
                            )
                            .await?;
                        }
                        tx.execute(
                            sql!("UPDATE accounts SET email_verified = TRUE WHERE id = ? AND email_verified = FALSE"),
                            args![*account_id],
                        )
                        .await?;
                        *account_id
                    }
                    Redeem::New(account) => {
                        insert_account_row(&mut tx, account).await?;
                        tx.execute(sql!("UPDATE email_logins SET account_id = ? WHERE id = ?"), args![account.id, id])
                            .await?;
                        account.id
                    }
                };
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(Some(account_id))
            })
        )
    }

    async fn insert_handoff(
        &self,
        hash: &TokenHash,
        account_id: Uuid,
        method: &str,
        binding: &HandoffBinding,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        timed!(DB, "insert_handoff", async {
            self.db
                .pool()
                .execute(
                    sql!(
                        "INSERT INTO login_handoffs (hash, account_id, method, handoff_browser, handoff_challenge,
                                                     created_at, expires_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![hash, account_id, method, binding.browser.as_ref(), &binding.challenge, now, expires_at],
                )
                .await?;
            Ok(())
        })
    }

    async fn spend_handoff(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<SpentHandoff>> {
        timed!(DB, "spend_handoff", async {
            let mut pool = self.db.pool();
            let spent = pool
                .execute(
                    sql!(
                        "UPDATE login_handoffs SET used_at = ?
                         WHERE hash = ? AND used_at IS NULL AND expires_at > ?"
                    ),
                    args![now, hash, now],
                )
                .await?;
            if spent != 1 {
                return Ok(None);
            }
            let row = pool
                .fetch_optional(
                    sql!(
                        "SELECT account_id, method, handoff_browser, handoff_challenge FROM login_handoffs
                         WHERE hash = ?"
                    ),
                    args![hash],
                )
                .await?;
            let spent = |row: &<D as Dialect>::Row| -> StoreResult<SpentHandoff> {
                Ok(SpentHandoff {
                    account_id: row.id("account_id")?,
                    method: row.text("method")?,
                    binding: binding_from_row(row)?,
                })
            };
            row.as_ref().map(spent).transpose()
        })
    }
}
