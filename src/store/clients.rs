//! gatehouse as an OpenID Connect provider, as the store keeps it: the client apps (a
//! confidential client's secret only as its SHA-256), the authorization codes (only their
//! hashes, spent by one conditional write) and the consents people gave.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::client::OAuthClient;
pub use crate::model::client::{InitialToken, NewCode, Redemption};
use crate::model::outcome::Effects;
use crate::tokens::opaque::TokenHash;

/// The registry's changes (clients, initial access tokens, and webhook endpoints in
/// [`super::webhooks::WebhookStore`]) are written with what tells of them (`effects`: the
/// audit rows) in one transaction, as an account's changes are.
#[async_trait]
pub trait ClientStore {
    /// Stores a client, with the hash of its secret when it is confidential and of its
    /// registration access token when it registered itself.
    async fn insert_client(
        &self,
        client: &OAuthClient,
        secret: Option<&TokenHash>,
        registration: Option<&TokenHash>,
        effects: &Effects,
    ) -> StoreResult<()>;
    async fn find_client(&self, id: &str) -> StoreResult<Option<OAuthClient>>;
    /// The hash of a confidential client's secret.
    async fn client_secret(&self, id: &str) -> StoreResult<Option<TokenHash>>;
    /// The hash of a self-registered client's registration access token.
    async fn registration_hash(&self, id: &str) -> StoreResult<Option<TokenHash>>;
    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>>;
    /// Replaces what an admin may change; `false` when there is no such client.
    async fn update_client(&self, client: &OAuthClient, effects: &Effects) -> StoreResult<bool>;
    /// Replaces a confidential client's secret; `false` when there is no such client.
    async fn set_client_secret(
        &self,
        id: &str,
        secret: &TokenHash,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<bool>;
    /// Removes a client with its codes and consents; `false` when there was none.
    async fn delete_client(&self, id: &str, effects: &Effects) -> StoreResult<bool>;
    async fn insert_code(&self, code: &NewCode) -> StoreResult<()>;
    /// Spends a code, once, if it is live, naming `session_id` as the client session its
    /// redemption starts. Presented again, it is marked reused (see [`Self::code_reused`]).
    async fn redeem_code(&self, hash: &TokenHash, session_id: Uuid, now: DateTime<Utc>) -> StoreResult<Redemption>;
    /// Whether the code was presented again since it was spent: its redemption, once its session
    /// exists, asks, so that a replay racing it ends the session too.
    async fn code_reused(&self, hash: &TokenHash) -> StoreResult<bool>;
    /// The scopes the account agreed to share with the client, if it ever did.
    async fn consent(&self, account_id: Uuid, client_id: &str) -> StoreResult<Option<Vec<String>>>;
    async fn save_consent(
        &self,
        account_id: Uuid,
        client_id: &str,
        scopes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
}

/// The initial access tokens admins issue for client registration, kept by their hashes.
#[async_trait]
pub trait InitialTokenStore {
    async fn insert_initial_token(&self, token: &InitialToken, hash: &TokenHash, effects: &Effects) -> StoreResult<()>;
    /// The live ones, newest first.
    async fn list_initial_tokens(&self, now: DateTime<Utc>) -> StoreResult<Vec<InitialToken>>;
    /// `false` when there was none.
    async fn delete_initial_token(&self, id: Uuid, effects: &Effects) -> StoreResult<bool>;
    /// Takes one registration from the token of this hash, by one conditional write, if it is
    /// live and has a use left; `false` otherwise.
    async fn spend_initial_token(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool>;
}
