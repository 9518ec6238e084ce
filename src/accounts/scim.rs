//! SCIM 2.0 provisioning, per organization: the Users its SCIM client provisions (its tokens
//! are in `scim_tokens.rs`, its Groups in `scim_groups.rs`).
//!
//! A SCIM token speaks for its organization alone (the token decides the organization). Its
//! Users are members of that organization, by these rules (the SAML rules of `saml_login.rs`
//! where they apply):
//! - an address must be at a domain the organization verified: a SCIM client provisions the
//!   organization's own people, and an account on an address nobody proved is not made;
//! - a new address makes an active account (the organization vouches for its domain), its
//!   address verified, with no password (it logs in through the organization's identity
//!   provider, a link by email, or sets a password by reset), and a membership (`member`);
//! - an existing account is provisioned when it is a member of the organization already, or,
//!   like a SAML first link, active with its address verified and in no other organization;
//!   never a server admin nor an owner of the organization (409 `uniqueness` otherwise);
//! - SCIM changes an account's name and address only when it made the account; for others it
//!   keeps its own `userName` and `externalId` only;
//! - `active: false` suspends the membership at once (it grants nothing; the `org` claim is
//!   refused at the next request) and, for an account SCIM made that belongs to no other
//!   organization, disables the account and ends its sessions; `active: true` undoes what it
//!   did, and no more (an account an admin disabled stays disabled);
//! - `DELETE` ends the membership, with the same rule for the account.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::access;
use super::new_account::{NewProfile, Submitted};
use super::{ClientInfo, Error, Federation, Result};
use crate::federation::scim::filter::{Filter, parse_filter, parse_path};
use crate::federation::scim::{self as wire, UserInput};
use crate::model::account::{Account, AccountData, AccountKey, DisplayName, Email, Role, Status};
use crate::model::org::MEMBER;
use crate::model::outcome::{Effects, Kind, Outcome};
use crate::model::scim::{Provision, Provisioned, ScimUser, ScimUserChange, ScimUserFilter, UserWrite};
use crate::store::StoreError;

/// The most resources one page holds, and the page a list without `count` gets.
pub const MAX_PAGE: u32 = crate::federation::scim::discovery::MAX_RESULTS;
pub const DEFAULT_PAGE: u32 = 100;

/// The organization a SCIM request acts for: its token's.
#[derive(Clone, Copy, Debug)]
pub struct ScimCaller {
    pub org_id: Uuid,
    pub token_id: Uuid,
}

/// A page of a list, with where it starts (1-based) and how many match in all.
#[derive(Debug)]
pub struct ListPage<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub start_index: u64,
}

/// A SCIM refusal.
pub(super) fn scim(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Error {
    Error::Scim { status, scim_type, detail: detail.into() }
}

pub(super) fn not_found(what: &str) -> Error {
    scim(404, None, format!("no such {what} in this organization"))
}

fn protected() -> Error {
    scim(403, None, "SCIM does not change a server admin or an owner of the organization")
}

/// A resource that does not read as one, as SCIM's `400`.
pub(super) fn unreadable(invalid: wire::Invalid) -> Error {
    scim(400, Some(invalid.scim_type), invalid.detail)
}

/// A PATCH that cannot be applied, as SCIM's `400`.
pub(super) fn patch_refused(refused: wire::patch::PatchRefused) -> Error {
    scim(400, Some(refused.scim_type), refused.detail)
}

/// `startIndex` and `count` as SCIM takes them: 1-based, a `count` within the page size.
pub fn page_of(start_index: Option<u64>, count: Option<u32>) -> (u64, u32) {
    (start_index.unwrap_or(1).max(1), count.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE))
}

/// A user filter's terms, in the store's terms; `invalidFilter` for what is not taken.
fn user_filter(text: Option<&str>) -> Result<ScimUserFilter> {
    let mut filter = ScimUserFilter::default();
    let Some(text) = text else { return Ok(filter) };
    let parsed = parse_filter(text).map_err(|e| scim(400, Some("invalidFilter"), e.0))?;
    for term in parsed.terms() {
        let Filter::Eq(path, Value::String(value)) = term else {
            return Err(scim(400, Some("invalidFilter"), "a user filter compares an attribute to a string with `eq`"));
        };
        let slot = match (path.attr.as_str(), path.sub.as_deref()) {
            ("username", None) if !path.extension => &mut filter.user_name,
            ("externalid", None) if !path.extension => &mut filter.external_id,
            ("emails", None | Some("value")) if !path.extension => &mut filter.email,
            _ => {
                let why = "users are filtered by userName, externalId or emails (emails[type eq \"work\"].value)";
                return Err(scim(400, Some("invalidFilter"), why));
            }
        };
        *slot = Some(value.clone());
    }
    Ok(filter)
}

impl Federation {
    /// An outcome of the SCIM client's, about `account`.
    pub(super) fn scim_outcome(
        &self,
        kind: Kind,
        who: &ScimCaller,
        account: Option<Uuid>,
        client: &ClientInfo,
    ) -> Outcome {
        self.outcome(kind, account, client)
            .with("org_id", who.org_id.to_string())
            .with("via", "scim")
            .with("scim_token_id", who.token_id.to_string())
    }

    /// Refuses an address at no domain the organization verified.
    async fn vouched_address(&self, who: &ScimCaller, address: &str) -> Result<()> {
        if !self.org_vouches(who.org_id, address).await? {
            let why = "the address is not at a domain the organization verified: verify the domain first";
            return Err(scim(400, Some("invalidValue"), why));
        }
        Ok(())
    }

    /// Whether SCIM may provision an existing account: see the rules above.
    async fn may_provision(&self, org_id: Uuid, account: &Account) -> Result<bool> {
        if access::has_admin_role(account) {
            return Ok(false);
        }
        let memberships = self.store.all_memberships(account.id).await?;
        if let Some(here) = memberships.iter().find(|m| m.org.id == org_id) {
            return Ok(!access::is_owner_role(&here.role));
        }
        Ok(memberships.is_empty() && account.status == Status::Active && account.email_verified)
    }

    pub async fn scim_user(&self, who: &ScimCaller, id: &str) -> Result<ScimUser> {
        let id = Uuid::parse_str(id).map_err(|_| not_found("User"))?;
        self.store.scim_user(who.org_id, id).await?.ok_or_else(|| not_found("User"))
    }

    pub async fn scim_users(
        &self,
        who: &ScimCaller,
        filter: Option<&str>,
        start_index: Option<u64>,
        count: Option<u32>,
    ) -> Result<ListPage<ScimUser>> {
        let filter = user_filter(filter)?;
        let (start_index, count) = page_of(start_index, count);
        let page = self.store.scim_users(who.org_id, &filter, start_index - 1, count).await?;
        Ok(ListPage { items: page.items, total: page.total, start_index })
    }

    /// Provisions a User (`POST /Users`).
    pub async fn scim_create_user(&self, who: &ScimCaller, body: &Value, client: &ClientInfo) -> Result<ScimUser> {
        let input = UserInput::from_json(body).map_err(unreadable)?;
        let attributes = stored_attributes(body)?;
        let address = input.email.clone().ok_or_else(|| {
            scim(400, Some("invalidValue"), "a User needs an address: a primary email, or a userName that is one")
        })?;
        self.vouched_address(who, &address).await?;
        let now = self.now();
        let existing = self.store.find_account(&AccountKey::Email(address.to_lowercase())).await?;
        let new_account = match &existing {
            Some(found) => {
                if !self.may_provision(who.org_id, &found.account).await? {
                    let why = "an account holds this address that this organization may not provision";
                    return Err(scim(409, Some("uniqueness"), why));
                }
                None
            }
            None => {
                let profile = |name: Option<&str>| {
                    NewProfile::parse(Submitted {
                        email: &address,
                        username: None,
                        name,
                        data: Ok(AccountData::default()),
                        app_data: Ok(AccountData::default()),
                        password: None,
                    })
                };
                let profile = profile(input.name.as_deref()).or_else(|_| profile(None));
                let profile = profile.map_err(|_| scim(400, Some("invalidValue"), "the address is not valid"))?;
                let hash = self.unknown_password_hash().await?;
                let mut account = profile.account(hash, Role::User, Status::Active, true, now);
                account.locale = client.locale;
                Some(account)
            }
        };
        let account_id = existing.as_ref().map_or_else(|| new_account.as_ref().map(|a| a.id), |f| Some(f.account.id));
        let account_id = account_id.ok_or_else(|| anyhow::anyhow!("no account to provision"))?;
        let mut effects =
            Effects::of(self.scim_outcome(Kind::OrgMemberAdded, who, Some(account_id), client).with("role", MEMBER));
        if new_account.is_some() {
            let made = self.scim_outcome(Kind::SignupByProvider, who, Some(account_id), client);
            effects = effects.and(made.with("active", true));
        }
        let provision = Provision {
            org_id: who.org_id,
            account_id,
            new_account: new_account.as_ref(),
            role: MEMBER,
            user_name: &input.user_name,
            external_id: input.external_id.as_deref(),
            active: input.active,
            attributes: &attributes,
            created_account: new_account.is_some(),
            disabled_account: false,
            now,
        };
        match self
            .commit(&effects, self.store.provision_scim_user(&provision, self.policy.org_member_limit, &effects))
            .await?
        {
            Provisioned::Done => {}
            Provisioned::UserNameTaken | Provisioned::EmailTaken => {
                return Err(scim(
                    409,
                    Some("uniqueness"),
                    "a User with this userName or address is provisioned already",
                ));
            }
            Provisioned::MemberLimit => return Err(scim(403, None, "the organization has reached its member limit")),
        }
        tracing::info!(org_id = %who.org_id, account_id = %account_id, made = new_account.is_some(), "user provisioned by SCIM");
        self.store.scim_user(who.org_id, account_id).await?.ok_or_else(|| not_found("User"))
    }

    /// Replaces a User (`PUT`).
    pub async fn scim_replace_user(
        &self,
        who: &ScimCaller,
        id: &str,
        body: &Value,
        client: &ClientInfo,
    ) -> Result<ScimUser> {
        let current = self.scim_user(who, id).await?;
        self.scim_update_user(who, current, body, client).await
    }

    /// Changes a User by SCIM's PATCH: applied to the User as it is, then read whole.
    pub async fn scim_patch_user(
        &self,
        who: &ScimCaller,
        id: &str,
        body: &Value,
        client: &ClientInfo,
    ) -> Result<ScimUser> {
        let current = self.scim_user(who, id).await?;
        let mut resource = wire::resource::user_fields(&current);
        wire::patch::apply(&mut resource, body).map_err(patch_refused)?;
        self.scim_update_user(who, current, &resource, client).await
    }

    /// The account a change touches, refused when it is a server admin or the organization's
    /// owner (promoted since it was provisioned).
    async fn scim_account(&self, who: &ScimCaller, account_id: Uuid) -> Result<Account> {
        let found = self.store.find_account(&AccountKey::Id(account_id)).await?;
        let account = found.map(|c| c.account).ok_or_else(|| not_found("User"))?;
        let memberships = self.store.all_memberships(account_id).await?;
        let here: Vec<_> = memberships.into_iter().filter(|m| m.org.id == who.org_id).collect();
        // Another organization's membership does not protect an account SCIM already holds.
        if !access::org_may_speak_for(&account, &here, who.org_id) {
            return Err(protected());
        }
        Ok(account)
    }

    /// Whether the account SCIM made is still the organization's to rename and re-address: at
    /// one of its verified domains, and in no other organization (a person who moved the
    /// account to an address of their own, or into another organization, keeps it).
    async fn still_the_orgs(&self, who: &ScimCaller, account: &Account) -> Result<bool> {
        if !self.org_vouches(who.org_id, &account.email).await? {
            return Ok(false);
        }
        let memberships = self.store.all_memberships(account.id).await?;
        Ok(memberships.iter().all(|m| m.org.id == who.org_id))
    }

    /// Whether SCIM may disable the account: it made it, and it belongs to no other
    /// organization.
    async fn may_disable(&self, who: &ScimCaller, user: &ScimUser) -> Result<bool> {
        if !user.created_account {
            return Ok(false);
        }
        let memberships = self.store.all_memberships(user.account_id).await?;
        Ok(memberships.iter().all(|m| m.org.id == who.org_id))
    }

    async fn scim_update_user(
        &self,
        who: &ScimCaller,
        current: ScimUser,
        resource: &Value,
        client: &ClientInfo,
    ) -> Result<ScimUser> {
        let input = UserInput::from_json(resource).map_err(unreadable)?;
        let attributes = stored_attributes(resource)?;
        let account = self.scim_account(who, current.account_id).await?;
        let mut fields = Vec::new();
        // A name that is no display name keeps the account's own.
        let name = match input.name.as_deref().map(DisplayName::parse) {
            Some(Ok(name)) => name.map(|n| n.as_str().to_owned()),
            None => None,
            Some(Err(_)) => account.name.clone(),
        };
        let address = match &input.email {
            Some(email) => {
                Some(Email::parse(email).map_err(|_| scim(400, Some("invalidValue"), "the address is not valid"))?)
            }
            None => None,
        };
        let changes =
            address.as_ref().is_some_and(|a| !a.as_str().eq_ignore_ascii_case(&account.email)) || name != account.name;
        let profile = match &address {
            Some(address) if changes && current.created_account && self.still_the_orgs(who, &account).await? => {
                self.vouched_address(who, address.as_str()).await?;
                fields.push("profile");
                Some((name.as_deref(), address.as_str()))
            }
            _ => None,
        };
        let account_enabled = match input.active {
            false if self.may_disable(who, &current).await? => Some(false),
            true if current.disabled_account => Some(true),
            _ => None,
        };
        if input.active != current.active {
            fields.push("active");
        }
        if account_enabled == Some(false) && account.status != Status::Disabled {
            // Sessions end first: should the change then fail, nobody kept access.
            self.close_all_sessions(account.id, None).await?;
        }
        let change = ScimUserChange {
            user_name: &input.user_name,
            external_id: input.external_id.as_deref(),
            active: input.active,
            account_enabled,
            profile,
            attributes: &attributes,
            now: self.now(),
        };
        let updated = self
            .scim_outcome(Kind::OrgMemberUpdated, who, Some(account.id), client)
            .with("fields", fields)
            .with("active", input.active)
            .with("account_disabled", account_enabled == Some(false));
        let effects = Effects::of(updated);
        match self.commit(&effects, self.store.update_scim_user(who.org_id, account.id, &change, &effects)).await {
            Ok(UserWrite::Done) => {}
            Ok(UserWrite::NotFound) => return Err(not_found("User")),
            Ok(UserWrite::Protected) => return Err(protected()),
            Ok(UserWrite::UserNameTaken) | Err(StoreError::EmailTaken) => {
                return Err(scim(409, Some("uniqueness"), "another User has this userName or address"));
            }
            Err(other) => return Err(other.into()),
        }
        if account_enabled.is_some() {
            // What replicas remember of the account (its keys' owner status among it) goes.
            self.account_changed(account.id).await;
        }
        self.store.scim_user(who.org_id, account.id).await?.ok_or_else(|| not_found("User"))
    }

    /// Deprovisions a User (`DELETE`): the membership ends, and by the rule above the account
    /// is disabled.
    pub async fn scim_delete_user(&self, who: &ScimCaller, id: &str, client: &ClientInfo) -> Result<()> {
        let current = self.scim_user(who, id).await?;
        let account = self.scim_account(who, current.account_id).await?;
        let disable = self.may_disable(who, &current).await? && account.status != Status::Disabled;
        if disable {
            self.close_all_sessions(account.id, None).await?;
        }
        let removed =
            self.scim_outcome(Kind::OrgMemberRemoved, who, Some(account.id), client).with("account_disabled", disable);
        let effects = Effects::of(removed);
        match self
            .commit(&effects, self.store.deprovision_scim_user(who.org_id, account.id, disable, self.now(), &effects))
            .await?
        {
            UserWrite::Done => {}
            UserWrite::Protected => return Err(protected()),
            UserWrite::NotFound | UserWrite::UserNameTaken => return Err(not_found("User")),
        }
        if disable {
            self.account_changed(account.id).await;
        }
        tracing::info!(org_id = %who.org_id, account_id = %account.id, disabled = disable, "user deprovisioned by SCIM");
        Ok(())
    }
}

/// The most a User's kept attributes may weigh, as JSON.
const MAX_ATTRIBUTES: usize = 16 * 1024;

/// What the server sets of a User whatever the client wrote (and a password, never kept).
const SERVER_SET: [&str; 7] = ["id", "schemas", "meta", "password", "groups", "userName", "externalId"];

/// What is kept of a User the client wrote, to give it back as written: everything but what
/// the server sets.
fn stored_attributes(resource: &Value) -> Result<Map<String, Value>> {
    let mut kept = resource.as_object().cloned().unwrap_or_default();
    // A name is read as a path, so the core schema's URN in front of it changes nothing; the
    // core schema's own object (`{"urn:…:core:2.0:User": {…}}`) is not kept either.
    kept.retain(|name, _| match parse_path(name) {
        Ok(path) if !path.extension => {
            path.sub.is_some() || !SERVER_SET.iter().any(|s| s.eq_ignore_ascii_case(&path.attr))
        }
        Ok(_) => !name.eq_ignore_ascii_case(wire::USER_SCHEMA),
        Err(_) => false,
    });
    drop_passwords(&mut kept);
    if Value::Object(kept.clone()).to_string().len() > MAX_ATTRIBUTES {
        return Err(scim(400, Some("invalidValue"), "a User's attributes take at most 16 KiB"));
    }
    Ok(kept)
}

/// Removes every `password` member, at any depth (an extension may carry one too).
fn drop_passwords(object: &mut Map<String, Value>) {
    object
        .retain(|name, _| !name.eq_ignore_ascii_case("password") && !name.to_ascii_lowercase().ends_with(":password"));
    for value in object.values_mut() {
        match value {
            Value::Object(inner) => drop_passwords(inner),
            Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(drop_passwords),
            _ => {}
        }
    }
}
