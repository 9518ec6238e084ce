//! Sign-up, activation by the emailed link, and resending that link.

use secrecy::SecretString;

use super::new_account::{NewProfile, Submitted};
use super::throttle::Action;
use super::{Accounts, ClientInfo, Error, Result};
use crate::i18n::Locale;
use crate::model::account::{Account, AccountData, AccountKey, Email, FieldError, Role, Status, Username};
use crate::model::outcome::{Effects, Kind};
use crate::store::{StoreError, TokenPurpose};
use crate::tokens::opaque::{TokenHash, plausible};

/// A sign-up as submitted. `extra` holds the top-level fields that are not the account's own;
/// they are kept in `data`.
#[derive(Debug)]
pub struct SignUp {
    pub email: String,
    pub password: SecretString,
    pub username: Option<String>,
    pub name: Option<String>,
    pub data: Option<serde_json::Value>,
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// Where the browser that follows the activation link goes next (never kept in `data`).
    pub redirect_to: Option<String>,
    /// The language of the account's emails, when the body names one; else the browser's.
    pub locale: Option<String>,
}

/// The outcome of a sign-up.
#[derive(Debug)]
pub enum SignedUp {
    /// A new pending account; its confirmation email is queued.
    Created(Account),
    /// Sign-up conceals existing accounts and the address was taken: nothing was created, and
    /// the owner is told by email. The caller answers exactly as for a new account.
    Concealed,
}

/// The outcome of following an activation link.
#[derive(Debug)]
pub struct Activated {
    pub account: Account,
    /// `false` when the link had been followed before (the answer is the same).
    pub first_time: bool,
}

impl Accounts {
    /// Creates a pending account and queues its confirmation email in the same transaction.
    /// With `signup_conceal_existing`, a taken address is not revealed: see [`SignedUp`].
    pub async fn sign_up(&self, input: SignUp, client: &ClientInfo) -> Result<SignedUp> {
        if !self.policy.signup_open {
            return Err(Error::SignupDisabled);
        }
        let redirect = self.policy.redirect(input.redirect_to.as_deref())?;
        self.per_ip(Action::SignUp, client).await?;
        // Not the user's to write: refused rather than kept in `data`, where an app reading
        // the wrong field would trust it.
        let app_data = match input.extra.contains_key("app_data") {
            true => Err(FieldError::new("app_data", "app_data is written by admins only; put your own fields in data")),
            false => Ok(AccountData::default()),
        };
        let submitted = Submitted {
            email: &input.email,
            username: input.username.as_deref(),
            name: input.name.as_deref(),
            data: merge_data(input.data, input.extra),
            app_data,
            password: Some(&input.password),
        };
        let locale = match input.locale.as_deref() {
            Some(tag) => Some(Locale::parse(tag).ok_or_else(|| {
                Error::field("locale", "locale is one of en, de, fr, es; leave it out to use the browser's language")
            })?),
            None => client.locale,
        };
        let profile = NewProfile::parse(submitted).map_err(Error::Validation)?;
        let Some(password) = &profile.password else {
            return Err(Error::field("password", "a password is required"));
        };
        let (email, username) = (&profile.email, &profile.username);
        if username.as_ref().is_some_and(Username::reserved) {
            return Err(Error::field("username", "this username is reserved; choose another"));
        }

        // Refuse a taken address or username before paying for a hash; the insert below is
        // still what decides when two sign-ups race. When taken addresses are concealed, the
        // hash is paid for all the same, so both answers take the same time.
        let conceal = self.policy.signup_conceal_existing;
        if let Some(owner) = self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await? {
            if !conceal {
                return Err(Error::EmailTaken);
            }
            self.hasher.hash(password.secret().clone()).await?;
            return self.conceal_taken(owner.account, client).await;
        }
        if let Some(username) = &username
            && self.store.find_account(&AccountKey::Username(username.normalized())).await?.is_some()
        {
            return Err(Error::UsernameTaken);
        }

        let password_hash = self.hasher.hash(password.secret().clone()).await?;
        let now = self.now();
        let mut account = profile.account(password_hash, Role::User, Status::Pending, false, now);
        account.locale = locale;
        let (token, mail) =
            self.link_email(account.id, email.as_str(), locale, TokenPurpose::Activation, now, redirect.as_ref());
        let effects = Effects::of(self.outcome(Kind::Signup, Some(account.id), client)).email(mail);
        let created = match self.commit(&effects, self.store.insert_account(&account, Some(&token), &effects)).await {
            Ok(created) => created,
            Err(StoreError::EmailTaken) if conceal => {
                // Lost a race with another sign-up for the same address.
                let owner = self.store.find_account(&AccountKey::Email(account.email_normalized.clone())).await?;
                return match owner {
                    Some(owner) => self.conceal_taken(owner.account, client).await,
                    None => Err(Error::EmailTaken),
                };
            }
            Err(other) => return Err(other.into()),
        };
        tracing::info!(account_id = %created.id, "account signed up");
        Ok(SignedUp::Created(created))
    }

    /// A sign-up with the address of `owner`, concealed: the owner is told by email (within the
    /// per-address email budget) and the caller hears what a new sign-up hears.
    async fn conceal_taken(&self, owner: Account, client: &ClientInfo) -> Result<SignedUp> {
        let notify = self.throttle.may_email("signup_attempt", &owner.email.to_lowercase()).await?;
        let mut effects = Effects::of(self.outcome(Kind::SignupExistingEmail, Some(owner.id), client));
        if notify {
            let rendered = self.policy.letters(owner.locale).signup_attempt();
            effects = effects.email(self.email(&owner.email, rendered, self.now()));
        }
        self.tell(effects).await?;
        tracing::info!(account_id = %owner.id, notified = notify, "sign-up with a taken address, concealed");
        Ok(SignedUp::Concealed)
    }

    /// Follows an activation link. Following it again answers the same, without effect.
    pub async fn activate(&self, token: &str, client: &ClientInfo) -> Result<Activated> {
        if !plausible(token) {
            return Err(Error::TokenInvalid);
        }
        let hash = TokenHash::of(token);
        let record = self.store.find_token(&hash).await?.ok_or(Error::TokenInvalid)?;
        if !matches!(record.purpose, TokenPurpose::Activation | TokenPurpose::ActivationThroughProvider) {
            return Err(Error::TokenInvalid);
        }
        let now = self.now();
        let mut first_time = false;
        if record.used_at.is_none() {
            if record.expires_at <= now {
                return Err(Error::TokenExpired);
            }
            let effects = Effects::of(self.outcome(Kind::Activation, Some(record.account_id), client));
            first_time = self.commit(&effects, self.store.redeem_activation(&hash, now, &effects)).await?;
        }
        let account = self.store.find_account(&AccountKey::Id(record.account_id)).await?.ok_or(Error::TokenInvalid)?;
        if account.account.status == Status::Pending {
            // Spent, yet the account is pending: the link is not the one that activated it.
            return Err(Error::TokenInvalid);
        }
        if first_time {
            tracing::info!(account_id = %account.account.id, "account activated");
        }
        Ok(Activated { account: account.account, first_time })
    }

    /// Sends a fresh activation link when the address belongs to a pending account. The
    /// outcome and its timing are the same whether or not it does: each path makes one
    /// database write (the link, or the audit event), and the answer is not given before
    /// [`super::ANSWER_FLOOR`] has passed, which hides what jitter remains.
    pub async fn resend_activation(&self, email: &str, redirect_to: Option<&str>, client: &ClientInfo) -> Result<()> {
        super::at_least(super::ANSWER_FLOOR, self.try_resend_activation(email, redirect_to, client)).await
    }

    async fn try_resend_activation(&self, email: &str, redirect_to: Option<&str>, client: &ClientInfo) -> Result<()> {
        let redirect = self.policy.redirect(redirect_to)?;
        self.per_ip(Action::Resend, client).await?;
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let may_send = self.throttle.may_email("activation", email.normalized()).await?;
        let found = self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?;
        let requested = self.outcome(Kind::ActivationResendRequested, None, client);
        match found {
            Some(credentials) if credentials.account.status == Status::Pending && may_send => {
                let account = credentials.account;
                let (token, mail) = self.activation_email(&account, redirect.as_ref()).await?;
                let effects = Effects::of(requested.account(account.id)).email(mail);
                self.commit(&effects, self.store.insert_link(&token, &effects)).await?;
                tracing::info!(account_id = %account.id, "activation link resent");
            }
            found => {
                tracing::debug!(
                    "activation resend without sending: no pending account, or the address's budget is spent"
                );
                let requested = match found {
                    Some(credentials) => requested.account(credentials.account.id),
                    None => requested.with("email", email.normalized()),
                };
                self.tell(Effects::of(requested)).await?;
            }
        }
        Ok(())
    }
}

/// `data` and the extra top-level fields, merged into one object (explicit `data` keys win).
fn merge_data(
    data: Option<serde_json::Value>,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<AccountData, FieldError> {
    let mut merged = AccountData::parse(data.unwrap_or(serde_json::Value::Null))?.into_map();
    for (key, value) in extra {
        merged.entry(key).or_insert(value);
    }
    AccountData::from_map(merged)
}
