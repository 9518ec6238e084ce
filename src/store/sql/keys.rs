//! The token-signing keys (`signing_keys`), by generation, and the generated sealing key
//! (`sealing_keys`): the first key inserted once however
//! many replicas start at once, each rotation one generation past the newest.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Arg, Dialect, Exec, Row, SqlStore, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::error::{StoreError, StoreResult};
use crate::store::keys::KeyStore;
use crate::tokens::jwt::{KeyAlgorithm, SigningKey};

/// A key's columns but `generation`, in the order both inserts name them.
fn key_values(key: &SigningKey) -> [Arg<'_>; 5] {
    [
        key.kid.as_str().into(),
        key.algorithm.name().into(),
        key.private_pkcs8.as_slice().into(),
        key.public_key.as_slice().into(),
        key.created_at.into(),
    ]
}

/// How often a rotation retries after a concurrent one took the generation it computed.
const ROTATION_ATTEMPTS: usize = 10;

#[async_trait]
impl<D: Dialect> KeyStore for SqlStore<D> {
    async fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        timed!(DB, "signing_keys", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!("SELECT kid, algorithm, private_key, public_key, created_at FROM signing_keys ORDER BY generation"),
                    args![],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    let algorithm = row.text("algorithm")?;
                    Ok(SigningKey {
                        kid: row.text("kid")?,
                        algorithm: KeyAlgorithm::parse(&algorithm).ok_or_else(|| {
                            StoreError::Other(anyhow::anyhow!("signing key with unknown algorithm {algorithm:?}"))
                        })?,
                        private_pkcs8: row.bytes("private_key")?,
                        public_key: row.bytes("public_key")?,
                        created_at: row.time("created_at")?,
                    })
                })
                .collect()
        })
    }

    async fn insert_first_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        timed!(DB, "insert_first_signing_key", async {
            let sql = sql!(
                "INSERT INTO signing_keys (kid, generation, algorithm, private_key, public_key, created_at)
                 VALUES (?, 1, ?, ?, ?, ?) {}",
                D::skip_duplicates("generation")
            );
            let values = &key_values(key);
            self.db.pool().execute(sql, values).await?;
            Ok(())
        })
    }

    /// Two rotations at once compute the same next generation; its uniqueness lets one of them
    /// in, and the other computes again.
    async fn insert_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        timed!(DB, "insert_signing_key", async {
            let sql = sql!(
                "INSERT INTO signing_keys (kid, generation, algorithm, private_key, public_key, created_at)
                 SELECT ?, COALESCE(MAX(generation), 0) + 1, ?, ?, ?, ? FROM signing_keys"
            );
            let values = &key_values(key);
            for _ in 0..ROTATION_ATTEMPTS {
                match self.db.pool().execute(sql, values).await {
                    Ok(_) => return Ok(()),
                    Err(StoreError::Conflict) => continue,
                    Err(error) => return Err(error),
                }
            }
            Err(StoreError::Other(anyhow::anyhow!("no free signing key generation after {ROTATION_ATTEMPTS} attempts")))
        })
    }

    async fn sealing_key(&self) -> StoreResult<Option<Vec<u8>>> {
        timed!(DB, "sealing_key", async {
            let sql = sql!("SELECT secret FROM sealing_keys WHERE id = 'generated'");
            let row = self.db.pool().fetch_optional(sql, args![]).await?;
            row.map(|row| row.bytes("secret")).transpose()
        })
    }

    async fn insert_first_sealing_key(&self, key: &[u8], now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "insert_first_sealing_key", async {
            let sql = sql!(
                "INSERT INTO sealing_keys (id, secret, created_at) VALUES ('generated', ?, ?) {}",
                D::skip_duplicates("id")
            );
            self.db.pool().execute(sql, args![key, now]).await?;
            Ok(())
        })
    }

    /// Neither MySQL nor MariaDB lets a `DELETE` read its own table in a subquery: the newest
    /// generation is read first. A key rotated in meanwhile is newer still, so it stays too.
    async fn delete_signing_keys_before(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        timed!(DB, "delete_signing_keys_before", async {
            let newest = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT MAX(generation) AS newest FROM signing_keys"), args![])
                .await?;
            let Some(newest) = newest.map(|row| row.opt_int("newest")).transpose()?.flatten() else {
                return Ok(0);
            };
            self.db
                .pool()
                .execute(
                    sql!("DELETE FROM signing_keys WHERE created_at < ? AND generation < ?"),
                    args![before, newest],
                )
                .await
        })
    }
}
