//! An organization's single sign-on connections (`sso:manage`): a SAML 2.0 identity provider
//! of its own, described by the metadata its IT gives, whose people log in through it and join
//! the organization with the connection's `default_role` (see `saml_login.rs`).

use uuid::Uuid;

use super::orgs::OrgView;
use super::{Accounts, Caller, ClientInfo, Error, Result};
use crate::federation::saml::metadata::{IdpMetadata, parse_idp_metadata};
use crate::model::org::{ADMIN, Held, MEMBER, builtin_permissions};
use crate::model::outcome::{Effects, Kind};
use crate::model::sso::{AttributeMapping, SamlSettings, SsoConnection, SsoUrls};
use crate::tokens::xmldsig::PinnedCertificate;

/// The most connections one organization may have.
pub const MAX_CONNECTIONS: usize = 10;

/// What an admin gives for a connection; on a change, what is left out stays.
#[derive(Debug, Default)]
pub struct SamlConnectionInput {
    /// The identity provider's metadata: on a change, a new one replaces the identity provider
    /// (its certificates: a rollover).
    pub metadata_xml: Option<String>,
    /// Where to fetch it instead (given again on a change, fetched again).
    pub metadata_url: Option<String>,
    pub name: Option<String>,
    pub default_role: Option<String>,
    pub attribute_mapping: Option<AttributeMapping>,
    pub allow_idp_initiated: Option<bool>,
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Error::field(
            "name",
            "a connection's name has 1 to 100 characters, none of them control characters",
        ));
    }
    Ok(name.to_owned())
}

fn read_metadata(xml: &str) -> Result<IdpMetadata> {
    parse_idp_metadata(xml).map_err(|e| Error::SsoMetadataInvalid(e.to_string()))
}

fn settings_of(idp: &IdpMetadata, before: Option<&SamlSettings>) -> SamlSettings {
    SamlSettings {
        idp_entity_id: idp.entity_id.clone(),
        sso_url: idp.sso_url.to_string(),
        certificates: idp.certificates.iter().map(|c| base64_of(c.der())).collect(),
        metadata_url: None,
        allow_idp_initiated: before.is_some_and(|b| b.allow_idp_initiated),
        attribute_mapping: before.map(|b| b.attribute_mapping.clone()).unwrap_or_default(),
    }
}

fn base64_of(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// The SHA-256 fingerprints of a connection's pinned certificates, for its admins to compare
/// with their identity provider's.
pub fn fingerprints(settings: &SamlSettings) -> Vec<String> {
    settings
        .certificates
        .iter()
        .filter_map(|c| PinnedCertificate::from_base64(c).ok())
        .map(|c| c.fingerprint())
        .collect()
}

/// The identity provider a connection's settings describe.
pub(super) fn idp_of(settings: &SamlSettings) -> Result<IdpMetadata> {
    let certificates = settings
        .certificates
        .iter()
        .map(|c| PinnedCertificate::from_base64(c))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("a stored certificate is not readable: {e}"))?;
    let sso_url = url::Url::parse(&settings.sso_url).map_err(|e| anyhow::anyhow!("a stored login URL: {e}"))?;
    Ok(IdpMetadata { entity_id: settings.idp_entity_id.clone(), sso_url, certificates })
}

impl Accounts {
    /// The metadata an input gives, pasted or by URL (fetched now), with the URL it came from;
    /// none when it gives neither.
    async fn metadata_of(&self, input: &SamlConnectionInput) -> Result<Option<(String, Option<String>)>> {
        match (&input.metadata_xml, &input.metadata_url) {
            (Some(_), Some(_)) => Err(Error::field("metadata_url", "give metadata_xml or metadata_url, not both")),
            (Some(xml), None) => Ok(Some((xml.clone(), None))),
            (None, Some(url)) => {
                let (xml, url) = self.fetch_idp_metadata(url).await?;
                Ok(Some((xml, Some(url))))
            }
            (None, None) => Ok(None),
        }
    }

    /// The organization, when the caller may manage its connections.
    pub(super) async fn managing_sso(&self, caller: &Caller, key: &str) -> Result<OrgView> {
        self.org_with(caller, key, "sso:manage").await
    }

    /// Whether the caller may set up or change an identity provider of the organization: it
    /// speaks for every member but the owners, so it takes a standing that covers `admin`'s
    /// (a custom role holding `sso:manage` alone could otherwise log in as an admin).
    pub(super) async fn configuring_idp(&self, caller: &Caller, key: &str) -> Result<OrgView> {
        let view = self.managing_sso(caller, key).await?;
        let admin = builtin_permissions(ADMIN).unwrap_or_default();
        let me = Held { role: &view.standing.role, permissions: &view.standing.permissions };
        if !me.covers(&Held { role: ADMIN, permissions: &admin }) {
            return Err(Error::Forbidden);
        }
        Ok(view)
    }

    /// The URLs of connection `id` under this gatehouse's public URL.
    pub fn sso_urls(&self, id: Uuid) -> SsoUrls {
        let at = |leaf: &str| {
            let mut url = self.settings.public_url.clone();
            let path = format!("{}/sso/saml/{}/{leaf}", url.path().trim_end_matches('/'), id);
            url.set_path(&path);
            url.to_string()
        };
        SsoUrls {
            sp_entity_id: at("metadata"),
            acs_url: at("acs"),
            metadata_url: at("metadata"),
            login_url: at("login"),
        }
    }

    /// The organization's connections.
    pub async fn sso_connections(&self, caller: &Caller, key: &str) -> Result<Vec<SsoConnection>> {
        let view = self.managing_sso(caller, key).await?;
        Ok(self.store.sso_connections(view.org.id).await?)
    }

    /// One of the organization's connections.
    pub async fn sso_connection(&self, caller: &Caller, key: &str, id: Uuid) -> Result<SsoConnection> {
        let view = self.managing_sso(caller, key).await?;
        self.store.sso_connection(id).await?.filter(|c| c.org_id == view.org.id).ok_or(Error::NotFoundConnection)
    }

    /// Adds a SAML connection from the identity provider's metadata.
    pub async fn add_saml_connection(
        &self,
        caller: &Caller,
        key: &str,
        input: SamlConnectionInput,
        client: &ClientInfo,
    ) -> Result<SsoConnection> {
        let view = self.configuring_idp(caller, key).await?;
        let (xml, fetched_from) = match self.metadata_of(&input).await? {
            Some(found) => found,
            None => {
                let why = "give the identity provider's metadata (XML), or metadata_url";
                return Err(Error::field("metadata_xml", why));
            }
        };
        let idp = read_metadata(&xml)?;
        let role = input.default_role.unwrap_or_else(|| MEMBER.to_owned());
        self.may_grant_on_join(&view, &role, "default_role").await?;
        let mut saml = settings_of(&idp, None);
        saml.metadata_url = fetched_from;
        saml.allow_idp_initiated = input.allow_idp_initiated.unwrap_or(false);
        saml.attribute_mapping = input.attribute_mapping.unwrap_or_default();
        let now = self.now();
        let connection = SsoConnection {
            id: Uuid::now_v7(),
            org_id: view.org.id,
            name: check_name(input.name.as_deref().unwrap_or(&idp.entity_id))?,
            default_role: role,
            saml,
            created_at: now,
            updated_at: now,
        };
        let added = self
            .org_outcome(Kind::OrgSsoAdded, caller, &view.org, client)
            .with("connection_id", connection.id.to_string())
            .with("type", "saml")
            .with("idp_entity_id", idp.entity_id.as_str())
            .with("certificate_fingerprints", fingerprints(&connection.saml));
        let effects = Effects::of(added);
        if !self.store.insert_sso_connection(&connection, MAX_CONNECTIONS, &effects).await? {
            return Err(Error::field("metadata_xml", "an organization has at most 10 connections"));
        }
        self.settle(&effects).await;
        tracing::info!(org_id = %view.org.id, connection_id = %connection.id, idp = %idp.entity_id, "single sign-on connection added");
        Ok(connection)
    }

    /// Changes a connection: what `input` gives replaces what it had.
    pub async fn update_saml_connection(
        &self,
        caller: &Caller,
        key: &str,
        id: Uuid,
        input: SamlConnectionInput,
        client: &ClientInfo,
    ) -> Result<SsoConnection> {
        let view = self.configuring_idp(caller, key).await?;
        let before = self
            .store
            .sso_connection(id)
            .await?
            .filter(|c| c.org_id == view.org.id)
            .ok_or(Error::NotFoundConnection)?;
        let mut connection = before.clone();
        let mut fields = Vec::new();
        let new_metadata = self.metadata_of(&input).await?;
        if let Some((xml, fetched_from)) = &new_metadata {
            connection.saml = settings_of(&read_metadata(xml)?, Some(&before.saml));
            connection.saml.metadata_url = fetched_from.clone();
            fields.push("metadata");
        }
        if let Some(name) = &input.name {
            connection.name = check_name(name)?;
            fields.push("name");
        }
        if let Some(role) = input.default_role {
            connection.default_role = role;
            fields.push("default_role");
        }
        // Whoever changes a connection (its identity provider above all) must be able to grant
        // the role it joins people with, changed or not.
        self.may_grant_on_join(&view, &connection.default_role, "default_role").await?;
        if let Some(mapping) = input.attribute_mapping {
            connection.saml.attribute_mapping = mapping;
            fields.push("attribute_mapping");
        }
        if let Some(allow) = input.allow_idp_initiated {
            connection.saml.allow_idp_initiated = allow;
            fields.push("allow_idp_initiated");
        }
        connection.updated_at = self.now();
        let mut updated = self
            .org_outcome(Kind::OrgSsoUpdated, caller, &view.org, client)
            .with("connection_id", id.to_string())
            .with("fields", fields);
        if new_metadata.is_some() {
            updated = updated
                .with("idp_entity_id", connection.saml.idp_entity_id.as_str())
                .with("certificate_fingerprints", fingerprints(&connection.saml));
        }
        let effects = Effects::of(updated);
        if !self.store.update_sso_connection(&connection, &effects).await? {
            return Err(Error::NotFoundConnection);
        }
        self.settle(&effects).await;
        Ok(connection)
    }

    /// Removes a connection: its logins waiting at the identity provider fail; the accounts it
    /// made stay (with their passwords, links and other ways in). The last one stays while the
    /// organization requires single sign-on (switch `sso_required` off first).
    pub async fn remove_sso_connection(&self, caller: &Caller, key: &str, id: Uuid, client: &ClientInfo) -> Result<()> {
        let view = self.managing_sso(caller, key).await?;
        if view.org.policy.sso_required && self.store.sso_connections(view.org.id).await?.len() <= 1 {
            let why =
                "the organization requires single sign-on: switch sso_required off before removing its last connection";
            return Err(Error::field("id", why));
        }
        let removed =
            self.org_outcome(Kind::OrgSsoRemoved, caller, &view.org, client).with("connection_id", id.to_string());
        let effects = Effects::of(removed);
        if !self.store.delete_sso_connection(view.org.id, id, &effects).await? {
            return Err(Error::NotFoundConnection);
        }
        self.settle(&effects).await;
        Ok(())
    }
}
