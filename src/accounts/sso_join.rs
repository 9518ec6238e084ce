//! Who a login through an organization's own identity provider (SAML or OpenID Connect) is:
//! the just-in-time rules, one set for both protocols (social login's, `linking.rs`, made
//! stricter where an organization's own identity provider speaks, which a member holding
//! `sso:manage` and a standing covering `admin` may have set up). The identity provider speaks
//! only for accounts that belong to its organization alone:
//! - a connection takes logins only while its organization holds a verified domain
//!   (`sso_connection_inactive`): the holder of a domain's DNS vouched for it, so gatehouse's
//!   domain never sends a browser to an identity provider nobody vetted;
//! - a known identity, keyed on (connection, its identity provider, subject: the `NameID` or the
//!   ID token's `sub`), logs in to its account at every login only while that account is no
//!   server admin, not this organization's owner, and in no other organization (else
//!   `identity_not_linked`): an admin of the organization who changed its identity provider, or
//!   an identity provider's own admin, must not act as a member who since joined or made an
//!   organization of their own;
//! - a new identity whose address is at a domain the organization verified links to the
//!   account of that address only when that account is active with its address verified, the
//!   identity provider says it verified the address too (SAML's assertions, signed by the
//!   organization's own provider, do; an ID token must say `email_verified`), and the same rules
//!   hold (else `identity_not_linked`);
//! - a new address at such a domain makes a new active account, its address verified (the
//!   organization vouches for its domain; like an invitation, this works with sign-up closed),
//!   when the provider verified it or the connection opted in to accounts from addresses it did
//!   not verify (`allow_unverified_email`, OpenID Connect; else `sso_email_unverified`);
//! - any other address makes nothing, pending or not (`sso_domain_not_verified`): an
//!   organization's identity provider holds no account, nor sends any email, at an address of a
//!   domain nobody vouched for.
//!
//! Each login makes the account a member (`default_role`) if it is not one.

use serde_json::json;
use uuid::Uuid;

use super::access;
use super::{ClientInfo, Error, Federation, Result};
use crate::model::account::{Account, AccountKey, Status};
use crate::model::outcome::{Effects, Kind};
use crate::model::sso::{Protocol, SsoConnection};
use crate::store::StoreError;
use crate::store::identities::{Identity, IdentityKey};

/// Who the identity provider says logged in.
#[derive(Debug)]
pub(super) struct SsoPerson {
    /// The `NameID`, or the ID token's `sub`.
    pub subject: String,
    pub address: Option<String>,
    /// Whether the identity provider says it verified `address`.
    pub address_verified: bool,
    pub name: Option<String>,
}

impl Federation {
    /// The account a verified login of `person` through `connection` logs in to, by the rules
    /// above; a member of the connection's organization once this returns.
    pub(super) async fn account_for_sso(
        &self,
        connection: &SsoConnection,
        person: SsoPerson,
        client: &ClientInfo,
    ) -> Result<Account> {
        self.require_active(connection).await?;
        let issuer = connection.identity_issuer();
        let key = IdentityKey { issuer: &issuer, subject: &person.subject };
        let account = match self.known_identity(connection, key).await? {
            Some(identity) => {
                let key = AccountKey::Id(identity.account_id);
                let account = self.store.find_account(&key).await?.ok_or(Error::NotFound)?.account;
                // Promoted, or in another organization since it was linked: the identity
                // provider no longer logs it in.
                if !self.idp_speaks_for(connection, &account, false).await? {
                    tracing::info!(account_id = %account.id, connection_id = %connection.id, "a single sign-on login of an admin, an owner or another organization's member refused");
                    return Err(Error::IdentityNotLinked);
                }
                self.store.identity_used(identity.id, self.now()).await?;
                account
            }
            None => self.link_or_sign_up_by_sso(connection, &person, key, client).await?,
        };
        let account = match account.status {
            Status::Active => account,
            Status::Pending => return Err(Error::NotActivated),
            Status::Disabled => return Err(Error::Disabled),
        };
        self.sso_gate(&account, Some(connection.org_id), client).await?;
        self.join_by_sso(connection, &account, client).await?;
        let kind = connection.protocol.kind();
        tracing::info!(account_id = %account.id, connection_id = %connection.id, kind, "logged in through single sign-on");
        self.note(self.outcome(Kind::LoginSocial, Some(account.id), client).detail(json!({
            "provider": connection.provider_name(),
            "org_id": connection.org_id,
            "connection_id": connection.id,
        })));
        Ok(account)
    }

    /// The identity `key` names, or one keyed on the connection alone (as releases before
    /// identities were keyed on the identity provider too made them) while the connection's
    /// identity provider is still the one it was linked under.
    async fn known_identity(&self, connection: &SsoConnection, key: IdentityKey<'_>) -> Result<Option<Identity>> {
        if let Some(identity) = self.store.identity(key).await? {
            return Ok(Some(identity));
        }
        let Some(legacy) = connection.legacy_identity_issuer() else { return Ok(None) };
        Ok(self.store.identity(IdentityKey { issuer: &legacy, subject: key.subject }).await?)
    }

    async fn link_or_sign_up_by_sso(
        &self,
        connection: &SsoConnection,
        person: &SsoPerson,
        key: IdentityKey<'_>,
        client: &ClientInfo,
    ) -> Result<Account> {
        let address = person.address.clone().ok_or_else(|| match connection.protocol {
            Protocol::Saml(_) => {
                Error::SamlInvalid("no address: the NameID is not one and no attribute holds one".into())
            }
            Protocol::Oidc(_) => Error::OidcFailed("no address: neither the ID token nor UserInfo gives one".into()),
        })?;
        let vouched = self.org_vouches(connection.org_id, &address).await?;
        if !vouched {
            tracing::info!(connection_id = %connection.id, "a single sign-on login for an address at no domain the organization verified: nothing made");
            return Err(Error::SsoDomainNotVerified);
        }
        let now = self.now();
        let row = |account_id| Identity {
            id: Uuid::now_v7(),
            account_id,
            provider: connection.provider_name(),
            email: Some(address.clone()),
            created_at: now,
            last_login_at: Some(now),
        };
        let detail = json!({ "provider": connection.provider_name(), "org_id": connection.org_id, "connection_id": connection.id });
        if let Some(found) = self.store.find_account(&AccountKey::Email(address.to_lowercase())).await? {
            // An address nobody proved takes over no account, whatever the organization allows.
            if !(person.address_verified && self.idp_speaks_for(connection, &found.account, true).await?) {
                tracing::info!(connection_id = %connection.id, address_verified = person.address_verified, "a new single sign-on identity's address belongs to an account: not linked");
                return Err(Error::IdentityNotLinked);
            }
            let linked = self.outcome(Kind::IdentityLinked, Some(found.account.id), client).detail(detail);
            let effects = Effects::of(linked);
            match self.commit(&effects, self.store.insert_identity(&row(found.account.id), key, &effects)).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(other) => return Err(other.into()),
            }
            return Ok(found.account);
        }
        let unverified_allowed = connection.oidc().is_some_and(|oidc| oidc.allow_unverified_email);
        if !person.address_verified && !unverified_allowed {
            tracing::info!(connection_id = %connection.id, "a single sign-on login whose address the provider did not verify: no account made");
            return Err(Error::SsoEmailUnverified);
        }
        let account = self.account_from_provider(&address, person.name.as_deref(), true, client).await?;
        let signed_up = self.outcome(Kind::SignupByProvider, Some(account.id), client).detail(detail);
        let effects = Effects::of(signed_up.with("active", true));
        let stored = self
            .commit(&effects, self.store.insert_account_with_identity(&account, &row(account.id), key, None, &effects))
            .await;
        match stored {
            Ok(()) => {}
            Err(StoreError::EmailTaken) => return Err(Error::IdentityNotLinked),
            Err(StoreError::Conflict) => return Err(Error::IdentityTaken),
            Err(other) => return Err(other.into()),
        }
        tracing::info!(account_id = %account.id, connection_id = %connection.id, "account made by a single sign-on login");
        Ok(self.store.find_account(&AccountKey::Id(account.id)).await?.ok_or(Error::NotFound)?.account)
    }

    /// Whether `connection`'s identity provider may log `account` in: never a server admin, an
    /// owner of this organization, nor a member of any other, at a first link or at any later
    /// login. A `first_link` (its address at a domain the organization verified) also needs the
    /// account active with its address verified: see the rules above.
    async fn idp_speaks_for(&self, connection: &SsoConnection, account: &Account, first_link: bool) -> Result<bool> {
        if first_link && (account.status != Status::Active || !account.email_verified) {
            return Ok(false);
        }
        // Suspended memberships count: a suspension is no way out of these rules.
        let memberships = self.store.all_memberships(account.id).await?;
        Ok(access::org_may_speak_for(account, &memberships, connection.org_id))
    }

    /// Refuses a connection whose organization holds no verified domain
    /// (`sso_connection_inactive`): see the rules above.
    pub(super) async fn require_active(&self, connection: &SsoConnection) -> Result<()> {
        match self.sso_active(connection.org_id).await? {
            true => Ok(()),
            false => {
                tracing::info!(connection_id = %connection.id, "a login through a connection whose organization has verified no domain refused");
                Err(Error::SsoConnectionInactive)
            }
        }
    }

    /// Whether the organization's connections take logins: it holds a verified domain.
    pub async fn sso_active(&self, org_id: Uuid) -> Result<bool> {
        Ok(self.store.org_domains(org_id).await?.iter().any(|d| d.verified_at.is_some()))
    }

    /// Makes the account a member of the connection's organization, with its default role,
    /// unless it is one.
    async fn join_by_sso(&self, connection: &SsoConnection, account: &Account, client: &ClientInfo) -> Result<()> {
        if self.store.membership(connection.org_id, account.id).await?.is_some() {
            return Ok(());
        }
        if self.store.count_members(connection.org_id).await? >= self.policy.org_member_limit {
            return Err(Error::MemberLimitReached);
        }
        let added = self
            .outcome(Kind::OrgMemberAdded, Some(account.id), client)
            .with("org_id", connection.org_id.to_string())
            .with("role", connection.default_role.as_str())
            .with("via", "sso")
            .with("connection_id", connection.id.to_string());
        let effects = Effects::of(added);
        let role = &connection.default_role;
        self.commit(&effects, self.store.add_member(connection.org_id, account.id, role, self.now(), &effects)).await?;
        Ok(())
    }
}
