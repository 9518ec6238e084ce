//! The store as a whole: its readiness ping, and the purge of what has expired.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Dialect, Exec, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::Store;
use crate::store::error::StoreResult;

/// How long expired one-time tokens, email-change links and logins by email are kept, so that a late click
/// still hears "expired".
const EXPIRED_TOKEN_RETENTION: chrono::Duration = chrono::Duration::days(7);
/// How long the webhook delivery log keeps deliveries that were delivered or given up.
const WEBHOOK_LOG_RETENTION: chrono::Duration = chrono::Duration::days(30);

#[async_trait]
impl<D: Dialect> Store for SqlStore<D> {
    async fn ping(&self) -> StoreResult<()> {
        timed!(DB, "ping", async {
            self.db.pool().execute(sql!("SELECT 1"), args![]).await?;
            Ok(())
        })
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let before = now - EXPIRED_TOKEN_RETENTION;
        timed!(
            DB,
            "purge_expired",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let sessions = tx.execute(sql!("DELETE FROM sessions WHERE expires_at <= ?"), args![now]).await?;
                let tokens =
                    tx.execute(sql!("DELETE FROM one_time_tokens WHERE expires_at <= ?"), args![before]).await?;
                let changes =
                    tx.execute(sql!("DELETE FROM email_changes WHERE expires_at <= ?"), args![before]).await?;
                let challenges =
                    tx.execute(sql!("DELETE FROM mfa_challenges WHERE expires_at <= ?"), args![now]).await?;
                let ceremonies =
                    tx.execute(sql!("DELETE FROM webauthn_challenges WHERE expires_at <= ?"), args![now]).await?;
                let email_logins =
                    tx.execute(sql!("DELETE FROM email_logins WHERE expires_at <= ?"), args![before]).await?;
                let handoffs = tx.execute(sql!("DELETE FROM login_handoffs WHERE expires_at <= ?"), args![now]).await?;
                let social = tx.execute(sql!("DELETE FROM oidc_logins WHERE expires_at <= ?"), args![now]).await?;
                let codes = tx.execute(sql!("DELETE FROM oauth_codes WHERE expires_at <= ?"), args![now]).await?;
                let deliveries = tx
                    .execute(
                        sql!("DELETE FROM webhook_deliveries WHERE status IN ('delivered', 'failed') AND occurred_at <= ?"),
                        args![now - WEBHOOK_LOG_RETENTION],
                    )
                    .await?;
                tx.commit().await?;
                Ok(sessions + tokens + changes + challenges + ceremonies + email_logins + handoffs + social + codes + deliveries)
            })
        )
    }
}
