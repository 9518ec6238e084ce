//! An organization's single sign-on connection, as the API shows it.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::rfc3339;
use crate::model::sso::{AttributeMapping, Protocol, SsoConnection, SsoUrls};

/// A single sign-on connection: common fields, then those of its `type`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoConnectionBody {
    id: Uuid,
    /// `saml` or `oidc`.
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    /// The role a person joins the organization with at a first login.
    default_role: String,
    /// Where an app sends a browser to log in through this connection
    /// (`?redirect_to=` as for every browser login).
    login_url: String,
    /// Whether it takes logins: only once its organization has verified a domain (until then it
    /// sends no browser to its identity provider, `sso_connection_inactive`).
    active: bool,
    #[serde(flatten)]
    protocol: ProtocolBody,
    created_at: String,
    updated_at: String,
}

/// What a connection of each type shows.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ProtocolBody {
    Saml(SamlBody),
    Oidc(OidcBody),
}

/// A SAML connection's own fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct SamlBody {
    /// Give these three to the identity provider's admins: the service provider's entity id
    /// (audience), its assertion consumer service (HTTP-POST) and its metadata.
    sp_entity_id: String,
    acs_url: String,
    metadata_url: String,
    idp: IdpBody,
    /// Whether answers no login of gatehouse's asked for (IdP-initiated) log in.
    allow_idp_initiated: bool,
    attribute_mapping: AttributeMappingBody,
}

/// An OpenID Connect connection's own fields (its client secret is never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcBody {
    /// Give it to the provider's admins: the redirect URI to register for the client.
    redirect_uri: String,
    idp: OidcIdpBody,
}

/// The OpenID Connect provider.
#[derive(Debug, Serialize, ToSchema)]
pub struct OidcIdpBody {
    issuer: String,
    client_id: String,
    /// Whether an ID token without `email_verified` may make a new account.
    allow_unverified_email: bool,
}

/// A connection's URLs under this gatehouse: those of SAML (with its login URL) and the
/// redirect URI of OpenID Connect; a connection shows those of its type.
#[derive(Debug)]
pub struct Shown {
    pub saml: SsoUrls,
    pub redirect_uri: String,
    pub login_url: String,
    /// A SAML connection's certificates' fingerprints.
    pub fingerprints: Vec<String>,
    /// Whether its organization's connections take logins.
    pub active: bool,
}

/// The identity provider, as its metadata described it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdpBody {
    entity_id: String,
    /// Where browsers are sent with the login request (HTTP-Redirect binding).
    sso_url: String,
    /// The SHA-256 fingerprints of the pinned signing certificates (two during a rollover).
    certificate_fingerprints: Vec<String>,
    /// Where the metadata was fetched from, when it was given by URL.
    metadata_url: Option<String>,
}

/// Which attributes hold what, beside a `NameID` of the emailAddress format.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeMappingBody {
    /// The attribute holding the address; none: `email`, `mail` and the common claim names.
    email: Option<String>,
    /// The attribute holding the display name.
    name: Option<String>,
}

impl From<AttributeMapping> for AttributeMappingBody {
    fn from(m: AttributeMapping) -> Self {
        Self { email: m.email, name: m.name }
    }
}

impl SsoConnectionBody {
    pub fn new(connection: SsoConnection, shown: Shown) -> Self {
        let kind = connection.protocol.kind();
        let protocol = match connection.protocol {
            Protocol::Saml(saml) => {
                let urls = shown.saml;
                ProtocolBody::Saml(SamlBody {
                    sp_entity_id: urls.sp_entity_id,
                    acs_url: urls.acs_url,
                    metadata_url: urls.metadata_url,
                    idp: IdpBody {
                        entity_id: saml.idp_entity_id,
                        sso_url: saml.sso_url,
                        certificate_fingerprints: shown.fingerprints,
                        metadata_url: saml.metadata_url,
                    },
                    allow_idp_initiated: saml.allow_idp_initiated,
                    attribute_mapping: saml.attribute_mapping.into(),
                })
            }
            Protocol::Oidc(oidc) => {
                let idp = OidcIdpBody {
                    issuer: oidc.issuer,
                    client_id: oidc.client_id,
                    allow_unverified_email: oidc.allow_unverified_email,
                };
                ProtocolBody::Oidc(OidcBody { redirect_uri: shown.redirect_uri, idp })
            }
        };
        Self {
            id: connection.id,
            kind,
            name: connection.name,
            default_role: connection.default_role,
            login_url: shown.login_url,
            active: shown.active,
            protocol,
            created_at: rfc3339(&connection.created_at),
            updated_at: rfc3339(&connection.updated_at),
        }
    }
}
