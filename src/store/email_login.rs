//! Passwordless login as the store keeps it: the emailed link and code (only their keyed
//! hashes), and the hand-off codes that carry a browser's finished login to the app. Every
//! "only once" is one conditional write, so it holds across replicas.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::email_login::{
    EmailLogin, HandoffBinding, LinkFacts, LinkState, NewEmailLogin, Redeem, SpentHandoff,
};
use crate::model::outcome::Effects;
use crate::tokens::opaque::TokenHash;

#[async_trait]
pub trait EmailLoginStore: Send + Sync + std::fmt::Debug + 'static {
    /// Stores a login by email and queues its email, atomically; an earlier login of the same
    /// address that is still waiting ends.
    async fn insert_email_login(&self, login: &NewEmailLogin, effects: &Effects) -> StoreResult<()>;
    /// The login a link names, without spending it; one with `max_attempts` wrong codes is dead.
    async fn email_login_by_link(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkState>;
    /// Takes one of the code attempts of the newest live login of `email_normalized`; `None`
    /// when there is none, or its attempts are spent. Concurrent attempts each take their own,
    /// so at most `max_attempts` codes are ever compared.
    async fn take_code_attempt(
        &self,
        email_normalized: &str,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailLogin>>;
    /// Spends the login `id` and does `redeem`, atomically; `None` when it was no longer live
    /// (spent by a concurrent request, say, or with more than `attempts_bound` code attempts).
    /// The account id on success.
    async fn redeem_email_login(
        &self,
        id: Uuid,
        attempts_bound: u32,
        redeem: Redeem<'_>,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Option<Uuid>>;
    /// Stores a hand-off code (its hash) for the browser login of `account_id` by `method`,
    /// bound to `binding`.
    async fn insert_handoff(
        &self,
        hash: &TokenHash,
        account_id: Uuid,
        method: &str,
        binding: &HandoffBinding,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Spends a hand-off code, once: whose login it carries, and what it is bound to.
    async fn spend_handoff(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<SpentHandoff>>;
}
