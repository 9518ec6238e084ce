//! Changing the email address. The change takes effect only when a link sent to the new
//! address is followed (proof that it is the owner's); the old address is then told, with a
//! link that undoes the change and logs out every session, in case the account was taken over.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;

use super::access::matrix::Operation;
use super::{Accounts, Caller, ClientInfo, Error, Result};
use crate::model::account::{Account, AccountKey, Email};
use crate::model::outcome::{Effects, Kind};
use crate::store::StoreError;
use crate::store::email_change::{ChangeKind, EmailChangeToken, NewEmailChange, Redeemed};
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// How long the old address can undo a change.
pub const REVERT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

impl Accounts {
    /// Starts a change of the caller's address to `new_email`, after checking the current
    /// password: a confirmation link goes to the new address; nothing changes yet.
    pub async fn request_email_change(
        &self,
        caller: &Caller,
        new_email: &str,
        current_password: SecretString,
        redirect_to: Option<&str>,
        client: &ClientInfo,
    ) -> Result<()> {
        self.admit(caller, Operation::EmailChange).await?;
        let redirect = self.policy.redirect(redirect_to)?;
        let me = self.me(caller).await?;
        let email = Email::parse(new_email).map_err(|e| Error::field("new_email", e.message))?;
        if email.normalized() == me.email.trim().to_lowercase() {
            return Err(Error::field("new_email", "this is your address already"));
        }
        let found = self.store.find_account(&AccountKey::Id(me.id)).await?;
        let (account, _) = self.verify_credentials(found, current_password).await?;
        self.require_level(caller.aal(), Some(self.store.factors(account.id).await?))?;
        self.address_kept_by_sso(&account).await?;
        if self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?.is_some() {
            return Err(Error::EmailTaken);
        }
        let now = self.now();
        let token = OpaqueToken::generate();
        let ttl = self.settings.activation_ttl;
        let change = NewEmailChange {
            hash: token.hash,
            account_id: account.id,
            kind: ChangeKind::Confirm,
            email: email.as_str().to_owned(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1)),
        };
        let link = self.settings.link("email/confirm", token.expose(), redirect.as_ref());
        let mail =
            self.email(email.as_str(), self.policy.letters(account.locale).email_change_confirm(&link, ttl), now);
        let requested = self.outcome(Kind::EmailChangeRequested, Some(account.id), client).with("to", email.as_str());
        let effects = Effects::of(requested).email(mail);
        self.commit(&effects, self.store.insert_email_change(&change, &effects)).await?;
        tracing::info!(account_id = %account.id, "email change requested");
        Ok(())
    }

    /// Follows the link sent to the new address: the change takes effect, and the old address
    /// gets a link that undoes it.
    pub async fn confirm_email_change(&self, token: &str, client: &ClientInfo) -> Result<Account> {
        let (hash, record) = self.usable_change_link(token, ChangeKind::Confirm).await?;
        let current = self.store.find_account(&AccountKey::Id(record.account_id)).await?.ok_or(Error::TokenInvalid)?;
        let (old_email, locale) = (current.account.email, current.account.locale);
        let now = self.now();
        let undo = OpaqueToken::generate();
        let revert = NewEmailChange {
            hash: undo.hash,
            account_id: record.account_id,
            kind: ChangeKind::Revert,
            email: old_email.clone(),
            created_at: now,
            expires_at: now + chrono::Duration::from_std(REVERT_TTL).unwrap_or(chrono::Duration::days(7)),
        };
        let link = self.settings.link("email/revert", undo.expose(), None);
        let notice =
            self.email(&old_email, self.policy.letters(locale).email_changed(&record.email, &link, REVERT_TTL), now);
        let changed = self
            .outcome(Kind::EmailChanged, Some(record.account_id), client)
            .detail(json!({ "from": old_email, "to": record.email }));
        let effects = Effects::of(changed).email(notice);
        let redeemed = match self.commit(&effects, self.store.redeem_email_change(&hash, &revert, now, &effects)).await
        {
            Err(StoreError::EmailTaken) => return Err(Error::EmailTaken),
            other => other?,
        };
        let Redeemed::Changed { account, .. } = redeemed else { return Err(Error::TokenInvalid) };
        tracing::info!(account_id = %account.id, "email address changed");
        Ok(account)
    }

    /// Follows the undo link sent to the old address: the old address is restored, pending
    /// changes are cancelled and every session ends.
    pub async fn revert_email_change(&self, token: &str, client: &ClientInfo) -> Result<Account> {
        let (hash, record) = self.usable_change_link(token, ChangeKind::Revert).await?;
        let current = self.store.find_account(&AccountKey::Id(record.account_id)).await?.ok_or(Error::TokenInvalid)?;
        // Sessions end first: whoever changed the address is out even should the write then fail.
        let ended = self.close_all_sessions(record.account_id, None).await?;
        let reverted = self
            .outcome(Kind::EmailChangeReverted, Some(record.account_id), client)
            .detail(json!({ "from": current.account.email, "to": record.email, "sessions_ended": ended }));
        let effects = Effects::of(reverted);
        let redeemed = match self.commit(&effects, self.store.redeem_email_revert(&hash, self.now(), &effects)).await {
            Err(StoreError::EmailTaken) => return Err(Error::EmailTaken),
            other => other?,
        };
        let Redeemed::Changed { account, .. } = redeemed else { return Err(Error::TokenInvalid) };
        tracing::info!(account_id = %account.id, sessions_ended = ended, "email change undone");
        Ok(account)
    }

    /// Whether a change link of `kind` may still be used, without spending it (for showing the
    /// undo page).
    pub async fn check_change_link(&self, token: &str, kind: ChangeKind) -> Result<()> {
        self.usable_change_link(token, kind).await.map(|_| ())
    }

    async fn usable_change_link(&self, token: &str, kind: ChangeKind) -> Result<(TokenHash, EmailChangeToken)> {
        if !plausible(token) {
            return Err(Error::TokenInvalid);
        }
        let hash = TokenHash::of(token);
        let record = self.store.find_email_change(&hash).await?.ok_or(Error::TokenInvalid)?;
        if record.kind != kind || record.used_at.is_some() {
            return Err(Error::TokenInvalid);
        }
        if record.expires_at <= self.now() {
            return Err(Error::TokenExpired);
        }
        Ok((hash, record))
    }
}
