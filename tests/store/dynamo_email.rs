//! Email changes and logins by email in the DynamoDB store: the address marker moves with the
//! address, a taken address is refused, a link is followed once (of concurrent requests, one),
//! the revert link puts the old address back and spends every other open link; a login's code
//! attempts are counted, a newer request ends the one before, a sign-up by email makes one
//! account, and a hand-off code is spent once.

use chrono::{DateTime, Utc};
use gatehouse::model::account::AccountKey;
use gatehouse::model::outcome::Effects;
use gatehouse::store::AccountStore;
use gatehouse::store::StoreError;
use gatehouse::store::email_change::{ChangeKind, EmailChangeStore, NewEmailChange, Redeemed};
use gatehouse::store::email_login::{EmailLoginStore, HandoffBinding, LinkState, NewEmailLogin, Redeem};
use gatehouse::tokens::opaque::{OpaqueToken, TokenHash};
use uuid::Uuid;

use crate::dynamo::store;
use crate::scenarios::{account, minutes, now};

fn change(account_id: Uuid, kind: ChangeKind, email: &str, at: DateTime<Utc>) -> (TokenHash, NewEmailChange) {
    let hash = OpaqueToken::generate().hash;
    (
        hash,
        NewEmailChange {
            hash,
            account_id,
            kind,
            email: email.to_owned(),
            created_at: at,
            expires_at: at + minutes(60),
        },
    )
}

#[tokio::test]
async fn an_address_change_moves_its_marker_once_and_the_revert_puts_it_back() {
    let Some(store) = store().await else { return };
    let ann = store.insert_account(&account("ann@example.com", None), None, &Effects::none()).await.unwrap().id;
    store.insert_account(&account("taken@example.com", None), None, &Effects::none()).await.unwrap();
    let t0 = now();

    let (taken, record) = change(ann, ChangeKind::Confirm, "TAKEN@example.com", t0);
    store.insert_email_change(&record, &Effects::none()).await.unwrap();
    let (_, revert) = change(ann, ChangeKind::Revert, "ann@example.com", t0);
    let refused = store.redeem_email_change(&taken, &revert, t0, &Effects::none()).await;
    assert!(matches!(refused, Err(StoreError::EmailTaken)), "{refused:?}");

    let (first, record) = change(ann, ChangeKind::Confirm, "ann.new@example.com", t0);
    store.insert_email_change(&record, &Effects::none()).await.unwrap();
    let (second, record) = change(ann, ChangeKind::Confirm, "ann.other@example.com", t0 + minutes(1));
    store.insert_email_change(&record, &Effects::none()).await.unwrap();
    assert!(store.find_email_change(&first).await.unwrap().unwrap().used_at.is_some(), "a new link spends the earlier");

    let (undo, revert) = change(ann, ChangeKind::Revert, "ann@example.com", t0 + minutes(2));
    let attempts: Vec<_> = (0..4)
        .map(|_| {
            let (store, revert) =
                (store.clone(), NewEmailChange { hash: OpaqueToken::generate().hash, ..revert.clone() });
            tokio::spawn(
                async move { store.redeem_email_change(&second, &revert, t0 + minutes(2), &Effects::none()).await },
            )
        })
        .collect();
    let mut changed = 0;
    for attempt in attempts {
        if let Redeemed::Changed { account, previous } = attempt.await.unwrap().unwrap() {
            assert_eq!((account.email.as_str(), previous.as_str()), ("ann.other@example.com", "ann@example.com"));
            changed += 1;
        }
    }
    assert_eq!(changed, 1, "followed once");
    let by_new = store.find_account(&AccountKey::Email("ANN.OTHER@example.com".into())).await.unwrap().unwrap();
    assert_eq!((by_new.account.id, by_new.account.email_verified), (ann, true));
    assert!(store.find_account(&AccountKey::Email("ann@example.com".into())).await.unwrap().is_none());
    let someone = store.insert_account(&account("ann@example.com", None), None, &Effects::none()).await;
    let someone = someone.expect("the old address is free").id;
    store.delete_account(someone, &Effects::none()).await.unwrap();

    // The owner of the old address goes back: the revert link written with the change.
    store.insert_email_change(&revert, &Effects::none()).await.unwrap();
    let (pending, record) = change(ann, ChangeKind::Confirm, "ann.third@example.com", t0 + minutes(3));
    store.insert_email_change(&record, &Effects::none()).await.unwrap();
    let back = store.redeem_email_revert(&undo, t0 + minutes(3), &Effects::none()).await.unwrap();
    assert!(matches!(back, Redeemed::Changed { ref account, .. } if account.email == "ann@example.com"), "{back:?}");
    assert!(store.find_account(&AccountKey::Email("ann@example.com".into())).await.unwrap().is_some());
    assert!(store.find_account(&AccountKey::Email("ann.other@example.com".into())).await.unwrap().is_none());
    assert!(store.find_email_change(&pending).await.unwrap().unwrap().used_at.is_some(), "other links spent");
    let again = store.redeem_email_revert(&undo, t0 + minutes(3), &Effects::none()).await.unwrap();
    assert!(matches!(again, Redeemed::AlreadySpent));
}

fn login(address: &str, account_id: Option<Uuid>, at: DateTime<Utc>) -> (TokenHash, NewEmailLogin) {
    let link = OpaqueToken::generate().hash;
    let new = NewEmailLogin {
        id: Uuid::now_v7(),
        email: address.to_owned(),
        email_normalized: address.to_lowercase(),
        account_id,
        link_hash: link,
        code_hash: TokenHash::of("123456"),
        handoff: HandoffBinding { browser: Some(TokenHash::of("cookie")), challenge: None },
        created_at: at,
        expires_at: at + minutes(15),
    };
    (link, new)
}

#[tokio::test]
async fn a_login_by_email_counts_its_codes_ends_the_one_before_and_signs_up_once() {
    let Some(store) = store().await else { return };
    let t0 = now();
    let (first_link, first) = login("Neo@example.com", None, t0);
    store.insert_email_login(&first, &Effects::none()).await.unwrap();
    let LinkState::Live(live) = store.email_login_by_link(&first_link, 5, t0).await.unwrap() else { panic!("live") };
    assert_eq!((live.id, live.email.as_str(), live.account_id), (first.id, "Neo@example.com", None));
    assert_eq!(live.handoff, first.handoff);

    let (second_link, second) = login("Neo@example.com", None, t0 + minutes(1));
    store.insert_email_login(&second, &Effects::none()).await.unwrap();
    assert_eq!(store.email_login_by_link(&first_link, 5, t0 + minutes(1)).await.unwrap(), LinkState::Expired);
    for _ in 0..3 {
        let taken = store.take_code_attempt("neo@example.com", 3, t0 + minutes(1)).await.unwrap();
        assert_eq!(taken.map(|l| l.id), Some(second.id), "the newest login's code");
    }
    assert!(store.take_code_attempt("neo@example.com", 3, t0 + minutes(1)).await.unwrap().is_none(), "out of tries");
    assert_eq!(store.email_login_by_link(&second_link, 3, t0 + minutes(1)).await.unwrap(), LinkState::Spent);

    let (_, third) = login("Neo@example.com", None, t0 + minutes(2));
    store.insert_email_login(&third, &Effects::none()).await.unwrap();
    let new = account("Neo@example.com", None);
    let redemptions: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            let new = gatehouse::store::NewAccount { id: Uuid::now_v7(), ..clone_account(&new) };
            let id = third.id;
            tokio::spawn(async move {
                store.redeem_email_login(id, 5, Redeem::New(&new), t0 + minutes(2), &Effects::none()).await.unwrap()
            })
        })
        .collect();
    let mut made = Vec::new();
    for redemption in redemptions {
        made.extend(redemption.await.unwrap());
    }
    assert_eq!(made.len(), 1, "one account made: {made:?}");
    let found = store.find_account(&AccountKey::Email("neo@example.com".into())).await.unwrap().unwrap();
    assert_eq!(found.account.id, made[0]);

    // A pending account proves its address: active, with the password of whoever followed.
    let pending = store.insert_account(&account("zoe@example.com", None), None, &Effects::none()).await.unwrap().id;
    let (_, fourth) = login("zoe@example.com", Some(pending), t0);
    store.insert_email_login(&fourth, &Effects::none()).await.unwrap();
    let existing = Redeem::Existing { account_id: pending, fresh_password: Some("$argon2id$fresh") };
    assert_eq!(store.redeem_email_login(fourth.id, 5, existing, t0, &Effects::none()).await.unwrap(), Some(pending));
    let zoe = store.find_account(&AccountKey::Id(pending)).await.unwrap().unwrap();
    assert_eq!((zoe.account.status, zoe.account.email_verified), (gatehouse::model::account::Status::Active, true));
    assert_eq!(zoe.password_hash, "$argon2id$fresh");
    let again = Redeem::Existing { account_id: pending, fresh_password: None };
    assert_eq!(store.redeem_email_login(fourth.id, 5, again, t0, &Effects::none()).await.unwrap(), None, "once");
}

fn clone_account(new: &gatehouse::store::NewAccount) -> gatehouse::store::NewAccount {
    gatehouse::store::NewAccount {
        id: new.id,
        email: new.email.clone(),
        email_normalized: new.email_normalized.clone(),
        username: new.username.clone(),
        name: new.name.clone(),
        data: new.data.clone(),
        app_data: new.app_data.clone(),
        password_hash: new.password_hash.clone(),
        role: new.role,
        status: gatehouse::model::account::Status::Active,
        email_verified: true,
        locale: new.locale,
        now: new.now,
    }
}

#[tokio::test]
async fn a_hand_off_code_keeps_its_binding_and_is_spent_once() {
    let Some(store) = store().await else { return };
    let id = store.insert_account(&account("hana@example.com", None), None, &Effects::none()).await.unwrap().id;
    for binding in [
        HandoffBinding { browser: Some(TokenHash::of("cookie")), challenge: Some("c".repeat(43)) },
        HandoffBinding { browser: Some(TokenHash::of("cookie")), challenge: None },
        HandoffBinding::default(),
    ] {
        let code = OpaqueToken::generate();
        store.insert_handoff(&code.hash, id, "email", &binding, now(), now() + minutes(2)).await.unwrap();
        let spent = store.spend_handoff(&code.hash, now()).await.unwrap().expect("spent once");
        assert_eq!((spent.account_id, spent.method.as_str(), &spent.binding), (id, "email", &binding));
        assert!(store.spend_handoff(&code.hash, now()).await.unwrap().is_none(), "and only once");
    }
    let late = OpaqueToken::generate();
    store.insert_handoff(&late.hash, id, "email", &HandoffBinding::default(), now(), now() + minutes(2)).await.unwrap();
    assert!(store.spend_handoff(&late.hash, now() + minutes(3)).await.unwrap().is_none(), "expired");
}
