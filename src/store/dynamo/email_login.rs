//! Logins by email (a link and a code) and hand-off codes. A login is the item `EL#<id>`; its
//! link's hash points at it (`ELL#<hash>`), and the address at its newest login (`ELA#<address>`,
//! replaced on condition that it still names the login read, so that of two requests at once
//! the later one ends the earlier). Codes are guessed against a count of attempts taken by a
//! write on condition that the login is open and under its bound; spending a login is a write
//! on condition that it is open, in the transaction of what it does to the account.

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::new_account;
use super::items::{Item, Write, WriteError, hex, id, item, key, n, opt_text, s, stamp, ttl};
use super::owned::{IDENTITY, deletions};
use super::plan::Plan;
use super::{DynamoStore, Tables};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Status;
use crate::model::outcome::Effects;
use crate::store::email_login::{
    EmailLogin, EmailLoginStore, HandoffBinding, LinkFacts, LinkState, NewEmailLogin, Redeem, SpentHandoff,
};
use crate::store::error::{StoreError, StoreResult};
use crate::tokens::opaque::TokenHash;

/// How many times a request reads the address's newest login again when another came first.
const ATTEMPTS: usize = 8;

fn login_key(id: Uuid) -> Item {
    key(format!("EL#{id}"), "EL")
}

fn link_key(hash: &TokenHash) -> Item {
    key(format!("ELL#{}", hex(hash.as_bytes())), "ELL")
}

fn newest_key(email_normalized: &str) -> Item {
    key(format!("ELA#{email_normalized}"), "ELA")
}

fn handoff_key(hash: &TokenHash) -> Item {
    key(format!("HO#{}", hex(hash.as_bytes())), "HO")
}

fn hash(item: &Item, name: &str) -> StoreResult<Option<TokenHash>> {
    match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::B(bytes)) => TokenHash::from_bytes(bytes.as_ref())
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("a stored {name:?} is not 32 bytes").into()),
        Some(_) => Err(anyhow::anyhow!("{name:?} is not bytes").into()),
    }
}

fn binding_attributes(binding: &HandoffBinding) -> Vec<(&'static str, AttributeValue)> {
    let mut attributes = Vec::new();
    if let Some(browser) = &binding.browser {
        attributes.push(("browser", AttributeValue::B(Blob::new(browser.as_bytes().to_vec()))));
    }
    if let Some(challenge) = &binding.challenge {
        attributes.push(("challenge", s(challenge.as_str())));
    }
    attributes
}

fn binding_from_item(found: &Item) -> StoreResult<HandoffBinding> {
    Ok(HandoffBinding { browser: hash(found, "browser")?, challenge: opt_text(found, "challenge")?.map(str::to_owned) })
}

fn login_from_item(found: &Item) -> StoreResult<EmailLogin> {
    Ok(EmailLogin {
        id: id(found, "id")?,
        email: super::items::text(found, "email")?.to_owned(),
        account_id: opt_text(found, "account")?.map(Uuid::parse_str).transpose().map_err(anyhow::Error::from)?,
        code_hash: hash(found, "code")?.ok_or_else(|| anyhow::anyhow!("a login without its code"))?,
        handoff: binding_from_item(found)?,
    })
}

/// The writes of a new login: the login, and its link's pointer.
fn login_writes(tables: &Tables, login: &NewEmailLogin) -> Vec<Write> {
    let mut attributes = vec![
        ("id", s(login.id.to_string())),
        ("email", s(login.email.as_str())),
        ("email_norm", s(login.email_normalized.as_str())),
        ("code", AttributeValue::B(Blob::new(login.code_hash.as_bytes().to_vec()))),
        ("attempts", n(0)),
        ("created", stamp(login.created_at)),
        ("expires", stamp(login.expires_at)),
        ("ttl", ttl(login.expires_at)),
    ];
    attributes.extend(login.account_id.map(|account| ("account", s(account.to_string()))));
    attributes.extend(binding_attributes(&login.handoff));
    let mut written = item("", "", attributes);
    written.extend(login_key(login.id));
    let mut link = item("", "", vec![("login", s(login.id.to_string())), ("ttl", ttl(login.expires_at))]);
    link.extend(link_key(&login.link_hash));
    let fresh = "attribute_not_exists(#pk)";
    vec![Write::put(&tables.main, written).when(fresh), Write::put(&tables.main, link).when(fresh)]
}

/// Spends the login `id` (and names `account` its account, when given): on condition that it
/// is open at `now` and took no more than `bound` attempts.
fn spend(tables: &Tables, id: Uuid, bound: u32, now: DateTime<Utc>, account: Option<Uuid>) -> Write {
    let update = match account {
        Some(_) => "SET #used = :now, #account = :account",
        None => "SET #used = :now",
    };
    let write = Write::update(&tables.main, login_key(id), update)
        .when("attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now AND #attempts <= :bound")
        .value("now", stamp(now))
        .value("bound", n(bound));
    match account {
        Some(account) => write.value("account", s(account.to_string())),
        None => write,
    }
}

impl DynamoStore {
    /// The login the address's newest pointer names, and when it expires.
    async fn newest_login(&self, email_normalized: &str) -> StoreResult<Option<(Uuid, DateTime<Utc>)>> {
        let Some(pointer) = self.get(&self.tables.main, newest_key(email_normalized)).await? else { return Ok(None) };
        Ok(Some((id(&pointer, "login")?, super::items::time(&pointer, "expires")?)))
    }
}

#[async_trait]
impl EmailLoginStore for DynamoStore {
    async fn insert_email_login(&self, login: &NewEmailLogin, effects: &Effects) -> StoreResult<()> {
        timed!(DB, "insert_email_login", async {
            for _ in 0..ATTEMPTS {
                let previous = self.newest_login(&login.email_normalized).await?;
                let mut writes = login_writes(&self.tables, login);
                let mut pointer = item(
                    "",
                    "",
                    vec![
                        ("login", s(login.id.to_string())),
                        ("expires", stamp(login.expires_at)),
                        ("ttl", ttl(login.expires_at)),
                    ],
                );
                pointer.extend(newest_key(&login.email_normalized));
                let replaced = Write::put(&self.tables.main, pointer);
                match previous {
                    Some((previous, expires)) => {
                        // A newer request ends the earlier login (expiry alone deletes it, once
                        // it has expired).
                        if expires > login.created_at {
                            let ended = Write::update(&self.tables.main, login_key(previous), "SET #expires = :now")
                                .when("attribute_exists(#pk)")
                                .value("now", stamp(login.created_at));
                            writes.push(ended);
                        }
                        writes.push(replaced.when("#login = :previous").value("previous", s(previous.to_string())));
                    }
                    None => writes.push(replaced.when("attribute_not_exists(#pk)")),
                }
                writes.extend(self.told(effects).await?);
                let built = writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
                match self.transact(built).await {
                    Ok(()) => return Ok(()),
                    Err(WriteError::Store(error)) => return Err(error),
                    // Another request came first, or the earlier login ended by itself: again.
                    Err(_) => continue,
                }
            }
            Err(StoreError::Unavailable(anyhow::anyhow!("logins by email for one address kept being requested")))
        })
    }

    async fn email_login_by_link(
        &self,
        hash: &TokenHash,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<LinkState> {
        timed!(DB, "email_login_by_link", async {
            let Some(link) = self.get(&self.tables.main, link_key(hash)).await? else { return Ok(LinkState::Unknown) };
            let Some(found) = self.get(&self.tables.main, login_key(id(&link, "login")?)).await? else {
                return Ok(LinkState::Unknown);
            };
            let facts = LinkFacts {
                used: found.contains_key("used"),
                attempts: super::items::number(&found, "attempts")?,
                expires_at: super::items::time(&found, "expires")?,
            };
            Ok(LinkState::of(login_from_item(&found)?, facts, max_attempts, now))
        })
    }

    async fn take_code_attempt(
        &self,
        email_normalized: &str,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<EmailLogin>> {
        timed!(DB, "take_code_attempt", async {
            let Some((newest, _)) = self.newest_login(email_normalized).await? else { return Ok(None) };
            let update = "SET #attempts = #attempts + :one";
            let condition =
                "attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now AND #attempts < :max";
            let take = Write::update(&self.tables.main, login_key(newest), update)
                .when(condition)
                .value("one", n(1))
                .value("now", stamp(now))
                .value("max", n(max_attempts));
            self.update_if(take).await?.as_ref().map(login_from_item).transpose()
        })
    }

    async fn redeem_email_login(
        &self,
        id: Uuid,
        attempts_bound: u32,
        redeem: Redeem<'_>,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<Option<Uuid>> {
        timed!(DB, "redeem_email_login", async {
            let spent = match redeem {
                Redeem::Existing { account_id, fresh_password } => {
                    self.change_account_with(account_id, Some(IDENTITY), |read, identities| {
                        let mut account = read.account.clone();
                        let mut password = read.password_hash.as_str();
                        let dropped = match account.status == Status::Pending && fresh_password.is_some() {
                            // Proving the address by email drops the logins linked while pending.
                            true => deletions(&self.tables, identities)?,
                            false => Vec::new(),
                        };
                        if let Some(fresh) = fresh_password
                            && account.status == Status::Pending
                        {
                            (account.status, password) = (Status::Active, fresh);
                            account.updated_at = now;
                        }
                        account.email_verified = true;
                        let mut plan = Plan::new(&self.tables, &read, &account, password, account_id)?;
                        plan.spends(spend(&self.tables, id, attempts_bound, now, None), || StoreError::Conflict);
                        plan.writes.extend(dropped);
                        plan.tell(&self.tables, effects)?;
                        Ok(Some(plan))
                    })
                    .await
                }
                Redeem::New(account) => {
                    let planned = new_account(&self.tables, account)?;
                    let mut plan = planned.with_value(account.id);
                    let spent = spend(&self.tables, id, attempts_bound, now, Some(account.id));
                    plan.spends(spent, || StoreError::Conflict);
                    plan.tell(&self.tables, effects)?;
                    self.write_new(plan).await.map(Some)
                }
            };
            match spent {
                Ok(account) => Ok(account),
                // Spent by a concurrent request, expired, or dead of wrong codes.
                Err(StoreError::Conflict) => Ok(None),
                Err(error) => Err(error),
            }
        })
    }

    async fn insert_handoff(
        &self,
        hash: &TokenHash,
        account_id: Uuid,
        method: &str,
        binding: &HandoffBinding,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        timed!(DB, "insert_handoff", async {
            let mut attributes = vec![
                ("account", s(account_id.to_string())),
                ("method", s(method)),
                ("created", stamp(now)),
                ("expires", stamp(expires_at)),
                ("ttl", ttl(expires_at)),
            ];
            attributes.extend(binding_attributes(binding));
            let mut written = item("", "", attributes);
            written.extend(handoff_key(hash));
            let write = Write::put(&self.tables.main, written).when("attribute_not_exists(#pk)");
            self.insert_new(vec![write], "insert_handoff").await
        })
    }

    async fn spend_handoff(&self, hash: &TokenHash, now: DateTime<Utc>) -> StoreResult<Option<SpentHandoff>> {
        timed!(DB, "spend_handoff", async {
            let update = "SET #used = :now";
            let condition = "attribute_exists(#pk) AND attribute_not_exists(#used) AND #expires > :now";
            let spend =
                Write::update(&self.tables.main, handoff_key(hash), update).when(condition).value("now", stamp(now));
            let Some(found) = self.update_if(spend).await? else { return Ok(None) };
            Ok(Some(SpentHandoff {
                account_id: id(&found, "account")?,
                method: super::items::text(&found, "method")?.to_owned(),
                binding: binding_from_item(&found)?,
            }))
        })
    }
}
