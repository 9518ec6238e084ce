//! Sessions: one per login, living at most the session lifetime. Every authenticated request
//! checks that its session is still live, so logout, password change, deletion and disabling
//! take effect on the very next request. Each session holds the hash of its current refresh
//! token; spent refresh tokens are remembered so that presenting one again revokes the session,
//! unless it is a replay within a short grace period (two tabs refreshing at once, a retry
//! after a lost response): the account layer derives the next refresh token from the presented
//! one, so such a replay can be answered with the very token the first presentation got.
//!
//! The database stores (see `store/`) implement [`SessionStore`]; so does [`redis`], for
//! several replicas sharing sessions.

pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::account::Account;
use crate::model::api_key::FoundKey;
use crate::model::error::StoreResult;
pub use crate::model::session::{AccountRead, Grant, LiveSession, NewSession, Rotation, SessionAuth, SessionInfo};
use crate::tokens::opaque::TokenHash;

/// A replica's memory of the API keys it checked lately, kept true as its memory of sessions is
/// (every change to a key's owner, a key's revocation included, forgets what is held of it on
/// every replica before it is answered). Only the Redis session store has one.
pub trait KeyMemory: Send + Sync {
    /// What to quote when keeping what a read is about to find; `None` when it may not be kept.
    fn ticket(&self) -> Option<u64>;
    /// The key of this hash, as read lately, if the memory may answer.
    fn key(&self, hash: &TokenHash) -> Option<FoundKey>;
    /// Keeps a key read with `ticket`, unless its owner was forgotten since.
    fn keep(&self, ticket: u64, hash: &TokenHash, found: &FoundKey);
    /// Records that the key was marked used at `at`.
    fn used(&self, hash: &TokenHash, at: DateTime<Utc>);
}

#[async_trait]
pub trait SessionStore: Send + Sync + std::fmt::Debug + 'static {
    async fn create_session(&self, session: &NewSession) -> StoreResult<()>;
    /// The session, if it exists and has not expired.
    async fn live_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>>;
    /// [`Self::live_session`] for a token naming `account_id`: a session of another account is
    /// returned as it is (the caller refuses it). Stores that remember checked sessions answer
    /// from memory.
    async fn live_session_of(
        &self,
        id: Uuid,
        _account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LiveSession>> {
        self.live_session(id, now).await
    }
    /// The session as [`Self::live_session`] has it and what this store can say of the
    /// account it belongs to (`account_id`, the one the token names) in the same round trip:
    /// the account itself where the store also holds the accounts, else the copy it keeps
    /// (see [`Self::keep_account_copy`]), else nothing (one read for the per-request check of
    /// `GET /user`).
    async fn live_session_and_account(
        &self,
        id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(LiveSession, AccountRead)>>;
    /// Keeps a copy of `account` for [`Self::live_session_and_account`], unless what stands in
    /// its place is no longer `seen` (what [`AccountRead::Unread`] reported): then the account
    /// changed since it was read, and the copy would be stale. Stores that hold the accounts
    /// themselves keep nothing.
    async fn keep_account_copy(&self, _account: &Account, _seen: &str) -> StoreResult<()> {
        Ok(())
    }
    /// Marks the copy of the account stale, so that the next read goes to the database; called
    /// after every change to the account.
    async fn drop_account_copy(&self, _account_id: Uuid) -> StoreResult<()> {
        Ok(())
    }
    /// Records a fresh authentication of the session (a step-up); `false` when it has ended.
    async fn set_session_auth(&self, id: Uuid, auth: &SessionAuth) -> StoreResult<bool>;
    /// Records use of the session (for the owner's session list).
    async fn touch_session(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    /// Spends `presented` and makes `next` the session's refresh token, atomically. A spent
    /// token revokes the session, unless it was spent less than `grace` ago by a rotation to
    /// `next` and `next` is still current ([`Rotation::Replayed`]).
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        next: &TokenHash,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> StoreResult<Rotation>;
    /// The live session a refresh token (current or spent) belongs to, spending nothing: for
    /// a revocation, which must know whose the token is before it acts.
    async fn refresh_token_session(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<LiveSession>>;
    /// Ends one session of the account; `false` when it has no such session.
    async fn revoke_session(&self, account_id: Uuid, id: Uuid) -> StoreResult<bool>;
    /// Ends every session of the account, but `except`.
    async fn revoke_all_sessions(&self, account_id: Uuid, except: Option<Uuid>) -> StoreResult<u64>;
    async fn list_sessions(&self, account_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<SessionInfo>>;
    async fn ping_sessions(&self) -> StoreResult<()>;
    /// This replica's memory of API keys, if it keeps one.
    fn key_memory(&self) -> Option<&dyn KeyMemory> {
        None
    }
}

/// Whether a refresh token spent at `spent_at` is, at `now`, still within `grace` of its spending
/// (a spending stamped later than `now`, by a replica whose clock runs ahead, is). A zero grace
/// period is none at all.
pub(crate) fn spent_within(spent_at: DateTime<Utc>, now: DateTime<Utc>, grace: Duration) -> bool {
    !grace.is_zero()
        && chrono::Duration::from_std(grace).map_or(true, |grace| now.signed_duration_since(spent_at) < grace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_token_is_within_the_grace_period_until_it_has_fully_passed() {
        let spent = Utc::now();
        let grace = Duration::from_secs(30);
        let after = |seconds| spent + chrono::Duration::seconds(seconds);

        assert!(spent_within(spent, after(29), grace));
        assert!(!spent_within(spent, after(30), grace));
        assert!(spent_within(spent, after(-5), grace), "a replica whose clock runs behind");
        assert!(!spent_within(spent, after(-5), Duration::ZERO), "no grace period, whatever the clocks");
    }
}
