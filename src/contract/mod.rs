//! The contract's JSON: the shapes of the API's answers, which the command line prints too (so
//! scripts read what API clients do). It sits below `http/` and `cli/`, which both use it; the
//! account's shape (`account.rs`) sits lower still, beside the model, for the store and the
//! webhook worker.

pub mod account;
pub mod org;
pub mod sso;

pub use self::account::{AccountBody, rfc3339, stored_account};

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::model::admin::OutboxEntry;
use crate::model::client::ClientWithSecret;
use crate::model::client::OAuthClient;
use crate::model::identity::Identity;
use crate::model::session::TokenPair;
use crate::model::token::KeyInfo;
use crate::model::webhook::EndpointWithSecret;
use crate::model::webhook::{Delivery, DeliveryStatus, Endpoint};
use crate::sessions::SessionInfo;

/// The answer to a login or a refresh.
#[derive(Serialize, ToSchema)]
#[schema(as = TokenPair)]
pub struct TokenBody {
    /// A signed JWT (`EdDSA` unless `GATEHOUSE_TOKEN_ALGORITHM` says otherwise); send it as
    /// `Authorization: Bearer …`.
    pub access_token: String,
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Opaque and single-use: spend it at `POST /auth/refresh` for a new pair.
    pub refresh_token: String,
    pub user: AccountBody,
}

impl std::fmt::Debug for TokenBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBody").field("user", &self.user.id).finish_non_exhaustive()
    }
}

impl From<TokenPair> for TokenBody {
    fn from(pair: TokenPair) -> Self {
        use secrecy::ExposeSecret;
        Self {
            access_token: pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token.expose_secret().to_owned(),
            user: pair.account.into(),
        }
    }
}

/// One of the caller's sessions.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Session)]
pub struct SessionBody {
    pub id: Uuid,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
    /// The client app that holds this session (through `/oauth2/token`); absent for a login
    /// to gatehouse itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The admin acting as the account in this session (`POST /admin/users/{key}/impersonate`);
    /// absent for the owner's own sessions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonated_by: Option<Uuid>,
}

impl SessionBody {
    pub fn new(s: SessionInfo, current: Option<Uuid>) -> Self {
        Self {
            id: s.id,
            created_at: rfc3339(&s.created_at),
            last_used_at: rfc3339(&s.last_used_at),
            expires_at: rfc3339(&s.expires_at),
            user_agent: s.user_agent,
            ip: s.ip,
            current: Some(s.id) == current,
            client_id: s.auth.grant.map(|grant| grant.client_id),
            impersonated_by: s.auth.act,
        }
    }
}

/// A plain message, for answers with nothing else to say.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Message)]
pub struct MessageBody {
    #[schema(value_type = String)]
    pub message: &'static str,
}

/// One page of accounts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<AccountBody>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// How many accounts match in all, on the first page; `null` on later pages and when counting
    /// would be slow: for a text search, or when more than 10,000 match.
    pub total: Option<u64>,
}

/// One email in the outbox (never its body, which holds the link).
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEmail {
    pub id: Uuid,
    /// `activation`, `password_reset`, `password_changed`, `email_change`, …
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// `queued`, `sending`, `sent` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub next_attempt_at: String,
    pub sent_at: Option<String>,
}

impl From<OutboxEntry> for OutboxEmail {
    fn from(e: OutboxEntry) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            recipient: e.recipient,
            subject: e.subject,
            status: e.status,
            attempts: e.attempts,
            last_error: e.last_error,
            created_at: rfc3339(&e.created_at),
            next_attempt_at: rfc3339(&e.next_attempt_at),
            sent_at: e.sent_at.as_ref().map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxPage {
    pub emails: Vec<OutboxEmail>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A signing key as an operator sees it (never the private half).
#[derive(Debug, Serialize)]
pub struct KeyBody {
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    pub created_at: String,
    /// Signs new access tokens now.
    pub signing: bool,
    /// Signs new ID tokens now.
    pub signs_id_tokens: bool,
    /// In the JWKS: verifies tokens.
    pub published: bool,
}

impl From<KeyInfo> for KeyBody {
    fn from(k: KeyInfo) -> Self {
        Self {
            kid: k.kid,
            algorithm: k.algorithm.name().to_owned(),
            created_at: rfc3339(&k.created_at),
            signing: k.signing,
            signs_id_tokens: k.signs_id_tokens,
            published: k.published,
        }
    }
}

/// An account with what an operator's command counted of its sessions.
#[derive(Debug, Serialize)]
pub struct AccountReport {
    #[serde(flatten)]
    pub account: AccountBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_sessions: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions_ended: Option<u64>,
}

/// A client app as admins see it.
#[derive(Serialize, ToSchema)]
pub struct ClientBody {
    client_id: String,
    name: String,
    /// Has a secret (`client_secret_basic` or `_post`); public clients (SPAs, native apps) have none.
    confidential: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    scopes: Vec<String>,
    /// People are not asked to consent.
    first_party: bool,
    /// A resource server: it may introspect every client's tokens, not only its own.
    introspect: bool,
    /// It registered itself (`POST /oauth2/register`): third-party, managed with its
    /// registration access token (or by an admin).
    self_registered: bool,
    /// Where it hears that a session of its ended (OpenID Connect Back-Channel Logout).
    #[serde(skip_serializing_if = "Option::is_none")]
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    /// `/oauth2/authorize` takes only its pushed requests (RFC 9126).
    require_pushed_authorization_requests: bool,
    /// Its token requests must carry a DPoP proof (RFC 9449).
    dpop_bound_access_tokens: bool,
    /// How it proves itself: `client_secret_basic` (or `_post`: either is taken), `private_key_jwt`, or `none` (a public client).
    token_endpoint_auth_method: &'static str,
    /// Its public keys, for `private_key_jwt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// Where its public keys are, for `private_key_jwt`.
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Only when the client is registered or re-keyed: shown this once, stored only hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
}

impl std::fmt::Debug for ClientBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBody").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl From<OAuthClient> for ClientBody {
    fn from(c: OAuthClient) -> Self {
        let (jwks, jwks_uri) = c.policy.published_keys();
        ClientBody {
            token_endpoint_auth_method: c.auth_method(),
            jwks,
            jwks_uri,
            client_id: c.id,
            name: c.name,
            confidential: c.confidential,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            grant_types: c.grant_types,
            scopes: c.scopes,
            first_party: c.first_party,
            introspect: c.introspect,
            self_registered: c.self_registered,
            backchannel_logout_uri: c.backchannel_logout_uri,
            backchannel_logout_session_required: c.backchannel_logout_session_required,
            require_pushed_authorization_requests: c.policy.require_pushed_authorization_requests,
            dpop_bound_access_tokens: c.policy.dpop_bound_access_tokens,
            created_at: c.created_at,
            updated_at: c.updated_at,
            client_secret: None,
        }
    }
}

impl From<ClientWithSecret> for ClientBody {
    fn from(made: ClientWithSecret) -> Self {
        let secret = made.secret.map(|s| s.expose_secret().to_owned());
        ClientBody { client_secret: secret, ..made.client.into() }
    }
}

/// A webhook endpoint. Its `secret` shows only in the answer that registers it.
#[derive(Serialize, ToSchema)]
#[schema(as = Webhook)]
pub struct WebhookBody {
    id: Uuid,
    url: String,
    /// The event types it receives.
    #[schema(example = json!(["user.created", "user.deleted"]))]
    events: Vec<&'static str>,
    description: String,
    /// A disabled endpoint is written no new deliveries; those it was owed wait until it is
    /// enabled again.
    enabled: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Only when the endpoint is registered: the Standard Webhooks signing secret (`whsec_…`),
    /// shown this once. Give it to the receiver's verification library.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl std::fmt::Debug for WebhookBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookBody").field("id", &self.id).field("url", &self.url).finish_non_exhaustive()
    }
}

impl From<Endpoint> for WebhookBody {
    fn from(e: Endpoint) -> Self {
        WebhookBody {
            id: e.id,
            url: e.url,
            events: e.events.iter().map(|t| t.as_str()).collect(),
            description: e.description,
            enabled: e.enabled,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: None,
        }
    }
}

impl From<EndpointWithSecret> for WebhookBody {
    fn from(made: EndpointWithSecret) -> Self {
        WebhookBody { secret: Some(made.secret.expose_secret().to_owned()), ..made.endpoint.into() }
    }
}

/// One event owed to one endpoint, in the delivery log.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryBody {
    /// The event's id: the `webhook-id` header of every attempt (UUIDv7).
    id: Uuid,
    /// The event type, like `user.created`.
    #[serde(rename = "type")]
    kind: String,
    account_id: Uuid,
    /// When the change happened.
    occurred_at: DateTime<Utc>,
    /// `queued`, `sending`, `delivered` or `failed` (given up after a day of attempts).
    #[schema(example = "delivered")]
    status: &'static str,
    attempts: u32,
    /// When the next attempt is due (while queued).
    next_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status of the last answer, when there was one.
    last_response_status: Option<u16>,
    /// Why the last attempt failed.
    last_error: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for DeliveryBody {
    fn from(d: Delivery) -> Self {
        DeliveryBody {
            id: d.event_id,
            kind: d.kind,
            account_id: d.account_id,
            occurred_at: d.occurred_at,
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: (d.status == DeliveryStatus::Queued).then_some(d.next_attempt_at),
            last_response_status: d.last_response_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
        }
    }
}

/// An identity at a provider, as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityBody {
    id: Uuid,
    /// The provider's name.
    provider: String,
    /// The address the provider gave when it was linked.
    email: Option<String>,
    created_at: String,
    last_login_at: Option<String>,
}

impl From<Identity> for IdentityBody {
    fn from(i: Identity) -> Self {
        Self {
            id: i.id,
            provider: i.provider,
            email: i.email,
            created_at: rfc3339(&i.created_at),
            last_login_at: i.last_login_at.as_ref().map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityList {
    identities: Vec<IdentityBody>,
}

impl IdentityList {
    pub fn new(identities: Vec<Identity>) -> Self {
        Self { identities: identities.into_iter().map(IdentityBody::from).collect() }
    }
}
