//! gatehouse as an OpenID Connect provider, as the store keeps it: the client apps (a
//! confidential client's secret only as its SHA-256), the authorization codes (only their
//! hashes, spent by one conditional write) and the consents people gave.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
pub use crate::model::client::OAuthClient;
use crate::tokens::opaque::TokenHash;

/// An authorization code about to be handed out.
#[derive(Debug)]
pub struct NewCode {
    pub hash: TokenHash,
    pub client_id: String,
    pub account_id: Uuid,
    pub browser_session_id: Uuid,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    /// PKCE S256: base64url(SHA-256(verifier)).
    pub code_challenge: String,
    /// How the person had authenticated (`SessionAuth`'s stored form).
    pub auth: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A code presented at the token endpoint.
#[derive(Debug)]
pub enum Redemption {
    /// Live and now spent: what it was issued for.
    Spent(NewCode),
    /// Spent before (and now marked reused): the client session its first redemption started,
    /// which is to end.
    Reused { account_id: Uuid, session_id: Option<Uuid> },
    /// Unknown, or past its minute.
    Unknown,
}

#[async_trait]
pub trait ClientStore {
    /// Stores a client, with the hash of its secret when it is confidential.
    async fn insert_client(&self, client: &OAuthClient, secret: Option<&TokenHash>) -> StoreResult<()>;
    async fn find_client(&self, id: &str) -> StoreResult<Option<OAuthClient>>;
    /// The hash of a confidential client's secret.
    async fn client_secret(&self, id: &str) -> StoreResult<Option<TokenHash>>;
    async fn list_clients(&self) -> StoreResult<Vec<OAuthClient>>;
    /// Replaces what an admin may change; `false` when there is no such client.
    async fn update_client(&self, client: &OAuthClient) -> StoreResult<bool>;
    /// Replaces a confidential client's secret; `false` when there is no such client.
    async fn set_client_secret(&self, id: &str, secret: &TokenHash, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Removes a client with its codes and consents; `false` when there was none.
    async fn delete_client(&self, id: &str) -> StoreResult<bool>;
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
