//! An organization's own OpenID Connect provider as a single sign-on connection
//! (`POST /orgs/{org}/sso/oidc`): social login's flow (`identities.rs`: `state` bound to the
//! browser, `nonce`, PKCE S256, the ID token verified by `openidconnect`, RFC 9207's `iss`),
//! scoped to the organization, its people let in by the just-in-time rules of `sso_join.rs`,
//! and its hand-off code the one of every browser login.
//!
//! What differs from a provider the operator configures: the issuer comes from an
//! organization's admin, so every call to the provider (discovery, keys, token, UserInfo) goes
//! through the webhooks' guard (never a private or loopback address, unless
//! `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true`), and the issuer must be https unless that is set.
//! The client secret is sealed (encrypted) with the connection's id as its place, and never
//! shown again.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::access::matrix::Operation;
use super::identities::{Callback, Outcome, ProviderAnswer, ToProvider, federation_error};
use super::saml_login::HANDOFF_METHOD;
use super::sso::{ConnectionInput, OidcInput, check_name, not_of_kind};
use super::sso_join::SsoPerson;
use super::throttle::Action;
use super::{Caller, ClientInfo, Error, Federation, Organizations, Result};
use crate::config::{ProviderConfig, ProviderKind};
use crate::federation::{Http, Provider};
use crate::model::email_login::HandoffBinding;
use crate::model::org::MEMBER;
use crate::model::outcome::Kind;
use crate::model::sso::{OidcSettings, Protocol, SsoConnection};
use crate::webhooks::guard::Guard;

/// The scopes asked of an organization's provider.
const SCOPES: [&str; 3] = ["openid", "email", "profile"];
/// The longest client id and client secret taken.
const MAX_CLIENT_FIELD: usize = 1024;

/// Where a connection's secret is sealed to: its own id, so a sealed secret copied to another
/// connection does not open.
fn place(id: Uuid) -> Vec<u8> {
    [b"sso-oidc:".as_slice(), id.as_bytes()].concat()
}

fn client_field(field: &'static str, value: &str) -> Result<String> {
    if value.is_empty() || value.len() > MAX_CLIENT_FIELD || value.chars().any(char::is_control) {
        return Err(Error::field(field, "it has 1 to 1024 bytes, none of them control characters"));
    }
    Ok(value.to_owned())
}

impl Federation {
    /// OpenID Connect connection `id`, its provider (kept while the connection is unchanged)
    /// and the guarded client it is called with.
    async fn oidc_connection(&self, id: Uuid) -> Result<(SsoConnection, Arc<Provider>, &Http)> {
        let connection = self.store.sso_connection(id).await?.ok_or(Error::NotFoundConnection)?;
        let oidc = connection.oidc().ok_or(Error::NotFoundConnection)?;
        let version = connection.updated_at.timestamp_micros();
        let provider = self.providers.of_connection(id, version, || {
            let sealed = STANDARD.decode(&oidc.client_secret_sealed)?;
            let secret = self.sealer.open(&sealed, &place(id))?;
            let config = ProviderConfig {
                name: connection.login_key(),
                label: connection.name.clone(),
                kind: ProviderKind::Oidc,
                issuer: oidc.issuer.clone(),
                client_id: oidc.client_id.clone(),
                client_secret: SecretString::from(String::from_utf8(secret.to_vec())?),
                scopes: SCOPES.map(str::to_owned).to_vec(),
                token_auth_post: false,
                trust_email: false,
            };
            Ok(Provider::new(config, url::Url::parse(&self.oidc_redirect_uri(id))?))
        })?;
        let http = self.providers.guarded_http(self.settings.webhooks_allow_private).await.map_err(federation_error)?;
        Ok((connection, provider, http))
    }

    /// Starts a login at OpenID Connect connection `id`'s provider; a browser that finishes it
    /// is sent to `redirect_to` (checked like every `redirect_to`), else to `/account`.
    pub async fn begin_oidc_sso_login(
        &self,
        id: Uuid,
        redirect_to: Option<&str>,
        handoff: HandoffBinding,
        client: &ClientInfo,
    ) -> Result<ToProvider> {
        let (connection, provider, http) = self.oidc_connection(id).await?;
        self.require_active(&connection).await?;
        self.begin_provider_login(&provider, http, redirect_to, handoff, client).await
    }

    /// The provider's callback: the login checked as social login's is, then the person let
    /// in by the just-in-time rules and handed off.
    pub async fn finish_oidc_sso_login(&self, id: Uuid, answer: ProviderAnswer<'_>, client: &ClientInfo) -> Callback {
        let unknown = |outcome| Callback { redirect_to: None, known_login: false, outcome };
        let (connection, provider, http) = match self.oidc_connection(id).await {
            Ok(found) => found,
            Err(error) => return unknown(Err(error)),
        };
        let login = match self.per_ip(Action::Login, client).await {
            Ok(()) => self.spend_social_login(&provider, answer.state).await,
            Err(error) => Err(error),
        };
        let (login, state_hash) = match login {
            Ok(spent) => spent,
            Err(error) => {
                self.sso_failed(&connection, &error, client);
                return unknown(Err(error));
            }
        };
        let redirect_to = self.policy.redirects.recheck(login.redirect_to.as_deref());
        let outcome = match self.verified_identity(&provider, http, &login, &state_hash, answer).await {
            Ok(identity) => {
                let person = SsoPerson {
                    subject: identity.subject,
                    address: identity.email,
                    address_verified: identity.email_verified,
                    name: identity.name,
                };
                self.account_for_sso(&connection, person, client).await
            }
            Err(error) => Err(error),
        };
        let outcome = match outcome {
            Ok(account) => self.hand_off(account.id, HANDOFF_METHOD, &login.handoff).await.map(Outcome::LoggedIn),
            Err(error) => {
                self.sso_failed(&connection, &error, client);
                Err(error)
            }
        };
        let label = if outcome.is_ok() { "success" } else { "refused" };
        crate::metrics::event("gatehouse_oidc_sso_logins_total", "outcome", label);
        Callback { redirect_to, known_login: true, outcome }
    }
}

impl Organizations {
    /// The issuer as given (kept to the byte: the ID token's `iss` must match it), once its
    /// form and where it points now pass: https (unless private addresses are allowed), no
    /// query or fragment, a host that is or resolves to public addresses only.
    async fn check_issuer(&self, issuer: &str) -> Result<String> {
        let unusable =
            |why: &dyn std::fmt::Display| Error::field("issuer", format!("the issuer cannot be used: {why}"));
        let allow_private = self.settings.webhooks_allow_private;
        let url = Guard::new(allow_private).check(issuer).await.map_err(|why| unusable(&why))?;
        if url.scheme() != "https" && !allow_private {
            return Err(unusable(&"it must be https"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(unusable(&"it has no query or fragment"));
        }
        Ok(issuer.to_owned())
    }

    fn seal_secret(&self, id: Uuid, secret: &SecretString) -> Result<String> {
        let secret = client_field("client_secret", secret.expose_secret())?;
        Ok(STANDARD.encode(self.sealer.seal(secret.as_bytes(), &place(id))))
    }

    /// Adds an OpenID Connect connection: the provider is called at the first login (its
    /// discovery document), not now.
    pub async fn add_oidc_connection(
        &self,
        caller: &Caller,
        key: &str,
        input: ConnectionInput,
        client: &ClientInfo,
    ) -> Result<SsoConnection> {
        self.admit(caller, Operation::SsoConnection).await?;
        let view = self.configuring_idp(caller, key).await?;
        if let Some(field) = input.saml.given() {
            return Err(not_of_kind(field, "OpenID Connect"));
        }
        let OidcInput { issuer, client_id, client_secret, allow_unverified_email } = input.oidc;
        let issuer = issuer.ok_or_else(|| Error::field("issuer", "give the provider's issuer"))?;
        let client_id = client_field("client_id", client_id.as_deref().unwrap_or_default())?;
        let secret = client_secret.ok_or_else(|| Error::field("client_secret", "give the client secret"))?;
        let role = input.default_role.unwrap_or_else(|| MEMBER.to_owned());
        self.may_grant_on_join(&view, &role, "default_role").await?;
        let name = check_name(input.name.as_deref().unwrap_or(&issuer))?;
        let issuer = self.check_issuer(&issuer).await?;
        let id = Uuid::now_v7();
        let oidc = OidcSettings {
            client_secret_sealed: self.seal_secret(id, &secret)?,
            issuer,
            client_id,
            allow_unverified_email: allow_unverified_email.unwrap_or(false),
        };
        let added = self
            .org_outcome(Kind::OrgSsoAdded, caller, &view.org, client)
            .with("type", "oidc")
            .with("issuer", oidc.issuer.as_str());
        let now = self.now();
        let connection = SsoConnection {
            id,
            org_id: view.org.id,
            name,
            default_role: role,
            protocol: Protocol::Oidc(oidc),
            created_at: now,
            updated_at: now,
        };
        self.insert_connection(connection, added).await
    }

    /// Applies an OpenID Connect change to `oidc` (connection `id`'s).
    pub(super) async fn change_oidc(
        &self,
        id: Uuid,
        oidc: &mut OidcSettings,
        input: OidcInput,
        fields: &mut Vec<&'static str>,
    ) -> Result<()> {
        if let Some(issuer) = input.issuer.filter(|issuer| *issuer != oidc.issuer) {
            // The secret is the old provider's: sent to the new one, it would be told to
            // whoever runs it. Another provider takes its own secret, given with it.
            if input.client_secret.is_none() {
                let why = "a new issuer takes the client secret registered at that provider: give client_secret too";
                return Err(Error::field("client_secret", why));
            }
            oidc.issuer = self.check_issuer(&issuer).await?;
            fields.push("issuer");
        }
        if let Some(client_id) = input.client_id {
            oidc.client_id = client_field("client_id", &client_id)?;
            fields.push("client_id");
        }
        if let Some(secret) = input.client_secret {
            oidc.client_secret_sealed = self.seal_secret(id, &secret)?;
            fields.push("client_secret");
        }
        if let Some(allow) = input.allow_unverified_email {
            oidc.allow_unverified_email = allow;
            fields.push("allow_unverified_email");
        }
        Ok(())
    }

    /// The callback of OpenID Connect connection `id`, for its provider to send browsers back to.
    pub fn oidc_redirect_uri(&self, id: Uuid) -> String {
        self.public_at(&format!("/sso/oidc/{id}/callback"))
    }
}
