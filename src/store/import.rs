//! Accounts moved in from another system, as the store takes them: many at a time, an account
//! whose address or username is taken left alone (so that the same file imported twice
//! changes nothing); and what remains of their foreign password hashes.

use async_trait::async_trait;

use super::accounts::NewAccount;
use super::error::StoreResult;

#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Inserts the accounts, whose ids are new, in one transaction, skipping each whose address
    /// or username an account already has; the ids of those inserted.
    async fn import_accounts(&self, accounts: &[NewAccount]) -> StoreResult<Vec<uuid::Uuid>>;
    /// Replaces account `id`'s password hash `old` with `new`, unless it changed meanwhile (a
    /// password change racing the login that verified `old`); whether it did.
    async fn replace_password_hash(
        &self,
        id: uuid::Uuid,
        old: &str,
        new: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool>;
    /// The stored password hashes that are not gatehouse's own Argon2id at its current
    /// parameters, counted by format: each named by a prefix [`crate::passwords::foreign::Format::of`]
    /// knows (`$2b$`, `$scrypt$`…), or by its first character.
    async fn foreign_hash_prefixes(&self, current_prefix: &str) -> StoreResult<Vec<(String, u64)>>;
}
