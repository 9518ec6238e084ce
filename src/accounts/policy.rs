//! The policy: what the operator decides for the people who use gatehouse — who may sign up
//! and how, whether login by email is on, which accounts need a second factor, how recent a
//! step-up must be, where a browser may be sent, and the texts and brand of every page and
//! email. It is kept apart from the process's settings (links, token lifetimes, algorithms:
//! [`super::Settings`]) and read through [`super::Accounts::policy`], the one place a caller's
//! policy is decided, so that an organization may later have its own.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::redirect::{RedirectPolicy, RedirectTo};
use super::{Error, Result};
use crate::config::{ClientRegistration, MfaPolicy};
use crate::i18n::{Catalog, Locale};
use crate::mail::templates::Letters;

#[derive(Clone, Debug)]
pub struct Policy {
    /// Anyone may sign up; when not, only admins and operators create accounts.
    pub signup_open: bool,
    /// Sign-up with a taken address answers like a new one; the owner is told by email.
    pub signup_conceal_existing: bool,
    /// Login by an emailed link or code is on.
    pub passwordless: bool,
    /// Which accounts must have a second factor.
    pub mfa_required: MfaPolicy,
    /// How recent a session's last authentication must be for a step-up.
    pub reauth_window: Duration,
    /// The app's address, which the pages of emailed links point back to.
    pub app_url: Option<Url>,
    /// Where a browser completing an emailed link may be sent.
    pub redirects: RedirectPolicy,
    /// Any active account may create an organization; when not, only admins.
    pub org_creation_open: bool,
    /// The most members of one organization.
    pub org_member_limit: u64,
    /// How long an invitation may be accepted.
    pub invitation_ttl: Duration,
    /// The invitations one organization may send.
    pub invitation_budget: crate::limits::Budget,
    /// The owner is emailed when an admin impersonates the account.
    pub impersonation_notice: bool,
    /// Who may register a client app (RFC 7591).
    pub client_registration: ClientRegistration,
    /// The resources (RFC 8707) a client may name.
    pub oauth_resources: Vec<String>,
    /// Every text in every language, and the brand.
    pub texts: Arc<Catalog>,
}

impl Policy {
    /// The policy the configuration sets; a browser may always be sent back to the hosted
    /// login page (`login`).
    pub fn configured(configured: &crate::config::Policy, login: Url, texts: Arc<Catalog>) -> Self {
        Self {
            signup_open: configured.signup_open,
            signup_conceal_existing: configured.signup_conceal_existing,
            passwordless: configured.passwordless,
            mfa_required: configured.mfa_required,
            reauth_window: configured.reauth_window,
            app_url: configured.app_url.clone(),
            redirects: RedirectPolicy::new(configured.redirect_allow.clone()).with_login_page(login),
            org_creation_open: configured.org_creation_open,
            org_member_limit: configured.org_member_limit,
            invitation_ttl: configured.invitation_ttl,
            invitation_budget: configured.invitation_budget,
            impersonation_notice: configured.impersonation_notice,
            client_registration: configured.client_registration,
            oauth_resources: configured.oauth_resources.clone(),
            texts,
        }
    }

    /// Emails in the language of an account that says `locale` (or nothing).
    pub fn letters(&self, locale: Option<Locale>) -> Letters<'_> {
        Letters::new(&self.texts, self.texts.pick(locale))
    }

    /// A submitted `redirect_to`, checked; absent is fine.
    pub(super) fn redirect(&self, value: Option<&str>) -> Result<Option<RedirectTo>> {
        value.map(|value| self.redirects.check(value).map_err(|e| Error::Validation(vec![e]))).transpose()
    }
}
