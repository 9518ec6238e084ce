//! Single sign-on as the store keeps it: organizations' connections, the logins waiting at an
//! identity provider (by the hash of the request's `ID`) and the assertions already used.
//! An answer is spent by one transaction: its request (once, before it expires, of this
//! connection) and its assertion (never seen before), or neither.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::StoreResult;
use crate::model::outcome::Effects;
pub use crate::model::sso::{NewSamlRequest, SamlRequest, SamlSpend, SsoConnection};
use crate::tokens::opaque::TokenHash;

/// An answer about to be spent.
#[derive(Debug)]
pub struct SamlAnswer<'a> {
    pub connection_id: Uuid,
    /// The hash of the request's `ID` it names (`InResponseTo`); none when unsolicited.
    pub request: Option<&'a TokenHash>,
    /// The hash of the connection's id and the assertion's `ID`.
    pub assertion: &'a TokenHash,
    pub assertion_expires_at: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

#[async_trait]
pub trait SsoStore: Send + Sync + std::fmt::Debug + 'static {
    /// Adds a connection, with its audit and webhook effects; `false` when the organization has
    /// `max` already.
    async fn insert_sso_connection(
        &self,
        connection: &SsoConnection,
        max: usize,
        effects: &Effects,
    ) -> StoreResult<bool>;
    async fn sso_connection(&self, id: Uuid) -> StoreResult<Option<SsoConnection>>;
    async fn sso_connections(&self, org_id: Uuid) -> StoreResult<Vec<SsoConnection>>;
    /// Whether any organization has a connection.
    async fn any_sso_connection(&self) -> StoreResult<bool>;
    /// Writes a connection's name, role and settings; `false` when it is gone.
    async fn update_sso_connection(&self, connection: &SsoConnection, effects: &Effects) -> StoreResult<bool>;
    /// Removes a connection of `org_id` with its waiting logins; `false` when there is none.
    async fn delete_sso_connection(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool>;
    async fn insert_saml_request(&self, request: &NewSamlRequest) -> StoreResult<()>;
    /// Spends an answer: its request and its assertion together, or neither.
    async fn spend_saml_answer(&self, answer: &SamlAnswer<'_>) -> StoreResult<SamlSpend>;
}
