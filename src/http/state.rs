//! What every handler can reach: the account service, the outbox, the audit trail, and how
//! the edge treats browsers and proxies.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::accounts::Accounts;
use crate::audit::AuditLog;
use crate::mail::outbox::Outbox;

/// What every handler can reach. Every request gets a copy, so it is one shared pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    pub accounts: Accounts,
    pub outbox: Outbox,
    pub audit: AuditLog,
    pub edge: Arc<Edge>,
    /// The last mail-server check and its outcome, so readiness probes stay cheap.
    pub mailer_health: Mutex<Option<(Instant, bool)>>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// How the HTTP edge treats browsers and proxies.
#[derive(Clone, Debug, Default)]
pub struct Edge {
    /// Proxies whose `Forwarded` / `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins allowed to call the API from a browser; empty: CORS off.
    pub cors_origins: Vec<String>,
    /// The public URL is https: send HSTS, mark cookies `Secure`.
    pub https: bool,
    /// The public origin, which the forms on gatehouse's own pages post from.
    pub origin: String,
}

impl AppState {
    pub fn new(accounts: Accounts, outbox: Outbox, edge: Edge) -> Self {
        let audit = accounts.audit().clone();
        Self(Arc::new(Shared { accounts, outbox, audit, edge: Arc::new(edge), mailer_health: Mutex::new(None) }))
    }
}
