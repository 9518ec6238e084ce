//! Sign-up, activation by the emailed link, and resending that link.

use chrono::Utc;
use secrecy::SecretString;
use uuid::Uuid;

use super::domain::{
    Account, AccountData, AccountKey, DisplayName, Email, FieldError, NewPassword, Role, Status, Username,
};
use super::{Accounts, Error, Result};
use crate::metrics;
use crate::store::{NewAccount, TokenPurpose};
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
    pub async fn sign_up(&self, input: SignUp) -> Result<Account> {
        let mut errors = Vec::new();
        let email = Email::parse(&input.email).map_err(|e| errors.push(e)).ok();
        let username = match input.username.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => Username::parse(u).map_err(|e| errors.push(e)).ok(),
            None => None,
        };
        let name =
            DisplayName::parse(input.name.as_deref().unwrap_or_default()).map_err(|e| errors.push(e)).ok().flatten();
        let data = merge_data(input.data, input.extra).map_err(|e| errors.push(e)).ok();
        let identity = [
            email.as_ref().map(Email::as_str).unwrap_or_default(),
            username.as_ref().map(Username::as_str).unwrap_or_default(),
        ];
        let password = NewPassword::parse(&input.password, "password", &identity).map_err(|e| errors.push(e)).ok();
        let (Some(email), Some(data), Some(password), true) = (email, data, password, errors.is_empty()) else {
            return Err(Error::Validation(errors));
        };

        // Refuse a taken address or username before paying for a hash; the insert below is
        // still what decides when two sign-ups race.
        if self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?.is_some() {
            return Err(Error::EmailTaken);
        }
        if let Some(username) = &username
            && self.store.find_account(&AccountKey::Username(username.normalized())).await?.is_some()
        {
            return Err(Error::UsernameTaken);
        }

        let password_hash = self.hasher.hash(password.secret().clone()).await?;
        let now = Utc::now();
        let account = NewAccount {
            id: Uuid::now_v7(),
            email: email.as_str().to_owned(),
            email_normalized: email.normalized().to_owned(),
            username: username.map(|u| u.as_str().to_owned()),
            name: name.map(|n| n.as_str().to_owned()),
            data: data.into_map(),
            password_hash,
            role: Role::User,
            status: Status::Pending,
            email_verified: false,
            now,
        };
        let (token, mail) = self.link_email(account.id, email.as_str(), TokenPurpose::Activation, now);
        let created = self.store.insert_account(&account, Some((&token, &mail))).await?;
        self.outbox.wake();
        metrics::count("gatehouse_signups_total");
        metrics::event("gatehouse_emails_queued_total", "kind", "activation");
        tracing::info!(account_id = %created.id, "account signed up");
        Ok(created)
    }

    /// Follows an activation link. Following it again answers the same, without effect.
    pub async fn activate(&self, token: &str) -> Result<Activated> {
        if !plausible(token) {
            return Err(Error::TokenInvalid);
        }
        let hash = TokenHash::of(token);
        let record = self.store.find_token(&hash).await?.ok_or(Error::TokenInvalid)?;
        if record.purpose != TokenPurpose::Activation {
            return Err(Error::TokenInvalid);
        }
        let now = Utc::now();
        let mut first_time = false;
        if record.used_at.is_none() {
            if record.expires_at <= now {
                return Err(Error::TokenExpired);
            }
            first_time = self.store.redeem_activation(&hash, now).await?;
        }
        let account = self.store.find_account(&AccountKey::Id(record.account_id)).await?.ok_or(Error::TokenInvalid)?;
        if account.account.status == Status::Pending {
            // Spent, yet the account is pending: the link is not the one that activated it.
            return Err(Error::TokenInvalid);
        }
        if first_time {
            metrics::count("gatehouse_activations_total");
            tracing::info!(account_id = %account.account.id, "account activated");
        }
        Ok(Activated { account: account.account, first_time })
    }

    /// Sends a fresh activation link when the address belongs to a pending account. The
    /// outcome is the same whether or not it does.
    pub async fn resend_activation(&self, email: &str) -> Result<()> {
        let email = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let found = self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?;
        match found {
            Some(credentials) if credentials.account.status == Status::Pending => {
                let account = credentials.account;
                let (token, mail) = self.link_email(account.id, &account.email, TokenPurpose::Activation, Utc::now());
                self.store.insert_link(&token, &mail).await?;
                self.outbox.wake();
                metrics::event("gatehouse_emails_queued_total", "kind", "activation");
                tracing::info!(account_id = %account.id, "activation link resent");
            }
            _ => tracing::debug!("activation resend for an address with no pending account"),
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
