//! Identities (`identities`) and logins waiting at a provider (`oidc_logins`): a login is
//! started and spent by one conditional `UPDATE` each, so a `state` (or a link's start token)
//! answers once however many requests carry it; removing an identity locks its account's row,
//! so two removals at once cannot both leave it without a way in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::insert_account_row;
use super::outbox::insert_effects;
use super::tokens::insert_token;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::store::accounts::NewAccount;
use crate::store::error::StoreResult;
use crate::store::identities::{Identity, IdentityKey, IdentityStore, Keyed, NewOidcLogin, OidcLogin, Pending, Unlink};
use crate::store::tokens::NewOneTimeToken;
use crate::tokens::opaque::TokenHash;

const IDENTITY_COLUMNS: &str = "id, account_id, provider, email, created_at, last_login_at";

fn identity_from_row(row: &impl Row) -> StoreResult<Identity> {
    Ok(Identity {
        id: row.id("id")?,
        account_id: row.id("account_id")?,
        provider: row.text("provider")?,
        email: row.opt_text("email")?,
        created_at: row.time("created_at")?,
        last_login_at: row.opt_time("last_login_at")?,
    })
}

fn hash(bytes: Vec<u8>) -> StoreResult<TokenHash> {
    TokenHash::from_bytes(&bytes).ok_or_else(|| anyhow::anyhow!("a stored hash is not 32 bytes").into())
}

async fn insert_identity_row(tx: &mut impl Exec, identity: &Identity, key: IdentityKey<'_>) -> StoreResult<()> {
    tx.execute(
        sql!("INSERT INTO identities ({IDENTITY_COLUMNS}, issuer, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
        args![
            identity.id,
            identity.account_id,
            &identity.provider,
            &identity.email,
            identity.created_at,
            identity.last_login_at,
            key.issuer,
            key.subject,
        ],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl<D: Dialect> IdentityStore for SqlStore<D> {
    async fn insert_oidc_login(&self, login: &NewOidcLogin) -> StoreResult<()> {
        timed!(DB, "insert_oidc_login", async {
            let mut pool = self.db.pool();
            match (&login.pending, &login.start_hash) {
                (Some(pending), _) => {
                    pool.execute(
                        sql!(
                            "INSERT INTO oidc_logins (id, provider, state_hash, binding_hash, nonce, pkce_verifier,
                                                      redirect_to, link_account_id, handoff_browser,
                                                      handoff_challenge, created_at, expires_at)
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        ),
                        args![
                            login.id,
                            &login.provider,
                            &pending.state_hash,
                            &pending.binding_hash,
                            &pending.nonce,
                            pending.pkce_verifier.as_slice(),
                            &login.redirect_to,
                            login.link_account_id,
                            login.handoff.browser.as_ref(),
                            &login.handoff.challenge,
                            login.created_at,
                            login.expires_at,
                        ],
                    )
                    .await?
                }
                (None, Some(start_hash)) => {
                    pool.execute(
                        sql!(
                            "INSERT INTO oidc_logins (id, provider, start_hash, redirect_to, link_account_id,
                                                      created_at, expires_at)
                             VALUES (?, ?, ?, ?, ?, ?, ?)"
                        ),
                        args![
                            login.id,
                            &login.provider,
                            start_hash,
                            &login.redirect_to,
                            login.link_account_id,
                            login.created_at,
                            login.expires_at,
                        ],
                    )
                    .await?
                }
                (None, None) => return Err(anyhow::anyhow!("a login needs its pending state or a start token").into()),
            };
            Ok(())
        })
    }

    async fn start_oidc_login(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        pending: &Pending,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>> {
        timed!(DB, "start_oidc_login", async {
            let mut pool = self.db.pool();
            let started = pool
                .execute(
                    sql!(
                        "UPDATE oidc_logins SET state_hash = ?, binding_hash = ?, nonce = ?, pkce_verifier = ?
                         WHERE start_hash = ? AND provider = ? AND state_hash IS NULL AND used_at IS NULL
                               AND expires_at > ?"
                    ),
                    args![
                        &pending.state_hash,
                        &pending.binding_hash,
                        &pending.nonce,
                        pending.pkce_verifier.as_slice(),
                        start_hash,
                        provider,
                        now,
                    ],
                )
                .await?;
            if started != 1 {
                return Ok(None);
            }
            let row = pool
                .fetch_optional(sql!("SELECT redirect_to FROM oidc_logins WHERE start_hash = ?"), args![start_hash])
                .await?;
            row.map(|row| row.opt_text("redirect_to")).transpose()
        })
    }

    async fn oidc_link_account(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>> {
        timed!(DB, "oidc_link_account", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT link_account_id FROM oidc_logins
                         WHERE start_hash = ? AND provider = ? AND state_hash IS NULL AND used_at IS NULL
                               AND expires_at > ?"
                    ),
                    args![start_hash, provider, now],
                )
                .await?;
            Ok(row.map(|row| row.opt_id("link_account_id")).transpose()?.flatten())
        })
    }

    async fn take_oidc_login(
        &self,
        provider: &str,
        state_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OidcLogin>> {
        timed!(DB, "take_oidc_login", async {
            let mut pool = self.db.pool();
            let spent = pool
                .execute(
                    sql!(
                        "UPDATE oidc_logins SET used_at = ?
                         WHERE state_hash = ? AND provider = ? AND used_at IS NULL AND expires_at > ?"
                    ),
                    args![now, state_hash, provider, now],
                )
                .await?;
            if spent != 1 {
                return Ok(None);
            }
            let row = pool
                .fetch_optional(
                    sql!(
                        "SELECT id, binding_hash, nonce, pkce_verifier, redirect_to, link_account_id,
                                handoff_browser, handoff_challenge
                         FROM oidc_logins WHERE state_hash = ?"
                    ),
                    args![state_hash],
                )
                .await?;
            let Some(row) = row else { return Ok(None) };
            Ok(Some(OidcLogin {
                id: row.id("id")?,
                binding_hash: hash(row.bytes("binding_hash")?)?,
                nonce: row.text("nonce")?,
                pkce_verifier: row.bytes("pkce_verifier")?,
                redirect_to: row.opt_text("redirect_to")?,
                link_account_id: row.opt_id("link_account_id")?,
                handoff: super::email_login::binding_from_row(&row)?,
            }))
        })
    }

    async fn identity(&self, key: IdentityKey<'_>) -> StoreResult<Option<Identity>> {
        timed!(DB, "identity", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE issuer = ? AND subject = ?"),
                    args![key.issuer, key.subject],
                )
                .await?;
            row.map(|row| identity_from_row(&row)).transpose()
        })
    }

    async fn identities(&self, account_id: Uuid) -> StoreResult<Vec<Identity>> {
        timed!(DB, "identities", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!("SELECT {IDENTITY_COLUMNS} FROM identities WHERE account_id = ? ORDER BY created_at, id"),
                    args![account_id],
                )
                .await?;
            rows.iter().map(identity_from_row).collect()
        })
    }

    async fn keyed_identities(&self, account_id: Uuid) -> StoreResult<Vec<Keyed>> {
        timed!(DB, "keyed_identities", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT {IDENTITY_COLUMNS}, issuer, subject FROM identities WHERE account_id = ? \
                         ORDER BY created_at, id"
                    ),
                    args![account_id],
                )
                .await?;
            // MySQL keeps them in a binary collation, which its driver hands over as bytes.
            let text = |row: &D::Row, column: &str| -> StoreResult<String> {
                row.text(column).or_else(|_| {
                    String::from_utf8(row.bytes(column)?)
                        .map_err(|_| anyhow::anyhow!("an identity's {column} is not UTF-8").into())
                })
            };
            let keyed = |row: &D::Row| -> StoreResult<Keyed> {
                let (issuer, subject) = (text(row, "issuer")?, text(row, "subject")?);
                Ok(Keyed { identity: identity_from_row(row)?, issuer, subject })
            };
            rows.iter().map(keyed).collect()
        })
    }

    async fn insert_identity(&self, identity: &Identity, key: IdentityKey<'_>, effects: &Effects) -> StoreResult<()> {
        timed!(
            DB,
            "insert_identity",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_identity_row(&mut tx, identity, key).await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }

    async fn insert_account_with_identity(
        &self,
        account: &NewAccount,
        identity: &Identity,
        key: IdentityKey<'_>,
        activation: Option<&NewOneTimeToken>,
        effects: &Effects,
    ) -> StoreResult<()> {
        timed!(
            DB,
            "insert_account_with_identity",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_account_row(&mut tx, account).await?;
                insert_identity_row(&mut tx, identity, key).await?;
                if let Some(token) = activation {
                    insert_token(&mut tx, token).await?;
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }

    async fn identity_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "identity_used", async {
            self.db
                .pool()
                .execute(sql!("UPDATE identities SET last_login_at = ? WHERE id = ?"), args![now, id])
                .await?;
            Ok(())
        })
    }

    async fn delete_identity(&self, account_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<Unlink> {
        timed!(
            DB,
            "delete_identity",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let account = tx
                    .fetch_optional(
                        sql!("SELECT email_verified FROM accounts WHERE id = ? FOR UPDATE"),
                        args![account_id],
                    )
                    .await?;
                let Some(account) = account else { return Ok(Unlink::NotFound) };
                let mine = tx
                    .fetch_optional(
                        sql!("SELECT id FROM identities WHERE id = ? AND account_id = ?"),
                        args![id, account_id],
                    )
                    .await?;
                if mine.is_none() {
                    return Ok(Unlink::NotFound);
                }
                let others = tx
                    .fetch_optional(
                        sql!(
                            "SELECT (SELECT COUNT(*) FROM identities WHERE account_id = ? AND id <> ?)
                                  + (SELECT COUNT(*) FROM passkeys WHERE account_id = ?) AS others"
                        ),
                        args![account_id, id, account_id],
                    )
                    .await?
                    .map(|row| row.int("others"))
                    .transpose()?
                    .unwrap_or(0);
                if others == 0 && !account.bool("email_verified")? {
                    return Ok(Unlink::LastWayIn);
                }
                tx.execute(sql!("DELETE FROM identities WHERE id = ?"), args![id]).await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(Unlink::Removed)
            })
        )
    }
}
