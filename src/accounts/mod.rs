//! The account rules: sign-up and activation, login and sessions, profile reads and edits with
//! their access rules, password change and reset, and the operator's account commands.
//! Nothing here knows about HTTP; every outcome is an [`Error`] variant or a value.

pub mod access;
pub mod admin;
pub mod api_keys;
pub mod authenticator;
pub mod browser;
mod caller;
mod client;
mod commit;
pub mod domains;
mod email_change;
pub mod email_login;
mod error;
pub mod handoff;
pub mod identities;
pub mod impersonation;
pub mod import;
pub mod invitations;
mod key_cache;
pub mod keys;
mod linking;
mod login;
pub mod mfa;
mod new_account;
pub mod oauth;
mod operator;
pub mod org_admin;
pub mod org_roles;
pub mod org_session;
pub mod orgs;
pub mod passkeys;
mod password;
pub mod policy;
mod profile;
pub mod redirect;
pub mod saml_login;
pub mod scim;
mod scim_groups;
mod scim_tokens;
mod session;
mod signup;
pub mod sso;
mod sso_join;
mod sso_metadata;
mod sso_oidc;
pub mod sso_routing;
pub mod throttle;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use url::Url;
use uuid::Uuid;

pub use self::caller::{Caller, CallerKey, CallerSession, Via};
pub use self::client::ClientInfo;
pub use self::email_login::EmailProof;
pub use self::error::{Error, Result};
pub use self::handoff::HandoffProof;
use self::key_cache::Keys;
pub use self::key_cache::{KeyInfo, RELOAD_EVERY as KEY_RELOAD_EVERY};
pub use self::login::{LoginId, LoginStep, TokenPair};
pub use self::mfa::{Enrolment, MfaChallenge, Proof, Reauthenticated, SecondFactor};
pub use self::oauth::tokens::ClientAccessClaims;
pub use self::password::PasswordChange;
pub use self::policy::Policy;
pub use self::profile::Edit;
use self::redirect::RedirectTo;
pub use self::signup::{Activated, SignUp, SignedUp};
use self::throttle::Action;
pub use self::throttle::Throttle;
use crate::audit::AuditLog;
use crate::clock::Clock;
use crate::dns::Dns;
use crate::federation::Providers;
use crate::i18n::Locale;
use crate::mail::outbox::Outbox;
use crate::mail::templates::Rendered;
pub use crate::model::account::FieldError;
use crate::model::account::{Account, Credentials, Status};
use crate::model::outcome::{Kind, Outcome};
use crate::passwords::PasswordHasher;
use crate::sessions::SessionStore;
pub use crate::store::email_login::HandoffBinding;
use crate::store::ports::{
    AccountPorts, AuthenticationPorts, AuthorizationPorts, CorePorts, FederationPorts, OrganizationPorts,
};
use crate::store::{NewEmail, NewOneTimeToken, Store, TokenPurpose};
use crate::tokens::jwt::{Issuing, KeyAlgorithm, KeyRing};
use crate::tokens::opaque::OpaqueToken;
use crate::tokens::sealing::Sealer;
use crate::tokens::verified::VerifiedTokens;

/// The least time forgot-password and resend take to answer, whatever happened: longer than
/// either path's work, so that the answer's timing tells nothing about the account.
pub const ANSWER_FLOOR: Duration = Duration::from_millis(50);

/// Runs `work`, then waits until at least `floor` has passed since it began.
async fn at_least<T>(floor: Duration, work: impl std::future::Future<Output = T>) -> T {
    let started = tokio::time::Instant::now();
    let result = work.await;
    tokio::time::sleep_until(started + floor).await;
    result
}

/// The process's settings: links, token lifetimes and algorithms, what the service is. What is
/// decided for the people who use it is the [`Policy`].
#[derive(Clone, Debug)]
pub struct Settings {
    pub public_url: Url,
    pub access_token_ttl: Duration,
    /// The `aud` of access tokens.
    pub token_audience: String,
    /// The algorithm new tokens (and rotated keys) are signed with.
    pub token_algorithm: KeyAlgorithm,
    /// The algorithm ID tokens are signed with.
    pub id_token_algorithm: KeyAlgorithm,
    pub session_ttl: Duration,
    pub activation_ttl: Duration,
    pub reset_ttl: Duration,
    /// A spent refresh token presented again this soon gets the same new pair.
    pub refresh_grace: Duration,
    /// Webhooks may go to loopback, link-local and private addresses.
    pub webhooks_allow_private: bool,
}

impl Settings {
    /// `{public_url}/{path}?token={token}`, respecting a path prefix in the public URL, and
    /// `&redirect_to=…` where the request named one.
    fn link(&self, path: &str, token: &str, redirect: Option<&RedirectTo>) -> String {
        let mut link = format!("{}/{path}?token={token}", self.public_url.as_str().trim_end_matches('/'));
        if let Some(redirect) = redirect {
            link.push_str("&redirect_to=");
            link.extend(url::form_urlencoded::byte_serialize(redirect.as_str().as_bytes()));
        }
        link
    }

    /// The token issuer: the public URL without a trailing slash.
    pub fn public_url_issuer(&self) -> String {
        self.site().to_owned()
    }

    /// How tokens are issued.
    pub fn issuing(&self) -> Issuing {
        Issuing {
            issuer: self.public_url_issuer(),
            audience: self.token_audience.clone(),
            algorithm: self.token_algorithm,
            id_algorithm: self.id_token_algorithm,
            token_ttl: Some(self.access_token_ttl),
        }
    }

    /// The public URL without a trailing slash.
    fn site(&self) -> &str {
        self.public_url.as_str().trim_end_matches('/')
    }

    fn message_id(&self, id: Uuid) -> String {
        format!("<{id}@{}>", self.public_url.host_str().unwrap_or("gatehouse"))
    }
}

/// What every capability stands on: the process's settings and policy, the clock, the commit
/// step (outbox, audit, counters), callers and their sessions, the signing keys, and the
/// back-channel logout a closed session sends. Each capability below holds its own narrow
/// store and stands on the one it needs ([`std::ops::Deref`]), never on the whole store.
#[derive(Clone, Debug)]
pub struct Core {
    store: Arc<dyn CorePorts>,
    sessions: Arc<dyn SessionStore>,
    hasher: PasswordHasher,
    keys: Keys,
    /// Access tokens whose signature this process has checked (see [`VerifiedTokens`]).
    verified: Arc<VerifiedTokens>,
    /// The same for client apps' access tokens, at the protected resources' door.
    verified_clients: Arc<VerifiedTokens<ClientAccessClaims>>,
    outbox: Outbox,
    settings: Settings,
    /// The policy in force (see [`Policy`]).
    policy: Arc<Policy>,
    throttle: Throttle,
    audit: AuditLog,
    /// Seals the secrets kept for reading back (TOTP seeds, providers' client secrets).
    sealer: Arc<Sealer>,
    /// What "now" is for the rules (the system's time, unless a test moved it on).
    clock: Clock,
}

/// Organizations: their members and roles, domains, invitations, keys and single sign-on
/// settings; and the standing a member's login carries into a session.
#[derive(Clone, Debug)]
pub struct Organizations {
    core: Core,
    store: Arc<dyn OrganizationPorts>,
    /// Asks DNS for the records that prove an organization's domain.
    dns: Dns,
}

/// Authentication: logins by password, second factor, passkey, email link and social
/// provider, the hand-off every browser login ends with, and the sessions they open.
#[derive(Clone, Debug)]
pub struct Authentication {
    organizations: Organizations,
    store: Arc<dyn AuthenticationPorts>,
    /// The WebAuthn relying party; `None` when there is no domain to bind passkeys to.
    webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    /// The social login providers.
    providers: Providers,
}

/// Federation: single sign-on in from an organization's identity provider (SAML, OpenID
/// Connect) and SCIM provisioning of its people and groups.
#[derive(Clone, Debug)]
pub struct Federation {
    authentication: Authentication,
    store: Arc<dyn FederationPorts>,
}

/// The authorization server: clients and their registration, authorization codes, the device
/// grant, token issue, exchange, refresh, introspection and revocation.
#[derive(Clone, Debug)]
pub struct AuthorizationServer {
    organizations: Organizations,
    store: Arc<dyn AuthorizationPorts>,
    /// The key sets of `private_key_jwt` clients, fetched from their `jwks_uri`.
    client_keys: Arc<crate::webhooks::fetch::Kept<jsonwebtoken::jwk::JwkSet>>,
}

/// Accounts: sign-up and activation, the profile, email and password changes, administration,
/// imports and webhooks.
#[derive(Clone, Debug)]
pub struct Accounts {
    authentication: Authentication,
    store: Arc<dyn AccountPorts>,
}

/// Each capability stands on the one below it: its use cases call the lower one's as their own.
macro_rules! stands_on {
    ($service:ty => $field:ident: $below:ty) => {
        impl std::ops::Deref for $service {
            type Target = $below;

            fn deref(&self) -> &$below {
                &self.$field
            }
        }
    };
}
stands_on!(Organizations => core: Core);
stands_on!(Authentication => organizations: Organizations);
stands_on!(Federation => authentication: Authentication);
stands_on!(AuthorizationServer => organizations: Organizations);
stands_on!(Accounts => authentication: Authentication);

/// What the account rules are built from.
#[derive(Debug)]
pub struct Parts {
    pub store: Arc<dyn Store>,
    pub sessions: Arc<dyn SessionStore>,
    pub hasher: PasswordHasher,
    pub keys: Arc<KeyRing>,
    pub outbox: Outbox,
    pub settings: Settings,
    pub policy: Policy,
    pub throttle: Throttle,
    pub audit: AuditLog,
    pub sealer: Arc<Sealer>,
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
    pub providers: Providers,
    pub dns: Dns,
    pub clock: Clock,
}

/// The capabilities the routes, the workers and the operator's commands call, each holding
/// only its own store ports.
#[derive(Clone, Debug)]
pub struct Capabilities {
    pub accounts: Accounts,
    pub authentication: Authentication,
    pub organizations: Organizations,
    pub federation: Federation,
    pub oauth: AuthorizationServer,
}

impl Capabilities {
    pub fn new(parts: Parts) -> Self {
        let store = parts.store;
        let core = Core {
            store: store.clone(),
            sessions: parts.sessions,
            hasher: parts.hasher,
            keys: Keys::new(parts.keys),
            verified: Arc::new(VerifiedTokens::default()),
            verified_clients: Arc::new(VerifiedTokens::default()),
            outbox: parts.outbox,
            settings: parts.settings,
            policy: Arc::new(parts.policy),
            throttle: parts.throttle,
            audit: parts.audit,
            sealer: parts.sealer,
            clock: parts.clock,
        };
        let organizations = Organizations { core, store: store.clone(), dns: parts.dns };
        let (webauthn, providers) = (parts.webauthn, parts.providers);
        let authentication =
            Authentication { organizations: organizations.clone(), store: store.clone(), webauthn, providers };
        Self {
            federation: Federation { authentication: authentication.clone(), store: store.clone() },
            oauth: AuthorizationServer {
                organizations: organizations.clone(),
                store: store.clone(),
                client_keys: Arc::default(),
            },
            accounts: Accounts { authentication: authentication.clone(), store },
            authentication,
            organizations,
        }
    }
}

impl Core {
    /// The time the rules go by (see [`Clock`]).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }

    /// Takes one request of `action` from the client IP's budget; a refusal is audited.
    async fn per_ip(&self, action: Action, client: &ClientInfo) -> Result<()> {
        let result = self.throttle.per_ip(action, client).await;
        if let Err(Error::RateLimited { .. }) = &result {
            self.note(self.outcome(Kind::RateLimited, None, client).with("action", action.as_str()));
        }
        result
    }

    /// An outcome of `kind` about `account`, with where the request came from.
    fn outcome(&self, kind: Kind, account: Option<Uuid>, client: &ClientInfo) -> Outcome {
        let outcome = Outcome::new(kind).origin(client.origin());
        match account {
            Some(account) => outcome.account(account),
            None => outcome,
        }
    }

    /// The signing keys as last loaded.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.current()
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The policy in force: the configuration's, the one place a caller's policy is decided.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Readiness: the database and the session store answer.
    pub async fn check_ready(&self) -> Result<()> {
        self.store.ping().await?;
        self.sessions.ping_sessions().await?;
        Ok(())
    }

    /// Checks a password against a looked-up account (against a dummy hash when there is
    /// none, so both take the same time) and then the account's state. Login and password
    /// change both pass this one gate. Returns the account and, when the stored hash used
    /// outdated parameters, a fresh one.
    async fn verify_credentials(
        &self,
        found: Option<Credentials>,
        password: SecretString,
    ) -> Result<(Account, Option<String>)> {
        let verified = self.hasher.verify(password, found.as_ref().map(|c| c.password_hash.clone())).await?;
        let Some(credentials) = found.filter(|_| verified.matches) else {
            return Err(Error::InvalidCredentials);
        };
        match credentials.account.status {
            Status::Pending => Err(Error::NotActivated),
            Status::Disabled => Err(Error::Disabled),
            Status::Active => Ok((credentials.account, verified.rehashed)),
        }
    }

    /// A one-time token for `purpose` and the email carrying its link, ready to store together.
    fn link_email(
        &self,
        account_id: Uuid,
        recipient: &str,
        locale: Option<Locale>,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
        redirect: Option<&RedirectTo>,
    ) -> (NewOneTimeToken, NewEmail) {
        self.link_email_unlinking(account_id, recipient, locale, purpose, now, redirect, None)
    }

    /// [`Self::link_email`]; an activation's email names `unlinks`, the provider login that
    /// following it removes.
    #[allow(clippy::too_many_arguments)]
    fn link_email_unlinking(
        &self,
        account_id: Uuid,
        recipient: &str,
        locale: Option<Locale>,
        purpose: TokenPurpose,
        now: DateTime<Utc>,
        redirect: Option<&RedirectTo>,
        unlinks: Option<&str>,
    ) -> (NewOneTimeToken, NewEmail) {
        let token = OpaqueToken::generate();
        let letters = self.policy.letters(locale);
        let (path, ttl) = match purpose {
            TokenPurpose::Activation | TokenPurpose::ActivationThroughProvider => {
                ("activate", self.settings.activation_ttl)
            }
            TokenPurpose::PasswordReset => ("password/reset", self.settings.reset_ttl),
        };
        let link = self.settings.link(path, token.expose(), redirect);
        let rendered = match purpose {
            TokenPurpose::Activation => match unlinks {
                Some(provider) => letters.activation_unlinking(&link, ttl, provider),
                None => letters.activation(&link, ttl),
            },
            TokenPurpose::ActivationThroughProvider => letters.activation(&link, ttl),
            TokenPurpose::PasswordReset => letters.password_reset(&link, ttl),
        };
        let record = NewOneTimeToken {
            hash: token.hash,
            account_id,
            purpose,
            created_at: now,
            expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(1)),
        };
        (record, self.email(recipient, rendered, now))
    }

    fn email(&self, recipient: &str, rendered: Rendered, now: DateTime<Utc>) -> NewEmail {
        let id = Uuid::now_v7();
        NewEmail {
            id,
            kind: rendered.kind,
            recipient: recipient.to_owned(),
            subject: rendered.subject,
            text_body: rendered.text,
            html_body: rendered.html,
            message_id: self.settings.message_id(id),
            created_at: now,
        }
    }
}

impl From<FieldError> for Error {
    fn from(error: FieldError) -> Self {
        Error::Validation(vec![error])
    }
}

impl Accounts {
    /// A fresh activation link for a pending account, and its email. When whoever signed up
    /// linked a provider's login, the email names it, and says that confirming here removes it
    /// (it does: only the link of [`TokenPurpose::ActivationThroughProvider`] keeps it).
    async fn activation_email(
        &self,
        account: &Account,
        redirect: Option<&RedirectTo>,
    ) -> Result<(NewOneTimeToken, NewEmail)> {
        let identities = self.store.identities(account.id).await?;
        let linked = identities.first().map(|identity| match self.providers.get(&identity.provider) {
            Some(provider) => provider.config.label.clone(),
            None => identity.provider.clone(),
        });
        let (id, email, locale, now) = (account.id, &account.email, account.locale, self.now());
        Ok(self.link_email_unlinking(id, email, locale, TokenPurpose::Activation, now, redirect, linked.as_deref()))
    }
}
