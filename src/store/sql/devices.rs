//! The device authorization grant's requests (`oauth_device_codes`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, Exec, Row, SqlStore, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::devices::{DeviceCode, DeviceDecision, DeviceState, DeviceStore};
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

const COLUMNS: &str = "device_hash, user_hash, client_id, scopes, state, account_id, auth, views, polls, interval_secs, \
                       polled_at, created_at, expires_at";

fn hash(bytes: Vec<u8>) -> StoreResult<TokenHash> {
    TokenHash::from_bytes(&bytes).ok_or_else(|| anyhow::anyhow!("a stored hash is not 32 bytes").into())
}

fn from_row(row: &impl Row) -> StoreResult<DeviceCode> {
    let state = row.text("state")?;
    Ok(DeviceCode {
        device_hash: hash(row.bytes("device_hash")?)?,
        user_hash: hash(row.bytes("user_hash")?)?,
        client_id: row.text("client_id")?,
        scopes: row.text("scopes")?.split_whitespace().map(str::to_owned).collect(),
        state: DeviceState::parse(&state).ok_or_else(|| anyhow::anyhow!("unknown device code state {state:?}"))?,
        account_id: row.opt_id("account_id")?,
        auth: row.opt_text("auth")?,
        views: row.int("views")?,
        polls: row.int("polls")?,
        interval_secs: row.int("interval_secs")?,
        polled_at: row.opt_time("polled_at")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

#[async_trait]
impl<D: Dialect> DeviceStore for SqlStore<D> {
    async fn insert_device_code(&self, code: &DeviceCode) -> StoreResult<()> {
        timed!(DB, "insert_device_code", async {
            let scopes = code.scopes.join(" ");
            self.db
                .pool()
                .execute(
                    sql!("INSERT INTO oauth_device_codes ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                    args![
                        &code.device_hash,
                        &code.user_hash,
                        &code.client_id,
                        &scopes,
                        code.state.as_str(),
                        code.account_id,
                        &code.auth,
                        code.views,
                        code.polls,
                        code.interval_secs,
                        code.polled_at,
                        code.created_at,
                        code.expires_at,
                    ],
                )
                .await?;
            Ok(())
        })
    }

    async fn view_device_code(
        &self,
        user_hash: &TokenHash,
        max_views: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<DeviceCode>> {
        timed!(DB, "view_device_code", async {
            let counted = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE oauth_device_codes SET views = views + 1
                         WHERE user_hash = ? AND state = 'pending' AND expires_at > ? AND views < ?"
                    ),
                    args![user_hash, now, max_views],
                )
                .await?;
            if counted == 0 {
                return Ok(None);
            }
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT {COLUMNS} FROM oauth_device_codes
                         WHERE user_hash = ? AND state = 'pending' AND expires_at > ? ORDER BY created_at DESC LIMIT 1"
                    ),
                    args![user_hash, now],
                )
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    async fn decide_device_code(
        &self,
        device_hash: &TokenHash,
        decision: &DeviceDecision,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed!(DB, "decide_device_code", async {
            let (state, account_id, auth) = match decision {
                DeviceDecision::Approve { account_id, auth } => {
                    (DeviceState::Approved, Some(*account_id), Some(auth.as_str()))
                }
                DeviceDecision::Deny => (DeviceState::Denied, None, None),
            };
            let changed = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE oauth_device_codes SET state = ?, account_id = ?, auth = ?
                         WHERE device_hash = ? AND state = 'pending' AND expires_at > ?"
                    ),
                    args![state.as_str(), account_id, auth, device_hash, now],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    async fn device_code(&self, device_hash: &TokenHash) -> StoreResult<Option<DeviceCode>> {
        timed!(DB, "device_code", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT {COLUMNS} FROM oauth_device_codes WHERE device_hash = ?"),
                    args![device_hash],
                )
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    async fn record_poll(
        &self,
        device_hash: &TokenHash,
        seen: i64,
        interval_secs: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        timed!(DB, "record_poll", async {
            let changed = self
                .db
                .pool()
                .execute(
                    sql!(
                        "UPDATE oauth_device_codes SET polls = polls + 1, polled_at = ?, interval_secs = ?
                         WHERE device_hash = ? AND polls = ?"
                    ),
                    args![now, interval_secs, device_hash, seen],
                )
                .await?;
            Ok(changed == 1)
        })
    }

    async fn spend_device_code(&self, device_hash: &TokenHash) -> StoreResult<bool> {
        timed!(DB, "spend_device_code", async {
            let changed = self
                .db
                .pool()
                .execute(
                    sql!("UPDATE oauth_device_codes SET state = 'spent' WHERE device_hash = ? AND state = 'approved'"),
                    args![device_hash],
                )
                .await?;
            Ok(changed == 1)
        })
    }
}
