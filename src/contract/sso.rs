//! An organization's single sign-on connection, as the API shows it.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::rfc3339;
use crate::model::sso::{AttributeMapping, SsoConnection, SsoUrls};

/// A single sign-on connection.
#[derive(Debug, Serialize, ToSchema)]
pub struct SsoConnectionBody {
    id: Uuid,
    /// `saml`.
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    /// The role a person joins the organization with at a first login.
    default_role: String,
    /// Give these three to the identity provider's admins: the service provider's entity id
    /// (audience), its assertion consumer service (HTTP-POST) and its metadata.
    sp_entity_id: String,
    acs_url: String,
    metadata_url: String,
    /// Where an app sends a browser to log in through this connection
    /// (`?redirect_to=` as for every browser login).
    login_url: String,
    idp: IdpBody,
    /// Whether answers no login of gatehouse's asked for (IdP-initiated) log in.
    allow_idp_initiated: bool,
    attribute_mapping: AttributeMappingBody,
    created_at: String,
    updated_at: String,
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
    pub fn new(connection: SsoConnection, urls: SsoUrls, fingerprints: Vec<String>) -> Self {
        Self {
            id: connection.id,
            kind: "saml",
            name: connection.name,
            default_role: connection.default_role,
            sp_entity_id: urls.sp_entity_id,
            acs_url: urls.acs_url,
            metadata_url: urls.metadata_url,
            login_url: urls.login_url,
            idp: IdpBody {
                entity_id: connection.saml.idp_entity_id,
                sso_url: connection.saml.sso_url,
                certificate_fingerprints: fingerprints,
                metadata_url: connection.saml.metadata_url,
            },
            allow_idp_initiated: connection.saml.allow_idp_initiated,
            attribute_mapping: connection.saml.attribute_mapping.into(),
            created_at: rfc3339(&connection.created_at),
            updated_at: rfc3339(&connection.updated_at),
        }
    }
}
