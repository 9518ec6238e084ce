//! Social login: logging in (or signing up) through an OpenID Connect provider or GitHub, and
//! linking such identities to accounts.
//!
//! A login goes to the provider with `state`, `nonce` and PKCE; the `state` is bound to the
//! browser that started it by a cookie of its own, so a callback URL carried to another
//! browser (login CSRF) fails. Identities are keyed on the provider's (issuer, subject), never
//! on an address. The linking rules (see docs/SECURITY.md):
//! - a known identity logs in to its account;
//! - a new identity whose address matches an account links to it by itself only when the
//!   provider is trusted (`_TRUST_EMAIL`), says the address is verified, and the account's
//!   address is verified too; otherwise the person proves the account first (logs in, then
//!   links from it);
//! - a new identity with a new address signs up (when sign-up is open): active when a trusted
//!   provider verified the address, else pending until our own confirmation email is used.
//!
//! A browser login ends, as a login by an emailed link does, with a one-time hand-off code
//! for the app to exchange; an account with a second factor is asked for it at the exchange.

use std::time::Duration;

use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use super::redirect::RedirectTo;
use super::throttle::Action;
use super::{Authentication, Caller, ClientInfo, Error, Result};
use crate::federation::{FederationError, Http, Provider, ProviderIdentity};
use crate::model::account::Account;
use crate::model::outcome::Kind;
use crate::store::email_login::HandoffBinding;
use crate::store::identities::{NewOidcLogin, OidcLogin, Pending};
use crate::tokens::mac::same;
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// How long a login may stay at the provider, and a link's start URL wait for its browser.
pub const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// The `amr` of a login through a provider ("federated"; RFC 8176 registers none).
pub const METHOD: &str = "fed";

/// A login on its way to the provider: where to send the browser, and the cookie that binds
/// the login to it.
#[derive(Debug)]
pub struct ToProvider {
    pub url: url::Url,
    pub cookie_name: String,
    pub cookie_value: SecretString,
}

/// What a callback came to.
#[derive(Debug)]
pub enum Outcome {
    /// Logged in: the hand-off code for the app.
    LoggedIn(SecretString),
    /// The identity was linked to the account that asked.
    Linked,
}

/// A callback's outcome, and where the login asked the browser to go (unknown when the
/// `state` named no login).
#[derive(Debug)]
pub struct Callback {
    pub redirect_to: Option<RedirectTo>,
    pub known_login: bool,
    pub outcome: Result<Outcome>,
}

/// The name of the cookie that binds the login of `state` to its browser: one per login, so
/// that logins in two tabs do not undo each other.
pub fn binding_cookie(state: &str) -> String {
    let hash = TokenHash::of(state);
    let short: String = hash.as_bytes()[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("gatehouse_oidc_{short}")
}

fn expiry(now: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    now + chrono::Duration::from_std(LOGIN_TTL).unwrap_or(chrono::Duration::minutes(10))
}

impl Authentication {
    pub(super) fn provider(&self, name: &str) -> Result<&std::sync::Arc<Provider>> {
        self.providers.get(name).ok_or(Error::UnknownProvider)
    }

    /// The configured providers: `(name, label)`.
    pub fn providers(&self) -> Vec<(String, String)> {
        self.providers.list().map(|(name, label)| (name.to_owned(), label.to_owned())).collect()
    }

    /// The provider's authorization URL and what the login must keep; the PKCE verifier is
    /// sealed to the login's `state`.
    async fn to_provider(&self, provider: &Provider, http: &Http) -> Result<(ToProvider, Pending)> {
        let authorization = provider.authorize(http).await.map_err(federation_error)?;
        let binding = OpaqueToken::generate();
        let state = authorization.state.expose_secret();
        let state_hash = TokenHash::of(state);
        let verifier = authorization.pkce_verifier.expose_secret().as_bytes();
        let pending = Pending {
            pkce_verifier: self.sealer.seal(verifier, state_hash.as_bytes()),
            state_hash,
            binding_hash: binding.hash,
            nonce: authorization.nonce,
        };
        let to =
            ToProvider { url: authorization.url, cookie_name: binding_cookie(state), cookie_value: binding.secret };
        Ok((to, pending))
    }

    /// Starts a login through `provider`; a browser that finishes it is sent to `redirect_to`
    /// (checked like every `redirect_to`), else to `/account`.
    pub async fn begin_social_login(
        &self,
        provider: &str,
        redirect_to: Option<&str>,
        handoff: HandoffBinding,
        client: &ClientInfo,
    ) -> Result<ToProvider> {
        let provider = self.provider(provider)?;
        self.begin_provider_login(provider, self.social_http().await?, redirect_to, handoff, client).await
    }

    /// Starts a login at `provider` (called through `http`), kept until its callback.
    pub(super) async fn begin_provider_login(
        &self,
        provider: &Provider,
        http: &Http,
        redirect_to: Option<&str>,
        handoff: HandoffBinding,
        client: &ClientInfo,
    ) -> Result<ToProvider> {
        let redirect = self.policy.redirect(redirect_to)?;
        self.per_ip(Action::Login, client).await?;
        let (to, pending) = self.to_provider(provider, http).await?;
        let now = self.now();
        let login = NewOidcLogin {
            id: Uuid::now_v7(),
            provider: provider.config.name.clone(),
            pending: Some(pending),
            start_hash: None,
            redirect_to: redirect.map(|r| r.as_str().to_owned()),
            link_account_id: None,
            handoff,
            created_at: now,
            expires_at: expiry(now),
        };
        self.store.insert_oidc_login(&login).await?;
        Ok(to)
    }

    /// Starts linking an identity at `provider` to the caller's account (a sensitive change: a
    /// recent authentication is required). The answer is a URL of gatehouse's, single use, for
    /// the browser to open within [`LOGIN_TTL`]; it goes on to the provider.
    pub async fn begin_social_link(
        &self,
        caller: &Caller,
        provider: &str,
        redirect_to: Option<&str>,
    ) -> Result<url::Url> {
        let provider = self.provider(provider)?;
        let redirect = self.policy.redirect(redirect_to)?;
        self.require_step_up(caller, Some(self.store.factors(caller.account_id).await?))?;
        let start = OpaqueToken::generate();
        let now = self.now();
        let login = NewOidcLogin {
            id: Uuid::now_v7(),
            provider: provider.config.name.clone(),
            pending: None,
            start_hash: Some(start.hash),
            redirect_to: redirect.map(|r| r.as_str().to_owned()),
            link_account_id: Some(caller.account_id),
            // A link ends in no hand-off code.
            handoff: HandoffBinding::default(),
            created_at: now,
            expires_at: expiry(now),
        };
        self.store.insert_oidc_login(&login).await?;
        let mut url = self.settings.public_url.clone();
        let path = format!("{}/auth/oidc/{}", url.path().trim_end_matches('/'), provider.config.name);
        url.set_path(&path);
        url.query_pairs_mut().append_pair("start", start.expose());
        Ok(url)
    }

    /// Whom a link's start URL would link an identity at `provider` to (the account's address),
    /// for the page that asks the person in the browser before it goes on: a start URL is
    /// anyone's to send, and a browser that followed one blindly would link its owner's
    /// identity to the sender's account. `OidcStateInvalid` when the URL is not waiting.
    pub async fn social_link_target(&self, provider: &str, start: &str) -> Result<(String, String)> {
        let provider = self.provider(provider)?;
        if !plausible(start) {
            return Err(Error::OidcStateInvalid);
        }
        let account_id = self
            .store
            .oidc_link_account(&provider.config.name, &TokenHash::of(start), self.now())
            .await?
            .ok_or(Error::OidcStateInvalid)?;
        let account = self.store.find_account(&crate::model::account::AccountKey::Id(account_id)).await?;
        let account = account.ok_or(Error::OidcStateInvalid)?.account;
        Ok((provider.config.label.clone(), account.email))
    }

    /// The browser has opened a link's start URL, and its person confirmed it: on to the
    /// provider, bound to this browser.
    pub async fn start_social_link(&self, provider: &str, start: &str, client: &ClientInfo) -> Result<ToProvider> {
        let provider = self.provider(provider)?;
        self.per_ip(Action::Login, client).await?;
        if !plausible(start) {
            return Err(Error::OidcStateInvalid);
        }
        let (to, pending) = self.to_provider(provider, self.social_http().await?).await?;
        match self.store.start_oidc_login(&provider.config.name, &TokenHash::of(start), &pending, self.now()).await? {
            Some(_) => Ok(to),
            None => Err(Error::OidcStateInvalid),
        }
    }

    /// The provider's callback: checks the `state` and its browser, redeems the code, verifies
    /// what the provider says, and logs in, signs up or links by the rules above.
    pub async fn finish_social_login(
        &self,
        provider: &str,
        answer: ProviderAnswer<'_>,
        client: &ClientInfo,
    ) -> Callback {
        let provider = match self.provider(provider) {
            Ok(provider) => provider,
            Err(error) => return Callback { redirect_to: None, known_login: false, outcome: Err(error) },
        };
        let login = match self.per_ip(Action::Login, client).await {
            Ok(()) => self.spend_social_login(provider, answer.state).await,
            Err(error) => Err(error),
        };
        let (login, state_hash) = match login {
            Ok(spent) => spent,
            Err(error) => {
                self.social_failed(provider, None, &error, client);
                return Callback { redirect_to: None, known_login: false, outcome: Err(error) };
            }
        };
        let redirect_to = self.policy.redirects.recheck(login.redirect_to.as_deref());
        let outcome = match self.finish_spent_login(provider, &login, &state_hash, answer, client).await {
            Ok(Some(account)) => self.hand_off(account.id, METHOD, &login.handoff).await.map(Outcome::LoggedIn),
            Ok(None) => Ok(Outcome::Linked),
            Err(error) => {
                self.social_failed(provider, login.link_account_id, &error, client);
                Err(error)
            }
        };
        let label = match &outcome {
            Ok(Outcome::LoggedIn(_)) => "success",
            Ok(Outcome::Linked) => "linked",
            Err(Error::OidcFailed(_)) => "refused",
            Err(Error::ProviderUnavailable(_)) => "unavailable",
            Err(_) => "error",
        };
        crate::metrics::event("gatehouse_social_logins_total", "outcome", label);
        Callback { redirect_to, known_login: true, outcome }
    }

    fn social_failed(&self, provider: &Provider, account: Option<Uuid>, error: &Error, client: &ClientInfo) {
        let reason = match error {
            Error::OidcFailed(why) | Error::ProviderUnavailable(why) => why.clone(),
            other => other.to_string(),
        };
        tracing::info!(provider = %provider.config.name, %reason, "social login refused");
        self.note(
            self.outcome(Kind::LoginSocialFailed, account, client)
                .detail(json!({ "provider": provider.config.name, "reason": reason })),
        );
    }

    /// The login the `state` names, spent (whichever browser sends it: see
    /// [`Authentication::verified_identity`]).
    pub(super) async fn spend_social_login(
        &self,
        provider: &Provider,
        state: Option<&str>,
    ) -> Result<(OidcLogin, TokenHash)> {
        let state = state.filter(|s| !s.is_empty() && s.len() <= 512).ok_or(Error::OidcStateInvalid)?;
        let state_hash = TokenHash::of(state);
        let login = self.store.take_oidc_login(&provider.config.name, &state_hash, self.now()).await?;
        Ok((login.ok_or(Error::OidcStateInvalid)?, state_hash))
    }

    /// The account the spent login logs in to; `None` for a link, done.
    async fn finish_spent_login(
        &self,
        provider: &Provider,
        login: &OidcLogin,
        state_hash: &TokenHash,
        answer: ProviderAnswer<'_>,
        client: &ClientInfo,
    ) -> Result<Option<Account>> {
        let http = self.social_http().await?;
        let identity = self.verified_identity(provider, http, login, state_hash, answer).await?;
        match login.link_account_id {
            Some(account_id) => {
                self.link_identity(provider, account_id, &identity, false, client).await?;
                Ok(None)
            }
            None => self.account_for_identity(provider, identity, client).await.map(Some),
        }
    }

    async fn social_http(&self) -> Result<&Http> {
        self.providers.http().await.map_err(federation_error)
    }

    /// What the provider vouches for at the end of the spent `login`: when this browser is the
    /// one that started it (its binding cookie), the callback names no refusal and no other
    /// issuer, and its code redeems (with the login's PKCE verifier) for an ID token that
    /// verifies.
    pub(super) async fn verified_identity(
        &self,
        provider: &Provider,
        http: &Http,
        login: &OidcLogin,
        state_hash: &TokenHash,
        answer: ProviderAnswer<'_>,
    ) -> Result<ProviderIdentity> {
        let bound =
            answer.binding.is_some_and(|cookie| same(TokenHash::of(cookie).as_bytes(), login.binding_hash.as_bytes()));
        if !bound {
            return Err(Error::OidcStateInvalid);
        }
        if let Some(error) = answer.error {
            return Err(Error::OidcFailed(format!("the provider answered {error}")));
        }
        // RFC 9207: a callback that names its issuer must name this provider's (mix-up attacks).
        if answer.iss.is_some_and(|iss| iss != provider.issuer()) {
            return Err(Error::OidcFailed("the callback's iss is another issuer's".into()));
        }
        let code = answer
            .code
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::OidcFailed("the callback has no code".into()))?;
        let verifier = self.sealer.open(&login.pkce_verifier, state_hash.as_bytes()).map_err(anyhow::Error::new)?;
        let verifier = SecretString::from(String::from_utf8_lossy(&verifier).into_owned());
        provider.finish(http, code, verifier, &login.nonce).await.map_err(federation_error)
    }
}

/// What the provider's callback carried.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProviderAnswer<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    /// The provider's refusal (`access_denied`, say).
    pub error: Option<&'a str>,
    /// RFC 9207's `iss`.
    pub iss: Option<&'a str>,
    /// The value of the login's binding cookie, as this browser sent it.
    pub binding: Option<&'a str>,
}

pub(super) fn federation_error(error: FederationError) -> Error {
    match error {
        FederationError::Unavailable(why) => Error::ProviderUnavailable(why),
        FederationError::Refused(why) => Error::OidcFailed(why),
    }
}
