//! What operators do outside the API: create accounts from the command line, ensure the
//! bootstrap admin from `GATEHOUSE_ADMIN_EMAIL` / `GATEHOUSE_ADMIN_PASSWORD`, and, on a
//! development machine only, log a test user in for an app's test suite (`gatehouse dev token`).

use chrono::Utc;
use secrecy::SecretString;
use uuid::Uuid;

use super::{Accounts, ClientInfo, Error, Result, TokenPair};
use crate::model::account::{Account, AccountKey, Email, NewPassword, Role, Status, Username};
use crate::model::outcome::{Effects, Kind, Outcome};
use crate::sessions::SessionAuth;
use crate::store::{NewAccount, ProfileChange};
use crate::tokens::opaque::OpaqueToken;

impl Accounts {
    /// Creates an active account (the operator vouches for the address).
    pub async fn create_active_account(
        &self,
        email: &str,
        username: Option<&str>,
        password: SecretString,
        role: Role,
    ) -> Result<Account> {
        let mut errors = Vec::new();
        let email = Email::parse(email).map_err(|e| errors.push(e)).ok();
        let username = username.map(|u| Username::parse(u).map_err(|e| errors.push(e)).ok()).unwrap_or_default();
        let identity = [
            email.as_ref().map(Email::as_str).unwrap_or_default(),
            username.as_ref().map(Username::as_str).unwrap_or_default(),
        ];
        let password = NewPassword::parse(&password, "password", &identity).map_err(|e| errors.push(e)).ok();
        let (Some(email), Some(password), true) = (email, password, errors.is_empty()) else {
            return Err(Error::Validation(errors));
        };
        let password_hash = self.hasher.hash(password.secret().clone()).await?;
        let account = NewAccount {
            id: Uuid::now_v7(),
            email: email.as_str().to_owned(),
            email_normalized: email.normalized().to_owned(),
            username: username.map(|u| u.as_str().to_owned()),
            name: None,
            data: Default::default(),
            app_data: serde_json::Map::new(),
            password_hash,
            role,
            status: Status::Active,
            email_verified: true,
            locale: None,
            now: Utc::now(),
        };
        let effects = Effects::of(by_operator(Kind::AdminAccountCreated, account.id).with("role", role.as_str()));
        let created = self.commit(&effects, self.store.insert_account(&account, None, &effects)).await?;
        tracing::info!(account_id = %created.id, role = role.as_str(), "account created by an operator");
        Ok(created)
    }

    /// Makes sure the account exists, is an active admin, and has this password.
    pub async fn ensure_admin(&self, email: &str, password: SecretString) -> Result<Account> {
        let parsed = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let Some(existing) = self.store.find_account(&AccountKey::Email(parsed.normalized().to_owned())).await? else {
            return self.create_active_account(email, None, password, Role::Admin).await;
        };
        let mut account = existing.account;
        if !super::access::is_active_admin(&account) {
            let change = ProfileChange {
                username: account.username.clone(),
                name: account.name.clone(),
                data: account.data.clone(),
                app_data: account.app_data.clone(),
                role: Role::Admin,
                status: Status::Active,
                locale: account.locale,
                now: Utc::now(),
            };
            let detail = super::profile::changes(&account, &change);
            let effects = Effects::of(by_operator(Kind::AdminAccountUpdated, account.id).detail(detail.into()));
            account = self
                .commit(&effects, self.store.update_profile(account.id, &change, &effects))
                .await?
                .ok_or(Error::NotFound)?;
        }
        let verified = self.hasher.verify(password.clone(), Some(existing.password_hash)).await?;
        if !verified.matches {
            let identity = [account.email.as_str(), account.username.as_deref().unwrap_or_default()];
            let password = NewPassword::parse(&password, "password", &identity)?;
            let hash = self.hasher.hash(password.secret().clone()).await?;
            self.close_all_sessions(account.id, None).await?;
            let effects = Effects::of(by_operator(Kind::PasswordChanged, account.id));
            self.commit(&effects, self.store.set_password_hash(account.id, &hash, Utc::now(), &effects)).await?;
            tracing::info!(account_id = %account.id, "bootstrap admin password set from the configuration");
        }
        Ok(account)
    }

    /// A token pair for the account `email`, logged in without a password, for the test suite
    /// of an app on a development machine: the caller (the command line) checks that
    /// `GATEHOUSE_DEV` is on, which the configuration allows only with a loopback public URL.
    /// With `create`, an account that does not exist is made active, with a password nobody
    /// knows. The session's `amr` is `["dev"]` (`["dev","mfa"]` and level 2 with
    /// `second_factor`), so that nothing mistakes it for a real login.
    pub async fn dev_login(&self, email: &str, create: bool, second_factor: bool) -> Result<TokenPair> {
        let parsed = Email::parse(email).map_err(|e| Error::Validation(vec![e]))?;
        let found = self.store.find_account(&AccountKey::Email(parsed.normalized().to_owned())).await?;
        let account = match found {
            Some(found) => found.account,
            None if create => {
                let password = SecretString::from(format!("dev {}", OpaqueToken::generate().expose()));
                self.create_active_account(email, None, password, Role::User).await?
            }
            None => return Err(Error::NotFound),
        };
        match account.status {
            Status::Active => {}
            Status::Pending => return Err(Error::NotActivated),
            Status::Disabled => return Err(Error::Disabled),
        }
        let now = Utc::now();
        let auth = match second_factor {
            true => SessionAuth::second_factor(vec!["dev".into(), "mfa".into()], now),
            false => SessionAuth::first_factor("dev", now),
        };
        tracing::warn!(account_id = %account.id, "a development login, without a password (GATEHOUSE_DEV)");
        let client = ClientInfo { user_agent: Some("gatehouse dev token".into()), ..ClientInfo::default() };
        self.start_session(account, auth, &client, serde_json::json!({ "method": "dev" })).await
    }
}

/// An outcome of an operator's command.
fn by_operator(kind: Kind, account: Uuid) -> Outcome {
    Outcome::new(kind).account(account).with("via", "command line")
}
