//! The store as each capability of the account rules holds it: only the ports its use cases
//! call. `Store` has every bundle as a supertrait, so the one store a backend
//! opens is handed to each capability narrowed to its bundle; a capability that reaches for a
//! port outside it does not compile.
//!
//! A bundle names ports, nothing else: each is implemented for whatever implements its ports.

use async_trait::async_trait;

use super::accounts::AccountStore;
use super::admin::AdminStore;
use super::api_keys::ApiKeyStore;
use super::clients::{ClientStore, InitialTokenStore};
use super::devices::DeviceStore;
use super::email_change::EmailChangeStore;
use super::email_login::EmailLoginStore;
use super::error::StoreResult;
use super::identities::IdentityStore;
use super::import::ImportStore;
use super::invitations::InvitationStore;
use super::jobs::JobStore;
use super::keys::KeyStore;
use super::mfa::MfaStore;
use super::org_domains::OrgDomainStore;
use super::org_roles::OrgRoleStore;
use super::orgs::OrgStore;
use super::outbox::OutboxStore;
use super::passkeys::PasskeyStore;
use super::scim::{ScimGroupStore, ScimStore};
use super::sso::SsoStore;
use super::tokens::TokenStore;
use super::webhooks::WebhookStore;

/// Whether the database answers, for readiness.
#[async_trait]
pub trait Health: Send + Sync + std::fmt::Debug + 'static {
    /// A cheap round trip.
    async fn ping(&self) -> StoreResult<()>;
}

/// Declares a bundle of ports and implements it for everything that has them all.
macro_rules! bundle {
    ($(#[$doc:meta])* $name:ident: $($port:ident),+) => {
        $(#[$doc])*
        pub trait $name: $($port+)+ Send + Sync + std::fmt::Debug {}
        impl<T: ?Sized + $($port+)+ Send + Sync + std::fmt::Debug> $name for T {}
    };
}

bundle! {
    /// What every capability stands on: callers and their sessions (and the keys and SCIM
    /// tokens the authenticator resolves), the signing keys, the commit step's outbox and jobs,
    /// and the back-channel logout a closed session sends.
    CorePorts: Health, AccountStore, MfaStore, KeyStore, OutboxStore, JobStore, ClientStore, ApiKeyStore, OrgStore, ScimStore
}

bundle! {
    /// Organizations: members, roles, domains, invitations, keys, single sign-on settings.
    OrganizationPorts: AccountStore, MfaStore, OrgStore, OrgRoleStore, OrgDomainStore, InvitationStore, ApiKeyStore, SsoStore, ScimStore
}

bundle! {
    /// Authentication: logins by password, second factor, passkey, email link and provider.
    AuthenticationPorts: AccountStore, MfaStore, PasskeyStore, EmailLoginStore, IdentityStore, TokenStore, ImportStore
}

bundle! {
    /// Federation: single sign-on in (SAML, OpenID Connect) and SCIM provisioning.
    FederationPorts: AccountStore, OrgStore, OrgDomainStore, SsoStore, ScimStore, ScimGroupStore, IdentityStore
}

bundle! {
    /// The authorization server: clients, their registration, codes, devices and grants.
    AuthorizationPorts: AccountStore, OrgStore, ClientStore, InitialTokenStore, DeviceStore, JobStore
}

bundle! {
    /// Accounts: sign-up, profile, email change, administration, imports and webhooks.
    AccountPorts: AccountStore, AdminStore, TokenStore, EmailChangeStore, IdentityStore, MfaStore, ImportStore, WebhookStore
}
