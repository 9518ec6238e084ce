//! Changing a password (knowing the current one), and resetting a forgotten one by an
//! emailed link. Both end sessions: a change every other session (or all, without a token),
//! a reset all of them.

use secrecy::{ExposeSecret, SecretString};

use super::access::matrix::Operation;
use super::throttle::Action;
use super::{Authentication, Caller, ClientInfo, Error, Result};
use crate::model::account::{AccountKey, Email, NewPassword, Status};
use crate::model::outcome::{Effects, Kind};
use crate::store::TokenPurpose;

use crate::tokens::opaque::{TokenHash, plausible};

/// A password change as submitted.
#[derive(Debug)]
pub struct PasswordChange {
    pub email: Option<String>,
    pub current_password: SecretString,
    pub new_password: SecretString,
}

impl Authentication {
    /// Sets a new password after checking the current one. With a caller (a token), the
    /// account is the caller's and every other session ends; without, every session ends.
    pub async fn change_password(
        &self,
        caller: Option<&Caller>,
        change: PasswordChange,
        client: &ClientInfo,
    ) -> Result<()> {
        let found = match caller {
            Some(caller) => {
                self.admit(caller, Operation::PasswordChange).await?;
                let me = self.me(caller).await?;
                if let Some(email) = change.email.as_deref().filter(|e| !e.trim().is_empty())
                    && email.trim().to_lowercase() != me.email.to_lowercase()
                {
                    return Err(Error::Forbidden);
                }
                self.store.find_account(&AccountKey::Id(me.id)).await?
            }
            None => {
                let email = change.email.as_deref().unwrap_or_default();
                let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
                self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?
            }
        };
        let identity = found
            .as_ref()
            .map(|c| [c.account.email.clone(), c.account.username.clone().unwrap_or_default()])
            .unwrap_or_else(|| [change.email.clone().unwrap_or_default(), String::new()]);
        let identity = [identity[0].as_str(), identity[1].as_str()];
        let new_password = NewPassword::parse(&change.new_password, "new_password", &identity)?;

        let (account, _) = self.verify_credentials(found, change.current_password.clone()).await?;
        // The current password is the fresh authentication; an account with a second factor
        // also needs a session that passed it (none, without a token).
        self.require_level(caller.map_or(0, Caller::aal), Some(self.store.factors(account.id).await?))?;
        if change.new_password.expose_secret() == change.current_password.expose_secret() {
            return Err(Error::field("new_password", "choose a password different from the current one"));
        }
        let hash = self.hasher.hash(new_password.secret().clone()).await?;
        // Sessions end before the new password is stored: should the write then fail, the
        // old sessions are gone rather than kept.
        let keep = caller.and_then(Caller::session_id);
        let ended = self.close_all_sessions(account.id, keep).await?;
        let now = self.now();
        let notice = self.email(&account.email, self.policy.letters(account.locale).password_changed(false), now);
        let changed = self.outcome(Kind::PasswordChanged, Some(account.id), client).with("sessions_ended", ended);
        let effects = Effects::of(changed).email(notice);
        self.commit(&effects, self.store.set_password_hash(account.id, &hash, now, &effects)).await?;
        tracing::info!(account_id = %account.id, sessions_ended = ended, "password changed");
        Ok(())
    }

    /// Emails a reset link when the address belongs to an account that may use one. The
    /// outcome and its timing are the same whether or not it does: each path makes one
    /// database write (the link, or the audit event), and the answer is not given before
    /// [`super::ANSWER_FLOOR`] has passed, which hides what jitter remains.
    /// `redirect_to` rides in the emailed link: the page that completes the reset sends the
    /// browser there.
    pub async fn forgot_password(&self, email: &str, redirect_to: Option<&str>, client: &ClientInfo) -> Result<()> {
        super::at_least(super::ANSWER_FLOOR, self.try_forgot_password(email, redirect_to, client)).await
    }

    async fn try_forgot_password(&self, email: &str, redirect_to: Option<&str>, client: &ClientInfo) -> Result<()> {
        let redirect = self.policy.redirect(redirect_to)?;
        self.per_ip(Action::Forgot, client).await?;
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let may_send = self.throttle.may_email("password_reset", email.normalized()).await?;
        let found = self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?;
        let requested = self.outcome(Kind::PasswordResetRequested, None, client);
        match found.map(|c| c.account) {
            Some(account) if account.status != Status::Disabled && may_send => {
                let (token, mail) = self.link_email(
                    account.id,
                    &account.email,
                    account.locale,
                    TokenPurpose::PasswordReset,
                    self.now(),
                    redirect.as_ref(),
                );
                let effects = Effects::of(requested.account(account.id)).email(mail);
                self.commit(&effects, self.store.insert_link(&token, &effects)).await?;
                tracing::info!(account_id = %account.id, "password reset link sent");
            }
            found => {
                tracing::debug!("password reset without sending: no usable account, or the address's budget is spent");
                let requested = match found {
                    Some(account) => requested.account(account.id),
                    None => requested.with("email", email.normalized()),
                };
                self.tell(Effects::of(requested)).await?;
            }
        }
        Ok(())
    }

    /// Whether a reset link may still be used, without spending it (for showing the form).
    pub async fn check_reset_token(&self, token: &str) -> Result<()> {
        if !plausible(token) {
            return Err(Error::TokenInvalid);
        }
        let record = self.store.find_token(&TokenHash::of(token)).await?.ok_or(Error::TokenInvalid)?;
        if record.purpose != TokenPurpose::PasswordReset || record.used_at.is_some() {
            return Err(Error::TokenInvalid);
        }
        if record.expires_at <= self.now() {
            return Err(Error::TokenExpired);
        }
        Ok(())
    }

    /// Sets a new password with a reset link, ends every session, and spends the link.
    pub async fn reset_password(&self, token: &str, new_password: SecretString, client: &ClientInfo) -> Result<()> {
        self.check_reset_token(token).await?;
        let hash = TokenHash::of(token);
        let record = self.store.find_token(&hash).await?.ok_or(Error::TokenInvalid)?;
        let account =
            self.store.find_account(&AccountKey::Id(record.account_id)).await?.ok_or(Error::TokenInvalid)?.account;
        let identity = [account.email.as_str(), account.username.as_deref().unwrap_or_default()];
        let new_password = NewPassword::parse(&new_password, "new_password", &identity)?;
        let password_hash = self.hasher.hash(new_password.secret().clone()).await?;
        self.close_all_sessions(account.id, None).await?;
        let now = self.now();
        let notice = self.email(&account.email, self.policy.letters(account.locale).password_changed(true), now);
        let effects = Effects::of(self.outcome(Kind::PasswordReset, Some(account.id), client)).email(notice);
        if !self.commit(&effects, self.store.redeem_reset(&hash, &password_hash, now, &effects)).await? {
            return Err(Error::TokenInvalid);
        }
        tracing::info!(account_id = %account.id, "password reset");
        Ok(())
    }
}
