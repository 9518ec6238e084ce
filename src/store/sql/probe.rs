//! The SQL store's probe (see [`crate::store::probe`]).

use async_trait::async_trait;
use uuid::Uuid;

use super::{Dialect, Exec, Row, SqlStore, args, sql};
use crate::store::error::StoreResult;
use crate::store::probe::{Held, Probe};

#[async_trait]
impl<D: Dialect> Probe for SqlStore<D> {
    async fn count(&self, what: Held) -> StoreResult<u64> {
        let statement = match what {
            Held::Sessions => sql!("SELECT COUNT(*) AS n FROM sessions"),
            Held::SessionOwners => sql!("SELECT COUNT(DISTINCT account_id) AS n FROM sessions"),
            Held::RefreshTokens => sql!("SELECT COUNT(*) AS n FROM refresh_tokens"),
            Held::OneTimeTokens => sql!("SELECT COUNT(*) AS n FROM one_time_tokens"),
            Held::AuditEvents => sql!("SELECT COUNT(*) AS n FROM audit_events"),
            Held::EmailChanges => sql!("SELECT COUNT(*) AS n FROM email_changes"),
            Held::RateLimits => sql!("SELECT COUNT(*) AS n FROM rate_limits"),
            Held::Emails => sql!("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'email'"),
            Held::Authenticators => sql!("SELECT COUNT(*) AS n FROM mfa_totp"),
            Held::RecoveryCodes => sql!("SELECT COUNT(*) AS n FROM recovery_codes"),
            Held::Identities => sql!("SELECT COUNT(*) AS n FROM identities"),
            Held::Clients => sql!("SELECT COUNT(*) AS n FROM oauth_clients"),
            Held::KeyGenerations => sql!("SELECT COUNT(DISTINCT generation) AS n FROM signing_keys"),
            Held::NewestKeyGeneration => sql!("SELECT COALESCE(MAX(generation), 0) AS n FROM signing_keys"),
        };
        let row = self.db.pool().fetch_optional(statement, args![]).await?;
        row.map_or(Ok(0), |row| row.count("n"))
    }

    async fn email_erased(&self, id: Uuid) -> StoreResult<bool> {
        let statement = sql!("SELECT COUNT(*) AS n FROM jobs WHERE id = ? AND kind = 'email' AND body IS NULL");
        let row = self.db.pool().fetch_optional(statement, args![id]).await?;
        Ok(row.map_or(Ok(0), |row| row.count("n"))? == 1)
    }
}
