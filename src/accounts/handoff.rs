//! The hand-off shared by every login that ends in a browser (by email, through a social
//! provider, an organization's SAML or OpenID Connect identity provider): the login ends with a
//! redirect to the app carrying a hand-off code, which the app exchanges for the tokens.
//!
//! A hand-off code opens nothing by itself: it is bound to what started its login
//! ([`HandoffBinding`]): the browser's hand-off cookie, or an API client's PKCE-style
//! challenge. Without that, anyone could start a login to their own account, and send its code
//! to a victim's browser or app, which would log the victim in as them (login CSRF).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use super::throttle::Action;
use super::{Authentication, ClientInfo, Error, LoginStep, Result};
use crate::model::account::{AccountKey, Status};
use crate::model::outcome::Kind;
use crate::store::email_login::HandoffBinding;
use crate::tokens::mac::same;
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// How long a hand-off code waits for the app's exchange.
pub const HANDOFF_TTL: Duration = Duration::from_secs(2 * 60);
/// What proves, at the exchange of a hand-off code, that this is the browser or the client that
/// started its login.
#[derive(Debug, Default)]
pub struct HandoffProof {
    /// The value of the browser's hand-off cookie.
    pub browser: Option<SecretString>,
    /// The verifier of the challenge an API client sent at the start.
    pub verifier: Option<SecretString>,
}

impl HandoffProof {
    /// Whether the proof matches the binding: the verifier, when one is given (an API client
    /// that sent a challenge), else the browser's cookie. Compared in constant time.
    fn holds(&self, binding: &HandoffBinding) -> bool {
        match (&self.verifier, &binding.challenge) {
            (Some(verifier), Some(challenge)) => crate::tokens::pkce::holds(verifier.expose_secret(), challenge),
            (Some(_), None) => false,
            (None, _) => match (&self.browser, &binding.browser) {
                (Some(cookie), Some(bound)) => same(TokenHash::of(cookie.expose_secret()).as_bytes(), bound.as_bytes()),
                _ => false,
            },
        }
    }
}

impl Authentication {
    /// A hand-off code for the browser login of `account_id` by `method`, bound to `binding`.
    pub(super) async fn hand_off(
        &self,
        account_id: Uuid,
        method: &str,
        binding: &HandoffBinding,
    ) -> Result<SecretString> {
        let code = OpaqueToken::generate();
        let now = self.now();
        let expires_at = now + chrono::Duration::from_std(HANDOFF_TTL).unwrap_or(chrono::Duration::minutes(2));
        self.store.insert_handoff(&code.hash, account_id, method, binding, now, expires_at).await?;
        Ok(code.secret)
    }

    /// Exchanges a hand-off code (from the redirect that ended a browser login) for the token
    /// pair, or the second step when the account has a second factor. Once, and only with the
    /// proof of what started the login (`HandoffInvalid` otherwise, the code spent).
    pub async fn exchange_handoff(&self, code: &str, proof: &HandoffProof, client: ClientInfo) -> Result<LoginStep> {
        self.per_ip(Action::Login, &client).await?;
        if !plausible(code) {
            return Err(Error::TokenInvalid);
        }
        let spent = self.store.spend_handoff(&TokenHash::of(code), self.now()).await?.ok_or(Error::TokenInvalid)?;
        if !proof.holds(&spent.binding) {
            tracing::warn!(account_id = %spent.account_id, "a hand-off code was presented without the proof of the browser or client that started its login");
            self.note(
                self.outcome(Kind::LoginFailed, Some(spent.account_id), &client)
                    .detail(json!({ "method": spent.method, "handoff": true, "reason": "handoff_binding" })),
            );
            return Err(Error::HandoffInvalid);
        }
        let (account_id, method) = (spent.account_id, spent.method);
        let spent_by_sso = method == super::saml_login::HANDOFF_METHOD;
        let account = self.store.find_account(&AccountKey::Id(account_id)).await?.map(|c| c.account);
        let account = match account {
            Some(account) if account.status == Status::Active => account,
            Some(account) if account.status == Status::Disabled => return Err(Error::Disabled),
            _ => return Err(Error::TokenInvalid),
        };
        // A login through an organization's identity provider met `sso_required` at the ACS;
        // its session's method is federation's, as social login's.
        let method = match method.as_str() {
            super::saml_login::HANDOFF_METHOD => super::identities::METHOD.to_owned(),
            _ => {
                self.sso_gate(&account, None, &client).await?;
                method
            }
        };
        let detail = json!({ "method": method, "handoff": true, "sso": spent_by_sso });
        self.after_first_factor(account, &method, None, &client, detail).await
    }
}
