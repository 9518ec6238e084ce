//! An organization's single sign-on connections (SAML 2.0 or OpenID Connect identity providers
//! of its own), and
//! the logins waiting at one as they are kept (only hashes of the request's id and of the
//! cookie binding it to its browser).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::email_login::HandoffBinding;
use super::token::TokenHash;

/// Where the address of a person comes from, beside a `NameID` of the emailAddress format.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeMapping {
    /// The attribute that holds the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The attribute that holds the display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A SAML identity provider as its metadata described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamlSettings {
    pub idp_entity_id: String,
    pub sso_url: String,
    /// The pinned signing certificates, base64 DER (two during a rollover).
    pub certificates: Vec<String>,
    /// Where the metadata was read from, when it was given by URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// Whether answers no request of ours asked for (IdP-initiated) log in: off unless set.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    #[serde(default)]
    pub attribute_mapping: AttributeMapping,
    /// The identity provider (its entity id) that the identities keyed on the connection alone
    /// were linked under: those are what releases before identities were keyed on the identity
    /// provider too made. `None` (a connection stored before then): its identity provider now.
    /// Set when the identity provider changes, so they never log in through another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_idp: Option<String>,
}

/// An OpenID Connect provider of the organization's own: its discovery document is fetched at
/// the first login (through the same guard as webhooks), not when the connection is made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    /// The issuer exactly as the provider writes it (discovery and the ID token's `iss`).
    pub issuer: String,
    pub client_id: String,
    /// The client secret, sealed (base64) with the connection's id as its place: it must be
    /// read back to call the token endpoint, so it is encrypted, never kept in the clear.
    pub client_secret_sealed: String,
    /// Whether a new account may be made from an ID token that does not say the provider
    /// verified the address (`email_verified`): off unless the organization opts in. An
    /// existing account is never taken over on such a token.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unverified_email: bool,
}

/// What a connection speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    Saml(SamlSettings),
    Oidc(OidcSettings),
}

impl Protocol {
    /// The kind as stored and shown: `saml` or `oidc`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Saml(_) => "saml",
            Self::Oidc(_) => "oidc",
        }
    }
}

/// One connection of an organization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoConnection {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    /// The role a person joins the organization with at a first login.
    pub default_role: String,
    pub protocol: Protocol,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SsoConnection {
    /// Its SAML settings, when it speaks SAML.
    pub fn saml(&self) -> Option<&SamlSettings> {
        match &self.protocol {
            Protocol::Saml(saml) => Some(saml),
            Protocol::Oidc(_) => None,
        }
    }

    /// Its OpenID Connect settings, when it speaks OpenID Connect.
    pub fn oidc(&self) -> Option<&OidcSettings> {
        match &self.protocol {
            Protocol::Oidc(oidc) => Some(oidc),
            Protocol::Saml(_) => None,
        }
    }

    /// The provider name its identities are kept under (`sso:{id}`).
    pub fn provider_name(&self) -> String {
        format!("sso:{}", self.id.simple())
    }

    /// The issuer its identities are keyed on with the `NameID` (or the ID token's `sub`): the
    /// connection and its identity provider (the SAML entity id, the OpenID Connect issuer), so
    /// two connections naming one subject never meet, and an identity provider put in the
    /// place of another inherits none of the identities the last one linked.
    pub fn identity_issuer(&self) -> String {
        let idp = match &self.protocol {
            Protocol::Saml(saml) => &saml.idp_entity_id,
            Protocol::Oidc(oidc) => &oidc.issuer,
        };
        format!("urn:gatehouse:sso:{}:{}", self.id.simple(), issuer_tag(idp))
    }

    /// The issuer identities of a SAML connection were keyed on before they were keyed on its
    /// identity provider too: still theirs while that provider is the one it names now (see
    /// [`SamlSettings::legacy_idp`]), else none.
    pub fn legacy_identity_issuer(&self) -> Option<String> {
        let saml = self.saml()?;
        let linked_under = saml.legacy_idp.as_deref().unwrap_or(&saml.idp_entity_id);
        (linked_under == saml.idp_entity_id).then(|| format!("urn:gatehouse:sso:{}", self.id.simple()))
    }

    /// What its logins waiting at an OpenID Connect provider are kept under: the connection
    /// and its provider's issuer, so a login started before the issuer changed finishes at
    /// neither provider.
    pub fn login_key(&self) -> String {
        match &self.protocol {
            Protocol::Oidc(oidc) => format!("sso:{}:{}", self.id.simple(), issuer_tag(&oidc.issuer)),
            Protocol::Saml(_) => self.provider_name(),
        }
    }
}

/// Sixteen hex digits of the SHA-256 of an issuer: what tells one provider of a connection from
/// the one before it.
fn issuer_tag(issuer: &str) -> String {
    TokenHash::of(issuer).as_bytes()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// A SAML connection's URLs, for the customer's IT and for the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SsoUrls {
    /// The service provider's entity id (its metadata's URL).
    pub sp_entity_id: String,
    /// The assertion consumer service (HTTP-POST).
    pub acs_url: String,
    pub metadata_url: String,
    /// Where an app sends a browser to log in through the connection.
    pub login_url: String,
}

/// A login sent to a connection's identity provider, waiting for its answer.
#[derive(Debug)]
pub struct NewSamlRequest {
    /// The hash of the request's `ID`.
    pub hash: TokenHash,
    pub connection_id: Uuid,
    /// The hash of the cookie that binds it to its browser.
    pub binding_hash: TokenHash,
    pub redirect_to: Option<String>,
    pub handoff: HandoffBinding,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A waiting login, spent by its answer.
#[derive(Debug)]
pub struct SamlRequest {
    pub binding_hash: TokenHash,
    pub redirect_to: Option<String>,
    pub handoff: HandoffBinding,
}

/// What spending an answer came to.
#[derive(Debug)]
pub enum SamlSpend {
    /// Spent now: the request it answered (none for an unsolicited answer).
    Spent(Option<SamlRequest>),
    /// The request it names is unknown, spent already, expired, or another connection's.
    UnknownRequest,
    /// Its assertion was used before.
    Replayed,
}
