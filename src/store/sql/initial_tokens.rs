//! Initial access tokens for client registration (`oauth_initial_tokens`), kept by their
//! SHA-256. A registration takes one use by one conditional `UPDATE`, so a token good for `n`
//! registrations gives `n` however many clients race for it, on any replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::{committed, insert_effects};
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::clients::{InitialToken, InitialTokenStore};
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

fn token_from_row(row: &impl Row) -> StoreResult<InitialToken> {
    Ok(InitialToken {
        id: row.id("id")?,
        name: row.text("name")?,
        created_by: row.opt_id("created_by")?,
        uses_left: row.int("uses_left")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

#[async_trait]
impl<D: Dialect> InitialTokenStore for SqlStore<D> {
    async fn insert_initial_token(&self, token: &InitialToken, hash: &TokenHash, effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_initial_token", async {
            let mut tx = self.db.begin().await?;
            tx.execute(
                sql!(
                    "INSERT INTO oauth_initial_tokens (id, hash, name, created_by, uses_left, created_at, expires_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                args![
                    token.id,
                    hash,
                    &token.name,
                    token.created_by,
                    token.uses_left,
                    token.created_at,
                    token.expires_at
                ],
            )
            .await?;
            insert_effects(&mut tx, effects).await?;
            tx.commit().await
        })
    }

    async fn list_initial_tokens(&self, now: DateTime<Utc>) -> StoreResult<Vec<InitialToken>> {
        timed!(DB, "list_initial_tokens", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT id, name, created_by, uses_left, created_at, expires_at FROM oauth_initial_tokens
                         WHERE expires_at > ? ORDER BY created_at DESC, id"
                    ),
                    args![now],
                )
                .await?;
            rows.iter().map(token_from_row).collect()
        })
    }

    async fn delete_initial_token(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_initial_token", async {
            let mut tx = self.db.begin().await?;
            let deleted = tx.execute(sql!("DELETE FROM oauth_initial_tokens WHERE id = ?"), args![id]).await?;
            committed(tx, deleted == 1, effects).await
        })
    }

    async fn spend_initial_token(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(DB, "spend_initial_token", async {
            let spent = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE oauth_initial_tokens SET uses_left = uses_left - 1
                         WHERE hash = ? AND expires_at > ? AND uses_left > 0"
                    ),
                    args![hash, now],
                )
                .await?;
            Ok(spent == 1)
        })
    }
}
