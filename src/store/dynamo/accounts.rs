//! Accounts: the account item with its uniqueness markers (addresses and usernames), and the
//! account operations, each a change planned by [`super::plan`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::items::{Write, WriteError, item, key, n, s};
use super::owned::{IDENTITY, deletions};
use super::plan::{Plan, account_item, account_pk, is_active_admin};
use super::scim::scim_unmark;
use super::{ATTEMPTS, DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::{Account, AccountKey, Credentials, Status};
use crate::model::outcome::Effects;
use crate::store::accounts::{AccountStore, NewAccount, ProfileChange};
use crate::store::error::{StoreError, StoreResult};
use crate::store::tokens::NewOneTimeToken;

pub(super) fn email_pk(normalized: &str) -> String {
    format!("E#{normalized}")
}

pub(super) fn username_pk(normalized: &str) -> String {
    format!("U#{normalized}")
}
/// A username claim, for the account `id`: new, or already this account's.
fn claim_username(tables: &Tables, normalized: &str, id: Uuid, now: DateTime<Utc>) -> Write {
    let claim =
        item(username_pk(normalized), "U", vec![("account", s(id.to_string())), ("at", super::items::stamp(now))]);
    Write::put(&tables.main, claim).when("attribute_not_exists(#pk) OR #account = :id").value("id", s(id.to_string()))
}
/// The writes of a new account: the account, its address marker ([`StoreError::EmailTaken`]
/// when taken), its username's claim ([`StoreError::UsernameTaken`]) and, for an active admin,
/// its place in the admin set.
pub(super) fn new_account(tables: &Tables, account: &NewAccount) -> StoreResult<Plan<Account>> {
    let stored = Account {
        id: account.id,
        email: account.email.clone(),
        username: account.username.clone(),
        name: account.name.clone(),
        data: account.data.clone(),
        app_data: account.app_data.clone(),
        role: account.role,
        status: account.status,
        email_verified: account.email_verified,
        locale: account.locale,
        created_at: account.now,
        updated_at: account.now,
    };
    let fresh = "attribute_not_exists(#pk)";
    let written = Write::put(&tables.main, account_item(&stored, &account.password_hash, 1, 1)?).when(fresh);
    let mut plan = Plan::of(vec![written], stored.clone(), Some(stored.clone()));
    let marker = item(email_pk(&account.email_normalized), "E", vec![("account", s(account.id.to_string()))]);
    plan.refused_by(Write::put(&tables.main, marker).when(fresh), || StoreError::EmailTaken);
    if let Some(username) = &account.username {
        let claim = claim_username(tables, &username.to_ascii_lowercase(), account.id, account.now);
        plan.refused_by(claim, || StoreError::UsernameTaken);
    }
    plan.keep_admins(tables, false, is_active_admin(&stored), account.id);
    Ok(plan)
}

impl DynamoStore {
    /// Writes a new account's plan in one transaction: its value, or what its refused
    /// condition means.
    pub(super) async fn write_new<T>(&self, mut plan: Plan<T>) -> StoreResult<T> {
        plan.writes.extend(self.deliveries_of(&plan.events, plan.account.as_ref()).await?);
        let writes = plan.writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
        match self.transact(writes).await {
            Ok(()) => Ok(plan.value),
            Err(WriteError::Store(error)) => Err(error),
            Err(WriteError::Conflict) => Err(StoreError::Conflict),
            Err(failed) => match plan.refusals.iter().find(|(index, _)| failed.failed(*index)) {
                Some((_, refusal)) => Err(refusal()),
                None => Err(anyhow::anyhow!("a new item's key is taken").into()),
            },
        }
    }

    /// The account a marker (`E#…`, `U#…`) points at.
    async fn read_marker(&self, pk: String, sk: &str) -> StoreResult<Option<Uuid>> {
        let found = self.get(&self.tables.main, key(pk, sk)).await?;
        let Some(marker) = found else { return Ok(None) };
        Ok(Some(super::items::id(&marker, "account")?))
    }
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<&NewOneTimeToken>,
        effects: &Effects,
    ) -> StoreResult<Account> {
        timed!(DB, "insert_account", async {
            let mut plan = new_account(&self.tables, account)?;
            if let Some(token) = link {
                plan.writes.extend(super::tokens::token_write(&self.tables, token)?);
            }
            plan.tell(&self.tables, effects)?;
            self.write_new(plan).await
        })
    }

    async fn find_account(&self, key: &AccountKey) -> StoreResult<Option<Credentials>> {
        timed!(DB, "find_account", async {
            let (id, username) = match key {
                AccountKey::Id(id) => (Some(*id), None),
                AccountKey::Email(email) => (self.read_marker(email_pk(&email.to_lowercase()), "E").await?, None),
                AccountKey::Username(name) => {
                    let normalized = name.to_ascii_lowercase();
                    (self.read_marker(username_pk(&normalized), "U").await?, Some(normalized))
                }
            };
            let Some(id) = id else { return Ok(None) };
            let Some(stored) = self.read_account(id).await? else { return Ok(None) };
            // A username claim outlives the name: the account may have another one now.
            if let Some(wanted) = username
                && stored.account.username.as_ref().map(|u| u.to_ascii_lowercase()) != Some(wanted)
            {
                return Ok(None);
            }
            Ok(Some(Credentials { account: stored.account, password_hash: stored.password_hash }))
        })
    }

    async fn update_profile(
        &self,
        id: Uuid,
        change: &ProfileChange,
        effects: &Effects,
    ) -> StoreResult<Option<Account>> {
        timed!(DB, "update_profile", async {
            self.change_account_with(id, Some(IDENTITY), |read, identities| {
                let pending = read.account.status == Status::Pending;
                let mut account = read.account.clone();
                account.username = change.username.clone();
                account.name = change.name.clone();
                account.data = change.data.clone();
                account.app_data = change.app_data.clone();
                account.role = change.role;
                account.status = change.status;
                account.locale = change.locale;
                account.updated_at = change.now;
                let mut plan = Plan::new(&self.tables, &read, &account, &read.password_hash, account.clone())?;
                if let Some(username) = &change.username {
                    let claim = claim_username(&self.tables, &username.to_ascii_lowercase(), id, change.now);
                    plan.refused_by(claim, || StoreError::UsernameTaken);
                }
                if pending && change.status == Status::Active {
                    // An admin activating a pending account vouches for the address, not for the
                    // logins whoever signed up linked: those go.
                    plan.writes.extend(deletions(&self.tables, identities)?);
                }
                // The status is now whoever wrote it last: SCIM enables again only an account
                // it disabled itself, so its mark goes with any other write of the account.
                plan.writes.push(scim_unmark(&self.tables, id));
                plan.tell(&self.tables, effects)?;
                Ok(Some(plan))
            })
            .await
        })
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str, now: DateTime<Utc>, effects: &Effects) -> StoreResult<()> {
        timed!(DB, "set_password_hash", async {
            self.change_account(id, |read| {
                let mut account = read.account.clone();
                account.updated_at = now;
                let mut plan = Plan::new(&self.tables, &read, &account, hash, ())?;
                plan.tell(&self.tables, effects)?;
                Ok(Some(plan))
            })
            .await?;
            Ok(())
        })
    }

    async fn delete_account(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(DB, "delete_account", async {
            for _ in 0..ATTEMPTS {
                // The organizations it owns are released in its transaction (deleted when it is
                // their only member; refused when it would leave members without an owner), each
                // on condition of the organization's version as read here.
                let released = self.released_orgs(id).await?;
                let deleted = self
                    .change_account(id, |read| {
                        let account_key = key(account_pk(id), "A");
                        let gone = Write::delete(&self.tables.main, account_key)
                            .when("#ver = :ver")
                            .value("ver", n(read.version));
                        // Its events carry the account as it was.
                        let mut plan = Plan::of(vec![gone], (), Some(read.account.clone()));
                        let marker = key(email_pk(&read.account.email.to_lowercase()), "E");
                        plan.writes.push(Write::delete(&self.tables.main, marker));
                        plan.keep_admins(&self.tables, read.is_active_admin(), false, id);
                        for write in &released.writes {
                            // An organization changed meanwhile: released again, from a new read.
                            plan.refused_by(write.clone(), || StoreError::Conflict);
                        }
                        plan.tell(&self.tables, effects)?;
                        Ok(Some(plan))
                    })
                    .await;
                let deleted = match deleted {
                    Err(StoreError::Conflict) => continue,
                    deleted => deleted?,
                };
                if deleted.is_some() {
                    for org in &released.dropped {
                        self.drop_org(*org).await;
                    }
                    if let Err(error) = self.drop_owned(&account_pk(id)).await {
                        // Unreachable without the account; the deletion stands.
                        tracing::warn!(account = %id, error = %error, "items of a deleted account were left behind");
                    }
                }
                return Ok(deleted.is_some());
            }
            Err(StoreError::Unavailable(anyhow::anyhow!("the organizations of {id} kept changing during its deletion")))
        })
    }
}
