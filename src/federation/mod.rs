//! Talking to identity providers for social login: building the authorization redirect (with
//! `state`, `nonce` and PKCE S256) and turning the provider's answer into a verified
//! [`ProviderIdentity`]. OpenID Connect providers are spoken to through the `openidconnect`
//! crate (discovery, the token exchange, the ID token's signature, `iss`, `aud`, `exp` and
//! `nonce`); GitHub, which has no ID token, through its OAuth2 flow and REST API (`github.rs`).
//!
//! Nothing here knows about accounts: the account rules decide what an identity logs in to.
//! The HTTP client follows no redirects (a provider that answers with one is refused, not
//! followed somewhere else) and gives up after ten seconds.

mod github;
mod http;
mod identity;
mod oidc;
pub mod saml;
pub mod scim;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

pub use self::http::Http;
use self::identity::Registration;
pub use self::identity::{Authorization, FederationError, ProviderIdentity};
use crate::config::{ProviderConfig, ProviderKind};
use crate::webhooks::guard::Guard;

/// How long one call to a provider may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The most organizations' providers kept (with their discovery documents) at once; past it,
/// all are dropped and fetched again when next used.
const MAX_CONNECTION_PROVIDERS: usize = 256;

/// One configured provider.
#[derive(Debug)]
pub struct Provider {
    pub config: ProviderConfig,
    redirect_uri: Url,
    discovery: oidc::Discovery,
}

impl Provider {
    /// A provider of an organization's own (a single sign-on connection), called back at
    /// `redirect_uri`.
    pub fn new(config: ProviderConfig, redirect_uri: Url) -> Self {
        Self { config, redirect_uri, discovery: oidc::Discovery::default() }
    }

    fn registration(&self) -> Registration<'_> {
        Registration { config: &self.config, redirect_uri: &self.redirect_uri }
    }

    /// Where to send the browser, with fresh `state`, `nonce` and PKCE.
    pub async fn authorize(&self, http: &Http) -> Result<Authorization, FederationError> {
        match &self.config.kind {
            ProviderKind::Oidc => oidc::authorize(self.registration(), &self.discovery, http).await,
            ProviderKind::GitHub(endpoints) => Ok(github::authorize(self.registration(), endpoints)),
        }
    }

    /// Redeems the callback's `code` and verifies what it gives.
    pub async fn finish(
        &self,
        http: &Http,
        code: &str,
        pkce_verifier: SecretString,
        nonce: &str,
    ) -> Result<ProviderIdentity, FederationError> {
        match &self.config.kind {
            ProviderKind::Oidc => {
                oidc::finish(self.registration(), &self.discovery, http, code, pkce_verifier, nonce).await
            }
            ProviderKind::GitHub(endpoints) => {
                github::finish(self.registration(), endpoints, &http.client, code, pkce_verifier).await
            }
        }
    }

    /// The `iss` a callback may carry (RFC 9207), which must be this provider's when present.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }
}

/// Organizations' own providers by connection id, each with its connection's version.
type ConnectionProviders = HashMap<uuid::Uuid, (i64, Arc<Provider>)>;

/// Every configured provider, and the HTTP client they are reached with.
#[derive(Clone, Debug)]
pub struct Providers {
    by_name: Arc<BTreeMap<String, Arc<Provider>>>,
    /// Made at the first social login: made at start, it held 0.85 MiB of an idle server (its
    /// TLS roots), which a server that logs no one in through a provider need not pay.
    http: Arc<tokio::sync::OnceCell<Http>>,
    /// Organizations' own providers, by connection id, with the version (a change's time) of
    /// the connection each was made from.
    connections: Arc<Mutex<ConnectionProviders>>,
    /// The HTTP client for organizations' own providers: through the webhooks' guard.
    guarded: Arc<tokio::sync::OnceCell<Http>>,
}

impl Providers {
    /// The providers, each with its callback under `public_url`.
    pub fn new(configs: &[ProviderConfig], public_url: &Url) -> anyhow::Result<Self> {
        let base = public_url.as_str().trim_end_matches('/');
        let by_name = configs
            .iter()
            .map(|config| {
                let redirect_uri = Url::parse(&format!("{base}/auth/oidc/{}/callback", config.name))?;
                let provider = Provider { config: config.clone(), redirect_uri, discovery: oidc::Discovery::default() };
                Ok((config.name.clone(), Arc::new(provider)))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            by_name: Arc::new(by_name),
            http: Arc::default(),
            connections: Arc::default(),
            guarded: Arc::default(),
        })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name)
    }

    /// The HTTP client for providers: no redirects followed, [`CALL_TIMEOUT`] per call.
    pub async fn http(&self) -> Result<&Http, FederationError> {
        self.http.get_or_try_init(|| async { client(None) }).await
    }

    /// The provider of connection `id` as of `version`: the one kept while its version is the
    /// same (its discovery document is kept with it), else made anew by `make`.
    pub fn of_connection(
        &self,
        id: uuid::Uuid,
        version: i64,
        make: impl FnOnce() -> anyhow::Result<Provider>,
    ) -> anyhow::Result<Arc<Provider>> {
        let mut kept = self.connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, provider)) = kept.get(&id)
            && *at == version
        {
            return Ok(provider.clone());
        }
        let provider = Arc::new(make()?);
        if kept.len() >= MAX_CONNECTION_PROVIDERS {
            kept.clear();
        }
        kept.insert(id, (version, provider.clone()));
        Ok(provider)
    }

    /// The HTTP client for organizations' own providers, whose addresses an organization's
    /// admin gives: as [`Providers::http`], and it connects only to addresses the guard passes
    /// (public ones, unless `allow_private`), ignoring the environment's proxy.
    pub async fn guarded_http(&self, allow_private: bool) -> Result<&Http, FederationError> {
        self.guarded.get_or_try_init(|| async { client(Some(Guard::new(allow_private))) }).await
    }

    /// `(name, label)` of each provider, by name.
    pub fn list(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_name.values().map(|p| (p.config.name.as_str(), p.config.label.as_str()))
    }
}

/// A client following no redirect, [`CALL_TIMEOUT`] a call; through `guard` when given (and
/// then blind to the environment's proxy, which would connect on its behalf).
fn client(guard: Option<Guard>) -> Result<Http, FederationError> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(CALL_TIMEOUT)
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")));
    if let Some(guard) = guard {
        builder = builder.no_proxy().dns_resolver(guard.resolver());
    }
    let client =
        builder.build().map_err(|e| FederationError::Unavailable(format!("the HTTP client cannot be made: {e}")))?;
    Ok(Http::new(client, guard))
}
