//! A client app of gatehouse's OpenID Connect provider, as gatehouse keeps it (a confidential
//! client's secret apart, as a hash).

use chrono::{DateTime, Utc};

/// A client app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthClient {
    /// Its `client_id`.
    pub id: String,
    pub name: String,
    /// It authenticates with a secret; a public client (a SPA, a native app) cannot keep one.
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// Trusted by the operator: people are not asked to consent.
    pub first_party: bool,
    /// A resource server: it may introspect the tokens of every client, not only its own.
    pub introspect: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
