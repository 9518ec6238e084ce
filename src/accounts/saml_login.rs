//! Logging in through an organization's SAML identity provider (SP-initiated).
//!
//! A login sends the browser to the identity provider with an `AuthnRequest` whose `ID` is
//! kept hashed, with a cookie binding it to this browser (named after its `RelayState`). The
//! answer posted to the ACS is checked whole (`federation::saml::response`), then spent in one
//! transaction: the request it answers (once, this connection's, unexpired) and its assertion
//! (never seen before); then the browser must hold the request's cookie. An unsolicited answer
//! (IdP-initiated) logs in only where the connection allows it.
//!
//! Who logs in is decided by the just-in-time rules of `sso_join.rs`, shared with OpenID Connect
//! connections.

use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use super::redirect::RedirectTo;
use super::sso::idp_of;
use super::sso_join::SsoPerson;
use super::throttle::Action;
use super::{ClientInfo, Error, Federation, Result};
use crate::federation::saml::request::{RequestFor, authn_request};
use crate::federation::saml::response::{self, Assertion, EMAIL_FORMAT, Expected};
use crate::model::email_login::HandoffBinding;
use crate::model::outcome::Kind;
use crate::model::sso::{NewSamlRequest, SamlSettings, SamlSpend, SsoConnection};
use crate::store::sso::SamlAnswer;
use crate::tokens::mac::same;
use crate::tokens::opaque::{OpaqueToken, TokenHash};

/// The method a hand-off code of a single sign-on login (SAML or OpenID Connect) is stored
/// with: the session it opens is of federation (`fed`), and passes the organization's
/// `sso_required`.
pub const HANDOFF_METHOD: &str = "sso";

/// The attributes an address is looked for in when the `NameID` is not one and the connection
/// maps none: the common names of Okta, Entra ID, Google and the LDAP `mail` OID.
const EMAIL_ATTRIBUTES: [&str; 5] = [
    "email",
    "mail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "emailAddress",
];

/// A login on its way to the identity provider.
#[derive(Debug)]
pub struct ToIdp {
    pub url: url::Url,
    pub cookie_name: String,
    pub cookie_value: SecretString,
}

/// What an ACS post came to: where the login asked to go (known once its request is spent),
/// and the hand-off code or why not.
#[derive(Debug)]
pub struct SamlCallback {
    pub redirect_to: Option<RedirectTo>,
    pub known_login: bool,
    /// Whether the hand-off code is bound to the binding given for an unsolicited answer (the
    /// browser must be given it); a solicited one's is the binding its login started with.
    pub unsolicited: bool,
    pub outcome: Result<SecretString>,
}

/// The name of the cookie binding the login of `relay_state` to its browser.
pub fn binding_cookie(relay_state: &str) -> String {
    let hash = TokenHash::of(relay_state);
    let short: String = hash.as_bytes()[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("gatehouse_saml_{short}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn refused(why: impl std::fmt::Display) -> Error {
    Error::SamlInvalid(why.to_string())
}

/// The address an assertion gives: its `NameID` when of the emailAddress format, else the
/// mapped attribute (or a common one).
fn address_of(saml: &SamlSettings, assertion: &Assertion) -> Option<String> {
    if assertion.name_id_format.as_deref() == Some(EMAIL_FORMAT) {
        return Some(assertion.name_id.clone());
    }
    let mapped = saml.attribute_mapping.email.as_deref();
    let names: Vec<&str> = mapped.map_or_else(|| EMAIL_ATTRIBUTES.to_vec(), |name| vec![name]);
    names.iter().find_map(|name| assertion.attributes.get(*name).and_then(|v| v.first()).cloned())
}

/// The person an assertion names.
fn person_of(saml: &SamlSettings, assertion: &Assertion) -> SsoPerson {
    let name = saml.attribute_mapping.name.as_deref().and_then(|n| assertion.attributes.get(n)).and_then(|v| v.first());
    // The organization's own identity provider signed the assertion: it stands for the address.
    SsoPerson {
        subject: assertion.name_id.clone(),
        address: address_of(saml, assertion),
        address_verified: true,
        name: name.cloned(),
    }
}

impl Federation {
    /// SAML connection `id` and its settings.
    async fn saml_connection(&self, id: Uuid) -> Result<(SsoConnection, SamlSettings)> {
        let connection = self.store.sso_connection(id).await?.ok_or(Error::NotFoundConnection)?;
        let saml = connection.saml().cloned().ok_or(Error::NotFoundConnection)?;
        Ok((connection, saml))
    }

    /// The SP metadata of connection `id` (XML).
    pub async fn saml_metadata(&self, id: Uuid) -> Result<String> {
        self.saml_connection(id).await?;
        let urls = self.sso_urls(id);
        Ok(crate::federation::saml::metadata::sp_metadata(&urls.sp_entity_id, &urls.acs_url))
    }

    /// Starts a login at connection `id`'s identity provider; a browser that finishes it is
    /// sent to `redirect_to` (checked like every `redirect_to`), else to `/account`.
    pub async fn begin_saml_login(
        &self,
        id: Uuid,
        redirect_to: Option<&str>,
        handoff: HandoffBinding,
        client: &ClientInfo,
    ) -> Result<ToIdp> {
        let (connection, saml) = self.saml_connection(id).await?;
        self.require_active(&connection).await?;
        let redirect = self.policy.redirect(redirect_to)?;
        self.per_ip(Action::Login, client).await?;
        let idp = idp_of(&saml)?;
        let request_id = format!("_{}", hex(OpaqueToken::generate().hash.as_bytes()));
        let relay = OpaqueToken::generate();
        let binding = OpaqueToken::generate();
        let urls = self.sso_urls(id);
        let now = self.now();
        let request = authn_request(RequestFor {
            sp_entity_id: &urls.sp_entity_id,
            acs_url: &urls.acs_url,
            sso_url: &idp.sso_url,
            id: request_id,
            relay_state: relay.expose(),
            now,
        });
        let pending = NewSamlRequest {
            hash: TokenHash::of(&request.id),
            connection_id: id,
            binding_hash: binding.hash,
            redirect_to: redirect.map(|r| r.as_str().to_owned()),
            handoff,
            created_at: now,
            expires_at: now + chrono::Duration::from_std(super::identities::LOGIN_TTL).unwrap_or_default(),
        };
        self.store.insert_saml_request(&pending).await?;
        Ok(ToIdp { url: request.url, cookie_name: binding_cookie(relay.expose()), cookie_value: binding.secret })
    }

    /// The identity provider's answer, posted to the ACS: checked, spent, and logged in by the
    /// rules above. `binding` is the value of the cookie `RelayState` names; `unsolicited` the
    /// hand-off binding of this browser, for an answer no request of ours asked for.
    pub async fn finish_saml_login(
        &self,
        id: Uuid,
        saml_response: &str,
        binding: Option<&str>,
        unsolicited: HandoffBinding,
        client: &ClientInfo,
    ) -> SamlCallback {
        let unknown = |outcome| SamlCallback { redirect_to: None, known_login: false, unsolicited: false, outcome };
        let (connection, saml) = match self.saml_connection(id).await {
            Ok(found) => found,
            Err(error) => return unknown(Err(error)),
        };
        if let Err(error) = self.per_ip(Action::Login, client).await {
            return unknown(Err(error));
        }
        let spent = self.spend_saml_answer(&connection, &saml, saml_response, binding, unsolicited).await;
        let (assertion, redirect_to, handoff) = match spent {
            Ok(spent) => spent,
            Err(error) => {
                self.sso_failed(&connection, &error, client);
                return unknown(Err(error));
            }
        };
        let unsolicited = assertion.in_response_to.is_none();
        let redirect_to = self.policy.redirects.recheck(redirect_to.as_deref());
        let outcome = match self.account_for_sso(&connection, person_of(&saml, &assertion), client).await {
            Ok(account) => self.hand_off(account.id, HANDOFF_METHOD, &handoff).await,
            Err(error) => {
                self.sso_failed(&connection, &error, client);
                Err(error)
            }
        };
        let label = if outcome.is_ok() { "success" } else { "refused" };
        crate::metrics::event("gatehouse_saml_logins_total", "outcome", label);
        SamlCallback { redirect_to, known_login: true, unsolicited, outcome }
    }

    /// Checks the answer and spends it: its assertion, and the login's `redirect_to` and
    /// hand-off binding.
    async fn spend_saml_answer(
        &self,
        connection: &SsoConnection,
        saml: &SamlSettings,
        saml_response: &str,
        binding: Option<&str>,
        unsolicited: HandoffBinding,
    ) -> Result<(Assertion, Option<String>, HandoffBinding)> {
        let idp = idp_of(saml)?;
        let urls = self.sso_urls(connection.id);
        let now = self.now();
        let expected = Expected { sp_entity_id: &urls.sp_entity_id, acs_url: &urls.acs_url, idp: &idp, now };
        let xml = response::decode(saml_response).map_err(refused)?;
        let assertion = response::read(&xml, &expected).map_err(refused)?;
        if assertion.in_response_to.is_none() && !saml.allow_idp_initiated {
            return Err(refused("an unsolicited answer (IdP-initiated), which this connection does not take"));
        }
        let request_hash = assertion.in_response_to.as_deref().map(TokenHash::of);
        let assertion_hash = TokenHash::of(&format!("{}:{}", connection.id.simple(), assertion.id));
        let answer = SamlAnswer {
            connection_id: connection.id,
            request: request_hash.as_ref(),
            assertion: &assertion_hash,
            assertion_expires_at: assertion.expires_at,
            now,
        };
        match self.store.spend_saml_answer(&answer).await? {
            SamlSpend::Spent(Some(request)) => {
                let bound = binding
                    .is_some_and(|cookie| same(TokenHash::of(cookie).as_bytes(), request.binding_hash.as_bytes()));
                if !bound {
                    return Err(refused("the answer reached a browser other than the one that started the login"));
                }
                Ok((assertion, request.redirect_to, request.handoff))
            }
            SamlSpend::Spent(None) => Ok((assertion, None, unsolicited)),
            SamlSpend::UnknownRequest => {
                Err(refused("InResponseTo names no waiting login of this connection (unknown, used or expired)"))
            }
            SamlSpend::Replayed => Err(refused("the assertion was used before (a replay)")),
        }
    }

    /// Logs and audits a refused single sign-on login (SAML or OpenID Connect).
    pub(super) fn sso_failed(&self, connection: &SsoConnection, error: &Error, client: &ClientInfo) {
        let reason = match error {
            Error::SamlInvalid(why) | Error::OidcFailed(why) | Error::ProviderUnavailable(why) => why.clone(),
            other => other.to_string(),
        };
        // A reason may quote the answer (a parser's message): the log and the trail keep its
        // start only.
        let reason: String = reason.chars().take(300).collect();
        let kind = connection.protocol.kind();
        tracing::info!(connection_id = %connection.id, org_id = %connection.org_id, kind, %reason, "single sign-on login refused");
        self.note(self.outcome(Kind::LoginSocialFailed, None, client).detail(json!({
            "provider": connection.provider_name(),
            "org_id": connection.org_id,
            "connection_id": connection.id,
            "reason": reason,
        })));
    }
}
