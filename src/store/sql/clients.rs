//! Client apps (`oauth_clients`), authorization codes (`oauth_codes`) and consents
//! (`oauth_consents`). A code is spent by one conditional `UPDATE`, so it is redeemed once
//! however many requests carry it, on any replica.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbox::{committed, insert_effects};
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::client::ClientPolicy;
use crate::model::outcome::Effects;
use crate::store::clients::{ClientStore, NewCode, OAuthClient, Redemption};
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

const CLIENT_COLUMNS: &str = "id, name, confidential, redirect_uris, post_logout_redirect_uris, grant_types, scopes, \
                              first_party, introspect, created_at, updated_at, backchannel_logout_uri, \
                              backchannel_logout_session_required, policy";

fn list(text: String) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

fn client_from_row(row: &impl Row) -> StoreResult<OAuthClient> {
    Ok(OAuthClient {
        id: row.text("id")?,
        name: row.text("name")?,
        confidential: row.bool("confidential")?,
        redirect_uris: list(row.text("redirect_uris")?),
        post_logout_redirect_uris: list(row.text("post_logout_redirect_uris")?),
        grant_types: list(row.text("grant_types")?),
        scopes: list(row.text("scopes")?),
        first_party: row.bool("first_party")?,
        introspect: row.bool("introspect")?,
        self_registered: row.opt_bytes("registration_hash")?.is_some(),
        backchannel_logout_uri: row.opt_text("backchannel_logout_uri")?,
        backchannel_logout_session_required: row.bool("backchannel_logout_session_required")?,
        policy: ClientPolicy::from_stored(row.opt_text("policy")?.as_deref()),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn hash(bytes: Vec<u8>) -> StoreResult<TokenHash> {
    TokenHash::from_bytes(&bytes).ok_or_else(|| anyhow::anyhow!("a stored hash is not 32 bytes").into())
}

const CODE_COLUMNS: &str = "client_id, account_id, browser_session_id, redirect_uri, scopes, nonce, code_challenge, auth, \
                            created_at, expires_at, resources, dpop_jkt";

fn code_from_row(row: &impl Row, hash: TokenHash) -> StoreResult<NewCode> {
    Ok(NewCode {
        hash,
        client_id: row.text("client_id")?,
        account_id: row.id("account_id")?,
        browser_session_id: row.id("browser_session_id")?,
        redirect_uri: row.text("redirect_uri")?,
        scopes: list(row.text("scopes")?),
        nonce: row.opt_text("nonce")?,
        resources: list(row.text("resources")?),
        code_challenge: row.text("code_challenge")?,
        dpop_jkt: row.opt_text("dpop_jkt")?,
        auth: row.text("auth")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

#[async_trait]
impl<D: Dialect> ClientStore for SqlStore<D> {
    async fn insert_client(
        &self,
        client: &OAuthClient,
        secret: Option<&TokenHash>,
        registration: Option<&TokenHash>,
        effects: &Effects,
    ) -> StoreResult<()> {
        timed!(DB, "insert_client", async {
            let (redirects, logouts) = (client.redirect_uris.join(" "), client.post_logout_redirect_uris.join(" "));
            let (grants, scopes) = (client.grant_types.join(" "), client.scopes.join(" "));
            let mut tx = self.db.begin().await?;
            tx.execute(
                sql!("INSERT INTO oauth_clients ({CLIENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                args![
                    &client.id,
                    &client.name,
                    client.confidential,
                    &redirects,
                    &logouts,
                    &grants,
                    &scopes,
                    client.first_party,
                    client.introspect,
                    client.created_at,
                    client.updated_at,
                    &client.backchannel_logout_uri,
                    client.backchannel_logout_session_required,
                    &client.policy.stored(),
                ],
            )
            .await?;
            if let Some(secret) = secret {
                tx.execute(sql!("UPDATE oauth_clients SET secret_hash = ? WHERE id = ?"), args![secret, &client.id])
                    .await?;
            }
            if let Some(registration) = registration {
                tx.execute(
                    sql!("UPDATE oauth_clients SET registration_hash = ? WHERE id = ?"),
                    args![registration, &client.id],
                )
                .await?;
            }
            insert_effects(&mut tx, effects).await?;
            tx.commit().await
        })
    }

    async fn find_client(&self, id: &str) -> StoreResult<Option<OAuthClient>> {
        timed!(DB, "find_client", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT {CLIENT_COLUMNS}, registration_hash FROM oauth_clients WHERE id = ?"),
                    args![id],
                )
                .await?;
            row.as_ref().map(client_from_row).transpose()
        })
    }

    async fn client_secret(&self, id: &str) -> StoreResult<Option<TokenHash>> {
        timed!(DB, "client_secret", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT secret_hash FROM oauth_clients WHERE id = ? AND secret_hash IS NOT NULL"),
                    args![id],
                )
                .await?;
            row.map(|row| row.bytes("secret_hash").and_then(hash)).transpose()
        })
    }

    async fn registration_hash(&self, id: &str) -> StoreResult<Option<TokenHash>> {
        timed!(DB, "registration_hash", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT registration_hash FROM oauth_clients WHERE id = ? AND registration_hash IS NOT NULL"),
                    args![id],
                )
                .await?;
            row.map(|row| row.bytes("registration_hash").and_then(hash)).transpose()
        })
    }

    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>> {
        timed!(DB, "list_clients", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!("SELECT {CLIENT_COLUMNS}, registration_hash FROM oauth_clients ORDER BY created_at, id"),
                    args![],
                )
                .await?;
            rows.iter().map(client_from_row).collect()
        })
    }

    async fn update_client(&self, client: &OAuthClient, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "update_client", async {
            let (redirects, logouts) = (client.redirect_uris.join(" "), client.post_logout_redirect_uris.join(" "));
            let (grants, scopes) = (client.grant_types.join(" "), client.scopes.join(" "));
            let mut tx = self.db.begin().await?;
            let changed = tx
                .execute(
                    sql!(
                        "UPDATE oauth_clients SET name = ?, redirect_uris = ?, post_logout_redirect_uris = ?,
                                grant_types = ?, scopes = ?, first_party = ?, introspect = ?, updated_at = ?,
                                backchannel_logout_uri = ?, backchannel_logout_session_required = ?, policy = ?
                         WHERE id = ?"
                    ),
                    args![
                        &client.name,
                        &redirects,
                        &logouts,
                        &grants,
                        &scopes,
                        client.first_party,
                        client.introspect,
                        client.updated_at,
                        &client.backchannel_logout_uri,
                        client.backchannel_logout_session_required,
                        &client.policy.stored(),
                        &client.id,
                    ],
                )
                .await?;
            committed(tx, changed == 1, effects).await
        })
    }

    async fn set_client_secret(
        &self,
        id: &str,
        secret: &TokenHash,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool> {
        timed!(DB, "set_client_secret", async {
            let mut tx = self.db.begin().await?;
            let changed = tx
                .execute(
                    sql!("UPDATE oauth_clients SET secret_hash = ?, updated_at = ? WHERE id = ? AND confidential = ?"),
                    args![secret, now, id, true],
                )
                .await?;
            committed(tx, changed == 1, effects).await
        })
    }

    async fn delete_client(&self, id: &str, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_client", async {
            let mut tx = self.db.begin().await?;
            let deleted = tx.execute(sql!("DELETE FROM oauth_clients WHERE id = ?"), args![id]).await?;
            committed(tx, deleted == 1, effects).await
        })
    }

    async fn insert_code(&self, code: &NewCode) -> StoreResult<()> {
        timed!(DB, "insert_code", async {
            let (scopes, resources) = (code.scopes.join(" "), code.resources.join(" "));
            self.db
                .pool()
                .execute(
                    sql!(
                        "INSERT INTO oauth_codes (hash, {CODE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        &code.hash,
                        &code.client_id,
                        code.account_id,
                        code.browser_session_id,
                        &code.redirect_uri,
                        &scopes,
                        &code.nonce,
                        &code.code_challenge,
                        &code.auth,
                        code.created_at,
                        code.expires_at,
                        &resources,
                        &code.dpop_jkt,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    async fn redeem_code(&self, hash: &TokenHash, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<Redemption> {
        timed!(
            DB,
            "redeem_code",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let spent = tx
                    .execute(
                        sql!(
                            "UPDATE oauth_codes SET used_at = ?, session_id = ?
                             WHERE hash = ? AND used_at IS NULL AND expires_at > ?"
                        ),
                        args![now, session_id, hash, now],
                    )
                    .await?;
                if spent != 1 {
                    tx.execute(
                        sql!("UPDATE oauth_codes SET reused_at = ? WHERE hash = ? AND used_at IS NOT NULL"),
                        args![now, hash],
                    )
                    .await?;
                }
                let row = tx
                    .fetch_optional(
                        sql!("SELECT {CODE_COLUMNS}, used_at, session_id FROM oauth_codes WHERE hash = ?"),
                        args![hash],
                    )
                    .await?;
                let redemption = match row {
                    Some(row) if spent == 1 => Redemption::Spent(Box::new(code_from_row(&row, *hash)?)),
                    Some(row) if row.opt_time("used_at")?.is_some() => {
                        Redemption::Reused { account_id: row.id("account_id")?, session_id: row.opt_id("session_id")? }
                    }
                    _ => Redemption::Unknown,
                };
                tx.commit().await?;
                Ok(redemption)
            })
        )
    }

    async fn code_reused(&self, hash: &TokenHash) -> StoreResult<bool> {
        timed!(DB, "code_reused", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT 1 AS reused FROM oauth_codes WHERE hash = ? AND reused_at IS NOT NULL"),
                    args![hash],
                )
                .await?;
            Ok(row.is_some())
        })
    }

    async fn consent(&self, account_id: Uuid, client_id: &str) -> StoreResult<Option<Vec<String>>> {
        timed!(DB, "consent", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT scopes FROM oauth_consents WHERE account_id = ? AND client_id = ?"),
                    args![account_id, client_id],
                )
                .await?;
            row.map(|row| row.text("scopes").map(list)).transpose()
        })
    }

    async fn save_consent(
        &self,
        account_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        timed!(
            DB,
            "save_consent",
            self.retrying(|| async move {
                let scopes = scopes.join(" ");
                let mut tx = self.db.begin().await?;
                tx.execute(
                    sql!("DELETE FROM oauth_consents WHERE account_id = ? AND client_id = ?"),
                    args![account_id, client_id],
                )
                .await?;
                tx.execute(
                    sql!("INSERT INTO oauth_consents (account_id, client_id, scopes, granted_at) VALUES (?, ?, ?, ?)"),
                    args![account_id, client_id, &scopes, now],
                )
                .await?;
                tx.commit().await
            })
        )
    }
}
