//! An organization's single sign-on connections (`sso:manage`): a SAML 2.0 identity provider
//! of its own, described by the metadata its IT gives, or an OpenID Connect provider of its own
//! (`sso_oidc.rs`), whose people log in through it and join the organization with the
//! connection's `default_role` (see `saml_login.rs`, `oidc_login.rs` and `sso_join.rs`).

use uuid::Uuid;

use super::access::matrix::Operation;
use super::orgs::OrgView;
use super::{Caller, ClientInfo, Error, Organizations, Result};
use crate::federation::saml::metadata::{IdpMetadata, parse_idp_metadata};
use crate::model::org::Permission;
use crate::model::org::{ADMIN, Held, MEMBER, builtin_permissions};
use crate::model::outcome::{Effects, Kind};
use crate::model::sso::{AttributeMapping, Protocol, SamlSettings, SsoConnection, SsoUrls};
use crate::tokens::xmldsig::PinnedCertificate;

/// The most connections one organization may have.
pub const MAX_CONNECTIONS: usize = 10;

/// What an admin gives for a connection; on a change, what is left out stays.
#[derive(Debug, Default)]
pub struct ConnectionInput {
    pub name: Option<String>,
    pub default_role: Option<String>,
    pub saml: SamlInput,
    pub oidc: OidcInput,
}

/// What only a SAML connection takes.
#[derive(Debug, Default)]
pub struct SamlInput {
    /// The identity provider's metadata: on a change, a new one replaces the identity provider
    /// (its certificates: a rollover).
    pub metadata_xml: Option<String>,
    /// Where to fetch it instead (given again on a change, fetched again).
    pub metadata_url: Option<String>,
    pub attribute_mapping: Option<AttributeMapping>,
    pub allow_idp_initiated: Option<bool>,
}

impl SamlInput {
    /// The first field it gives, if any.
    pub(super) fn given(&self) -> Option<&'static str> {
        [
            ("metadata_xml", self.metadata_xml.is_some()),
            ("metadata_url", self.metadata_url.is_some()),
            ("attribute_mapping", self.attribute_mapping.is_some()),
            ("allow_idp_initiated", self.allow_idp_initiated.is_some()),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name))
    }
}

/// What only an OpenID Connect connection takes.
#[derive(Debug, Default)]
pub struct OidcInput {
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<secrecy::SecretString>,
    /// Whether an ID token without `email_verified` may make a new account (see
    /// `OidcSettings::allow_unverified_email`).
    pub allow_unverified_email: Option<bool>,
}

impl OidcInput {
    /// The first field it gives, if any.
    pub(super) fn given(&self) -> Option<&'static str> {
        [
            ("issuer", self.issuer.is_some()),
            ("client_id", self.client_id.is_some()),
            ("client_secret", self.client_secret.is_some()),
            ("allow_unverified_email", self.allow_unverified_email.is_some()),
        ]
        .into_iter()
        .find_map(|(name, given)| given.then_some(name))
    }
}

/// A field given to a connection of the other kind.
pub(super) fn not_of_kind(field: &'static str, kind: &str) -> Error {
    Error::field(field, format!("this field is not one of a {kind} connection"))
}

pub(super) fn check_name(name: &str) -> Result<String> {
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
        // Once another identity provider takes the connection, the identities keyed on the
        // connection alone stay the last one's.
        legacy_idp: before.and_then(|b| match &b.legacy_idp {
            Some(linked_under) => Some(linked_under.clone()),
            None => (b.idp_entity_id != idp.entity_id).then(|| b.idp_entity_id.clone()),
        }),
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

/// Whom a changed connection trusts now, when that changed (another identity provider, or other
/// keys of one): the provider as it names itself, and its keys as the owners can check them.
fn idp_change(before: &Protocol, after: &Protocol) -> Option<(String, String)> {
    match (before, after) {
        (Protocol::Saml(old), Protocol::Saml(new))
            if old.idp_entity_id != new.idp_entity_id || old.certificates != new.certificates =>
        {
            Some((new.idp_entity_id.clone(), fingerprints(new).join(", ")))
        }
        (Protocol::Oidc(old), Protocol::Oidc(new)) if old.issuer != new.issuer => {
            let discovery = format!("{}/.well-known/openid-configuration", new.issuer.trim_end_matches('/'));
            Some((new.issuer.clone(), discovery))
        }
        _ => None,
    }
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

impl Organizations {
    /// The metadata an input gives, pasted or by URL (fetched now), with the URL it came from;
    /// none when it gives neither.
    async fn metadata_of(&self, input: &SamlInput) -> Result<Option<(String, Option<String>)>> {
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
        self.org_with(caller, key, Permission::SsoManage).await
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

    /// `path` under this gatehouse's public URL.
    pub(super) fn public_at(&self, path: &str) -> String {
        let mut url = self.settings.public_url.clone();
        let path = format!("{}{path}", url.path().trim_end_matches('/'));
        url.set_path(&path);
        url.to_string()
    }

    /// Where an app sends a browser to log in through `connection`.
    pub fn sso_login_url(&self, connection: &SsoConnection) -> String {
        self.public_at(&format!("/sso/{}/{}/login", connection.protocol.kind(), connection.id))
    }

    /// The URLs of SAML connection `id` under this gatehouse's public URL.
    pub fn sso_urls(&self, id: Uuid) -> SsoUrls {
        let at = |leaf: &str| self.public_at(&format!("/sso/saml/{id}/{leaf}"));
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
        input: ConnectionInput,
        client: &ClientInfo,
    ) -> Result<SsoConnection> {
        self.admit(caller, Operation::SsoConnection).await?;
        let view = self.configuring_idp(caller, key).await?;
        if let Some(field) = input.oidc.given() {
            return Err(not_of_kind(field, "SAML"));
        }
        let (xml, fetched_from) = match self.metadata_of(&input.saml).await? {
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
        saml.allow_idp_initiated = input.saml.allow_idp_initiated.unwrap_or(false);
        saml.attribute_mapping = input.saml.attribute_mapping.unwrap_or_default();
        let now = self.now();
        let added = self
            .org_outcome(Kind::OrgSsoAdded, caller, &view.org, client)
            .with("type", "saml")
            .with("idp_entity_id", idp.entity_id.as_str())
            .with("certificate_fingerprints", fingerprints(&saml));
        let connection = SsoConnection {
            id: Uuid::now_v7(),
            org_id: view.org.id,
            name: check_name(input.name.as_deref().unwrap_or(&idp.entity_id))?,
            default_role: role,
            protocol: Protocol::Saml(saml),
            created_at: now,
            updated_at: now,
        };
        self.insert_connection(connection, added).await
    }

    /// Stores a new connection, `added` its audit event.
    pub(super) async fn insert_connection(
        &self,
        connection: SsoConnection,
        added: crate::model::outcome::Outcome,
    ) -> Result<SsoConnection> {
        let effects = Effects::of(added.with("connection_id", connection.id.to_string()));
        if !self.commit(&effects, self.store.insert_sso_connection(&connection, MAX_CONNECTIONS, &effects)).await? {
            return Err(Error::field("name", "an organization has at most 10 connections"));
        }
        let kind = connection.protocol.kind();
        tracing::info!(org_id = %connection.org_id, connection_id = %connection.id, kind, "single sign-on connection added");
        Ok(connection)
    }

    /// Changes a connection: what `input` gives replaces what it had.
    pub async fn update_sso_connection(
        &self,
        caller: &Caller,
        key: &str,
        id: Uuid,
        input: ConnectionInput,
        client: &ClientInfo,
    ) -> Result<SsoConnection> {
        self.admit(caller, Operation::SsoMetadata).await?;
        let view = self.configuring_idp(caller, key).await?;
        let before = self
            .store
            .sso_connection(id)
            .await?
            .filter(|c| c.org_id == view.org.id)
            .ok_or(Error::NotFoundConnection)?;
        let mut connection = before.clone();
        let mut fields = Vec::new();
        let mut new_idp = None;
        match &mut connection.protocol {
            Protocol::Saml(saml) => {
                if let Some(field) = input.oidc.given() {
                    return Err(not_of_kind(field, "SAML"));
                }
                new_idp = self.change_saml(saml, input.saml, &mut fields).await?;
            }
            Protocol::Oidc(oidc) => {
                if let Some(field) = input.saml.given() {
                    return Err(not_of_kind(field, "OpenID Connect"));
                }
                self.change_oidc(id, oidc, input.oidc, &mut fields).await?;
            }
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
        connection.updated_at = self.now();
        let mut updated = self
            .org_outcome(Kind::OrgSsoUpdated, caller, &view.org, client)
            .with("connection_id", id.to_string())
            .with("fields", fields);
        if let Some(saml) = new_idp {
            updated = updated
                .with("idp_entity_id", saml.idp_entity_id.as_str())
                .with("certificate_fingerprints", fingerprints(&saml));
        }
        if let Protocol::Oidc(oidc) = &connection.protocol {
            updated = updated.with("issuer", oidc.issuer.as_str());
        }
        let trusted = idp_change(&before.protocol, &connection.protocol);
        let mut effects = Effects::of(updated.with("idp_changed", trusted.is_some()));
        // Whom the connection trusts changed: every owner hears of it, whoever made the change.
        if let Some((idp, keys)) = trusted {
            let now = self.now();
            for owner in self.org_owners(view.org.id).await? {
                let letters = self.policy.letters(owner.locale);
                let letter = letters.sso_idp_changed(&view.org.name, &id.to_string(), &idp, &keys);
                effects.emails.push(self.email(&owner.email, letter, now));
            }
        }
        if !self.commit(&effects, self.store.update_sso_connection(&connection, &effects)).await? {
            return Err(Error::NotFoundConnection);
        }
        Ok(connection)
    }

    /// Applies a SAML change to `saml`; the settings of a new identity provider, when it names one.
    async fn change_saml(
        &self,
        saml: &mut SamlSettings,
        input: SamlInput,
        fields: &mut Vec<&'static str>,
    ) -> Result<Option<SamlSettings>> {
        let mut new_idp = None;
        if let Some((xml, fetched_from)) = self.metadata_of(&input).await? {
            *saml = settings_of(&read_metadata(&xml)?, Some(saml));
            saml.metadata_url = fetched_from;
            fields.push("metadata");
            new_idp = Some(saml.clone());
        }
        if let Some(mapping) = input.attribute_mapping {
            saml.attribute_mapping = mapping;
            fields.push("attribute_mapping");
        }
        if let Some(allow) = input.allow_idp_initiated {
            saml.allow_idp_initiated = allow;
            fields.push("allow_idp_initiated");
        }
        Ok(new_idp)
    }

    /// The organization's owners' accounts, for what they must be told.
    async fn org_owners(&self, org_id: Uuid) -> Result<Vec<crate::model::account::Account>> {
        let mut owners = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list_members(org_id, after, super::admin::MAX_PAGE).await?;
            for member in page.iter().filter(|m| super::access::is_owner_role(&m.role) && !m.suspended) {
                let found = self.store.find_account(&crate::model::account::AccountKey::Id(member.account_id)).await?;
                owners.extend(found.map(|f| f.account));
            }
            match page.last() {
                Some(last) if page.len() as u32 == super::admin::MAX_PAGE => {
                    after = Some(crate::model::org::MemberCursor::of(last))
                }
                _ => return Ok(owners),
            }
        }
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
        if !self.commit(&effects, self.store.delete_sso_connection(view.org.id, id, &effects)).await? {
            return Err(Error::NotFoundConnection);
        }
        Ok(())
    }
}
