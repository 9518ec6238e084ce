//! The administration scenarios: what every backend must list, count, guard, retry, rotate and
//! seed alike. Plus, ignored, the timing of a million seeded accounts (run with
//! `cargo test --release --test store -- --ignored --nocapture seed`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gatehouse::model::account::{Account, AccountKey, Role, Status};
use gatehouse::model::outcome::Effects;
use gatehouse::store::admin::{AccountQuery, OutboxEntry, OutboxQuery, Retried};
use gatehouse::store::jobs::{JobKind, Outcome, Settled};
use gatehouse::store::probe::Held;
use gatehouse::store::seeding::HistoryPlan;
use gatehouse::store::{NewAccount, Pace, ProfileChange, QueuedEmail, Store, StoreError};
use gatehouse::tokens::jwt::SigningKey;
use serde_json::Map;
use uuid::Uuid;

/// The outbox worker these tests claim as.
const WORKER: Uuid = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001);

use crate::scenarios::{email, minutes, now};
use crate::{Harness, Kind};

/// For each scenario, one test per database backend.
macro_rules! admin_conformance {
    (every: $($name:ident),* ; sql: $($sql:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { super::$name(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $sql() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { super::$sql(h).await } } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { super::$name(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $sql() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { super::$sql(h).await } } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { super::$name(h).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $sql() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { super::$sql(h).await } } )*
        }
        #[cfg(feature = "dynamodb")]
        mod dynamodb {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Dynamodb).await { super::$name(h).await } } )*
        }
    };
}

admin_conformance! {
    every:
    accounts_filter_by_status_role_and_creation_time_alone_and_combined,
    the_search_matches_email_username_or_name_in_any_case_and_wildcards_literally,
    the_search_follows_renames_and_deletions,
    the_search_answers_alike_when_thousands_hold_the_term,
    pages_hold_every_account_once_while_accounts_are_added,
    counting_ignores_the_cursor_and_the_limit,
    the_only_active_admin_cannot_be_demoted_disabled_or_deleted,
    of_two_active_admins_one_can_go,
    admins_demoting_each_other_at_once_always_leave_one,
    the_outbox_lists_newest_first_and_filters_by_status_and_recipient,
    a_failed_email_is_requeued_once_and_nothing_else_is,
    concurrent_rotations_get_distinct_generations,
    deleting_old_signing_keys_keeps_the_newest,
    seeding_inserts_listable_active_verified_accounts;
    // The purge: DynamoDB expires items by itself (`ttl`) and offers none.
    sql:
    a_seeded_history_is_written_whole_and_the_purge_takes_its_expired_part_in_batches,
    the_servers_sweep_keeps_to_its_pace,
    a_purge_goes_on_when_another_takes_some_of_its_batch,
}

const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

/// An active user with the given email, created now.
fn user(email: &str) -> NewAccount {
    NewAccount {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        email_normalized: email.to_lowercase(),
        username: None,
        name: None,
        data: Map::new(),
        app_data: serde_json::Map::new(),
        password_hash: HASH.into(),
        role: Role::User,
        status: Status::Active,
        email_verified: true,
        locale: None,
        now: now(),
    }
}

fn admin(email: &str) -> NewAccount {
    NewAccount { role: Role::Admin, ..user(email) }
}

async fn insert(h: &Harness, account: NewAccount) -> Account {
    h.store.insert_account(&account, None, &Effects::none()).await.unwrap()
}

fn query() -> AccountQuery {
    AccountQuery { limit: 100, ..AccountQuery::default() }
}

fn search(q: &str) -> AccountQuery {
    AccountQuery { q: Some(q.into()), ..query() }
}

/// The emails of the accounts the query lists, in order.
async fn listed(store: &dyn Store, query: &AccountQuery) -> Vec<String> {
    store.list_accounts(query).await.unwrap().into_iter().map(|a| a.email).collect()
}

/// The account's editable fields, with another role and status.
fn change(account: &Account, role: Role, status: Status) -> ProfileChange {
    ProfileChange {
        username: account.username.clone(),
        name: account.name.clone(),
        data: account.data.clone(),
        app_data: account.app_data.clone(),
        role,
        status,
        locale: account.locale,
        now: now(),
    }
}

async fn current(store: &dyn Store, id: Uuid) -> Option<Account> {
    store.find_account(&AccountKey::Id(id)).await.unwrap().map(|c| c.account)
}

async fn active_admins(store: &dyn Store) -> u64 {
    let query = AccountQuery { role: Some(Role::Admin), status: Some(Status::Active), ..query() };
    store.count_accounts(&query).await.unwrap()
}

pub async fn accounts_filter_by_status_role_and_creation_time_alone_and_combined(h: Harness) {
    let t0 = now();
    let old = |email: &str, days: i64| NewAccount { now: t0 - chrono::Duration::days(days), ..user(email) };
    insert(&h, old("a@x.example", 30)).await;
    insert(&h, NewAccount { status: Status::Pending, ..old("b@x.example", 20) }).await;
    insert(&h, NewAccount { role: Role::Admin, ..old("c@x.example", 10) }).await;
    insert(&h, NewAccount { status: Status::Disabled, role: Role::Admin, ..old("d@x.example", 5) }).await;
    insert(&h, NewAccount { status: Status::Disabled, ..old("e@x.example", 0) }).await;
    let store = &*h.store;

    assert_eq!(
        listed(store, &query()).await,
        ["e@x.example", "d@x.example", "c@x.example", "b@x.example", "a@x.example"]
    );
    let by_status = |status| AccountQuery { status: Some(status), ..query() };
    assert_eq!(listed(store, &by_status(Status::Active)).await, ["c@x.example", "a@x.example"]);
    assert_eq!(listed(store, &by_status(Status::Pending)).await, ["b@x.example"]);
    assert_eq!(listed(store, &by_status(Status::Disabled)).await, ["e@x.example", "d@x.example"]);
    let by_role = |role| AccountQuery { role: Some(role), ..query() };
    assert_eq!(listed(store, &by_role(Role::Admin)).await, ["d@x.example", "c@x.example"]);
    assert_eq!(listed(store, &by_role(Role::User)).await, ["e@x.example", "b@x.example", "a@x.example"]);
    let window = AccountQuery {
        created_after: Some(t0 - chrono::Duration::days(20)),
        created_before: Some(t0 - chrono::Duration::days(5)),
        ..query()
    };
    assert_eq!(listed(store, &window).await, ["c@x.example", "b@x.example"], "from inclusive, until exclusive");
    let since = AccountQuery { created_after: Some(t0 - chrono::Duration::days(5)), ..query() };
    assert_eq!(listed(store, &since).await, ["e@x.example", "d@x.example"]);
    let combined = AccountQuery { role: Some(Role::Admin), status: Some(Status::Disabled), ..since.clone() };
    assert_eq!(listed(store, &combined).await, ["d@x.example"]);
    let none = AccountQuery { role: Some(Role::Admin), status: Some(Status::Pending), ..query() };
    assert!(listed(store, &none).await.is_empty());
    assert!(listed(store, &AccountQuery { limit: 0, ..query() }).await.is_empty());
    assert_eq!(listed(store, &AccountQuery { limit: 2, ..by_role(Role::User) }).await, ["e@x.example", "b@x.example"]);
}

pub async fn the_search_matches_email_username_or_name_in_any_case_and_wildcards_literally(h: Harness) {
    let named = |email: &str, username: Option<&str>, name: Option<&str>| NewAccount {
        username: username.map(str::to_owned),
        name: name.map(str::to_owned),
        ..user(email)
    };
    insert(&h, named("Ann.Lee@Example.com", None, None)).await;
    insert(&h, named("u1@x.example", Some("BobTheBuilder"), None)).await;
    insert(&h, named("u2@x.example", None, Some("Carla MARTINEZ"))).await;
    insert(&h, named("50%off@x.example", Some("a_b"), Some("Hey!"))).await;
    insert(&h, named("50xoff@x.example", Some("axb"), Some("Heyo"))).await;
    let store = &*h.store;

    assert_eq!(listed(store, &search("ann.lee@example")).await, ["Ann.Lee@Example.com"], "email, any case");
    assert_eq!(listed(store, &search("thebuild")).await, ["u1@x.example"], "username, any case");
    assert_eq!(listed(store, &search("martinez")).await, ["u2@x.example"], "name, any case");
    assert_eq!(listed(store, &search("50%")).await, ["50%off@x.example"], "% is literal");
    assert_eq!(listed(store, &search("a_b")).await, ["50%off@x.example"], "_ is literal");
    assert_eq!(listed(store, &search("y!")).await, ["50%off@x.example"], "the escape character is literal");
    assert_eq!(listed(store, &search("off@x")).await, ["50xoff@x.example", "50%off@x.example"]);
    assert!(listed(store, &search("nobody")).await.is_empty());
    let active_users = AccountQuery { status: Some(Status::Active), role: Some(Role::User), ..search("x.example") };
    assert_eq!(store.count_accounts(&active_users).await.unwrap(), 4);
    assert_eq!(store.count_accounts(&search("50")).await.unwrap(), 2);
}

/// SQLite's search index is kept by triggers: what it proposes must follow every change.
pub async fn the_search_follows_renames_and_deletions(h: Harness) {
    let carla = insert(&h, NewAccount { name: Some("Carla Martinez".into()), ..user("u1@x.example") }).await;
    let dora = insert(&h, NewAccount { username: Some("dora_k".into()), ..user("u2@x.example") }).await;
    let store = &*h.store;
    assert_eq!(listed(store, &search("martinez")).await, ["u1@x.example"]);

    let renamed = ProfileChange {
        name: Some("Carla Moreno".into()),
        username: Some("carlam".into()),
        ..change(&carla, Role::User, Status::Active)
    };
    store.update_profile(carla.id, &renamed, &Effects::none()).await.unwrap().unwrap();
    assert!(listed(store, &search("martinez")).await.is_empty(), "the old name is gone");
    assert_eq!(listed(store, &search("moreno")).await, ["u1@x.example"], "the new name is found");
    assert_eq!(listed(store, &search("carlam")).await, ["u1@x.example"], "the new username is found");
    let unnamed = ProfileChange { name: None, ..renamed };
    store.update_profile(carla.id, &unnamed, &Effects::none()).await.unwrap().unwrap();
    assert!(listed(store, &search("moreno")).await.is_empty(), "a removed name is gone");
    assert_eq!(store.count_accounts(&search("carlam")).await.unwrap(), 1);

    assert!(store.delete_account(dora.id, &Effects::none()).await.unwrap());
    assert!(listed(store, &search("dora_k")).await.is_empty());
    assert_eq!(store.count_accounts(&search("dora_k")).await.unwrap(), 0);
    // A name once given stays its holder's: the account made again takes a new one.
    let again = insert(&h, NewAccount { username: Some("dora_kk".into()), ..user("u2@x.example") }).await;
    assert_eq!(
        store.list_accounts(&search("dora_k")).await.unwrap().iter().map(|a| a.id).collect::<Vec<_>>(),
        [again.id]
    );
}

/// More accounts hold the term than SQLite's list reads from its index (10,000): the list
/// scans in id order instead, the count still stops at its bound, and a rarer term among them
/// is still found through the index; each answers as the scan does.
pub async fn the_search_answers_alike_when_thousands_hold_the_term(h: Harness) {
    let t0 = now();
    insert(&h, user("first@x.example")).await;
    h.store.seeding().expect("the store seeds").seed_accounts("Many", 10_200, HASH, t0).await.unwrap();
    insert(&h, NewAccount { status: Status::Disabled, ..user("many-last@x.example") }).await;
    let store = &*h.store;

    let usernames = |accounts: Vec<Account>| accounts.into_iter().map(|a| a.username).collect::<Vec<_>>();
    let page = store.list_accounts(&AccountQuery { limit: 3, ..search("many") }).await.unwrap();
    assert_eq!(usernames(page), [None, Some("Many10200".into()), Some("Many10199".into())], "newest first");
    let deep = store.list_accounts(&AccountQuery { limit: 2, ..search("many") }).await.unwrap();
    let next = AccountQuery { before: Some(deep[1].id), limit: 2, ..search("many") };
    assert_eq!(
        usernames(store.list_accounts(&next).await.unwrap()),
        [Some("Many10199".into()), Some("Many10198".into())]
    );
    assert_eq!(store.count_accounts_up_to(&search("many"), 10_000).await.unwrap(), 10_000);
    assert_eq!(store.count_accounts(&search("many")).await.unwrap(), 10_201);
    let disabled = AccountQuery { status: Some(Status::Disabled), ..search("many") };
    assert_eq!(listed(store, &disabled).await, ["many-last@x.example"]);
    assert_eq!(store.count_accounts_up_to(&disabled, 10_000).await.unwrap(), 1);

    assert_eq!(listed(store, &search("many1234@")).await, ["Many1234@example.com"]);
    assert_eq!(
        usernames(store.list_accounts(&search("y1020")).await.unwrap()),
        [Some("Many10200".into()), Some("Many1020".into())],
        "the few that hold a rarer term, newest first"
    );
    assert_eq!(store.count_accounts(&search("y1020")).await.unwrap(), 2);

    // PostgreSQL and SQLite ask their index for the part of a term whose trigrams few accounts
    // share (here the digits): many more accounts hold that part than the term, and the whole
    // term decides.
    assert_eq!(listed(store, &search("many1020@example")).await, ["Many1020@example.com"]);
    assert_eq!(
        usernames(store.list_accounts(&search("many1020")).await.unwrap()),
        [Some("Many10200".into()), Some("Many1020".into())]
    );
    assert_eq!(store.count_accounts(&search("seed 1020")).await.unwrap(), 2, "Seed 1020 and Seed 10200");
    assert_eq!(store.count_accounts(&search("many10200@example.com")).await.unwrap(), 1);
}

pub async fn pages_hold_every_account_once_while_accounts_are_added(h: Harness) {
    let mut existing = HashSet::new();
    for n in 0..45 {
        existing.insert(insert(&h, user(&format!("p{n}@x.example"))).await.id);
    }
    let added = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, added, stop) = (h.another_replica().await, added.clone(), stop.clone());
        tokio::spawn(async move {
            let mut new = HashSet::new();
            while !stop.load(Ordering::SeqCst) {
                let n = added.load(Ordering::SeqCst);
                new.insert(
                    store.insert_account(&user(&format!("new{n}@x.example")), None, &Effects::none()).await.unwrap().id,
                );
                added.fetch_add(1, Ordering::SeqCst);
            }
            new
        })
    };

    let mut pages = Vec::new();
    let mut before = None;
    loop {
        // Each page is read after at least one more account was added.
        let seen = added.load(Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        while added.load(Ordering::SeqCst) == seen {
            assert!(Instant::now() < deadline, "the writer stalled");
            tokio::task::yield_now().await;
        }
        let page = h.store.list_accounts(&AccountQuery { before, limit: 7, ..query() }).await.unwrap();
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        pages.push(page.into_iter().map(|a| a.id).collect::<Vec<_>>());
    }
    stop.store(true, Ordering::SeqCst);
    let new = writer.await.unwrap();

    let all: Vec<Uuid> = pages.concat();
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first, none twice");
    let top = all[0];
    let now_stored: HashSet<Uuid> = existing.union(&new).copied().collect();
    let up_to_top: HashSet<Uuid> = now_stored.iter().copied().filter(|id| *id <= top).collect();
    assert_eq!(
        all.iter().copied().collect::<HashSet<_>>(),
        up_to_top,
        "every account up to the first page's top, once"
    );
    assert!(existing.iter().all(|id| *id <= top), "every account present at the start is listed");
    assert!(
        now_stored.iter().filter(|id| **id > top).all(|id| new.contains(id)),
        "only new accounts are above the top"
    );
    assert!(pages.len() >= 7, "{} pages", pages.len());
    assert!(added.load(Ordering::SeqCst) >= pages.len(), "accounts were added while paging");
}

pub async fn counting_ignores_the_cursor_and_the_limit(h: Harness) {
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(insert(&h, user(&format!("c{n}@x.example"))).await.id);
    }
    insert(&h, NewAccount { status: Status::Disabled, ..user("off@x.example") }).await;

    let paged = AccountQuery { before: Some(ids[2]), limit: 1, ..query() };
    assert_eq!(h.store.count_accounts(&paged).await.unwrap(), 6);
    assert_eq!(h.store.count_accounts(&AccountQuery { status: Some(Status::Active), ..paged }).await.unwrap(), 5);
    assert_eq!(h.store.count_accounts(&query()).await.unwrap(), 6);

    let active = AccountQuery { status: Some(Status::Active), ..query() };
    assert_eq!(h.store.count_accounts_up_to(&active, 3).await.unwrap(), 3, "counting stops at the bound");
    assert_eq!(h.store.count_accounts_up_to(&active, 5).await.unwrap(), 5);
    assert_eq!(h.store.count_accounts_up_to(&active, 100).await.unwrap(), 5, "fewer match than the bound");
    assert_eq!(h.store.count_accounts_up_to(&search("c3@"), 100).await.unwrap(), 1);
}

pub async fn the_only_active_admin_cannot_be_demoted_disabled_or_deleted(h: Harness) {
    let only = insert(&h, admin("root@x.example")).await;
    insert(&h, NewAccount { status: Status::Disabled, ..admin("gone@x.example") }).await;
    insert(&h, NewAccount { status: Status::Pending, ..admin("new@x.example") }).await;
    let someone = insert(&h, user("user@x.example")).await;
    let store = &*h.store;

    for (role, status) in [(Role::User, Status::Active), (Role::Admin, Status::Disabled), (Role::User, Status::Pending)]
    {
        let refused = store.update_profile(only.id, &change(&only, role, status), &Effects::none()).await;
        assert!(matches!(refused, Err(StoreError::LastAdmin)), "{role:?}/{status:?}: {refused:?}");
    }
    assert!(matches!(store.delete_account(only.id, &Effects::none()).await, Err(StoreError::LastAdmin)));

    assert_eq!(current(store, only.id).await, Some(only.clone()), "nothing changed");
    let renamed = ProfileChange { name: Some("Root".into()), ..change(&only, Role::Admin, Status::Active) };
    assert_eq!(
        store.update_profile(only.id, &renamed, &Effects::none()).await.unwrap().unwrap().name.as_deref(),
        Some("Root")
    );
    let disabled = store
        .update_profile(someone.id, &change(&someone, Role::User, Status::Disabled), &Effects::none())
        .await
        .unwrap();
    assert_eq!(disabled.unwrap().status, Status::Disabled, "other accounts change freely");
    assert!(store.delete_account(someone.id, &Effects::none()).await.unwrap());
    assert_eq!(
        store
            .update_profile(Uuid::now_v7(), &change(&only, Role::User, Status::Active), &Effects::none())
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_account(Uuid::now_v7(), &Effects::none()).await.unwrap());
    assert_eq!(active_admins(store).await, 1);
}

pub async fn of_two_active_admins_one_can_go(h: Harness) {
    let first = insert(&h, admin("first@x.example")).await;
    let second = insert(&h, admin("second@x.example")).await;
    let store = &*h.store;

    let demoted = store
        .update_profile(first.id, &change(&first, Role::User, Status::Active), &Effects::none())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(demoted.role, Role::User);
    let refused =
        store.update_profile(second.id, &change(&second, Role::Admin, Status::Disabled), &Effects::none()).await;
    assert!(matches!(refused, Err(StoreError::LastAdmin)), "{refused:?}");
    assert!(matches!(store.delete_account(second.id, &Effects::none()).await, Err(StoreError::LastAdmin)));

    let promoted =
        store.update_profile(first.id, &change(&first, Role::Admin, Status::Active), &Effects::none()).await.unwrap();
    assert_eq!(promoted.unwrap().role, Role::Admin);
    assert!(store.delete_account(second.id, &Effects::none()).await.unwrap(), "now there is another admin");
    assert_eq!(active_admins(store).await, 1);
}

pub async fn admins_demoting_each_other_at_once_always_leave_one(h: Harness) {
    let replica = h.another_replica().await;
    let mut survivor = insert(&h, admin("admin0@x.example")).await;
    for round in 1..=12 {
        let newcomer = insert(&h, admin(&format!("admin{round}@x.example"))).await;
        // Each round removes both admins another way: demote, disable or delete.
        let remove = |store: Arc<dyn Store>, account: Account, how: usize| async move {
            match how % 3 {
                0 => store
                    .update_profile(account.id, &change(&account, Role::User, Status::Active), &Effects::none())
                    .await
                    .map(|_| ()),
                1 => store
                    .update_profile(account.id, &change(&account, Role::Admin, Status::Disabled), &Effects::none())
                    .await
                    .map(|_| ()),
                _ => store.delete_account(account.id, &Effects::none()).await.map(|_| ()),
            }
        };
        let one = tokio::spawn(remove(h.store.clone(), survivor.clone(), round));
        let other = tokio::spawn(remove(replica.clone(), newcomer.clone(), round + 1));
        let (one, other) = (one.await.unwrap(), other.await.unwrap());

        match (&one, &other) {
            (Ok(()), Err(StoreError::LastAdmin)) => survivor = newcomer,
            (Err(StoreError::LastAdmin), Ok(())) => {}
            _ => panic!("round {round}: exactly one removal succeeds, got {one:?} and {other:?}"),
        }
        assert_eq!(active_admins(&*h.store).await, 1, "round {round}");
        assert_eq!(
            current(&*h.store, survivor.id).await.map(|a| (a.role, a.status)),
            Some((Role::Admin, Status::Active))
        );
    }
}

/// Settles the email `id` that [`WORKER`] claimed.
async fn settle(h: &Harness, id: Uuid, outcome: Outcome, at: DateTime<Utc>) {
    assert_eq!(h.store.settle_jobs(WORKER, &[Settled { id, outcome, at }]).await.unwrap(), 1);
}

/// Queues emails to the recipients in order, a millisecond apart; their ids, oldest first.
async fn queue(h: &Harness, recipients: &[&str]) -> Vec<Uuid> {
    let t0 = now() - minutes(1);
    let mut ids = Vec::new();
    for (n, recipient) in recipients.iter().enumerate() {
        let message = email(recipient, t0 + chrono::Duration::milliseconds(n as i64));
        h.store.queue_email(&message).await.unwrap();
        ids.push(message.id);
    }
    ids
}

pub async fn the_outbox_lists_newest_first_and_filters_by_status_and_recipient(h: Harness) {
    let ids = queue(&h, &["Ann@X.example", "bob@x.example", "ann@x.example", "cy@x.example"]).await;
    let t0 = now();
    let claimed = h.store.claim_jobs(JobKind::Email, WORKER, t0, Duration::from_secs(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 3, "Ann's second email waits for her first");
    settle(&h, ids[0], Outcome::Done { status: None }, t0).await;
    settle(&h, ids[1], Outcome::Failed { status: None, error: "550 no such user".into() }, t0).await;
    let claimed = h.store.claim_jobs(JobKind::Email, WORKER, t0, Duration::from_secs(60), 10).await.unwrap();
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [ids[2]]);
    settle(&h, ids[2], Outcome::Retry { at: t0 + minutes(5), status: None, error: "421 later".into() }, t0).await;
    let all = |limit| OutboxQuery { limit, ..OutboxQuery::default() };
    let ids_of = |entries: Vec<OutboxEntry>| entries.into_iter().map(|e| e.id).collect::<Vec<_>>();

    assert_eq!(ids_of(h.store.list_outbox(&all(10)).await.unwrap()), [ids[3], ids[2], ids[1], ids[0]]);
    let page = OutboxQuery { before: Some(ids[2]), ..all(1) };
    assert_eq!(ids_of(h.store.list_outbox(&page).await.unwrap()), [ids[1]]);
    let by_status = |status: &str| OutboxQuery { status: Some(status.into()), ..all(10) };
    assert_eq!(ids_of(h.store.list_outbox(&by_status("failed")).await.unwrap()), [ids[1]]);
    assert_eq!(ids_of(h.store.list_outbox(&by_status("sending")).await.unwrap()), [ids[3]]);
    let to_ann = OutboxQuery { recipient: Some("ANN@x.example".into()), ..all(10) };
    assert_eq!(ids_of(h.store.list_outbox(&to_ann).await.unwrap()), [ids[2], ids[0]], "any case");
    let queued_to_ann = OutboxQuery { status: Some("queued".into()), ..to_ann };
    assert_eq!(ids_of(h.store.list_outbox(&queued_to_ann).await.unwrap()), [ids[2]]);
    assert!(h.store.list_outbox(&all(0)).await.unwrap().is_empty());

    let failed = h.store.find_outbox(ids[1]).await.unwrap().expect("the failed email");
    assert_eq!((failed.status.as_str(), failed.attempts), ("failed", 1));
    assert_eq!(failed.last_error.as_deref(), Some("550 no such user"));
    assert_eq!(failed.recipient, "bob@x.example");
    assert_eq!(failed.subject, "Confirm your email address");
    let sent = h.store.find_outbox(ids[0]).await.unwrap().unwrap();
    assert_eq!((sent.status.as_str(), sent.sent_at), ("sent", Some(t0)));
    assert_eq!(h.store.find_outbox(Uuid::now_v7()).await.unwrap(), None);
}

pub async fn a_failed_email_is_requeued_once_and_nothing_else_is(h: Harness) {
    let ids = queue(&h, &["a@x.example", "b@x.example", "c@x.example", "d@x.example"]).await;
    let t0 = now();
    h.store.claim_jobs(JobKind::Email, WORKER, t0, Duration::from_secs(60), 3).await.unwrap();
    settle(&h, ids[0], Outcome::Failed { status: None, error: "550 no such user".into() }, t0).await;
    settle(&h, ids[1], Outcome::Done { status: None }, t0).await;
    // ids[2] is being sent, ids[3] is queued.
    let retry_at = t0 + minutes(1);

    let replica = h.another_replica().await;
    let (one, other) = tokio::join!(h.store.retry_email(ids[0], retry_at), replica.retry_email(ids[0], retry_at));
    let mut answers = [one.unwrap(), other.unwrap()];
    answers.sort_by_key(|a| a == &Retried::NotFailed);
    assert_eq!(answers, [Retried::Requeued, Retried::NotFailed], "requeued once");

    let requeued = h.store.find_outbox(ids[0]).await.unwrap().unwrap();
    assert_eq!((requeued.status.as_str(), requeued.attempts, requeued.next_attempt_at), ("queued", 0, retry_at));
    assert_eq!(
        requeued.last_error.as_deref(),
        Some("550 no such user"),
        "the last error is kept until the next attempt"
    );
    for id in &ids[1..] {
        assert_eq!(h.store.retry_email(*id, retry_at).await.unwrap(), Retried::NotFailed);
    }
    assert_eq!(h.store.retry_email(Uuid::now_v7(), retry_at).await.unwrap(), Retried::NotFound);
    assert_eq!(h.store.find_outbox(ids[1]).await.unwrap().unwrap().status, "sent", "unchanged");
    let due = h.store.claim_jobs(JobKind::Email, WORKER, retry_at, Duration::from_secs(60), 10).await.unwrap();
    let requeued = due.iter().find(|e| e.id == ids[0]).and_then(QueuedEmail::from_job);
    let requeued = requeued.unwrap_or_else(|| panic!("the requeued email is due: {due:?}"));
    assert_eq!(requeued.attempts, 1, "its attempts start again");
    assert!(requeued.text_body.contains("activate?token="), "it still has its body");
}

fn key_at(created_at: DateTime<Utc>) -> SigningKey {
    SigningKey::generate(created_at).unwrap()
}

pub async fn concurrent_rotations_get_distinct_generations(h: Harness) {
    let t0 = now();
    h.store.insert_first_signing_key(&key_at(t0)).await.unwrap();
    let replica = h.another_replica().await;

    let rotations: Vec<_> = (0..8)
        .map(|n| {
            let store = if n % 2 == 0 { h.store.clone() } else { replica.clone() };
            tokio::spawn(async move { store.insert_signing_key(&key_at(t0)).await })
        })
        .collect();
    for rotation in rotations {
        rotation.await.unwrap().unwrap();
    }

    assert_eq!(h.store.signing_keys().await.unwrap().len(), 9);
    assert_eq!(h.held(Held::KeyGenerations).await, 9);
    assert_eq!(h.held(Held::NewestKeyGeneration).await, 9);
}

pub async fn deleting_old_signing_keys_keeps_the_newest(h: Harness) {
    let t0 = now();
    let keys = [key_at(t0 - minutes(300)), key_at(t0 - minutes(200)), key_at(t0 - minutes(100))];
    for key in &keys {
        h.store.insert_signing_key(key).await.unwrap();
    }
    let kids = |keys: Vec<SigningKey>| keys.into_iter().map(|k| k.kid).collect::<Vec<_>>();

    assert_eq!(h.store.delete_signing_keys_before(t0 - minutes(200)).await.unwrap(), 1, "created_at < before");
    assert_eq!(kids(h.store.signing_keys().await.unwrap()), [keys[1].kid.clone(), keys[2].kid.clone()]);
    assert_eq!(h.store.delete_signing_keys_before(t0).await.unwrap(), 1, "the newest stays, however old");
    assert_eq!(kids(h.store.signing_keys().await.unwrap()), [keys[2].kid.clone()]);
    assert_eq!(h.store.delete_signing_keys_before(t0).await.unwrap(), 0);
    let next = key_at(t0);
    h.store.insert_signing_key(&next).await.unwrap();
    assert_eq!(h.store.delete_signing_keys_before(t0 + minutes(1)).await.unwrap(), 1);
    assert_eq!(kids(h.store.signing_keys().await.unwrap()), [next.kid]);
}

pub async fn seeding_inserts_listable_active_verified_accounts(h: Harness) {
    let t0 = now();
    let before = insert(&h, user("earlier@x.example")).await;

    assert_eq!(
        h.store.seeding().expect("the store seeds").seed_accounts("Load", 2_500, HASH, t0).await.unwrap(),
        2_500
    );

    assert_eq!(h.store.count_accounts(&query()).await.unwrap(), 2_501);
    let active = AccountQuery { status: Some(Status::Active), role: Some(Role::User), ..query() };
    assert_eq!(h.store.count_accounts(&active).await.unwrap(), 2_501);
    let mut usernames = Vec::new();
    let mut cursor = None;
    loop {
        let page = h.store.list_accounts(&AccountQuery { before: cursor, limit: 1_000, ..query() }).await.unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        usernames.extend(page.into_iter().map(|a| a.username));
    }
    let expected: Vec<Option<String>> = (1..=2_500).rev().map(|n| Some(format!("Load{n}"))).chain([None]).collect();
    assert_eq!(usernames, expected, "newest first, in the order seeded, after the earlier account");

    let seeded = h.store.find_account(&AccountKey::Email("load1234@example.com".into())).await.unwrap().unwrap();
    assert_eq!(seeded.password_hash, HASH);
    let seeded = seeded.account;
    assert_eq!(seeded.email, "Load1234@example.com");
    assert_eq!(seeded.username.as_deref(), Some("Load1234"));
    assert_eq!(seeded.name.as_deref(), Some("Seed 1234"));
    assert_eq!((seeded.role, seeded.status, seeded.email_verified), (Role::User, Status::Active, true));
    assert_eq!((seeded.created_at, seeded.updated_at), (t0, t0));
    assert!(seeded.id > before.id);
    assert_eq!(seeded.id.get_version_num(), 7);
    let found = h.store.find_account(&AccountKey::Username("load2500".into())).await.unwrap();
    assert!(found.is_some(), "usernames are normalized");
    assert_eq!(listed(&*h.store, &search("load1234")).await, ["Load1234@example.com"]);
    assert_eq!(h.store.count_accounts(&search("seed 25")).await.unwrap(), 12, "25, 250…259 and 2500");
    assert_eq!(h.store.seeding().expect("the store seeds").seed_accounts("none", 0, HASH, t0).await.unwrap(), 0);
}

/// The growth benchmark's seeding, and the purge it measures: more expired rows than one purge
/// statement takes (1,000), so that the batches must follow each other to the end.
pub async fn a_seeded_history_is_written_whole_and_the_purge_takes_its_expired_part_in_batches(h: Harness) {
    let t0 = now();
    assert_eq!(h.store.seeding().expect("the store seeds").seed_accounts("hist", 40, HASH, t0).await.unwrap(), 40);
    let plan = HistoryPlan {
        live_sessions: 50,
        expired_sessions: 4_100,
        spent_links: 2_001,
        audit_events: 12_345,
        second_factors: 7,
        identities: 9,
        clients: 3,
    };
    assert_eq!(h.store.seeding().expect("the store seeds").seed_history(&plan, t0).await.unwrap(), plan);
    for (what, rows) in [
        (Held::Sessions, 4_150),
        (Held::RefreshTokens, 50 + 2 * 4_100),
        (Held::OneTimeTokens, 2_001),
        (Held::AuditEvents, 12_345),
        (Held::Authenticators, 7),
        (Held::RecoveryCodes, 70),
        (Held::Identities, 9),
        (Held::Clients, 3),
    ] {
        assert_eq!(h.held(what).await, rows, "{what:?}");
    }
    let owners = h.held(Held::SessionOwners).await;
    assert_eq!(owners, 40, "the sessions are spread over every account");

    assert_eq!(h.purge(t0, Pace::Full).await, 4_100 + 2_001);
    assert_eq!(h.held(Held::Sessions).await, 50, "the live sessions stay");
    assert_eq!(h.held(Held::RefreshTokens).await, 50, "the expired ones' tokens went with them");
    assert_eq!(h.held(Held::OneTimeTokens).await, 0);
    assert_eq!(h.purge(t0, Pace::Full).await, 0);

    // The events span the last sixty days: a thirty-day cut-off takes about half, in batches.
    let removed = h.store.purge_events(t0 - chrono::Duration::days(30), Pace::Full).await.unwrap();
    assert!((6_000..=6_300).contains(&removed), "{removed}");
    assert_eq!(h.held(Held::AuditEvents).await, 12_345 - removed);
    let oldest =
        h.store.list_events(&gatehouse::audit::EventFilter { limit: 500, ..Default::default() }).await.unwrap();
    assert!(oldest.iter().all(|event| event.at >= t0 - chrono::Duration::days(30)));
}

/// Seeds a million accounts and times the admin's list on them. Ignored: it takes a while.
mod benchmark {
    use super::*;

    const ACCOUNTS: u64 = 1_000_000;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "seeds a million accounts"]
    async fn seed_a_million_accounts_and_time_the_list_on_sqlite() {
        run(Kind::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "seeds a million accounts"]
    async fn seed_a_million_accounts_and_time_the_list_on_postgres() {
        run(Kind::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[ignore = "seeds a million accounts"]
    async fn seed_a_million_accounts_and_time_the_list_on_mysql() {
        run(Kind::Mysql).await;
    }

    /// The first run and the best of five more, in milliseconds.
    async fn time<T, F: Future<Output = T>>(what: &str, run: impl Fn() -> F) -> T {
        let start = Instant::now();
        let result = run().await;
        let first = start.elapsed();
        let mut best = first;
        for _ in 0..5 {
            let start = Instant::now();
            run().await;
            best = best.min(start.elapsed());
        }
        println!("  {what:<44} first {:>8.1} ms   best {:>8.1} ms", ms(first), ms(best));
        result
    }

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    async fn run(kind: Kind) {
        let Some(h) = crate::harness(kind).await else { return };
        let store = &*h.store;
        let t0 = now();
        let start = Instant::now();
        assert_eq!(
            store.seeding().expect("the store seeds").seed_accounts("bench", ACCOUNTS, HASH, t0).await.unwrap(),
            ACCOUNTS
        );
        println!("{kind:?}: seeded {ACCOUNTS} accounts in {:.1} s", start.elapsed().as_secs_f64());

        let page =
            |q: AccountQuery| async move { store.list_accounts(&AccountQuery { limit: 50, ..q }).await.unwrap() };
        let first = time("list, no filter, first page", || page(query())).await;
        assert_eq!(first[0].email, format!("bench{ACCOUNTS}@example.com"));
        let middle = store.find_account(&AccountKey::Username(format!("bench{}", ACCOUNTS / 2))).await.unwrap();
        let middle = AccountQuery { before: Some(middle.unwrap().account.id), ..query() };
        let deep = time("list, no filter, page at the middle", || page(middle.clone())).await;
        assert_eq!(deep[0].email, format!("bench{}@example.com", ACCOUNTS / 2 - 1));
        let active = AccountQuery { status: Some(Status::Active), ..query() };
        assert_eq!(time("list, status=active", || page(active.clone())).await.len(), 50);
        let admins = AccountQuery { role: Some(Role::Admin), ..query() };
        assert!(time("list, role=admin (none)", || page(admins.clone())).await.is_empty());
        assert_eq!(time("list, q matching all (\"example\")", || page(search("example"))).await.len(), 50);
        assert_eq!(time("list, q matching 11% (\"bench1\")", || page(search("bench1"))).await.len(), 50);
        let one = format!("bench{}", ACCOUNTS / 8 * 3 + 7);
        assert_eq!(time(&format!("list, q matching one ({one:?})"), || page(search(&one))).await.len(), 1);
        assert!(time("list, q matching none (\"nobody\")", || page(search("nobody"))).await.is_empty());
        let recent = AccountQuery { created_after: Some(t0), ..query() };
        assert_eq!(time("list, created_after (matching all)", || page(recent.clone())).await.len(), 50);
        let older = AccountQuery { created_before: Some(t0), ..query() };
        assert!(time("list, created_before (matching none)", || page(older.clone())).await.is_empty());
        let day_before = t0 - chrono::Duration::days(1);
        let window = AccountQuery { created_after: Some(day_before), created_before: Some(t0), ..query() };
        assert!(time("list, created window (matching none)", || page(window.clone())).await.is_empty());
        let window = AccountQuery { created_after: Some(day_before), created_before: Some(t0 + minutes(1)), ..query() };
        assert_eq!(time("list, created window (matching all)", || page(window.clone())).await.len(), 50);
        let count = |q: AccountQuery| async move { store.count_accounts(&q).await.unwrap() };
        assert_eq!(time("count, no filter", || count(query())).await, ACCOUNTS);
        assert_eq!(time("count, status=active", || count(active.clone())).await, ACCOUNTS);
    }
}

/// The server's own sweep (`Pace::Background`) removes at most 500 rows a second, in batches of
/// 25: 450 expired sessions take eighteen whole batches, each taking with its rest at least a
/// twentieth of a second, and all of them go.
pub async fn the_servers_sweep_keeps_to_its_pace(h: Harness) {
    let t0 = now();
    h.store.seeding().expect("the store seeds").seed_accounts("paced", 10, HASH, t0).await.unwrap();
    let plan = HistoryPlan { live_sessions: 5, expired_sessions: 450, ..HistoryPlan::default() };
    h.store.seeding().expect("the store seeds").seed_history(&plan, t0).await.unwrap();
    let started = Instant::now();
    assert_eq!(h.purge(t0, Pace::Background).await, 450);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "{took:?}: eighteen batches of 50 ms at least");
    assert_eq!(h.held(Held::Sessions).await, 5, "the live sessions stay");
}

/// A purge whose batch comes short because another (a replica's sweep, or `gatehouse purge`)
/// deleted some of the rows it picked at the same moment goes on: when it returns, nothing
/// expired is left. A transaction holds the first 100 rows the purge's first batch picks
/// deleted until the purge waits on them: on PostgreSQL that batch then removes 900 rows (a purge
/// that stopped at a batch short of whole returned 900 here). On SQLite, whose writers take
/// turns, and on MySQL, where the purge's reading of the rows to pick waits for the
/// transaction (a statement that writes reads with locks there), the batches come whole.
pub async fn a_purge_goes_on_when_another_takes_some_of_its_batch(h: Harness) {
    use sqlx::Connection;
    let t0 = now();
    h.store.seeding().expect("the store seeds").seed_accounts("raced", 10, HASH, t0).await.unwrap();
    let plan = HistoryPlan { spent_links: 2_500, ..HistoryPlan::default() };
    h.store.seeding().expect("the store seeds").seed_history(&plan, t0).await.unwrap();

    let mut other = h.db.connect().await;
    let mut taking = other.begin().await.unwrap();
    let taken = sqlx::query(
        "DELETE FROM one_time_tokens WHERE hash IN \
         (SELECT hash FROM (SELECT hash FROM one_time_tokens LIMIT 100) AS doomed)",
    )
    .execute(&mut *taking)
    .await
    .unwrap();
    assert_eq!(taken.rows_affected(), 100);
    let store = Arc::clone(&h.store);
    let purge = tokio::spawn(async move {
        store.maintenance().expect("the store offers maintenance").purge_expired(t0, Pace::Full).await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    taking.commit().await.unwrap();

    assert_eq!(purge.await.unwrap().unwrap(), 2_400);
    assert_eq!(h.held(Held::OneTimeTokens).await, 0, "nothing expired is left");
}
