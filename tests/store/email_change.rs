//! The email-change scenarios: every database keeps change links by hash, spends each once
//! (whatever the number of concurrent redeemers), and changes or restores an address only
//! together with spending its link, storing the revert link and queueing the notice.

use chrono::{DateTime, Utc};
use gatehouse::model::account::AccountKey;
use gatehouse::model::outcome::Effects;
use gatehouse::store::admin::OutboxQuery;
use gatehouse::store::email_change::{ChangeKind, NewEmailChange, Redeemed};
use gatehouse::store::probe::Held;
use gatehouse::store::{Pace, StoreError};
use gatehouse::tokens::opaque::{OpaqueToken, TokenHash};
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{email, minutes, now, seeded};

fn change(account_id: Uuid, kind: ChangeKind, address: &str, expires_at: DateTime<Utc>) -> NewEmailChange {
    NewEmailChange {
        hash: OpaqueToken::generate().hash,
        account_id,
        kind,
        email: address.to_owned(),
        created_at: now(),
        expires_at,
    }
}

/// Stores a confirm link for `address` (and the email carrying it); its hash.
async fn requested(h: &Harness, account_id: Uuid, address: &str) -> TokenHash {
    let link = change(account_id, ChangeKind::Confirm, address, now() + minutes(60));
    h.store.insert_email_change(&link, &Effects::none().email(email(address, now()))).await.unwrap();
    link.hash
}

/// Follows a confirm link, with a revert link for `old` and the notice to it.
async fn confirmed(
    h: &Harness,
    link: &TokenHash,
    account_id: Uuid,
    old: &str,
) -> (Result<Redeemed, StoreError>, TokenHash) {
    let revert = change(account_id, ChangeKind::Revert, old, now() + minutes(60 * 24 * 7));
    let outcome = h.store.redeem_email_change(link, &revert, now(), &Effects::none().email(email(old, now()))).await;
    (outcome, revert.hash)
}

/// The recipients of the queued emails, in order.
async fn queued(h: &Harness) -> Vec<String> {
    let query = OutboxQuery { status: Some("queued".into()), limit: 100, ..OutboxQuery::default() };
    let listed = h.store.list_outbox(&query).await.unwrap();
    let mut recipients: Vec<_> = listed.into_iter().map(|e| e.recipient).collect();
    recipients.sort();
    recipients
}

async fn address_of(h: &Harness, id: Uuid) -> String {
    h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap().account.email
}

async fn confirming_a_change_sets_the_address_and_queues_the_notice(h: Harness) {
    let id = seeded(&h, "una@example.com").await;
    let link = requested(&h, id, "Una.New@Example.com").await;
    let stored = h.store.find_email_change(&link).await.unwrap().unwrap();
    assert_eq!((stored.account_id, stored.kind, stored.used_at), (id, ChangeKind::Confirm, None));
    assert_eq!(stored.email, "Una.New@Example.com");

    let (outcome, revert) = confirmed(&h, &link, id, "una@example.com").await;

    let Ok(Redeemed::Changed { account, previous }) = outcome else { panic!("{outcome:?}") };
    assert_eq!((account.id, account.email.as_str(), account.email_verified), (id, "Una.New@Example.com", true));
    assert_eq!(previous, "una@example.com");
    let found = h.store.find_account(&AccountKey::Email("una.new@example.com".into())).await.unwrap();
    assert_eq!(found.map(|c| c.account.id), Some(id), "found by the new address, whatever its case");
    assert!(h.store.find_account(&AccountKey::Email("una@example.com".into())).await.unwrap().is_none());
    assert!(h.store.find_email_change(&link).await.unwrap().unwrap().used_at.is_some(), "the link is spent");
    let revert = h.store.find_email_change(&revert).await.unwrap().expect("the revert link is stored");
    assert_eq!((revert.account_id, revert.kind, revert.email.as_str()), (id, ChangeKind::Revert, "una@example.com"));
    assert_eq!(queued(&h).await, ["Una.New@Example.com", "una@example.com"], "the link and the notice");
}

async fn a_change_to_a_taken_address_changes_nothing(h: Harness) {
    let id = seeded(&h, "vic@example.com").await;
    seeded(&h, "taken@example.com").await;
    let link = requested(&h, id, "Taken@Example.COM").await;

    let (outcome, revert) = confirmed(&h, &link, id, "vic@example.com").await;

    assert!(matches!(outcome, Err(StoreError::EmailTaken)), "{outcome:?}");
    assert_eq!(address_of(&h, id).await, "vic@example.com");
    assert_eq!(h.store.find_email_change(&link).await.unwrap().unwrap().used_at, None, "the link stays unspent");
    assert!(h.store.find_email_change(&revert).await.unwrap().is_none(), "no revert link");
    assert_eq!(queued(&h).await, ["Taken@Example.COM"], "no notice");
}

async fn a_change_link_is_redeemed_once_and_only_while_it_lives(h: Harness) {
    let id = seeded(&h, "wes@example.com").await;
    let link = requested(&h, id, "wes@new.example").await;
    let (first, revert_link) = confirmed(&h, &link, id, "wes@example.com").await;
    assert!(matches!(first, Ok(Redeemed::Changed { .. })), "{first:?}");

    let (second, revert) = confirmed(&h, &link, id, "wes@new.example").await;

    assert!(matches!(second, Ok(Redeemed::AlreadySpent)), "{second:?}");
    assert!(h.store.find_email_change(&revert).await.unwrap().is_none(), "no second revert link");
    let (unknown, _) = confirmed(&h, &OpaqueToken::generate().hash, id, "wes@new.example").await;
    assert!(matches!(unknown, Ok(Redeemed::AlreadySpent)), "unknown: {unknown:?}");
    let (wrong_kind, _) = confirmed(&h, &revert_link, id, "wes@new.example").await;
    assert!(matches!(wrong_kind, Ok(Redeemed::AlreadySpent)), "a revert link does not confirm: {wrong_kind:?}");
    assert_eq!(h.store.find_email_change(&revert_link).await.unwrap().unwrap().used_at, None, "nor is it spent");
    let stale = change(id, ChangeKind::Confirm, "wes@stale.example", now() - minutes(1));
    h.store.insert_email_change(&stale, &Effects::none().email(email("wes@stale.example", now()))).await.unwrap();
    let (expired, _) = confirmed(&h, &stale.hash, id, "wes@new.example").await;
    assert!(matches!(expired, Ok(Redeemed::AlreadySpent)), "expired: {expired:?}");
    assert_eq!(address_of(&h, id).await, "wes@new.example");
}

async fn concurrent_redemptions_of_one_change_link_succeed_once(h: Harness) {
    let id = seeded(&h, "xia@example.com").await;
    let link = requested(&h, id, "xia@new.example").await;

    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let store = h.store.clone();
            tokio::spawn(async move {
                let revert = change(id, ChangeKind::Revert, "xia@example.com", now() + minutes(60));
                store
                    .redeem_email_change(&link, &revert, now(), &Effects::none().email(email("xia@example.com", now())))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut changed = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Redeemed::Changed { previous, .. } => {
                assert_eq!(previous, "xia@example.com");
                changed += 1;
            }
            Redeemed::AlreadySpent => {}
        }
    }

    assert_eq!(changed, 1);
    assert_eq!(address_of(&h, id).await, "xia@new.example");
    assert_eq!(queued(&h).await, ["xia@example.com", "xia@new.example"], "one notice");
}

async fn reverting_restores_the_address_and_spends_every_other_link(h: Harness) {
    let id = seeded(&h, "yan@example.com").await;
    let link = requested(&h, id, "yan@taken-over.example").await;
    let (_, revert) = confirmed(&h, &link, id, "yan@example.com").await;
    let pending = requested(&h, id, "yan@elsewhere.example").await;

    let notice = email("yan@example.com", now());
    let outcome = h.store.redeem_email_revert(&revert, now(), &Effects::none().email(notice)).await;

    let Ok(Redeemed::Changed { account, previous }) = outcome else { panic!("{outcome:?}") };
    assert_eq!((account.email.as_str(), account.email_verified), ("yan@example.com", true));
    assert_eq!(previous, "yan@taken-over.example");
    assert_eq!(address_of(&h, id).await, "yan@example.com");
    assert!(h.store.find_email_change(&revert).await.unwrap().unwrap().used_at.is_some());
    assert!(h.store.find_email_change(&pending).await.unwrap().unwrap().used_at.is_some(), "the pending link");
    let again = h.store.redeem_email_revert(&revert, now(), &Effects::none()).await;
    assert!(matches!(again, Ok(Redeemed::AlreadySpent)), "{again:?}");
    let (confirm, _) = confirmed(&h, &pending, id, "yan@example.com").await;
    assert!(matches!(confirm, Ok(Redeemed::AlreadySpent)), "{confirm:?}");
    assert!(matches!(h.store.redeem_email_revert(&link, now(), &Effects::none()).await, Ok(Redeemed::AlreadySpent)));
    assert_eq!(queued(&h).await.iter().filter(|r| *r == "yan@example.com").count(), 2, "two notices");
}

async fn a_newer_change_request_spends_the_older_link(h: Harness) {
    let id = seeded(&h, "zoe@example.com").await;
    let older = requested(&h, id, "zoe@first.example").await;

    let newer = requested(&h, id, "zoe@second.example").await;

    assert!(h.store.find_email_change(&older).await.unwrap().unwrap().used_at.is_some());
    assert_eq!(h.store.find_email_change(&newer).await.unwrap().unwrap().used_at, None);
    let (outcome, _) = confirmed(&h, &older, id, "zoe@example.com").await;
    assert!(matches!(outcome, Ok(Redeemed::AlreadySpent)), "{outcome:?}");
    let (outcome, _) = confirmed(&h, &newer, id, "zoe@example.com").await;
    assert!(matches!(outcome, Ok(Redeemed::Changed { .. })), "{outcome:?}");
    assert_eq!(address_of(&h, id).await, "zoe@second.example");
}

async fn deleting_an_account_removes_its_change_links(h: Harness) {
    let id = seeded(&h, "abe@example.com").await;
    let link = requested(&h, id, "abe@new.example").await;
    let (_, revert) = confirmed(&h, &link, id, "abe@example.com").await;
    let other = seeded(&h, "bea@example.com").await;
    let kept = requested(&h, other, "bea@new.example").await;

    assert!(h.store.delete_account(id, &Effects::none()).await.unwrap());

    assert!(h.store.find_email_change(&link).await.unwrap().is_none());
    assert!(h.store.find_email_change(&revert).await.unwrap().is_none());
    assert!(h.store.find_email_change(&kept).await.unwrap().is_some(), "other accounts' links stay");
    assert_eq!(h.held(Held::EmailChanges).await, 1);
}

async fn purging_removes_change_links_a_week_after_they_expire(h: Harness) {
    let id = seeded(&h, "cal@example.com").await;
    let old = change(id, ChangeKind::Confirm, "cal@old.example", now() - minutes(60 * 24 * 8));
    let recent = change(id, ChangeKind::Revert, "cal@example.com", now() - minutes(60 * 24 * 6));
    for link in [&old, &recent] {
        h.store.insert_email_change(link, &Effects::none().email(email(&link.email, now()))).await.unwrap();
    }

    if h.purge_if_offered(now(), Pace::Full).await.is_some() {
        assert!(h.store.find_email_change(&old.hash).await.unwrap().is_none());
    }
    assert!(h.store.find_email_change(&recent.hash).await.unwrap().is_some(), "a late click still hears 'expired'");
}

/// For each scenario, one test per database.
macro_rules! on_every_database {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $scenario() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { super::$scenario(h).await } } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $scenario() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { super::$scenario(h).await } } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $scenario() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { super::$scenario(h).await } } )*
        }
        #[cfg(feature = "dynamodb")]
        mod dynamodb {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $scenario() { if let Some(h) = crate::harness(crate::Kind::Dynamodb).await { super::$scenario(h).await } } )*
        }
    };
}

on_every_database! {
    confirming_a_change_sets_the_address_and_queues_the_notice,
    a_change_to_a_taken_address_changes_nothing,
    a_change_link_is_redeemed_once_and_only_while_it_lives,
    concurrent_redemptions_of_one_change_link_succeed_once,
    reverting_restores_the_address_and_spends_every_other_link,
    a_newer_change_request_spends_the_older_link,
    deleting_an_account_removes_its_change_links,
    purging_removes_change_links_a_week_after_they_expire,
}
