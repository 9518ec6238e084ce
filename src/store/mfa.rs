//! Second factors as the store keeps them: the sealed TOTP secret with the last time step it
//! accepted, the hashes of recovery codes, and the login challenges waiting for a second
//! factor. Every "only once" here is one conditional write, so it holds across replicas.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::mfa::{Claimed, Factors, NewChallenge, StoredTotp};
use crate::model::outcome::Effects;
use crate::tokens::opaque::TokenHash;

#[async_trait]
pub trait MfaStore: Send + Sync + std::fmt::Debug + 'static {
    async fn factors(&self, account_id: Uuid) -> StoreResult<Factors>;
    async fn totp(&self, account_id: Uuid) -> StoreResult<Option<StoredTotp>>;
    /// Stores a new, unconfirmed TOTP secret in place of an unconfirmed one; `false` (and
    /// nothing changes) when the account has a confirmed factor.
    async fn begin_totp(&self, account_id: Uuid, sealed: &[u8], now: DateTime<Utc>) -> StoreResult<bool>;
    /// Confirms the pending factor with the code of `step`, replaces the recovery codes with
    /// `codes` and queues `notice`, atomically; `false` when there is no pending factor.
    async fn confirm_totp(
        &self,
        account_id: Uuid,
        step: i64,
        codes: &[[u8; 32]],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool>;
    /// Accepts a code of time step `step`: `true` only if the account has a confirmed factor
    /// and no code of this step or a later one was accepted before. One conditional write: of
    /// two requests with the same code, on any replicas, exactly one is told `true`.
    async fn accept_totp_step(&self, account_id: Uuid, step: i64) -> StoreResult<bool>;
    /// Removes the TOTP factor (and with `passkeys`, every passkey) and queues `notice`,
    /// atomically; the recovery codes go too unless passkeys remain. `false` when there was
    /// nothing to remove.
    async fn remove_factors(&self, account_id: Uuid, passkeys: bool, effects: &Effects) -> StoreResult<bool>;
    /// The hashes of the account's unspent recovery codes.
    async fn recovery_codes(&self, account_id: Uuid) -> StoreResult<Vec<[u8; 32]>>;
    /// Replaces every recovery code of the account.
    async fn replace_recovery_codes(
        &self,
        account_id: Uuid,
        codes: &[[u8; 32]],
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<()>;
    /// Spends one recovery code and queues `notice`, atomically; `false` when it was spent
    /// already (by a concurrent request, say).
    async fn spend_recovery_code(
        &self,
        account_id: Uuid,
        hash: &[u8; 32],
        effects: &Effects,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    async fn insert_challenge(&self, challenge: &NewChallenge) -> StoreResult<()>;
    /// Takes the challenge for one attempt: it must be unexpired, unclaimed, and have fewer
    /// than `max_attempts` wrong codes. A concurrent attempt with the same challenge finds it
    /// claimed.
    async fn claim_challenge(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Claimed>>;
    /// The account of an unexpired, unclaimed challenge with fewer than `max_attempts` wrong
    /// codes (to offer its passkeys), without claiming it.
    async fn challenge_account(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>>;
    /// Frees a claimed challenge for another attempt; with `wrong`, after a wrong code, which
    /// it counts.
    async fn release_challenge(&self, hash: &TokenHash, wrong: bool) -> StoreResult<()>;
}
