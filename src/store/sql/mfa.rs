//! Second factors (`mfa_totp`, `recovery_codes`, `mfa_challenges`): each "only once" is one
//! conditional `UPDATE` whose count of changed rows decides, so it holds on every replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::insert_effects;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::mfa::{Claimed, Factors, MfaStore, NewChallenge, StoredTotp};
use crate::tokens::opaque::TokenHash;

async fn insert_codes(tx: &mut impl Exec, account_id: Uuid, codes: &[[u8; 32]], now: DateTime<Utc>) -> StoreResult<()> {
    tx.execute(sql!("DELETE FROM recovery_codes WHERE account_id = ?"), args![account_id]).await?;
    for code in codes {
        tx.execute(
            sql!("INSERT INTO recovery_codes (account_id, hash, created_at) VALUES (?, ?, ?)"),
            args![account_id, code.as_slice(), now],
        )
        .await?;
    }
    Ok(())
}

fn hash_of(row: &impl Row) -> StoreResult<[u8; 32]> {
    row.bytes("hash")?
        .try_into()
        .map_err(|_| StoreError::Other(anyhow::anyhow!("a recovery code hash is not 32 bytes")))
}

#[async_trait]
impl<D: Dialect> MfaStore for SqlStore<D> {
    async fn factors(&self, account_id: Uuid) -> StoreResult<Factors> {
        timed!(DB, "mfa_factors", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT (SELECT COUNT(*) FROM mfa_totp WHERE account_id = ? AND confirmed_at IS NOT NULL) AS totp,
                                (SELECT COUNT(*) FROM recovery_codes WHERE account_id = ? AND used_at IS NULL) AS codes,
                                (SELECT COUNT(*) FROM passkeys WHERE account_id = ?) AS passkeys"
                    ),
                    args![account_id, account_id, account_id],
                )
                .await?;
            let Some(row) = row else { return Ok(Factors::default()) };
            Ok(Factors {
                totp: row.count("totp")? > 0,
                recovery_codes: row.count("codes")?.try_into().unwrap_or(u32::MAX),
                passkeys: row.count("passkeys")?.try_into().unwrap_or(u32::MAX),
            })
        })
    }

    async fn totp(&self, account_id: Uuid) -> StoreResult<Option<StoredTotp>> {
        timed!(DB, "mfa_totp", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT secret, confirmed_at, last_step FROM mfa_totp WHERE account_id = ?"),
                    args![account_id],
                )
                .await?;
            row.map(|row| {
                Ok(StoredTotp {
                    secret: row.bytes("secret")?,
                    confirmed: row.opt_time("confirmed_at")?.is_some(),
                    last_step: row.opt_int("last_step")?,
                })
            })
            .transpose()
        })
    }

    async fn begin_totp(&self, account_id: Uuid, sealed: &[u8], now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(
            DB,
            "mfa_begin_totp",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.lock(sql!("SELECT 1 FROM accounts WHERE id = ? FOR NO KEY UPDATE"), args![account_id]).await?;
                let confirmed = tx
                    .fetch_optional(
                        sql!("SELECT 1 AS one FROM mfa_totp WHERE account_id = ? AND confirmed_at IS NOT NULL"),
                        args![account_id],
                    )
                    .await?;
                if confirmed.is_some() {
                    return Ok(false);
                }
                tx.execute(sql!("DELETE FROM mfa_totp WHERE account_id = ?"), args![account_id]).await?;
                tx.execute(
                    sql!("INSERT INTO mfa_totp (account_id, secret, created_at) VALUES (?, ?, ?)"),
                    args![account_id, sealed, now],
                )
                .await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn confirm_totp(
        &self,
        account_id: Uuid,
        step: i64,
        codes: &[[u8; 32]],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(
            DB,
            "mfa_confirm_totp",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.lock(sql!("SELECT 1 FROM accounts WHERE id = ? FOR NO KEY UPDATE"), args![account_id]).await?;
                let confirmed = tx
                    .execute(
                        sql!(
                            "UPDATE mfa_totp SET confirmed_at = ?, last_step = ?
                             WHERE account_id = ? AND confirmed_at IS NULL"
                        ),
                        args![now, step, account_id],
                    )
                    .await?;
                if confirmed != 1 {
                    return Ok(false);
                }
                insert_codes(&mut tx, account_id, codes, now).await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn accept_totp_step(&self, account_id: Uuid, step: i64) -> StoreResult<bool> {
        timed!(DB, "mfa_accept_totp_step", async {
            let accepted = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE mfa_totp SET last_step = ?
                         WHERE account_id = ? AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)"
                    ),
                    args![step, account_id, step],
                )
                .await?;
            Ok(accepted == 1)
        })
    }

    async fn remove_factors(&self, account_id: Uuid, passkeys: bool, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "mfa_remove_factors",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.lock(sql!("SELECT 1 FROM accounts WHERE id = ? FOR NO KEY UPDATE"), args![account_id]).await?;
                let mut removed = tx
                    .execute(
                        sql!("DELETE FROM mfa_totp WHERE account_id = ? AND confirmed_at IS NOT NULL"),
                        args![account_id],
                    )
                    .await?;
                if passkeys {
                    removed += tx.execute(sql!("DELETE FROM passkeys WHERE account_id = ?"), args![account_id]).await?;
                }
                if removed == 0 {
                    return Ok(false);
                }
                tx.execute(sql!("DELETE FROM mfa_totp WHERE account_id = ?"), args![account_id]).await?;
                // Recovery codes stay while passkeys remain: they stand in for a lost passkey too.
                tx.execute(
                    sql!(
                        "DELETE FROM recovery_codes WHERE account_id = ?
                         AND NOT EXISTS (SELECT 1 FROM passkeys WHERE account_id = ?)"
                    ),
                    args![account_id, account_id],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn recovery_codes(&self, account_id: Uuid) -> StoreResult<Vec<[u8; 32]>> {
        timed!(DB, "mfa_recovery_codes", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!("SELECT hash FROM recovery_codes WHERE account_id = ? AND used_at IS NULL"),
                    args![account_id],
                )
                .await?;
            rows.iter().map(hash_of).collect()
        })
    }

    async fn replace_recovery_codes(
        &self,
        account_id: Uuid,
        codes: &[[u8; 32]],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<()> {
        timed!(
            DB,
            "mfa_replace_recovery_codes",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.lock(sql!("SELECT 1 FROM accounts WHERE id = ? FOR NO KEY UPDATE"), args![account_id]).await?;
                insert_codes(&mut tx, account_id, codes, now).await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }

    async fn spend_recovery_code(
        &self,
        account_id: Uuid,
        hash: &[u8; 32],
        effects: &Effects,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed!(
            DB,
            "mfa_spend_recovery_code",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let spent = tx
                    .execute(
                        sql!(
                            "UPDATE recovery_codes SET used_at = ?
                             WHERE account_id = ? AND hash = ? AND used_at IS NULL"
                        ),
                        args![now, account_id, hash.as_slice()],
                    )
                    .await?;
                if spent != 1 {
                    return Ok(false);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn insert_challenge(&self, challenge: &NewChallenge) -> StoreResult<()> {
        timed!(DB, "mfa_insert_challenge", async {
            self.db
                .pool()
                .execute(
                    sql!(
                        "INSERT INTO mfa_challenges (hash, account_id, first_factor, created_at, expires_at)
                         VALUES (?, ?, ?, ?, ?)"
                    ),
                    args![
                        &challenge.hash,
                        challenge.account_id,
                        challenge.first_factor.as_str(),
                        challenge.created_at,
                        challenge.expires_at,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    async fn claim_challenge(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Claimed>> {
        timed!(DB, "mfa_claim_challenge", async {
            let claimed = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE mfa_challenges SET used_at = ?
                         WHERE hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?"
                    ),
                    args![now, hash, now, i64::from(max_attempts)],
                )
                .await?;
            if claimed != 1 {
                return Ok(None);
            }
            let row = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT account_id, first_factor FROM mfa_challenges WHERE hash = ?"), args![hash])
                .await?;
            row.map(|row| Ok(Claimed { account_id: row.id("account_id")?, first_factor: row.text("first_factor")? }))
                .transpose()
        })
    }

    async fn challenge_account(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        timed!(DB, "mfa_challenge_account", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT account_id FROM mfa_challenges
                         WHERE hash = ? AND used_at IS NULL AND expires_at > ? AND attempts < ?"
                    ),
                    args![hash, now, i64::from(max_attempts)],
                )
                .await?;
            row.map(|row| row.id("account_id")).transpose()
        })
    }

    async fn release_challenge(&self, hash: &TokenHash, wrong: bool) -> StoreResult<()> {
        timed!(DB, "mfa_release_challenge", async {
            self.db
                .pool()
                .execute(
                    sql!("UPDATE mfa_challenges SET attempts = attempts + ?, used_at = NULL WHERE hash = ?"),
                    args![i64::from(wrong), hash],
                )
                .await?;
            Ok(())
        })
    }
}
