//! What every handler can reach: the capabilities of the account rules, the outbox, and how the edge treats
//! browsers and proxies.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::accounts::{Accounts, Authentication, AuthorizationServer, Capabilities, Federation, Organizations};
use crate::mail::outbox::Outbox;

/// What every handler can reach. Every request gets a copy, so it is one shared pointer.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

#[derive(Debug)]
pub struct Shared {
    /// Sign-up, profiles, email and password changes, administration, imports, webhooks.
    pub accounts: Accounts,
    /// Logins, second factors, passkeys, the hand-off, sessions, and who a credential is.
    pub authentication: Authentication,
    /// Organizations, their members, roles, domains, invitations and settings.
    pub organizations: Organizations,
    /// Single sign-on in and SCIM.
    pub federation: Federation,
    /// The OAuth 2.0 authorization server and OpenID provider.
    pub oauth: AuthorizationServer,
    pub outbox: Outbox,
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
    /// The proxies whose header naming the client is believed, and that header.
    pub proxies: crate::http::client_ip::Proxies,
    /// Origins allowed to call the API from a browser; empty: CORS off.
    pub cors_origins: Vec<String>,
    /// The public URL is https: send HSTS, mark cookies `Secure`.
    pub https: bool,
    /// The public origin, which the forms on gatehouse's own pages post from.
    pub origin: String,
    /// What the apps behind a forward-auth proxy require.
    pub forward_rules: crate::config::forward::ForwardRules,
    /// What `Remote-User` names.
    pub remote_user: crate::config::RemoteUser,
    /// The `Domain` of the browser-session cookie, if set.
    pub cookie_domain: Option<String>,
}

impl Edge {
    /// A cookie of gatehouse's pages: `HttpOnly`, `SameSite=Lax` (sent on a top-level
    /// navigation from another site, as a login's return needs, never on its sub-requests or
    /// posts), `Secure` behind an https public URL; `Max-Age=0` removes it.
    pub fn cookie(&self, name: &str, value: &str, max_age: u64, domain_wide: bool) -> Option<axum::http::HeaderValue> {
        let secure = if self.https { "; Secure" } else { "" };
        let domain = match (&self.cookie_domain, domain_wide) {
            (Some(domain), true) => format!("; Domain={domain}"),
            _ => String::new(),
        };
        let cookie = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}{domain}");
        axum::http::HeaderValue::from_str(&cookie).ok()
    }
}

impl AppState {
    pub fn new(capabilities: Capabilities, outbox: Outbox, edge: Edge) -> Self {
        let Capabilities { accounts, authentication, organizations, federation, oauth } = capabilities;
        Self(Arc::new(Shared {
            accounts,
            authentication,
            organizations,
            federation,
            oauth,
            outbox,
            edge: Arc::new(edge),
            mailer_health: Mutex::new(None),
        }))
    }
}
