//! Organizations' single sign-on connections (`sso_connections`), the logins waiting at their
//! identity providers (`saml_requests`) and the assertions used (`saml_assertions`). An answer
//! is spent in one transaction: the conditional `UPDATE` of its request and the `INSERT` of its
//! assertion (unique), so two posts of one answer, on any replicas, log in once.

use async_trait::async_trait;
use uuid::Uuid;

use super::org_roles::lock_org;
use super::outbox::insert_effects;
use super::{Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::outcome::Effects;
use crate::model::sso::Protocol;
use crate::store::error::{StoreError, StoreResult};
use crate::store::sso::{NewSamlRequest, SamlAnswer, SamlRequest, SamlSpend, SsoConnection, SsoStore};

const COLUMNS: &str = "id, org_id, kind, name, default_role, settings, created_at, updated_at";

fn connection_from_row(row: &impl Row) -> StoreResult<SsoConnection> {
    let settings = row.text("settings")?;
    let unreadable = |e: serde_json::Error| anyhow::anyhow!("a stored connection's settings are not readable: {e}");
    let protocol = match row.text("kind")?.as_str() {
        "oidc" => Protocol::Oidc(serde_json::from_str(&settings).map_err(unreadable)?),
        "saml" => Protocol::Saml(serde_json::from_str(&settings).map_err(unreadable)?),
        other => return Err(anyhow::anyhow!("a stored connection of an unknown kind: {other}").into()),
    };
    Ok(SsoConnection {
        id: row.id("id")?,
        org_id: row.id("org_id")?,
        name: row.text("name")?,
        default_role: row.text("default_role")?,
        protocol,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

fn settings_text(connection: &SsoConnection) -> StoreResult<String> {
    let written = match &connection.protocol {
        Protocol::Saml(saml) => serde_json::to_string(saml),
        Protocol::Oidc(oidc) => serde_json::to_string(oidc),
    };
    written.map_err(|e| anyhow::anyhow!("settings not written: {e}").into())
}

#[async_trait]
impl<D: Dialect> SsoStore for SqlStore<D> {
    async fn insert_sso_connection(
        &self,
        connection: &SsoConnection,
        max: usize,
        effects: &Effects,
    ) -> StoreResult<bool> {
        let settings = settings_text(connection)?;
        let settings = settings.as_str();
        timed!(
            DB,
            "insert_sso_connection",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, connection.org_id).await?;
                let counted = sql!("SELECT COUNT(*) AS n FROM sso_connections WHERE org_id = ?");
                let held = tx.fetch_optional(counted, args![connection.org_id]).await?.map_or(Ok(0), |r| r.count("n"))?;
                if held >= max as u64 {
                    return Ok(false);
                }
                tx.execute(
                    sql!(
                        "INSERT INTO sso_connections (id, org_id, kind, name, default_role, settings, created_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        connection.id,
                        connection.org_id,
                        connection.protocol.kind(),
                        &connection.name,
                        &connection.default_role,
                        settings,
                        connection.created_at,
                        connection.updated_at
                    ],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn sso_connection(&self, id: Uuid) -> StoreResult<Option<SsoConnection>> {
        timed!(DB, "sso_connection", async {
            let row = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT {COLUMNS} FROM sso_connections WHERE id = ?"), args![id])
                .await?;
            row.as_ref().map(connection_from_row).transpose()
        })
    }

    async fn sso_connections(&self, org_id: Uuid) -> StoreResult<Vec<SsoConnection>> {
        timed!(DB, "sso_connections", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!("SELECT {COLUMNS} FROM sso_connections WHERE org_id = ? ORDER BY created_at, id"),
                    args![org_id],
                )
                .await?;
            rows.iter().map(connection_from_row).collect()
        })
    }

    async fn any_sso_connection(&self) -> StoreResult<bool> {
        timed!(DB, "any_sso_connection", async {
            let row = self.db.pool().fetch_optional(sql!("SELECT id FROM sso_connections LIMIT 1"), args![]).await?;
            Ok(row.is_some())
        })
    }

    async fn update_sso_connection(&self, connection: &SsoConnection, effects: &Effects) -> StoreResult<bool> {
        let settings = settings_text(connection)?;
        let settings = settings.as_str();
        timed!(
            DB,
            "update_sso_connection",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let changed = tx
                    .execute(
                        sql!(
                            "UPDATE sso_connections SET name = ?, default_role = ?, settings = ?, updated_at = ?
                             WHERE id = ? AND org_id = ?"
                        ),
                        args![
                            &connection.name,
                            &connection.default_role,
                            settings,
                            connection.updated_at,
                            connection.id,
                            connection.org_id
                        ],
                    )
                    .await?;
                if changed != 1 {
                    return Ok(false);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn delete_sso_connection(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_sso_connection",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.execute(sql!("DELETE FROM saml_requests WHERE connection_id = ?"), args![id]).await?;
                let removed = tx
                    .execute(sql!("DELETE FROM sso_connections WHERE id = ? AND org_id = ?"), args![id, org_id])
                    .await?;
                if removed != 1 {
                    return Ok(false);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn insert_saml_request(&self, request: &NewSamlRequest) -> StoreResult<()> {
        timed!(DB, "insert_saml_request", async {
            self.db
                .pool()
                .execute(
                    sql!(
                        "INSERT INTO saml_requests (hash, connection_id, binding_hash, redirect_to, handoff_browser,
                                                    handoff_challenge, created_at, expires_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        &request.hash,
                        request.connection_id,
                        &request.binding_hash,
                        &request.redirect_to,
                        request.handoff.browser.as_ref(),
                        &request.handoff.challenge,
                        request.created_at,
                        request.expires_at
                    ],
                )
                .await?;
            Ok(())
        })
    }

    async fn spend_saml_answer(&self, answer: &SamlAnswer<'_>) -> StoreResult<SamlSpend> {
        timed!(
            DB,
            "spend_saml_answer",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let request = match answer.request {
                    None => None,
                    Some(hash) => {
                        let spent = tx
                            .execute(
                                sql!(
                                    "UPDATE saml_requests SET used_at = ?
                                     WHERE hash = ? AND connection_id = ? AND used_at IS NULL AND expires_at > ?"
                                ),
                                args![answer.now, hash, answer.connection_id, answer.now],
                            )
                            .await?;
                        if spent != 1 {
                            return Ok(SamlSpend::UnknownRequest);
                        }
                        let row = tx
                            .fetch_optional(
                                sql!(
                                    "SELECT binding_hash, redirect_to, handoff_browser, handoff_challenge
                                     FROM saml_requests WHERE hash = ?"
                                ),
                                args![hash],
                            )
                            .await?;
                        let Some(row) = row else { return Ok(SamlSpend::UnknownRequest) };
                        Some(SamlRequest {
                            binding_hash: row.hash("binding_hash")?,
                            redirect_to: row.opt_text("redirect_to")?,
                            handoff: super::email_login::binding_from_row(&row)?,
                        })
                    }
                };
                let remembered = tx
                    .execute(
                        sql!("INSERT INTO saml_assertions (hash, expires_at) VALUES (?, ?)"),
                        args![answer.assertion, answer.assertion_expires_at],
                    )
                    .await;
                match remembered {
                    Err(StoreError::Conflict) => return Ok(SamlSpend::Replayed),
                    other => other?,
                };
                tx.commit().await?;
                Ok(SamlSpend::Spent(request))
            })
        )
    }
}
