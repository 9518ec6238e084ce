//! The probe: what the store conformance tests count through the port, rather than through
//! one backend's query language, so the same tests hold every backend to the same account of
//! what it keeps. Read-only and never asked by the server; a backend offers it through
//! `Store::probe`.

use async_trait::async_trait;
use uuid::Uuid;

use super::error::StoreResult;

/// What [`Probe::count`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// Sessions kept in the database (live or expired).
    Sessions,
    /// The distinct accounts those sessions belong to.
    SessionOwners,
    /// Refresh tokens, spent or current.
    RefreshTokens,
    /// One-time tokens (links and codes), spent or not.
    OneTimeTokens,
    AuditEvents,
    /// Email-change links.
    EmailChanges,
    /// Rate-limit and failure-count entries.
    RateLimits,
    /// Emails in the job queue, whatever their state.
    Emails,
    /// Confirmed or pending authenticator apps.
    Authenticators,
    RecoveryCodes,
    /// Social identities.
    Identities,
    /// Client apps.
    Clients,
    /// The distinct generations of the signing keys.
    KeyGenerations,
    /// The highest generation of a signing key.
    NewestKeyGeneration,
}

#[async_trait]
pub trait Probe: Send + Sync + std::fmt::Debug + 'static {
    /// How many of `what` the store holds.
    async fn count(&self, what: Held) -> StoreResult<u64>;
    /// Whether the queued email `id` is held with its bodies erased (as once it is sent).
    async fn email_erased(&self, id: Uuid) -> StoreResult<bool>;
}
