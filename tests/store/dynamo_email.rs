//! Email changes in the DynamoDB store: the address marker moves with the address, a taken
//! address is refused, a link is followed once (of concurrent requests, one), and the revert
//! link puts the old address back and spends every other open link.

use chrono::{DateTime, Utc};
use gatehouse::model::account::AccountKey;
use gatehouse::model::outcome::Effects;
use gatehouse::store::AccountStore;
use gatehouse::store::StoreError;
use gatehouse::store::email_change::{ChangeKind, EmailChangeStore, NewEmailChange, Redeemed};
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
