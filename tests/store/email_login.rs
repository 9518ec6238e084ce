//! Logins by email: a login's code attempts are counted, a newer request ends the one before,
//! racing redemptions of one sign-up by email make one account, and a pending account that
//! proves its address by email becomes active, once.

use chrono::{DateTime, Utc};
use gatehouse::model::account::AccountKey;
use gatehouse::model::outcome::Effects;
use gatehouse::store::email_login::{HandoffBinding, LinkState, NewEmailLogin, Redeem};
use gatehouse::tokens::opaque::{OpaqueToken, TokenHash};
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{account, minutes, now};

crate::per_backend! {
    stores: a_login_by_email_counts_its_codes_ends_the_one_before_and_signs_up_once;
    sessions:
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

pub async fn a_login_by_email_counts_its_codes_ends_the_one_before_and_signs_up_once(h: Harness) {
    let store = h.store.clone();
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
