//! Persistence: the ports the account rules and the workers see, and the SQL store that
//! implements them. The core port is one narrow trait per concern ([`AccountStore`],
//! [`TokenStore`], [`OutboxStore`], [`KeyStore`], [`MfaStore`], [`PasskeyStore`],
//! [`AdminStore`], [`EmailChangeStore`], [`EmailLoginStore`], [`IdentityStore`],
//! [`ClientStore`], [`InitialTokenStore`], [`DeviceStore`], [`OrgStore`], [`OrgRoleStore`], [`OrgDomainStore`], [`SsoStore`], [`ScimStore`], [`ScimGroupStore`], [`InvitationStore`], [`WebhookStore`], [`JobStore`], and the audit trail's and
//! rate limits' own), gathered in [`Store`]: every backend has them all, and each consumer takes only the
//! trait it needs (the job workers a [`JobStore`], the key loader a [`KeyStore`]). A backend
//! may also offer optional capabilities, asked for through [`Store`]: [`maintenance`] (the paced
//! purge of what has expired), [`seeding`] (bulk writes for the benchmark) and [`probe`]
//! (counting for the conformance tests).
//!
//! `sql/` implements them all once, over a dialect; `sqlite/`, `postgres/` and `mysql/` are
//! the dialects; `open.rs` picks one by the URL's scheme. A unique violation becomes
//! [`StoreError::EmailTaken`] or [`StoreError::UsernameTaken`] in each dialect's error
//! mapping, and an unreachable or full database becomes [`StoreError::Unavailable`].

pub mod accounts;
pub mod admin;
pub mod api_keys;
pub mod clients;
pub mod copying;
pub mod devices;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
pub mod email_change;
pub mod email_login;
pub mod error;
pub mod identities;
pub mod import;
pub mod invitations;
pub mod jobs;
pub mod keys;
pub mod maintenance;
pub mod mfa;
pub mod migrations;
pub mod mysql;
mod open;
pub mod org_domains;
pub mod org_roles;
pub mod orgs;
pub mod outbox;
pub mod passkeys;
pub mod ports;
pub mod postgres;
pub mod probe;
pub mod scim;
pub mod seeding;
pub mod sql;
pub mod sqlite;
pub mod sso;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use self::accounts::{AccountStore, NewAccount, ProfileChange};
use self::admin::AdminStore;
pub use self::api_keys::ApiKeyStore;
pub use self::clients::{ClientStore, InitialTokenStore};
pub use self::devices::DeviceStore;
use self::email_change::EmailChangeStore;
pub use self::email_login::EmailLoginStore;
pub use self::error::{StoreError, StoreResult};
pub use self::identities::IdentityStore;
pub use self::import::ImportStore;
pub use self::invitations::InvitationStore;
pub use self::jobs::JobStore;
pub use self::keys::KeyStore;
use self::maintenance::MaintenanceStore;
pub use self::mfa::MfaStore;
pub use self::open::{connect, migrate};
pub use self::org_domains::OrgDomainStore;
pub use self::org_roles::OrgRoleStore;
pub use self::orgs::OrgStore;
pub use self::outbox::{NewEmail, OutboxStore, QueuedEmail};
pub use self::passkeys::PasskeyStore;
pub use self::ports::{
    AccountPorts, AuthenticationPorts, AuthorizationPorts, CorePorts, FederationPorts, Health, OrganizationPorts,
};
use self::probe::Probe;
pub use self::scim::{ScimGroupStore, ScimStore};
use self::seeding::SeedingStore;
pub use self::sso::SsoStore;
pub use self::tokens::{NewOneTimeToken, OneTimeToken, TokenPurpose, TokenStore};
pub use self::webhooks::{Event, EventType, WebhookStore};
use crate::audit::AuditStore;
use crate::limits::LimitStore;
pub use crate::priority::Pace;
use crate::sessions::SessionStore;

/// What the account rules need from a database, every concern together. The audit trail,
/// email changes and (when no Redis is configured) rate limits live in the same database.
#[async_trait]
pub trait Store:
    CorePorts
    + OrganizationPorts
    + AuthenticationPorts
    + FederationPorts
    + AuthorizationPorts
    + AccountPorts
    + AccountStore
    + Health
    + TokenStore
    + OutboxStore
    + JobStore
    + KeyStore
    + MfaStore
    + PasskeyStore
    + AdminStore
    + AuditStore
    + EmailChangeStore
    + EmailLoginStore
    + IdentityStore
    + ClientStore
    + InitialTokenStore
    + DeviceStore
    + OrgStore
    + OrgRoleStore
    + OrgDomainStore
    + SsoStore
    + ScimStore
    + ScimGroupStore
    + ApiKeyStore
    + InvitationStore
    + ImportStore
    + WebhookStore
    + LimitStore
    + Send
    + Sync
    + std::fmt::Debug
    + 'static
{
    /// Removing what has expired, in paced batches: an optional capability (see
    /// [`maintenance`]); `None` when the database expires items on its own.
    fn maintenance(&self) -> Option<&dyn MaintenanceStore> {
        None
    }
    /// Counting what the store holds, for the conformance tests only (see [`probe`]).
    fn probe(&self) -> Option<&dyn Probe> {
        None
    }
    /// Seeding in bulk, for the benchmark and the growth tests: an optional capability (see
    /// [`seeding`]); `None` when the backend does not offer it.
    fn seeding(&self) -> Option<&dyn SeedingStore> {
        None
    }
}

/// How to connect to a database.
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// The largest number of pooled connections.
    pub max_connections: u32,
    /// The bound on connecting, on waiting for a pooled connection, and on one statement.
    pub timeout: Duration,
}

/// A database store that also keeps sessions (used when no Redis is configured).
pub trait FullStore: Store + SessionStore {
    fn into_parts(self: Arc<Self>) -> (Arc<dyn Store>, Arc<dyn SessionStore>);
}

impl<T: Store + SessionStore> FullStore for T {
    fn into_parts(self: Arc<Self>) -> (Arc<dyn Store>, Arc<dyn SessionStore>) {
        (self.clone(), self)
    }
}

/// The store, and the session store it provides when no Redis is configured.
#[derive(Clone, Debug)]
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub sessions: Arc<dyn SessionStore>,
}
