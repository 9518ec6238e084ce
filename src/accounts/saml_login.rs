//! Logging in through an organization's SAML identity provider (SP-initiated).
//!
//! A login sends the browser to the identity provider with an `AuthnRequest` whose `ID` is
//! kept hashed, with a cookie binding it to this browser (named after its `RelayState`). The
//! answer posted to the ACS is checked whole (`federation::saml::response`), then spent in one
//! transaction: the request it answers (once, this connection's, unexpired) and its assertion
//! (never seen before); then the browser must hold the request's cookie. An unsolicited answer
//! (IdP-initiated) logs in only where the connection allows it.
//!
//! Just-in-time rules (social login's, `linking.rs`, made stricter where an organization's own
//! identity provider speaks, which a member holding `sso:manage` and a standing covering
//! `admin` may have set up):
//! - a known identity, keyed on (connection, `NameID`), logs in to its account, unless that
//!   account has become a server admin or this organization's owner since;
//! - a new identity whose address is at a domain the organization verified links to the
//!   account of that address only when that account is active with its address verified, is
//!   no server admin, and belongs to no organization but this one, and not as its owner (else
//!   `identity_not_linked`): a connection must not capture an owner's account, nor one of
//!   another organization;
//! - a new address at such a domain makes a new active account, its address verified (the
//!   organization vouches for its domain; like an invitation, this works with sign-up closed);
//! - a new address anywhere else makes a pending account and sends our confirmation email,
//!   when sign-up is open (else `signup_disabled`): an active account on an address nobody
//!   proved would let any organization's identity provider hold accounts on others' addresses.
//!
//! Each login makes the account a member (`default_role`) if it is not one.

use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use super::new_account::{NewProfile, Submitted};
use super::redirect::RedirectTo;
use super::sso::idp_of;
use super::throttle::Action;
use super::{Accounts, ClientInfo, Error, Result};
use crate::federation::saml::request::{RequestFor, authn_request};
use crate::federation::saml::response::{self, Assertion, EMAIL_FORMAT, Expected};
use crate::model::account::{Account, AccountData, AccountKey, Role, Status};
use crate::model::domain::DomainName;
use crate::model::email_login::HandoffBinding;
use crate::model::org::OWNER;
use crate::model::outcome::{Effects, Kind};
use crate::model::sso::{NewSamlRequest, SamlSpend, SsoConnection};
use crate::store::StoreError;
use crate::store::identities::{Identity, IdentityKey};
use crate::store::sso::SamlAnswer;
use crate::tokens::mac::same;
use crate::tokens::opaque::{OpaqueToken, TokenHash};

/// The method a hand-off code of a SAML login is stored with: the session it opens is of
/// federation (`fed`), and passes the organization's `sso_required`.
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
fn address_of(connection: &SsoConnection, assertion: &Assertion) -> Option<String> {
    if assertion.name_id_format.as_deref() == Some(EMAIL_FORMAT) {
        return Some(assertion.name_id.clone());
    }
    let mapped = connection.saml.attribute_mapping.email.as_deref();
    let names: Vec<&str> = mapped.map_or_else(|| EMAIL_ATTRIBUTES.to_vec(), |name| vec![name]);
    names.iter().find_map(|name| assertion.attributes.get(*name).and_then(|v| v.first()).cloned())
}

impl Accounts {
    async fn connection(&self, id: Uuid) -> Result<SsoConnection> {
        self.store.sso_connection(id).await?.ok_or(Error::NotFoundConnection)
    }

    /// The SP metadata of connection `id` (XML).
    pub async fn saml_metadata(&self, id: Uuid) -> Result<String> {
        self.connection(id).await?;
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
        let connection = self.connection(id).await?;
        let redirect = self.policy.redirect(redirect_to)?;
        self.per_ip(Action::Login, client).await?;
        let idp = idp_of(&connection.saml)?;
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
        let connection = match self.connection(id).await {
            Ok(connection) => connection,
            Err(error) => return unknown(Err(error)),
        };
        if let Err(error) = self.per_ip(Action::Login, client).await {
            return unknown(Err(error));
        }
        let spent = self.spend_saml_answer(&connection, saml_response, binding, unsolicited).await;
        let (assertion, redirect_to, handoff) = match spent {
            Ok(spent) => spent,
            Err(error) => {
                self.saml_failed(&connection, &error, client);
                return unknown(Err(error));
            }
        };
        let unsolicited = assertion.in_response_to.is_none();
        let redirect_to = self.policy.redirects.recheck(redirect_to.as_deref());
        let outcome = match self.account_for_saml(&connection, &assertion, client).await {
            Ok(account) => self.hand_off(account.id, HANDOFF_METHOD, &handoff).await,
            Err(error) => {
                self.saml_failed(&connection, &error, client);
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
        saml_response: &str,
        binding: Option<&str>,
        unsolicited: HandoffBinding,
    ) -> Result<(Assertion, Option<String>, HandoffBinding)> {
        let idp = idp_of(&connection.saml)?;
        let urls = self.sso_urls(connection.id);
        let now = self.now();
        let expected = Expected { sp_entity_id: &urls.sp_entity_id, acs_url: &urls.acs_url, idp: &idp, now };
        let xml = response::decode(saml_response).map_err(refused)?;
        let assertion = response::read(&xml, &expected).map_err(refused)?;
        if assertion.in_response_to.is_none() && !connection.saml.allow_idp_initiated {
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

    fn saml_failed(&self, connection: &SsoConnection, error: &Error, client: &ClientInfo) {
        let reason = match error {
            Error::SamlInvalid(why) => why.clone(),
            other => other.to_string(),
        };
        // A reason may quote the answer (a parser's message): the log and the trail keep its
        // start only.
        let reason: String = reason.chars().take(300).collect();
        tracing::info!(connection_id = %connection.id, org_id = %connection.org_id, %reason, "SAML login refused");
        self.note(self.outcome(Kind::LoginSocialFailed, None, client).detail(json!({
            "provider": connection.provider_name(),
            "org_id": connection.org_id,
            "connection_id": connection.id,
            "reason": reason,
        })));
    }

    /// Whether the organization of `connection` verified the domain of `address`.
    async fn vouched(&self, connection: &SsoConnection, address: &str) -> Result<bool> {
        let Some(domain) = DomainName::of_email(address) else { return Ok(false) };
        let claim = self.store.find_org_domain(connection.org_id, domain.as_str()).await?;
        Ok(claim.is_some_and(|c| c.verified_at.is_some()))
    }

    /// The account a verified assertion logs in to, by the just-in-time rules above.
    async fn account_for_saml(
        &self,
        connection: &SsoConnection,
        assertion: &Assertion,
        client: &ClientInfo,
    ) -> Result<Account> {
        let issuer = connection.identity_issuer();
        let key = IdentityKey { issuer: &issuer, subject: &assertion.name_id };
        let account = match self.store.identity(key).await? {
            Some(identity) => {
                let key = AccountKey::Id(identity.account_id);
                let account = self.store.find_account(&key).await?.ok_or(Error::NotFound)?.account;
                // Promoted since it was linked: the identity provider no longer logs it in.
                if !self.idp_speaks_for(connection, &account, false).await? {
                    tracing::info!(account_id = %account.id, connection_id = %connection.id, "a SAML login of an admin or owner refused");
                    return Err(Error::IdentityNotLinked);
                }
                self.store.identity_used(identity.id, self.now()).await?;
                account
            }
            None => self.link_or_sign_up_by_saml(connection, assertion, key, client).await?,
        };
        let account = match account.status {
            Status::Active => account,
            Status::Pending => return Err(Error::NotActivated),
            Status::Disabled => return Err(Error::Disabled),
        };
        self.sso_gate(&account, Some(connection.org_id), client).await?;
        self.join_by_sso(connection, &account, client).await?;
        tracing::info!(account_id = %account.id, connection_id = %connection.id, "logged in through SAML");
        self.note(self.outcome(Kind::LoginSocial, Some(account.id), client).detail(json!({
            "provider": connection.provider_name(),
            "org_id": connection.org_id,
            "connection_id": connection.id,
        })));
        Ok(account)
    }

    async fn link_or_sign_up_by_saml(
        &self,
        connection: &SsoConnection,
        assertion: &Assertion,
        key: IdentityKey<'_>,
        client: &ClientInfo,
    ) -> Result<Account> {
        let address = address_of(connection, assertion)
            .ok_or_else(|| refused("no address: the NameID is not one and no attribute holds one"))?;
        let vouched = self.vouched(connection, &address).await?;
        let now = self.now();
        let row = |account_id| Identity {
            id: Uuid::now_v7(),
            account_id,
            provider: connection.provider_name(),
            email: Some(address.clone()),
            created_at: now,
            last_login_at: Some(now),
        };
        let detail = json!({ "provider": connection.provider_name(), "org_id": connection.org_id, "connection_id": connection.id });
        if let Some(found) = self.store.find_account(&AccountKey::Email(address.to_lowercase())).await? {
            if !(vouched && self.idp_speaks_for(connection, &found.account, true).await?) {
                tracing::info!(connection_id = %connection.id, vouched, "a new SAML identity's address belongs to an account: not linked");
                return Err(Error::IdentityNotLinked);
            }
            let linked = self.outcome(Kind::IdentityLinked, Some(found.account.id), client).detail(detail);
            let effects = Effects::of(linked);
            match self.store.insert_identity(&row(found.account.id), key, &effects).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(other) => return Err(other.into()),
            }
            self.settle(&effects).await;
            return Ok(found.account);
        }
        if !vouched && !self.policy.signup_open {
            return Err(Error::SignupDisabled);
        }
        let name = connection
            .saml
            .attribute_mapping
            .name
            .as_deref()
            .and_then(|n| assertion.attributes.get(n))
            .and_then(|v| v.first());
        let profile = |name: Option<&str>| {
            NewProfile::parse(Submitted {
                email: &address,
                username: None,
                name,
                data: Ok(AccountData::default()),
                app_data: Ok(AccountData::default()),
                password: None,
            })
        };
        let profile = profile(name.map(String::as_str)).or_else(|_| profile(None)).map_err(Error::Validation)?;
        let hash = self.unknown_password_hash().await?;
        let status = if vouched { Status::Active } else { Status::Pending };
        let mut account = profile.account(hash, Role::User, status, vouched, now);
        account.locale = client.locale;
        let signed_up = self.outcome(Kind::SignupByProvider, Some(account.id), client).detail(detail);
        let mut effects = Effects::of(signed_up.with("active", vouched));
        let activation = (!vouched).then(|| self.activation_through(&account, &connection.name, Some(&address)));
        let token = activation.map(|(token, email)| {
            effects.emails.push(email);
            token
        });
        let stored =
            self.store.insert_account_with_identity(&account, &row(account.id), key, token.as_ref(), &effects).await;
        match stored {
            Ok(()) => {}
            Err(StoreError::EmailTaken) => return Err(Error::IdentityNotLinked),
            Err(StoreError::Conflict) => return Err(Error::IdentityTaken),
            Err(other) => return Err(other.into()),
        }
        self.settle(&effects).await;
        tracing::info!(account_id = %account.id, connection_id = %connection.id, active = vouched, "account made by a SAML login");
        Ok(self.store.find_account(&AccountKey::Id(account.id)).await?.ok_or(Error::NotFound)?.account)
    }

    /// Whether `connection`'s identity provider may log `account` in: never a server admin nor
    /// an owner of this organization, at a first link or at any later login. A `first_link`
    /// (its address at a domain the organization verified) also needs the account active, its
    /// address verified, and in no other organization: see the rules above.
    async fn idp_speaks_for(&self, connection: &SsoConnection, account: &Account, first_link: bool) -> Result<bool> {
        if account.role == Role::Admin {
            return Ok(false);
        }
        if first_link && (account.status != Status::Active || !account.email_verified) {
            return Ok(false);
        }
        // Suspended memberships count: a suspension is no way out of these rules.
        let memberships = self.store.all_memberships(account.id).await?;
        Ok(memberships.iter().all(|m| if m.org.id == connection.org_id { m.role != OWNER } else { !first_link }))
    }

    /// Makes the account a member of the connection's organization, with its default role,
    /// unless it is one.
    async fn join_by_sso(&self, connection: &SsoConnection, account: &Account, client: &ClientInfo) -> Result<()> {
        if self.store.membership(connection.org_id, account.id).await?.is_some() {
            return Ok(());
        }
        if self.store.count_members(connection.org_id).await? >= self.policy.org_member_limit {
            return Err(Error::MemberLimitReached);
        }
        let added = self
            .outcome(Kind::OrgMemberAdded, Some(account.id), client)
            .with("org_id", connection.org_id.to_string())
            .with("role", connection.default_role.as_str())
            .with("via", "sso")
            .with("connection_id", connection.id.to_string());
        let effects = Effects::of(added);
        let role = &connection.default_role;
        if self.store.add_member(connection.org_id, account.id, role, self.now(), &effects).await? {
            self.settle(&effects).await;
        }
        Ok(())
    }
}
