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
}

impl ClientPolicy {
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
