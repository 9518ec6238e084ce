//! Social login as the store keeps it: the identities linked to accounts, keyed on (issuer,
//! subject), and the logins waiting at a provider (only hashes of their `state`, of the
//! cookie binding them to a browser and of a link's start token; the PKCE verifier sealed).
//! Each is spent by one conditional write, so it holds across replicas.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::NewAccount;
use super::error::StoreResult;
use super::tokens::NewOneTimeToken;
pub use crate::model::identity::Identity;
pub use crate::model::identity::{IdentityKey, Keyed, NewOidcLogin, OidcLogin, Pending, Unlink};
use crate::model::outcome::Effects;
use crate::tokens::opaque::TokenHash;

#[async_trait]
pub trait IdentityStore: Send + Sync + std::fmt::Debug + 'static {
    async fn insert_oidc_login(&self, login: &NewOidcLogin) -> StoreResult<()>;
    /// Fills the login that `start_hash` names with `pending`, once, before it expires: its
    /// `redirect_to`, or `None` when there is no such login waiting for its browser.
    async fn start_oidc_login(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        pending: &Pending,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Option<String>>>;
    /// The account a link's start URL (`start_hash`) would link an identity at `provider` to,
    /// while that URL is still waiting for its browser; nothing is spent.
    async fn oidc_link_account(
        &self,
        provider: &str,
        start_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Uuid>>;
    /// Spends the login of `provider` that `state_hash` names: once, before it expires.
    async fn take_oidc_login(
        &self,
        provider: &str,
        state_hash: &TokenHash,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OidcLogin>>;
    async fn identity(&self, key: IdentityKey<'_>) -> StoreResult<Option<Identity>>;
    async fn identities(&self, account_id: Uuid) -> StoreResult<Vec<Identity>>;
    /// The account's identities with their issuers and subjects, for a copy into another store.
    async fn keyed_identities(&self, account_id: Uuid) -> StoreResult<Vec<Keyed>>;
    /// Links an identity and queues `notice`, atomically; `Conflict` when the identity is
    /// linked already.
    async fn insert_identity(&self, identity: &Identity, key: IdentityKey<'_>, effects: &Effects) -> StoreResult<()>;
    /// Makes an account with its identity (and, when the account is pending, its activation
    /// token and email), atomically.
    async fn insert_account_with_identity(
        &self,
        account: &NewAccount,
        identity: &Identity,
        key: IdentityKey<'_>,
        activation: Option<&NewOneTimeToken>,
        effects: &Effects,
    ) -> StoreResult<()>;
    async fn identity_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()>;
    /// Removes identity `id` of `account_id` unless it is the account's last way in: no other
    /// identity, no passkey, and an address not verified (a verified one reaches the account by
    /// a password reset or a login by email).
    /// `notice` (telling the owner) is queued with the removal.
    async fn delete_identity(&self, account_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<Unlink>;
}
