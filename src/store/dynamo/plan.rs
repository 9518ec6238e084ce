//! The account item and the read-plan-write loop every change of an account goes through
//! ([`DynamoStore::change_account`]): the account's version, its sessions' generation, and the
//! set of active admins that the last-admin guard keeps.

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use super::items::{Item, Write, WriteError, item, key, n, s, text};
use super::{DynamoStore, Tables, effects};
use crate::model::account::Account;
use crate::model::outcome::Effects;
use crate::model::webhook::Event;
use crate::store::error::{StoreError, StoreResult};

/// How many times a change is planned again when another change of the account came first.
const ATTEMPTS: usize = 8;
pub(super) fn account_pk(id: Uuid) -> String {
    format!("A#{id}")
}
/// The item holding the set of active admins.
fn admins_key() -> Item {
    key("ADMINS", "ADMINS")
}

/// An account as stored, with the version its next change checks and the generation of its
/// sessions (a session is live only while it carries the account's current generation: ending
/// every session of an account is one write, whatever their number).
#[derive(Clone)]
pub(super) struct Stored {
    pub account: Account,
    pub password_hash: String,
    pub version: i64,
    pub generation: i64,
}

impl Stored {
    pub(super) fn is_active_admin(&self) -> bool {
        is_active_admin(&self.account)
    }
}

pub(super) fn is_active_admin(account: &Account) -> bool {
    crate::model::account::is_active_admin(account.role, account.status)
}

pub(super) fn account_item(account: &Account, password_hash: &str, version: i64, generation: i64) -> StoreResult<Item> {
    let doc = serde_json::to_string(account).map_err(anyhow::Error::from)?;
    let mut attributes = vec![
        ("doc", s(doc)),
        ("hash", s(password_hash)),
        ("ver", n(version)),
        ("gen", n(generation)),
        ("email_norm", s(account.email.to_lowercase())),
        ("role", s(account.role.as_str())),
        ("status", s(account.status.as_str())),
        ("created", super::items::stamp(account.created_at)),
        ("by_pk", s("A")),
        ("by_sk", s(account.id.to_string())),
    ];
    // Lower-cased, for the admin search (a substring of any of them).
    if let Some(username) = &account.username {
        attributes.push(("username_norm", s(username.to_lowercase())));
    }
    if let Some(name) = &account.name {
        attributes.push(("name_norm", s(name.to_lowercase())));
    }
    Ok(item(account_pk(account.id), "A", attributes))
}

pub(super) fn stored_from_item(item: &Item) -> StoreResult<Stored> {
    let account = serde_json::from_str(text(item, "doc")?).map_err(anyhow::Error::from)?;
    let (version, generation) = (super::items::number(item, "ver")?, super::items::number(item, "gen")?);
    Ok(Stored { account, password_hash: text(item, "hash")?.to_owned(), version, generation })
}

/// A change of one account, planned from the account as read: the writes (the account's own
/// first, written on condition of the version read), what the change returns, and which
/// failed condition means what.
pub(super) struct Plan<T> {
    pub writes: Vec<Write>,
    pub value: T,
    /// For an item whose condition failed, the error it means (the account's own: someone
    /// else changed it first, so the change is planned again).
    pub refusals: Vec<(usize, fn() -> StoreError)>,
    /// The webhook events the change tells (their deliveries are written with it, see
    /// [`DynamoStore::deliveries_of`]) and the account they carry: as the change leaves it.
    pub events: Vec<Event>,
    pub account: Option<Account>,
}

impl<T> Plan<T> {
    /// The account written as `account` (with its hash), on condition of `read`'s version.
    pub(super) fn new(
        tables: &Tables,
        read: &Stored,
        account: &Account,
        password_hash: &str,
        value: T,
    ) -> StoreResult<Self> {
        let written =
            Write::put(&tables.main, account_item(account, password_hash, read.version + 1, read.generation)?)
                .when("#ver = :ver")
                .value("ver", n(read.version));
        let mut plan = Self::of(vec![written], value, Some(account.clone()));
        plan.keep_admins(tables, read.is_active_admin(), is_active_admin(account), account.id);
        Ok(plan)
    }

    /// The plan of `writes`, whose events carry `account`.
    pub(super) fn of(writes: Vec<Write>, value: T, account: Option<Account>) -> Self {
        Self { writes, value, refusals: Vec::new(), events: Vec::new(), account }
    }

    /// The same plan, returning `value`.
    pub(super) fn with_value<U>(self, value: U) -> Plan<U> {
        Plan { writes: self.writes, value, refusals: self.refusals, events: self.events, account: self.account }
    }

    /// Adds a write that, when its condition fails, means `refusal`.
    pub(super) fn refused_by(&mut self, write: Write, refusal: fn() -> StoreError) {
        self.refusals.push((self.writes.len(), refusal));
        self.writes.push(write);
    }

    /// Adds the write that spends what the change redeems (a link, a code): when its condition
    /// fails, `refusal` is what the change answers, whatever other condition failed with it
    /// (spent already comes before a taken address).
    pub(super) fn spends(&mut self, write: Write, refusal: fn() -> StoreError) {
        self.refusals.insert(0, (self.writes.len(), refusal));
        self.writes.push(write);
    }

    /// Keeps the set of active admins true: the account joins it, or leaves it on condition
    /// that another admin remains ([`StoreError::LastAdmin`] otherwise).
    pub(super) fn keep_admins(&mut self, tables: &Tables, was: bool, is: bool, id: Uuid) {
        let me = AttributeValue::Ss(vec![id.to_string()]);
        match (was, is) {
            (false, true) => {
                self.writes.push(Write::update(&tables.main, admins_key(), "ADD #ids :me").value("me", me))
            }
            (true, false) => self.refused_by(
                Write::update(&tables.main, admins_key(), "DELETE #ids :me")
                    .when("contains(#ids, :id) AND size(#ids) > :one")
                    .value("me", me)
                    .value("id", s(id.to_string()))
                    .value("one", n(1)),
                || StoreError::LastAdmin,
            ),
            _ => {}
        }
    }

    /// Adds what the change tells.
    pub(super) fn tell(&mut self, tables: &Tables, effects: &Effects) -> StoreResult<()> {
        self.writes.extend(effects::writes(tables, effects)?);
        self.events.extend(effects.webhooks());
        Ok(())
    }
}

impl DynamoStore {
    /// The account `id` as stored now (a strongly consistent read).
    pub(super) async fn read_account(&self, id: Uuid) -> StoreResult<Option<Stored>> {
        let found = self.get(&self.tables.main, key(account_pk(id), "A")).await?;
        found.as_ref().map(stored_from_item).transpose()
    }

    /// Runs a change of the account `id`: reads it, lets `plan` make the writes, writes them in
    /// one transaction, and plans again (up to [`ATTEMPTS`] times) when another change of the
    /// account came first. `None` when there is no such account, or `plan` gave none.
    pub(super) async fn change_account<T>(
        &self,
        id: Uuid,
        mut plan: impl FnMut(Stored) -> StoreResult<Option<Plan<T>>>,
    ) -> StoreResult<Option<T>> {
        self.change_account_with(id, None, |read, _| plan(read)).await
    }

    /// As [`Self::change_account`], reading with the account (in one strongly consistent query
    /// of its partition) its items whose sort keys begin with `owned` (its identities, say), which
    /// `plan` decides on too. A change that adds such an item raises the account's version, so
    /// a plan never writes on a stale list of them.
    pub(super) async fn change_account_with<T>(
        &self,
        id: Uuid,
        owned: Option<&str>,
        mut plan: impl FnMut(Stored, &[Item]) -> StoreResult<Option<Plan<T>>>,
    ) -> StoreResult<Option<T>> {
        for _ in 0..ATTEMPTS {
            let (read, items) = match owned {
                None => (self.read_account(id).await?, Vec::new()),
                Some(prefix) => {
                    let mut read = None;
                    let mut items = Vec::new();
                    for found in self.partition(&self.tables.main, &account_pk(id), "").await? {
                        let sk = text(&found, "sk")?;
                        if sk == "A" {
                            read = Some(stored_from_item(&found)?);
                        } else if sk.starts_with(prefix) {
                            items.push(found);
                        }
                    }
                    (read, items)
                }
            };
            let Some(read) = read else { return Ok(None) };
            let Some(mut planned) = plan(read, &items)? else { return Ok(None) };
            planned.writes.extend(self.deliveries_of(&planned.events, planned.account.as_ref()).await?);
            let writes = planned.writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
            match self.transact(writes).await {
                Ok(()) => return Ok(Some(planned.value)),
                Err(WriteError::Conflict) => continue,
                Err(WriteError::Store(error)) => return Err(error),
                Err(failed) => {
                    if let Some((_, refusal)) = planned.refusals.iter().find(|(index, _)| failed.failed(*index)) {
                        return Err(refusal());
                    }
                    // The account's own condition, or one of the plan's that means "changed
                    // meanwhile": read again.
                }
            }
        }
        Err(StoreError::Unavailable(anyhow::anyhow!("the account {id} kept changing while a change was written")))
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::super::items::opt_text;
    use super::*;
    use crate::model::account::{Role, Status};

    #[test]
    fn an_account_item_reads_back_as_written() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:00:00.123456Z").unwrap().with_timezone(&Utc);
        let account = Account {
            id: Uuid::now_v7(),
            email: "Ada@Example.com".into(),
            username: Some("Ada".into()),
            name: None,
            data: serde_json::Map::from_iter([("k".to_owned(), serde_json::json!([1, "two"]))]),
            app_data: serde_json::Map::new(),
            role: Role::Admin,
            status: Status::Pending,
            email_verified: false,
            locale: None,
            created_at: now,
            updated_at: now,
        };
        let item = account_item(&account, "$argon2id$...", 7, 3).unwrap();
        assert_eq!(opt_text(&item, "email_norm").unwrap(), Some("ada@example.com"));
        assert_eq!(opt_text(&item, "username_norm").unwrap(), Some("ada"));
        let read = stored_from_item(&item).unwrap();
        assert_eq!(read.account, account);
        assert_eq!((read.password_hash.as_str(), read.version, read.generation), ("$argon2id$...", 7, 3));
    }
}
