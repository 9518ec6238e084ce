//! Administration: what an admin (through the API) or an operator (at the command line) may do
//! to other people's accounts, to the outbox and to the signing keys. All of it hangs off
//! [`Admin`], a capability: the only ways to get one are `as_admin`, which checks
//! that the caller is an active admin, and `as_operator`, for the command line,
//! whose user already holds the database. Code without one cannot even name these operations.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use super::new_account::{NewProfile, Submitted};
use super::{Accounts, AuthorizationServer, Caller, ClientInfo, Core, Error, Organizations, Result};
use crate::audit::{AuditEvent, EventFilter};
use crate::model::account::{Account, AccountData, AccountKey, FieldError, Role, Status};
use crate::model::outcome::{Effects, Kind, Outcome};
use crate::sessions::SessionInfo;
use crate::store::admin::{AccountQuery, OutboxEntry, OutboxQuery, Retried};
use crate::store::{ProfileChange, TokenPurpose};
use crate::tokens::opaque::OpaqueToken;

/// The most accounts, events or emails one page may hold. A caller may fetch one more, to
/// learn whether a next page exists.
pub const MAX_PAGE: u32 = 500;
/// The account list's `total` is given when at most this many accounts match.
pub const COUNTED_UP_TO: u64 = 10_000;

/// Who acts: an admin's account (with the session it acts in), or an operator at the command
/// line.
#[derive(Debug, Clone)]
enum Actor {
    Admin(Box<(Account, Caller)>),
    Operator,
}

/// The capability to administer. See the module documentation.
#[derive(Debug, Clone)]
pub struct Admin<'a, S = Accounts> {
    /// What every capability stands on: the acting admin's checks and the commit step.
    core: &'a Core,
    /// The capability administered: accounts, organizations, or the authorization server's
    /// clients.
    service: &'a S,
    actor: Actor,
    client: ClientInfo,
}

/// An account an admin creates directly.
#[derive(Debug)]
pub struct NewUser {
    pub email: String,
    /// Without one, an active account is sent a password-reset link to choose its own.
    pub password: Option<SecretString>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub data: Option<serde_json::Value>,
    pub app_data: Option<serde_json::Value>,
    /// `user` (the default) or `admin`, as submitted.
    pub role: Option<String>,
    /// `active` (the default: the admin vouches for the address) or `pending` (an activation
    /// email is sent), as submitted.
    pub status: Option<String>,
}

/// A page of accounts, and how many match in all when that was cheap to count.
#[derive(Debug)]
pub struct UserPage {
    pub users: Vec<Account>,
    pub total: Option<u64>,
}

impl Core {
    /// The admin capability over `service` for a caller that is an active admin; `Forbidden`
    /// otherwise.
    async fn admin_of<'a, S: Sync>(
        &'a self,
        service: &'a S,
        caller: &Caller,
        client: &ClientInfo,
    ) -> Result<Admin<'a, S>> {
        let account = self.require_admin(caller).await?;
        let actor = Actor::Admin(Box::new((account, caller.clone())));
        Ok(Admin { core: self, service, actor, client: client.clone() })
    }
}

/// `as_admin` and `as_operator` for each capability an admin administers.
macro_rules! administered {
    ($($service:ty),+) => {$(
        impl $service {
            /// The admin capability for a caller that is an active admin; `Forbidden` otherwise.
            pub async fn as_admin(&self, caller: &Caller, client: &ClientInfo) -> Result<Admin<'_, Self>> {
                self.admin_of(self, caller, client).await
            }

            /// The admin capability for an operator at the command line.
            pub fn as_operator(&self) -> Admin<'_, Self> {
                Admin { core: self, service: self, actor: Actor::Operator, client: ClientInfo::default() }
            }
        }
    )+};
}
administered!(Accounts, Organizations, AuthorizationServer);

impl<S> Admin<'_, S> {
    /// The acting admin's account id (none for an operator).
    pub fn actor_id(&self) -> Option<Uuid> {
        match &self.actor {
            Actor::Admin(admin) => Some(admin.0.id),
            Actor::Operator => None,
        }
    }

    /// Refuses (`ReauthenticationRequired`) an action that creates lasting access (a client,
    /// its redirect URIs or secret, a webhook, an import, a role, another account's second
    /// factors gone) unless the admin authenticated within the re-authentication window, at
    /// their highest level: with their second factor when they have one. A stolen admin token
    /// alone, past its first minutes, cannot plant a way back in. An operator at the command
    /// line holds the database already.
    pub(in crate::accounts) async fn require_recent(&self) -> Result<()> {
        match &self.actor {
            Actor::Admin(admin) => {
                let (account, caller) = &**admin;
                let factors = self.core.store.factors(account.id).await?;
                self.core.require_step_up(caller, Some(factors))
            }
            Actor::Operator => Ok(()),
        }
    }

    /// Whether the admin's credential may perform `operation`, by the credential matrix; an
    /// operator at the command line holds the database already.
    pub(in crate::accounts) async fn admit(&self, operation: super::access::matrix::Operation) -> Result<()> {
        match &self.actor {
            Actor::Admin(admin) => self.core.admit(&admin.1, operation).await,
            Actor::Operator => Ok(()),
        }
    }

    /// The capability administered.
    pub(in crate::accounts) fn service(&self) -> &S {
        self.service
    }

    /// The admin's account id; none for an operator.
    pub(in crate::accounts) fn admin_id(&self) -> Option<Uuid> {
        match &self.actor {
            Actor::Admin(admin) => Some(admin.0.id),
            Actor::Operator => None,
        }
    }

    /// Where the admin's request came from.
    pub(in crate::accounts) fn client_info(&self) -> &ClientInfo {
        &self.client
    }

    /// An outcome of an admin action: the admin is its actor; an operator's says so.
    pub(in crate::accounts) fn outcome(&self, kind: Kind, account: Option<Uuid>) -> Outcome {
        let outcome = self.core.outcome(kind, account, &self.client);
        match &self.actor {
            Actor::Admin(admin) => outcome.actor(admin.0.id),
            Actor::Operator => outcome.with("via", "command line"),
        }
    }

    /// Records an admin action that changed no account (a registry, a key, the outbox), right
    /// after the change.
    pub(in crate::accounts) async fn audit(&self, outcome: Outcome) -> Result<()> {
        self.core.tell(Effects::of(outcome)).await
    }
}

impl Admin<'_> {
    /// Accounts matching the query, newest first, with the total when it is cheap: on the
    /// first page of a list without a text search (which would have to scan), when at most
    /// [`COUNTED_UP_TO`] match (counting a million takes longer than the page itself).
    pub async fn list_users(&self, query: &AccountQuery) -> Result<UserPage> {
        let mut query = query.clone();
        query.q = query.q.map(|q| q.trim().to_lowercase()).filter(|q| !q.is_empty());
        query.limit = query.limit.clamp(1, MAX_PAGE + 1);
        let users = self.service.store.list_accounts(&query).await?;
        let total = match (&query.q, query.before) {
            (None, None) => {
                let counted = self.service.store.count_accounts_up_to(&query, COUNTED_UP_TO + 1).await?;
                (counted <= COUNTED_UP_TO).then_some(counted)
            }
            _ => None,
        };
        Ok(UserPage { users, total })
    }

    /// Audit events matching the filter, newest first.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<AuditEvent>> {
        Ok(self.service.audit.list(filter).await?)
    }

    /// Creates an account directly: active (with the given password, or with a reset link to
    /// choose one) or pending (with an activation link), with the given role.
    pub async fn create_user(&self, input: NewUser) -> Result<Account> {
        let mut errors = Vec::new();
        let role = match input.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            None => Some(Role::User),
            Some(role) => parse_role(role).map_err(|e| errors.push(e)).ok(),
        };
        let status = match input.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => Some(Status::Active),
            Some(status) => match parse_status(status) {
                Ok(Status::Disabled) => {
                    errors.push(FieldError::new("status", "a new account is active or pending"));
                    None
                }
                parsed => parsed.map_err(|e| errors.push(e)).ok(),
            },
        };
        let submitted = Submitted {
            email: &input.email,
            username: input.username.as_deref(),
            name: input.name.as_deref(),
            data: AccountData::parse(input.data.unwrap_or(serde_json::Value::Null)),
            app_data: AccountData::parse_field(input.app_data.unwrap_or(serde_json::Value::Null), "app_data"),
            password: input.password.as_ref(),
        };
        let profile = NewProfile::parse(submitted).map_err(|e| errors.extend(e)).ok();
        let (Some(role), Some(status), Some(profile), true) = (role, status, profile, errors.is_empty()) else {
            return Err(Error::Validation(errors));
        };
        if super::access::is_admin_role(role) {
            self.admit(super::access::matrix::Operation::AdminGrant).await?;
        }
        // Without a password the account gets a random one nobody knows, and a link to set its own.
        let secret = match &profile.password {
            Some(password) => password.secret().clone(),
            None => OpaqueToken::generate().secret,
        };
        let password_hash = self.service.hasher.hash(secret).await?;
        let now = Utc::now();
        let account = profile.account(password_hash, role, status, status == Status::Active, now);
        let (email, password) = (&profile.email, &profile.password);
        let purpose = match (status, &password) {
            (Status::Pending, _) => Some(TokenPurpose::Activation),
            (_, None) => Some(TokenPurpose::PasswordReset),
            _ => None,
        };
        let link = purpose.map(|purpose| self.service.link_email(account.id, email.as_str(), None, purpose, now, None));
        let detail =
            json!({ "role": account.role.as_str(), "status": account.status.as_str(), "email": account.email });
        let mut effects = Effects::of(self.outcome(Kind::AdminAccountCreated, Some(account.id)).detail(detail));
        let token = link.map(|(token, mail)| {
            effects.emails.push(mail);
            token
        });
        let created = self
            .service
            .commit(&effects, self.service.store.insert_account(&account, token.as_ref(), &effects))
            .await?;
        tracing::info!(account_id = %created.id, role = created.role.as_str(), "account created by an admin");
        Ok(created)
    }

    /// Sets the status of the account `key` names; disabling ends its sessions at once. The
    /// last active admin cannot be disabled.
    pub async fn set_status(&self, key: &str, status: Status) -> Result<Account> {
        let target = self.find_user(key).await?;
        let (role, app_data) = (target.role, target.app_data.clone());
        self.change(target, role, status, app_data).await
    }

    /// Sets the role of the account `key` names. The last active admin cannot be demoted.
    pub async fn set_role(&self, key: &str, role: Role) -> Result<Account> {
        let target = self.find_user(key).await?;
        let (status, app_data) = (target.status, target.app_data.clone());
        self.change(target, role, status, app_data).await
    }

    /// Replaces the `app_data` of the account `key` names (an object; `null` empties it). Its
    /// next access token carries the new value.
    pub async fn set_app_data(&self, key: &str, app_data: serde_json::Value) -> Result<Account> {
        let target = self.find_user(key).await?;
        let app_data = AccountData::parse_field(app_data, "app_data").map_err(|e| Error::Validation(vec![e]))?;
        let (role, status) = (target.role, target.status);
        self.change(target, role, status, app_data.into_map()).await
    }

    async fn change(
        &self,
        target: Account,
        role: Role,
        status: Status,
        app_data: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Account> {
        let change = ProfileChange {
            username: target.username.clone(),
            name: target.name.clone(),
            data: target.data.clone(),
            app_data,
            role,
            status,
            locale: target.locale,
            now: Utc::now(),
        };
        if change.role == target.role && change.status == target.status && change.app_data == target.app_data {
            return Ok(target);
        }
        if super::access::grants_access(&target, change.role, &change.app_data) {
            self.admit(super::access::matrix::Operation::AdminGrant).await?;
        }
        self.service.keep_an_admin(&target, role, status).await?;
        if status == Status::Disabled && target.status != Status::Disabled {
            // Sessions end first: should the update then fail, nobody kept access.
            self.service.close_all_sessions(target.id, None).await?;
        }
        let detail = super::profile::changes(&target, &change);
        let effects = Effects::of(self.outcome(Kind::AdminAccountUpdated, Some(target.id)).detail(detail.into()));
        let updated = self
            .service
            .commit(&effects, self.service.store.update_profile(target.id, &change, &effects))
            .await?
            .ok_or(Error::NotFound)?;
        tracing::info!(account_id = %updated.id, "account changed by an admin");
        Ok(updated)
    }

    /// Deletes the account `key` names, and everything of it. The last active admin stays.
    pub async fn delete_user(&self, key: &str) -> Result<Account> {
        let target = self.find_user(key).await?;
        self.service.keep_an_admin(&target, Role::User, Status::Disabled).await?;
        self.service.keep_org_owners(target.id).await?;
        self.service.close_all_sessions(target.id, None).await?;
        let deleted = self.outcome(Kind::AdminAccountDeleted, Some(target.id)).with("email", target.email.as_str());
        let effects = Effects::of(deleted);
        if !self.service.commit(&effects, self.service.store.delete_account(target.id, &effects)).await? {
            return Err(Error::NotFound);
        }
        tracing::info!(account_id = %target.id, "account deleted by an admin");
        Ok(target)
    }

    /// Emails the account a password-reset link.
    pub async fn send_password_reset(&self, key: &str) -> Result<Account> {
        let target = self.find_user(key).await?;
        if target.status == Status::Disabled {
            return Err(Error::field("status", "the account is disabled; enable it first"));
        }
        let purpose = TokenPurpose::PasswordReset;
        let (token, mail) = self.service.link_email(target.id, &target.email, target.locale, purpose, Utc::now(), None);
        let effects = Effects::of(self.outcome(Kind::AdminPasswordResetSent, Some(target.id))).email(mail);
        self.service.commit(&effects, self.service.store.insert_link(&token, &effects)).await?;
        Ok(target)
    }

    /// Emails a pending account its activation link again.
    pub async fn resend_activation(&self, key: &str) -> Result<Account> {
        let target = self.find_user(key).await?;
        if target.status != Status::Pending {
            return Err(Error::field("status", "only a pending account has an activation link to send"));
        }
        let (token, mail) = self.service.activation_email(&target, None).await?;
        let effects = Effects::of(self.outcome(Kind::AdminActivationSent, Some(target.id))).email(mail);
        self.service.commit(&effects, self.service.store.insert_link(&token, &effects)).await?;
        Ok(target)
    }

    /// Removes every second factor of the account `key` names (a lost authenticator, no
    /// recovery codes left); the owner is told by email. `NotFound`-like `MfaNotEnabled` when
    /// it had none.
    pub async fn reset_mfa(&self, key: &str) -> Result<Account> {
        self.require_recent().await?;
        let target = self.find_user(key).await?;
        if !self.service.reset_factors(&target, self.outcome(Kind::AdminMfaReset, Some(target.id))).await? {
            return Err(Error::MfaNotEnabled);
        }
        tracing::info!(account_id = %target.id, "second factors removed by an admin");
        Ok(target)
    }

    /// The identities at providers linked to the account `key` names.
    pub async fn identities(&self, key: &str) -> Result<Vec<crate::store::identities::Identity>> {
        let target = self.find_user(key).await?;
        Ok(self.service.store.identities(target.id).await?)
    }

    /// The live sessions of the account `key` names.
    pub async fn sessions(&self, key: &str) -> Result<Vec<SessionInfo>> {
        let target = self.find_user(key).await?;
        Ok(self.service.sessions.list_sessions(target.id, Utc::now()).await?)
    }

    /// Ends every session of the account `key` names; how many ended.
    pub async fn end_sessions(&self, key: &str) -> Result<u64> {
        let target = self.find_user(key).await?;
        let ended = self.service.close_all_sessions(target.id, None).await?;
        self.audit(self.outcome(Kind::AdminSessionsEnded, Some(target.id)).with("ended", ended)).await?;
        tracing::info!(account_id = %target.id, ended, "sessions ended by an admin");
        Ok(ended)
    }

    /// Emails in the outbox, newest first: never their bodies.
    pub async fn outbox(&self, query: &OutboxQuery) -> Result<Vec<OutboxEntry>> {
        let mut query = query.clone();
        query.limit = query.limit.clamp(1, MAX_PAGE + 1);
        Ok(self.service.store.list_outbox(&query).await?)
    }

    /// Queues a failed email again.
    pub async fn retry_email(&self, id: Uuid) -> Result<OutboxEntry> {
        match self.service.store.retry_email(id, Utc::now()).await? {
            Retried::NotFound => return Err(Error::NotFound),
            Retried::NotFailed => return Err(Error::field("status", "only a failed email can be retried")),
            Retried::Requeued => {}
        }
        self.service.outbox.wake();
        let entry = self.service.store.find_outbox(id).await?.ok_or(Error::NotFound)?;
        tracing::info!(email_id = %id, kind = %entry.kind, "failed email requeued by an admin");
        self.audit(self.outcome(Kind::AdminEmailRetried, None).detail(json!({ "email_id": id, "kind": entry.kind })))
            .await?;
        Ok(entry)
    }

    /// Every signing key, with what it does now.
    pub async fn keys(&self) -> Result<Vec<super::KeyInfo>> {
        self.service.list_keys().await
    }

    /// Adds a signing key (see [`Core::rotate_key`]).
    pub async fn rotate_key(&self) -> Result<Vec<super::KeyInfo>> {
        self.service.rotate_key().await
    }
}

/// Parses the `status` a list may be filtered by.
pub fn parse_status(value: &str) -> Result<Status, FieldError> {
    Status::parse(value).ok_or_else(|| FieldError::new("status", "status is pending, active or disabled"))
}

/// Parses the `role` a list may be filtered by.
pub fn parse_role(value: &str) -> Result<Role, FieldError> {
    Role::parse(value).ok_or_else(|| FieldError::new("role", "role is user or admin"))
}

/// A time bound of a list filter, RFC 3339.
pub fn parse_time(field: &'static str, value: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| FieldError::new(field, "write a time like 2026-01-31T12:00:00Z"))
}

impl<S> Admin<'_, S> {
    /// The account `key` (id, email, username, or `me`: the acting admin) names.
    pub async fn find_user(&self, key: &str) -> Result<Account> {
        let key = match &self.actor {
            Actor::Admin(admin) if AccountKey::is_me(key) => AccountKey::Id(admin.0.id),
            _ => AccountKey::parse(key),
        };
        let found = self.core.store.find_account(&key).await?;
        found.map(|c| c.account).ok_or(Error::NotFound)
    }
}
