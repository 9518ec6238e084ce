//! Passwordless login by email: `POST /auth/email` mails a link and a code; either logs in once
//! (and, when no account has the address and sign-up is open, makes one). A browser that
//! follows the link ends up at the app with a hand-off code, exchanged for the tokens as every
//! browser login's is (`handoff.rs`).
//!
//! Mail scanners fetch links before people click them, so following the link (`GET`, `HEAD`)
//! changes nothing: only the `POST` of the page it shows spends it. The code is eight digits,
//! keyed-hashed with the login's id, compared in constant time; each login allows
//! [`CODE_ATTEMPTS`] tries, each taken before its code is compared, so racing requests get no
//! more.

use std::time::Duration;

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use super::new_account::{NewProfile, Submitted};
use super::throttle::Action;
use super::{Authentication, ClientInfo, Error, LoginStep, Result};
use crate::i18n::Locale;
use crate::model::account::{Account, AccountData, AccountKey, Email, Role, Status};
use crate::model::outcome::{Effects, Kind};
use crate::store::StoreError;
use crate::store::email_login::{EmailLogin, HandoffBinding, LinkState, NewEmailLogin, Redeem};
use crate::tokens::mac::{MacKey, same};
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// Wrong codes a login by email survives; the next attempt finds it dead.
pub const CODE_ATTEMPTS: u32 = 5;
/// How long the emailed link and code work.
pub const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);
/// The `amr` of a login by email. RFC 8176 registers no value for it; `email` says what it was.
pub const METHOD: &str = "email";
const CODE_DIGITS: usize = 8;

/// What proves a login by email.
#[derive(Debug)]
pub enum EmailProof {
    /// The code from the email, with the address it was sent to.
    Code { email: String, code: SecretString },
    /// The token of the emailed link.
    Link(SecretString),
}

/// An eight-digit code, uniform.
fn generate_code() -> String {
    let n: u32 = rand::rngs::OsRng.gen_range(0..10u32.pow(CODE_DIGITS as u32));
    format!("{n:0width$}", width = CODE_DIGITS)
}

/// The code's keyed hash, bound to its login: the database alone does not reveal it.
fn code_hash(key: &MacKey, login: Uuid, code: &str) -> TokenHash {
    TokenHash::from_bytes(&key.tag(&[login.to_string().as_bytes(), b"\0", code.as_bytes()]))
        .expect("HMAC-SHA256 tags are 32 bytes")
}

/// A code as typed: digits, with spaces or dashes people add dropped.
fn typed_code(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

impl Authentication {
    fn passwordless_on(&self) -> Result<()> {
        if self.policy.passwordless { Ok(()) } else { Err(Error::PasswordlessDisabled) }
    }

    fn code_key(&self) -> MacKey {
        self.keys().derive_secret("email-login-codes")
    }

    /// Mails a login link and code when the address may log in by email: an account that is
    /// not disabled, or no account while sign-up is open. The outcome and its timing are the
    /// same either way: one database write on each path (the login, or the audit event), and
    /// no answer before [`super::ANSWER_FLOOR`].
    pub async fn request_email_login(
        &self,
        email: &str,
        redirect_to: Option<&str>,
        handoff: HandoffBinding,
        client: &ClientInfo,
    ) -> Result<()> {
        self.passwordless_on()?;
        super::at_least(super::ANSWER_FLOOR, self.try_request_email_login(email, redirect_to, handoff, client)).await
    }

    async fn try_request_email_login(
        &self,
        email: &str,
        redirect_to: Option<&str>,
        handoff: HandoffBinding,
        client: &ClientInfo,
    ) -> Result<()> {
        let redirect = self.policy.redirect(redirect_to)?;
        self.per_ip(Action::EmailLogin, client).await?;
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let may_send = self.throttle.may_email("email_login", email.normalized()).await?;
        let found = self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?;
        let event = self.outcome(Kind::EmailLoginRequested, None, client);
        let recipient = match &found {
            Some(c) if c.account.status != Status::Disabled => {
                Some((Some(c.account.id), c.account.email.clone(), c.account.locale))
            }
            Some(_) => None,
            None if self.policy.signup_open => Some((None, email.as_str().to_owned(), client.locale)),
            None => None,
        };
        match recipient {
            Some((account_id, address, locale)) if may_send => {
                let now = self.now();
                let (link_token, code) = (OpaqueToken::generate(), generate_code());
                let id = Uuid::now_v7();
                let login = NewEmailLogin {
                    id,
                    email: address.clone(),
                    email_normalized: email.normalized().to_owned(),
                    account_id,
                    link_hash: link_token.hash,
                    code_hash: code_hash(&self.code_key(), id, &code),
                    handoff,
                    created_at: now,
                    expires_at: now + chrono::Duration::from_std(LOGIN_TTL).unwrap_or(chrono::Duration::minutes(10)),
                };
                let link = self.settings.link("auth/email/verify", link_token.expose(), redirect.as_ref());
                let letters = self.policy.letters(locale);
                let rendered = letters.email_login(&link, &code, LOGIN_TTL, account_id.is_none());
                let requested = match account_id {
                    Some(id) => event.account(id),
                    None => event.detail(json!({ "email": email.normalized(), "signup": true })),
                };
                let effects = Effects::of(requested).email(self.email(&address, rendered, now));
                self.commit(&effects, self.store.insert_email_login(&login, &effects)).await?;
                tracing::info!(account_id = ?account_id, signup = account_id.is_none(), "login link and code sent");
            }
            _ => {
                tracing::debug!("login by email without sending: no usable account, or the address's budget is spent");
                let event = match &found {
                    Some(c) => event.account(c.account.id),
                    None => event.detail(json!({ "email": email.normalized() })),
                };
                self.tell(Effects::of(event)).await?;
            }
        }
        Ok(())
    }

    /// Whether an emailed link may still be used, without spending it (for showing its page).
    pub async fn check_email_link(&self, token: &str) -> Result<()> {
        self.passwordless_on()?;
        self.live_link(token).await.map(|_| ())
    }

    async fn live_link(&self, token: &str) -> Result<EmailLogin> {
        if !plausible(token) {
            return Err(Error::TokenInvalid);
        }
        match self.store.email_login_by_link(&TokenHash::of(token), CODE_ATTEMPTS, self.now()).await? {
            LinkState::Live(login) => Ok(login),
            LinkState::Expired => Err(Error::TokenExpired),
            LinkState::Spent | LinkState::Unknown => Err(Error::TokenInvalid),
        }
    }

    /// Logs in with the emailed code or link: the token pair, or the second step when the
    /// account has a second factor.
    pub async fn log_in_by_email(&self, proof: EmailProof, client: ClientInfo) -> Result<LoginStep> {
        let result = async {
            self.passwordless_on()?;
            let account = self.email_proof_account(proof, &client).await?;
            self.sso_gate(&account, None, &client).await?;
            self.after_first_factor(account, METHOD, None, &client, json!({ "method": METHOD })).await
        }
        .await;
        let outcome = match &result {
            Ok(LoginStep::Session(_)) => "success",
            Ok(LoginStep::SecondFactor(_)) => "mfa_required",
            Err(Error::InvalidCode) => "invalid_code",
            Err(Error::TokenInvalid | Error::TokenExpired) => "invalid_link",
            Err(Error::RateLimited { .. }) => "rate_limited",
            Err(_) => "error",
        };
        crate::metrics::event("gatehouse_email_logins_total", "outcome", outcome);
        result
    }

    /// Spends the emailed link from its page, in a browser: a hand-off code for the app to
    /// exchange at `POST /auth/exchange` (tokens never travel in a URL).
    pub async fn email_link_in_browser(&self, token: &str, client: &ClientInfo) -> Result<SecretString> {
        self.passwordless_on()?;
        let handoff = self.live_link(token).await?.handoff;
        let account = self.email_proof_account(EmailProof::Link(SecretString::from(token.to_owned())), client).await?;
        self.hand_off(account.id, METHOD, &handoff).await
    }

    /// The account a code or link proves, the login spent.
    async fn email_proof_account(&self, proof: EmailProof, client: &ClientInfo) -> Result<Account> {
        self.per_ip(Action::Login, client).await?;
        match proof {
            EmailProof::Link(token) => {
                let login = self.live_link(token.expose_secret()).await?;
                self.redeem_email_login(login, CODE_ATTEMPTS - 1, Error::TokenInvalid, client).await
            }
            EmailProof::Code { email, code } => {
                super::at_least(super::ANSWER_FLOOR, self.check_email_code(&email, &code, client)).await
            }
        }
    }

    async fn check_email_code(&self, email: &str, code: &SecretString, client: &ClientInfo) -> Result<Account> {
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let code = typed_code(code.expose_secret()).ok_or(Error::InvalidCode)?;
        let Some(login) = self.store.take_code_attempt(email.normalized(), CODE_ATTEMPTS, self.now()).await? else {
            return Err(Error::InvalidCode);
        };
        let expected = code_hash(&self.code_key(), login.id, &code);
        if !same(expected.as_bytes(), login.code_hash.as_bytes()) {
            tracing::info!(account_id = ?login.account_id, "login by email refused: wrong code");
            let event = self.outcome(Kind::EmailLoginFailed, login.account_id, client);
            self.note(event.detail(json!({ "email": email.normalized() })));
            return Err(Error::InvalidCode);
        }
        // The attempt that found the code is counted already: the bound includes it.
        self.redeem_email_login(login, CODE_ATTEMPTS, Error::InvalidCode, client).await
    }

    /// Spends a login by email and what it does to the account (see [`Redeem`]); `spent` is the
    /// error when a concurrent request spent it first.
    async fn redeem_email_login(
        &self,
        login: EmailLogin,
        attempts_bound: u32,
        spent: Error,
        client: &ClientInfo,
    ) -> Result<Account> {
        let now = self.now();
        // An account made since the request (or gone) is looked up by the address again.
        let mut target = match login.account_id {
            Some(id) => self.store.find_account(&AccountKey::Id(id)).await?,
            None => self.store.find_account(&AccountKey::Email(login.email.to_lowercase())).await?,
        }
        .map(|c| c.account);
        for _ in 0..2 {
            let redeemed = match &target {
                Some(account) => {
                    if account.status == Status::Disabled {
                        return Err(Error::Disabled);
                    }
                    // A pending account's password was set by whoever signed up, which proves
                    // nothing: it gives way to one nobody knows (a reset sets a real one).
                    let fresh = match account.status {
                        Status::Pending => Some(self.unknown_password_hash().await?),
                        _ => None,
                    };
                    let redeem = Redeem::Existing { account_id: account.id, fresh_password: fresh.as_deref() };
                    // A pending account's address is proven by the login: it is activated.
                    let effects = match account.status {
                        Status::Pending => Effects::of(
                            self.outcome(Kind::Activation, Some(account.id), client).with("via", "email_login"),
                        ),
                        _ => Effects::none(),
                    };
                    let redeemed = self.store.redeem_email_login(login.id, attempts_bound, redeem, now, &effects);
                    self.commit(&effects, redeemed).await
                }
                None => {
                    if !self.policy.signup_open {
                        return Err(Error::SignupDisabled);
                    }
                    let new = self.account_by_email(&login.email, client.locale).await?;
                    let effects = Effects::of(self.outcome(Kind::SignupByEmail, Some(new.id), client));
                    let result = self
                        .commit(
                            &effects,
                            self.store.redeem_email_login(login.id, attempts_bound, Redeem::New(&new), now, &effects),
                        )
                        .await;
                    if let Ok(Some(id)) = &result {
                        tracing::info!(account_id = %id, "account signed up by email");
                    }
                    result
                }
            };
            match redeemed {
                Ok(Some(account_id)) => {
                    self.account_changed(account_id).await;
                    let found = self.store.find_account(&AccountKey::Id(account_id)).await?;
                    return found.map(|c| c.account).ok_or(spent);
                }
                Ok(None) => return Err(spent),
                Err(StoreError::EmailTaken) if target.is_none() => {
                    // Someone signed up with the address meanwhile: the login proves it is theirs.
                    target = self
                        .store
                        .find_account(&AccountKey::Email(login.email.to_lowercase()))
                        .await?
                        .map(|c| c.account);
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(spent)
    }

    /// The hash of a random password no one is told: an account made or taken over by email
    /// has no usable password until its owner sets one (`POST /password/forgot`).
    pub(super) async fn unknown_password_hash(&self) -> Result<String> {
        let secret = OpaqueToken::generate().secret;
        Ok(self.hasher.hash(secret).await?)
    }

    /// A new active account for `email`, proven by the emailed link or code.
    async fn account_by_email(&self, email: &str, locale: Option<Locale>) -> Result<crate::store::NewAccount> {
        let submitted = Submitted {
            email,
            username: None,
            name: None,
            data: Ok(AccountData::default()),
            app_data: Ok(AccountData::default()),
            password: None,
        };
        let profile = NewProfile::parse(submitted).map_err(Error::Validation)?;
        let hash = self.unknown_password_hash().await?;
        let mut account = profile.account(hash, Role::User, Status::Active, true, self.now());
        account.locale = locale;
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_digits_and_typed_codes_forgive_spaces_and_dashes() {
        for _ in 0..100 {
            let code = generate_code();
            assert_eq!(code.len(), 8);
            assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(typed_code("1234 5678").as_deref(), Some("12345678"));
        assert_eq!(typed_code("1234-5678").as_deref(), Some("12345678"));
        assert_eq!(typed_code("1234567"), None);
        assert_eq!(typed_code("1234567x"), None);
        assert_eq!(typed_code("١٢٣٤٥٦٧٨"), None);
    }

    #[test]
    fn a_code_hash_is_bound_to_its_login_and_key() {
        let key = MacKey::new(b"k");
        let other_key = MacKey::new(b"l");
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(code_hash(&key, a, "12345678"), code_hash(&key, a, "12345678"));
        assert_ne!(code_hash(&key, a, "12345678"), code_hash(&key, b, "12345678"));
        assert_ne!(code_hash(&key, a, "12345678"), code_hash(&other_key, a, "12345678"));
        assert_ne!(code_hash(&key, a, "12345678"), code_hash(&key, a, "12345679"));
    }
}
