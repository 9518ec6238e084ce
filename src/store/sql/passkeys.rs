//! Passkeys (`passkeys`) and WebAuthn ceremonies (`webauthn_challenges`): a ceremony is spent by
//! one conditional `UPDATE`, so a challenge answers once however many requests carry it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::insert_effects;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::passkeys::{Ceremony, NewCeremony, PasskeyStore, StoredPasskey};

const PASSKEY_COLUMNS: &str =
    "id, account_id, credential_id, passkey, name, backup_eligible, backup_state, created_at, last_used_at";

fn passkey_from_row(row: &impl Row) -> StoreResult<StoredPasskey> {
    Ok(StoredPasskey {
        id: row.id("id")?,
        account_id: row.id("account_id")?,
        credential_id: row.bytes("credential_id")?,
        passkey: row.text("passkey")?,
        name: row.text("name")?,
        backup_eligible: row.bool("backup_eligible")?,
        backup_state: row.bool("backup_state")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

#[async_trait]
impl<D: Dialect> PasskeyStore for SqlStore<D> {
    async fn insert_passkey(&self, passkey: &StoredPasskey, effects: &Effects) -> StoreResult<()> {
        timed!(
            DB,
            "insert_passkey",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.execute(
                    sql!("INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                    args![
                        passkey.id,
                        passkey.account_id,
                        passkey.credential_id.as_slice(),
                        passkey.passkey.as_str(),
                        passkey.name.as_str(),
                        passkey.backup_eligible,
                        passkey.backup_state,
                        passkey.created_at,
                        passkey.last_used_at,
                    ],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }

    async fn passkeys(&self, account_id: Uuid) -> StoreResult<Vec<StoredPasskey>> {
        timed!(DB, "passkeys", async {
            let sql = sql!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE account_id = ? ORDER BY created_at, id");
            let rows = self.db.pool().fetch_all(sql, args![account_id]).await?;
            rows.iter().map(passkey_from_row).collect()
        })
    }

    async fn passkey_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>> {
        timed!(DB, "passkey_by_credential", async {
            let sql = sql!("SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = ?");
            let row = self.db.pool().fetch_optional(sql, args![credential_id]).await?;
            row.map(|row| passkey_from_row(&row)).transpose()
        })
    }

    async fn record_passkey_use(&self, passkey: &StoredPasskey, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "record_passkey_use", async {
            self.db
                .pool()
                .execute(
                    sql!(
                        "UPDATE passkeys SET passkey = ?, backup_eligible = ?, backup_state = ?, last_used_at = ?
                         WHERE id = ?"
                    ),
                    args![passkey.passkey.as_str(), passkey.backup_eligible, passkey.backup_state, now, passkey.id],
                )
                .await?;
            Ok(())
        })
    }

    async fn delete_passkey(&self, account_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_passkey",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let deleted = tx
                    .execute(sql!("DELETE FROM passkeys WHERE id = ? AND account_id = ?"), args![id, account_id])
                    .await?;
                if deleted != 1 {
                    return Ok(false);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn insert_ceremony(&self, ceremony: &NewCeremony) -> StoreResult<()> {
        timed!(DB, "insert_ceremony", async {
            self.db
                .pool()
                .execute(
                    sql!(
                        "INSERT INTO webauthn_challenges (hash, account_id, purpose, state, expires_at)
                         VALUES (?, ?, ?, ?, ?)"
                    ),
                    args![
                        ceremony.hash.as_slice(),
                        ceremony.account_id,
                        ceremony.purpose.as_str(),
                        ceremony.state.as_str(),
                        ceremony.expires_at,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    async fn take_ceremony(
        &self,
        hash: &[u8; 32],
        purpose: Ceremony,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Option<Uuid>, String)>> {
        timed!(DB, "take_ceremony", async {
            let taken = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE webauthn_challenges SET used_at = ?
                         WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?"
                    ),
                    args![now, hash.as_slice(), purpose.as_str(), now],
                )
                .await?;
            if taken != 1 {
                return Ok(None);
            }
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT account_id, state FROM webauthn_challenges WHERE hash = ?"),
                    args![hash.as_slice()],
                )
                .await?;
            row.map(|row| Ok((row.opt_id("account_id")?, row.text("state")?))).transpose()
        })
    }
}
