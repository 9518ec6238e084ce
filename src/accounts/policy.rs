//! The policy: what the operator decides for the people who use gatehouse — who may sign up
//! and how, whether login by email is on, which accounts need a second factor, how recent a
//! step-up must be, where a browser may be sent, and the texts and brand of every page and
//! email. It is the configuration's one type ([`crate::config::Policy`]), held whole and read
//! through [`super::Core::policy`], the one place a caller's policy is decided, so that an
//! organization may later have its own; here is what the account rules do with it.

use url::Url;

pub use crate::config::Policy;

use super::redirect::RedirectTo;
use super::{Error, Result};
use crate::i18n::Locale;
use crate::mail::templates::Letters;

impl Policy {
    /// The policy as the service runs it: a browser may always be sent back to the hosted
    /// login page (`login`), whatever the operator listed.
    pub fn with_login_page(self, login: Url) -> Self {
        Self { redirects: self.redirects.with_login_page(login), ..self }
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
