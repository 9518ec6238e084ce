//! Sessions in the database (`sessions`, `refresh_tokens`), where no Redis is configured: the
//! per-request check (with the account, in one statement), refresh-token rotation with reuse
//! detection and its grace period, revocation and the owner's list.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{ACCOUNT_COLUMNS, Dialect, Exec, Row, SqlStore, Transaction, account_from_row, args, sql};
use crate::metrics::{SESSION_STORE as SESSIONS, timed};
use crate::sessions::{
    AccountRead, LiveSession, NewSession, Rotation, SessionAuth, SessionInfo, SessionStore, spent_within,
};
use crate::store::Health;
use crate::store::error::StoreResult;
use crate::tokens::opaque::TokenHash;

/// The statement that reads a live session and its account at once: `account_id, expires_at,
/// last_used_at, auth`, then [`ACCOUNT_COLUMNS`], for the session `id` unexpired at `now` (each a
/// placeholder in the caller's syntax).
pub(crate) fn live_session_and_account_sql(id: &str, now: &str) -> String {
    let columns: Vec<String> = ACCOUNT_COLUMNS.split(',').map(|column| format!("a.{}", column.trim())).collect();
    format!(
        "SELECT s.account_id, s.expires_at, s.last_used_at, s.auth, {} FROM sessions s JOIN accounts a ON a.id = s.account_id \
         WHERE s.id = {id} AND s.expires_at > {now}",
        columns.join(", ")
    )
}

/// The session columns `account_id, expires_at, last_used_at, auth` of a row.
fn session_from_row(id: Uuid, row: &impl Row) -> StoreResult<LiveSession> {
    Ok(LiveSession {
        id,
        account_id: row.id("account_id")?,
        expires_at: row.time("expires_at")?,
        last_used_at: row.time("last_used_at")?,
        auth: SessionAuth::decode(row.opt_text("auth")?.as_deref()),
    })
}

#[async_trait]
impl<D: Dialect> SessionStore for SqlStore<D> {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()> {
        timed!(
            SESSIONS,
            "create",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.execute(
                    sql!(
                        "INSERT INTO sessions (id, account_id, created_at, last_used_at, expires_at, user_agent, ip, auth)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        session.id,
                        session.account_id,
                        session.created_at,
                        session.created_at,
                        session.expires_at,
                        &session.user_agent,
                        &session.ip,
                        session.auth.encode().as_str(),
                    ],
                )
                .await?;
                tx.execute(
                    sql!("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)"),
                    args![&session.refresh_hash, session.id, session.created_at],
                )
                .await?;
                tx.commit().await
            })
        )
    }

    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        timed!(SESSIONS, "check", async {
            if let Some(found) = self.db.live_session_in_place(id, now) {
                return found;
            }
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!("SELECT account_id, expires_at, last_used_at, auth FROM sessions WHERE id = ? AND expires_at > ?"),
                    args![id, now],
                )
                .await?;
            row.map(|row| session_from_row(id, &row)).transpose()
        })
    }

    async fn refresh_token_session(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>> {
        timed!(SESSIONS, "find_by_refresh", async {
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT id, account_id, expires_at, last_used_at, auth FROM sessions
                         WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = ?) AND expires_at > ?"
                    ),
                    args![hash, now],
                )
                .await?;
            row.map(|row| session_from_row(row.id("id")?, &row)).transpose()
        })
    }

    async fn live_session_and_account(
        &self,
        id: Uuid,
        _account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(LiveSession, AccountRead)>> {
        timed!(SESSIONS, "check", async {
            if let Some(found) = self.db.live_session_and_account_in_place(id, now) {
                return found.map(|found| found.map(|(session, account)| (session, AccountRead::Current(account))));
            }
            let sql = sql!("{}", live_session_and_account_sql("?", "?"));
            let row = self.db.pool().fetch_optional(sql, args![id, now]).await?;
            row.map(|row| Ok((session_from_row(id, &row)?, AccountRead::Current(account_from_row(&row)?.account))))
                .transpose()
        })
    }

    async fn set_session_auth(&self, id: Uuid, auth: &SessionAuth) -> StoreResult<bool> {
        timed!(SESSIONS, "set_auth", async {
            let sql = sql!("UPDATE sessions SET auth = ? WHERE id = ?");
            Ok(self.db.pool().execute(sql, args![auth.encode().as_str(), id]).await? == 1)
        })
    }

    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(SESSIONS, "touch", async {
            self.db
                .pool()
                .execute(
                    sql!("UPDATE sessions SET last_used_at = ? WHERE id = ? AND last_used_at < ?"),
                    args![now, id, now],
                )
                .await?;
            Ok(())
        })
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> StoreResult<Rotation> {
        timed!(
            SESSIONS,
            "rotate",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                // Lock the token's session first: concurrent presentations of its tokens queue
                // here, and the token is read afresh once the lock is held (a later statement
                // sees their commits).
                let session = tx
                    .fetch_optional(
                        sql!(
                            "SELECT id, account_id, expires_at, last_used_at, auth FROM sessions
                             WHERE id = (SELECT session_id FROM refresh_tokens WHERE hash = ?)
                             FOR NO KEY UPDATE"
                        ),
                        args![presented],
                    )
                    .await?;
                let Some(session) = session else { return Ok(Rotation::Unknown) };
                let session = session_from_row(session.id("id")?, &session)?;
                let (session_id, account_id) = (session.id, session.account_id);
                if session.expires_at <= now {
                    return Ok(Rotation::Unknown);
                }
                let token = tx
                    .fetch_optional(
                        sql!("SELECT used_at FROM refresh_tokens WHERE hash = ? FOR UPDATE"),
                        args![presented],
                    )
                    .await?;
                let Some(token) = token else { return Ok(Rotation::Unknown) };
                if let Some(spent_at) = token.opt_time("used_at")? {
                    // A replay within the grace period: `next` must be the token this one was
                    // spent for (created at that very instant) and still be the session's
                    // current token.
                    if spent_within(spent_at, now, grace) {
                        let successor = tx
                            .fetch_optional(
                                sql!(
                                    "SELECT created_at FROM refresh_tokens
                                     WHERE hash = ? AND session_id = ? AND used_at IS NULL"
                                ),
                                args![next, session_id],
                            )
                            .await?;
                        if successor.map(|row| row.time("created_at")).transpose()? == Some(spent_at) {
                            return Ok(Rotation::Replayed(session));
                        }
                    }
                    tx.execute(sql!("DELETE FROM sessions WHERE id = ?"), args![session_id]).await?;
                    tx.commit().await?;
                    return Ok(Rotation::Reused { session_id, account_id });
                }
                tx.execute(sql!("UPDATE refresh_tokens SET used_at = ? WHERE hash = ?"), args![now, presented]).await?;
                tx.execute(
                    sql!("INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)"),
                    args![next, session_id, now],
                )
                .await?;
                tx.execute(sql!("UPDATE sessions SET last_used_at = ? WHERE id = ?"), args![now, session_id]).await?;
                tx.commit().await?;
                Ok(Rotation::Rotated(LiveSession { last_used_at: now, ..session }))
            })
        )
    }

    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool> {
        timed!(
            SESSIONS,
            "revoke",
            self.retrying(|| async move {
                let sql = sql!("DELETE FROM sessions WHERE id = ? AND account_id = ?");
                Ok(self.db.pool().execute(sql, args![id, account_id]).await? == 1)
            })
        )
    }

    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64> {
        timed!(
            SESSIONS,
            "revoke_all",
            self.retrying(|| async move {
                let sql = sql!("DELETE FROM sessions WHERE account_id = ? AND (? IS NULL OR id <> ?)");
                self.db.pool().execute(sql, args![account_id, except, except]).await
            })
        )
    }

    async fn list_sessions(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>> {
        timed!(SESSIONS, "list", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT id, created_at, last_used_at, expires_at, user_agent, ip, auth FROM sessions
                         WHERE account_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC"
                    ),
                    args![account_id, now],
                )
                .await?;
            rows.iter()
                .map(|row| {
                    Ok(SessionInfo {
                        id: row.id("id")?,
                        created_at: row.time("created_at")?,
                        last_used_at: row.time("last_used_at")?,
                        expires_at: row.time("expires_at")?,
                        user_agent: row.opt_text("user_agent")?,
                        ip: row.opt_text("ip")?,
                        auth: SessionAuth::decode(row.opt_text("auth")?.as_deref()),
                    })
                })
                .collect()
        })
    }

    async fn ping_sessions(&self) -> StoreResult<()> {
        timed!(SESSIONS, "ping", self.ping())
    }
}
