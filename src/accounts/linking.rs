//! The linking rules of social login (see `identities.rs` and docs/SECURITY.md): which account
//! a verified identity logs in to, links to or signs up; and the caller's linked identities,
//! listed and unlinked.

use serde_json::json;
use uuid::Uuid;

use super::new_account::{NewProfile, Submitted};
use super::{Authentication, Caller, ClientInfo, Error, Result};
use crate::federation::{Provider, ProviderIdentity};
use crate::model::account::{Account, AccountData, AccountKey, Email, Role, Status};
use crate::model::outcome::{Effects, Kind};
use crate::store::identities::{Identity, IdentityKey, Unlink};
use crate::store::{NewAccount, NewEmail, NewOneTimeToken, StoreError, TokenPurpose};
use crate::tokens::opaque::OpaqueToken;

impl Authentication {
    /// Links `identity` to `account_id` (a no-op when it is linked to it already), telling the
    /// owner by email.
    pub(super) async fn link_identity(
        &self,
        provider: &Provider,
        account_id: Uuid,
        identity: &ProviderIdentity,
        automatic: bool,
        client: &ClientInfo,
    ) -> Result<()> {
        if let Some(linked) = self.store.identity(key_of(identity)).await? {
            return if linked.account_id == account_id { Ok(()) } else { Err(Error::IdentityTaken) };
        }
        let account = self.store.find_account(&AccountKey::Id(account_id)).await?.ok_or(Error::NotFound)?.account;
        let now = self.now();
        let row = Identity {
            id: Uuid::now_v7(),
            account_id,
            provider: provider.config.name.clone(),
            email: identity.email.clone(),
            created_at: now,
            // An automatic link is a login through it.
            last_login_at: automatic.then_some(now),
        };
        let letters = self.policy.letters(account.locale);
        let rendered = letters.identity_linked(&provider.config.label, identity.email.as_deref());
        let notice = self.email(&account.email, rendered, now);
        let linked = self
            .outcome(Kind::IdentityLinked, Some(account_id), client)
            .detail(json!({ "provider": provider.config.name, "identity_id": row.id, "automatic": automatic }));
        let effects = Effects::of(linked).email(notice);
        match self.commit(&effects, self.store.insert_identity(&row, key_of(identity), &effects)).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(Error::IdentityTaken),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(%account_id, provider = %provider.config.name, automatic, "identity linked");
        Ok(())
    }

    /// The account a verified identity logs in to, by the linking rules.
    pub(super) async fn account_for_identity(
        &self,
        provider: &Provider,
        identity: ProviderIdentity,
        client: &ClientInfo,
    ) -> Result<Account> {
        if let Some(linked) = self.store.identity(key_of(&identity)).await? {
            let account = self.store.find_account(&AccountKey::Id(linked.account_id)).await?.ok_or(Error::NotFound)?;
            let account = usable(account.account)?;
            self.store.identity_used(linked.id, self.now()).await?;
            self.logged_in_socially(provider, &account, client);
            return Ok(account);
        }
        let trusted = provider.config.trust_email && identity.email_verified;
        let Some(address) = identity.email.as_deref() else {
            return Err(if self.policy.signup_open { Error::ProviderEmailMissing } else { Error::SignupDisabled });
        };
        let email = Email::parse(address).map_err(|_| Error::ProviderEmailMissing)?;
        let found = self.store.find_account(&AccountKey::Email(email.normalized().to_owned())).await?;
        if let Some(found) = found {
            let account = found.account;
            if trusted && account.email_verified && account.status != Status::Pending {
                let account = usable(account)?;
                self.link_identity(provider, account.id, &identity, true, client).await?;
                self.logged_in_socially(provider, &account, client);
                return Ok(account);
            }
            tracing::info!(provider = %provider.config.name, trusted, "a new identity's address belongs to an account: not linked");
            return Err(Error::IdentityNotLinked);
        }
        if !self.policy.signup_open {
            return Err(Error::SignupDisabled);
        }
        self.sign_up_by_provider(provider, &identity, email.as_str(), trusted, client).await
    }

    fn logged_in_socially(&self, provider: &Provider, account: &Account, client: &ClientInfo) {
        tracing::info!(account_id = %account.id, provider = %provider.config.name, "logged in through a provider");
        self.note(
            self.outcome(Kind::LoginSocial, Some(account.id), client)
                .detail(json!({ "provider": provider.config.name })),
        );
    }

    /// A new account for a new identity: active when a trusted provider verified the address,
    /// else pending with our own confirmation email (then [`Error::NotActivated`]).
    async fn sign_up_by_provider(
        &self,
        provider: &Provider,
        identity: &ProviderIdentity,
        address: &str,
        verified: bool,
        client: &ClientInfo,
    ) -> Result<Account> {
        let now = self.now();
        let account = self.account_from_provider(address, identity.name.as_deref(), verified, client).await?;
        let row = Identity {
            id: Uuid::now_v7(),
            account_id: account.id,
            provider: provider.config.name.clone(),
            email: identity.email.clone(),
            created_at: now,
            last_login_at: Some(now),
        };
        let activation =
            (!verified).then(|| self.activation_through(&account, &provider.config.label, identity.email.as_deref()));
        let signed_up = self
            .outcome(Kind::SignupByProvider, Some(account.id), client)
            .detail(json!({ "provider": provider.config.name, "active": verified }));
        let mut effects = Effects::of(signed_up);
        let token = activation.map(|(token, email)| {
            effects.emails.push(email);
            token
        });
        let stored = self
            .commit(
                &effects,
                self.store.insert_account_with_identity(&account, &row, key_of(identity), token.as_ref(), &effects),
            )
            .await;
        match stored {
            Ok(()) => {}
            // Someone signed up with the address, or linked the identity, meanwhile.
            Err(StoreError::EmailTaken) => return Err(Error::IdentityNotLinked),
            Err(StoreError::Conflict) => return Err(Error::IdentityTaken),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(account_id = %account.id, provider = %provider.config.name, active = verified, "account signed up through a provider");
        if !verified {
            return Err(Error::NotActivated);
        }
        let found = self.store.find_account(&AccountKey::Id(account.id)).await?.ok_or(Error::NotFound)?;
        self.logged_in_socially(provider, &found.account, client);
        Ok(found.account)
    }

    /// The one-time token and the email that activate `account`, signed up through `label`
    /// (a provider or an organization's identity provider) whose address is not yet proven.
    /// A new account made by an identity provider's word: its address and display name (left
    /// out, not the sign-up, when it breaks our rules), no usable password, active with its
    /// address verified when `verified`, else pending.
    pub(super) async fn account_from_provider(
        &self,
        address: &str,
        name: Option<&str>,
        verified: bool,
        client: &ClientInfo,
    ) -> Result<NewAccount> {
        let profile = |name: Option<&str>| {
            NewProfile::parse(Submitted {
                email: address,
                username: None,
                name,
                data: Ok(AccountData::default()),
                app_data: Ok(AccountData::default()),
                password: None,
            })
        };
        let profile = profile(name).or_else(|_| profile(None)).map_err(Error::Validation)?;
        let hash = self.unknown_password_hash().await?;
        let status = if verified { Status::Active } else { Status::Pending };
        let mut account = profile.account(hash, Role::User, status, verified, self.now());
        account.locale = client.locale;
        Ok(account)
    }

    pub(super) fn activation_through(
        &self,
        account: &NewAccount,
        label: &str,
        identity_email: Option<&str>,
    ) -> (NewOneTimeToken, NewEmail) {
        let now = self.now();
        let token = OpaqueToken::generate();
        let ttl = self.settings.activation_ttl;
        let link = self.settings.link("activate", token.expose(), None);
        let rendered = self.policy.letters(account.locale).activation_through(&link, ttl, label, identity_email);
        let record = NewOneTimeToken {
            hash: token.hash,
            account_id: account.id,
            purpose: TokenPurpose::ActivationThroughProvider,
            created_at: now,
            expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(24)),
        };
        (record, self.email(&account.email, rendered, now))
    }

    /// The caller's linked identities.
    pub async fn identities(&self, caller: &Caller) -> Result<Vec<Identity>> {
        Ok(self.store.identities(caller.account_id).await?)
    }

    /// Removes one of the caller's identities, unless it is the account's last way in (a
    /// sensitive change: a recent authentication is required).
    pub async fn unlink_identity(&self, caller: &Caller, id: Uuid, client: &ClientInfo) -> Result<()> {
        self.require_step_up(caller, Some(self.store.factors(caller.account_id).await?))?;
        let linked = self.store.identities(caller.account_id).await?;
        let identity = linked.iter().find(|i| i.id == id).ok_or(Error::NotFoundIdentity)?;
        let account = self.store.find_account(&AccountKey::Id(caller.account_id)).await?.ok_or(Error::NotFound)?;
        let label = self.provider(&identity.provider).map_or(identity.provider.as_str(), |p| p.config.label.as_str());
        let now = self.now();
        let notice = self.email(
            &account.account.email,
            self.policy.letters(account.account.locale).identity_unlinked(label),
            now,
        );
        let unlinked =
            self.outcome(Kind::IdentityUnlinked, Some(caller.account_id), client).with("identity_id", id.to_string());
        let effects = Effects::of(unlinked).email(notice);
        match self.commit(&effects, self.store.delete_identity(caller.account_id, id, &effects)).await? {
            Unlink::Removed => {
                tracing::info!(account_id = %caller.account_id, identity_id = %id, "identity unlinked");
                Ok(())
            }
            Unlink::LastWayIn => Err(Error::LastWayIn),
            Unlink::NotFound => Err(Error::NotFoundIdentity),
        }
    }
}

/// An account that may log in, or why not.
pub(super) fn usable(account: Account) -> Result<Account> {
    match account.status {
        Status::Active => Ok(account),
        Status::Pending => Err(Error::NotActivated),
        Status::Disabled => Err(Error::Disabled),
    }
}

fn key_of(identity: &ProviderIdentity) -> IdentityKey<'_> {
    IdentityKey { issuer: &identity.issuer, subject: &identity.subject }
}
