//! A client app of gatehouse's OpenID Connect provider, as gatehouse keeps it (a confidential
//! client's secret apart, as a hash), and its authorization codes (only their hashes).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::token::TokenHash;

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
    /// It registered itself (RFC 7591) and holds a registration access token; it is
    /// third-party, whatever it claims.
    pub self_registered: bool,
    /// Where it hears that a session of its ended (OpenID Connect Back-Channel Logout).
    pub backchannel_logout_uri: Option<String>,
    /// Its logout tokens must carry `sid`.
    pub backchannel_logout_session_required: bool,
    /// What it asked of itself beyond 0.1.0's registration.
    pub policy: ClientPolicy,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OAuthClient {
    /// Whether it proves itself with a secret: confidential, and without keys.
    pub fn secret_kept(&self) -> bool {
        self.confidential && self.policy.keys.is_none()
    }

    /// How it proves itself at the token endpoint, as RFC 7591 names it (of the two ways of
    /// sending a secret, the common one: gatehouse takes either).
    pub fn auth_method(&self) -> &'static str {
        match (self.confidential, &self.policy.keys) {
            (false, _) => "none",
            (true, Some(_)) => "private_key_jwt",
            (true, None) => "client_secret_basic",
        }
    }
}

/// What a client asked of itself in its registration (RFC 7591 metadata of later RFCs), kept as
/// one JSON object (a column added after 0.1.0: a client an older release wrote has none of it).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClientPolicy {
    /// Its authorization requests must be pushed (RFC 9126 section 6): `/oauth2/authorize`
    /// takes only a `request_uri` from it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_pushed_authorization_requests: bool,
    /// Its access tokens are always DPoP-bound (RFC 9449 section 5.2): a token request of it
    /// without a proof is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dpop_bound_access_tokens: bool,
    /// The public keys it proves itself with (`private_key_jwt`, RFC 7523 section 2.2), instead
    /// of a secret: a confidential client with keys has no secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<ClientKeys>,
}

/// Where a client's public keys are: in its registration, or at a URL of its own.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientKeys {
    /// A JWK Set (`{"keys": [...]}`), as registered.
    Jwks(serde_json::Value),
    /// Where its JWK Set is fetched from (through the guard, and cached).
    JwksUri(String),
}

impl ClientPolicy {
    /// Its keys as RFC 7591 metadata shows them: `(jwks, jwks_uri)`.
    pub fn published_keys(&self) -> (Option<serde_json::Value>, Option<String>) {
        match self.keys.clone() {
            Some(ClientKeys::Jwks(set)) => (Some(set), None),
            Some(ClientKeys::JwksUri(uri)) => (None, Some(uri)),
            None => (None, None),
        }
    }

    /// The stored form: `None` when nothing is asked.
    pub fn stored(&self) -> Option<String> {
        (self != &Self::default()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// Read back; what this release does not know is ignored (a newer release's).
    pub fn from_stored(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
    }
}

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
    /// The resources (RFC 8707) the request named: the audiences its access tokens may have.
    pub resources: Vec<String>,
    /// PKCE S256: base64url(SHA-256(verifier)).
    pub code_challenge: String,
    /// The thumbprint of the key the request named (`dpop_jkt`, RFC 9449 section 10): only a
    /// proof of that key redeems the code.
    pub dpop_jkt: Option<String>,
    /// How the person had authenticated (`SessionAuth`'s stored form).
    pub auth: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A code presented at the token endpoint.
#[derive(Debug)]
pub enum Redemption {
    /// Live and now spent: what it was issued for.
    Spent(Box<NewCode>),
    /// Spent before (and now marked reused): the client session its first redemption started,
    /// which is to end.
    Reused { account_id: Uuid, session_id: Option<Uuid> },
    /// Unknown, or past its minute.
    Unknown,
}

/// An initial access token (RFC 7591 section 3), which lets a client register itself when
/// registration asks for one (`GATEHOUSE_CLIENT_REGISTRATION=token`). Only its hash is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitialToken {
    pub id: Uuid,
    pub name: String,
    /// The admin who issued it.
    pub created_by: Option<Uuid>,
    /// How many registrations it still allows.
    pub uses_left: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A client just registered or re-keyed, with its secret: shown this once.
#[derive(Debug)]
pub struct ClientWithSecret {
    pub client: OAuthClient,
    pub secret: Option<secrecy::SecretString>,
}
