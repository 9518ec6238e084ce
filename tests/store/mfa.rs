//! The second-factor scenarios: every database keeps "only once" for TOTP time steps, recovery
//! codes and login challenges with one conditional write, so that concurrent requests on
//! several replicas get exactly one "yes"; and a session's authentication survives the round
//! trip through every session store.

use std::sync::Arc;

use chrono::Utc;
use gatehouse::model::outcome::Effects;
use gatehouse::sessions::SessionAuth;
use gatehouse::store::StoreError;
use gatehouse::store::mfa::NewChallenge;
use gatehouse::store::passkeys::{Ceremony, NewCeremony, StoredPasskey};
use gatehouse::store::probe::Held;
use gatehouse::store::{Pace, Store};
use gatehouse::tokens::opaque::OpaqueToken;
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{email, minutes, now, seeded};

crate::per_backend! {
    stores:
        a_totp_factor_counts_once_confirmed_and_accepts_each_step_once,
        replicas_racing_with_one_step_accept_it_once,
        recovery_codes_are_spent_once_and_replaced_whole,
        a_challenge_is_claimed_by_one_attempt_and_dies_after_the_last_wrong_code,
        removing_the_factors_takes_the_codes_and_queues_the_notice,
        passkeys_are_unique_by_credential_and_leave_with_their_account_or_an_admin_reset,
        a_ceremony_answers_once_whichever_replica_takes_it;
    sessions:
        a_session_keeps_how_it_was_authenticated_through_refresh_and_step_up,
}

const SEALED: &[u8] = b"\x01sealed secret bytes, opaque to the store";

async fn enrolled(h: &Harness, address: &str) -> Uuid {
    let id = seeded(h, address).await;
    assert!(h.store.begin_totp(id, SEALED, now()).await.unwrap());
    assert!(
        h.store
            .confirm_totp(id, 100, &[[1; 32], [2; 32]], now(), &Effects::none().email(email(address, now())))
            .await
            .unwrap()
    );
    id
}

pub async fn a_totp_factor_counts_once_confirmed_and_accepts_each_step_once(h: Harness) {
    let id = seeded(&h, "ann@example.com").await;
    assert!(!h.store.factors(id).await.unwrap().any());
    assert!(h.store.begin_totp(id, b"first", now()).await.unwrap());
    assert!(h.store.begin_totp(id, SEALED, now()).await.unwrap(), "an unconfirmed secret is replaced");
    let stored = h.store.totp(id).await.unwrap().unwrap();
    assert_eq!((stored.secret.as_slice(), stored.confirmed, stored.last_step), (SEALED, false, None));
    assert!(!h.store.factors(id).await.unwrap().any(), "unconfirmed, it does not count");
    assert!(!h.store.accept_totp_step(id, 99).await.unwrap(), "nor does it accept codes");

    let codes: Vec<[u8; 32]> = (0..10u8).map(|n| [n; 32]).collect();
    assert!(
        h.store
            .confirm_totp(id, 100, &codes, now(), &Effects::none().email(email("ann@example.com", now())))
            .await
            .unwrap()
    );
    assert!(
        !h.store
            .confirm_totp(id, 101, &codes, now(), &Effects::none().email(email("ann@example.com", now())))
            .await
            .unwrap()
    );
    let factors = h.store.factors(id).await.unwrap();
    assert!(factors.totp && factors.any());
    assert_eq!(factors.recovery_codes, 10);
    assert!(!h.store.begin_totp(id, b"another", now()).await.unwrap(), "a confirmed factor stays");

    assert!(!h.store.accept_totp_step(id, 100).await.unwrap(), "the confirming step is spent");
    assert!(!h.store.accept_totp_step(id, 99).await.unwrap(), "and every earlier one");
    assert!(h.store.accept_totp_step(id, 101).await.unwrap());
    assert!(!h.store.accept_totp_step(id, 101).await.unwrap());
    assert_eq!(h.store.totp(id).await.unwrap().unwrap().last_step, Some(101));
}

pub async fn replicas_racing_with_one_step_accept_it_once(h: Harness) {
    let id = enrolled(&h, "ann@example.com").await;
    let mut stores: Vec<Arc<dyn Store>> = vec![h.store.clone()];
    for _ in 0..3 {
        stores.push(h.another_replica().await);
    }
    for step in [101, 102, 103] {
        let attempts = (0..16).map(|n| {
            let store = stores[n % stores.len()].clone();
            tokio::spawn(async move { store.accept_totp_step(id, step).await.unwrap() })
        });
        let mut accepted = 0;
        for attempt in attempts.collect::<Vec<_>>() {
            accepted += usize::from(attempt.await.unwrap());
        }
        assert_eq!(accepted, 1, "step {step}");
    }
}

pub async fn recovery_codes_are_spent_once_and_replaced_whole(h: Harness) {
    let id = enrolled(&h, "ann@example.com").await;
    let mut unspent = h.store.recovery_codes(id).await.unwrap();
    unspent.sort();
    assert_eq!(unspent, vec![[1; 32], [2; 32]]);
    let store = h.store.clone();
    let spend = |n: u8| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .spend_recovery_code(id, &[n; 32], &Effects::none().email(email("ann@example.com", now())), now())
                .await
                .unwrap()
        })
    };
    let (a, b) = (spend(1), spend(1));
    assert_eq!(u8::from(a.await.unwrap()) + u8::from(b.await.unwrap()), 1, "one of two concurrent spends wins");
    assert_eq!(h.store.recovery_codes(id).await.unwrap(), vec![[2; 32]]);
    assert!(!spend(9).await.unwrap(), "an unknown code spends nothing");
    assert_eq!(h.store.factors(id).await.unwrap().recovery_codes, 1);
    let notices = h.held(Held::Emails).await;
    assert_eq!(notices, 2, "the confirmation's notice and one spend's");

    h.store.replace_recovery_codes(id, &[[7; 32], [8; 32], [9; 32]], now(), &Effects::none()).await.unwrap();
    assert!(!spend(2).await.unwrap(), "the old set is gone");
    assert_eq!(h.store.factors(id).await.unwrap().recovery_codes, 3);
}

pub async fn a_challenge_is_claimed_by_one_attempt_and_dies_after_the_last_wrong_code(h: Harness) {
    let id = enrolled(&h, "ann@example.com").await;
    let token = OpaqueToken::generate();
    let challenge = NewChallenge {
        hash: token.hash,
        account_id: id,
        first_factor: "pwd".into(),
        created_at: now(),
        expires_at: now() + minutes(5),
    };
    h.store.insert_challenge(&challenge).await.unwrap();
    let claimed = h.store.claim_challenge(&token.hash, 3, now()).await.unwrap().unwrap();
    assert_eq!((claimed.account_id, claimed.first_factor.as_str()), (id, "pwd"));
    assert!(h.store.claim_challenge(&token.hash, 3, now()).await.unwrap().is_none(), "claimed: a second attempt waits");
    h.store.release_challenge(&token.hash, false).await.unwrap();
    for _ in 0..3 {
        assert!(h.store.claim_challenge(&token.hash, 3, now()).await.unwrap().is_some());
        h.store.release_challenge(&token.hash, true).await.unwrap();
    }
    assert!(h.store.claim_challenge(&token.hash, 3, now()).await.unwrap().is_none(), "three wrong codes spend it");

    let late = OpaqueToken::generate();
    h.store
        .insert_challenge(&NewChallenge { hash: late.hash, expires_at: now() - minutes(1), ..challenge.clone() })
        .await
        .unwrap();
    assert!(h.store.claim_challenge(&late.hash, 3, now()).await.unwrap().is_none(), "expired");
    if let Some(purged) = h.purge_if_offered(now(), Pace::Full).await {
        assert!(purged >= 1);
    }
    assert!(h.store.claim_challenge(&OpaqueToken::generate().hash, 3, now()).await.unwrap().is_none(), "unknown");
}

pub async fn removing_the_factors_takes_the_codes_and_queues_the_notice(h: Harness) {
    let id = enrolled(&h, "ann@example.com").await;
    assert!(h.store.remove_factors(id, false, &Effects::none().email(email("ann@example.com", now()))).await.unwrap());
    assert!(!h.store.factors(id).await.unwrap().any());
    assert!(h.store.recovery_codes(id).await.unwrap().is_empty());
    assert!(h.store.totp(id).await.unwrap().is_none());
    assert!(
        !h.store.remove_factors(id, false, &Effects::none().email(email("ann@example.com", now()))).await.unwrap(),
        "nothing left"
    );
    assert_eq!(h.held(Held::Emails).await, 2, "the confirmation's notice and the removal's");

    let pending = seeded(&h, "ben@example.com").await;
    assert!(h.store.begin_totp(pending, SEALED, now()).await.unwrap());
    assert!(
        !h.store.remove_factors(pending, false, &Effects::none()).await.unwrap(),
        "an unconfirmed secret is no factor"
    );
}

pub async fn a_session_keeps_how_it_was_authenticated_through_refresh_and_step_up(h: Harness) {
    let id = seeded(&h, "ann@example.com").await;
    let t0 = now();
    let refresh = OpaqueToken::generate();
    let auth = SessionAuth::second_factor(vec!["pwd".into(), "otp".into(), "mfa".into()], t0);
    let session = gatehouse::sessions::NewSession {
        id: Uuid::now_v7(),
        account_id: id,
        refresh_hash: refresh.hash,
        created_at: t0,
        expires_at: t0 + minutes(60),
        user_agent: None,
        ip: None,
        auth: auth.clone(),
    };
    h.sessions.create_session(&session).await.unwrap();
    assert_eq!(h.sessions.live_session(session.id, t0).await.unwrap().unwrap().auth, auth);
    let (live, _) = h.sessions.live_session_and_account(session.id, id, t0).await.unwrap().unwrap();
    assert_eq!(live.auth, auth);
    let next = OpaqueToken::generate().hash;
    let rotated =
        h.sessions.rotate_refresh(&refresh.hash, &next, t0, std::time::Duration::from_secs(30)).await.unwrap();
    assert!(matches!(rotated, gatehouse::sessions::Rotation::Rotated(ref s) if s.auth == auth), "{rotated:?}");

    let later = SessionAuth { at: t0 + minutes(3), ..auth };
    assert!(h.sessions.set_session_auth(session.id, &later).await.unwrap());
    let now_ = Utc::now().max(t0);
    assert_eq!(h.sessions.live_session(session.id, now_).await.unwrap().unwrap().auth, later);
    assert!(h.sessions.revoke_session(id, session.id).await.unwrap());
    assert!(!h.sessions.set_session_auth(session.id, &later).await.unwrap(), "an ended session stays ended");
}

fn passkey(account_id: Uuid, credential: u8) -> StoredPasskey {
    StoredPasskey {
        id: Uuid::now_v7(),
        account_id,
        credential_id: vec![credential; 16],
        passkey: r#"{"cred":{"counter":0}}"#.into(),
        name: format!("key {credential}"),
        backup_eligible: true,
        backup_state: false,
        created_at: now(),
        last_used_at: None,
    }
}

pub async fn passkeys_are_unique_by_credential_and_leave_with_their_account_or_an_admin_reset(h: Harness) {
    let ann = enrolled(&h, "ann@example.com").await;
    let ben = seeded(&h, "ben@example.com").await;
    let first = passkey(ann, 1);
    h.store.insert_passkey(&first, &Effects::none().email(email("ann@example.com", now()))).await.unwrap();
    h.store.insert_passkey(&passkey(ann, 2), &Effects::none().email(email("ann@example.com", now()))).await.unwrap();
    let taken = h.store.insert_passkey(&passkey(ben, 1), &Effects::none().email(email("ben@example.com", now()))).await;
    assert!(matches!(taken, Err(StoreError::Conflict)), "a credential id belongs to one account: {taken:?}");
    assert_eq!(h.store.passkeys(ann).await.unwrap().len(), 2);
    assert_eq!(h.store.factors(ann).await.unwrap().passkeys, 2);
    let found = h.store.passkey_by_credential(&[1; 16]).await.unwrap().unwrap();
    assert_eq!(found, first);

    let used = StoredPasskey { passkey: r#"{"cred":{"counter":7}}"#.into(), backup_state: true, ..first.clone() };
    h.store.record_passkey_use(&used, now()).await.unwrap();
    let found = h.store.passkey_by_credential(&[1; 16]).await.unwrap().unwrap();
    assert_eq!(
        (found.passkey.as_str(), found.backup_state, found.last_used_at.is_some()),
        (used.passkey.as_str(), true, true)
    );

    assert!(
        !h.store.delete_passkey(ben, first.id, &Effects::none().email(email("ben@example.com", now()))).await.unwrap(),
        "not ben's"
    );
    assert!(
        h.store.delete_passkey(ann, first.id, &Effects::none().email(email("ann@example.com", now()))).await.unwrap()
    );
    assert!(h.store.remove_factors(ann, false, &Effects::none()).await.unwrap(), "the app goes");
    assert_eq!(h.store.recovery_codes(ann).await.unwrap().len(), 2, "the codes stay while a passkey remains");
    assert!(h.store.remove_factors(ann, true, &Effects::none()).await.unwrap(), "the admin's reset takes the passkeys");
    let factors = h.store.factors(ann).await.unwrap();
    assert_eq!((factors.passkeys, factors.recovery_codes, factors.any()), (0, 0, false));

    h.store.insert_passkey(&passkey(ben, 3), &Effects::none().email(email("ben@example.com", now()))).await.unwrap();
    assert!(h.store.delete_account(ben, &Effects::none()).await.unwrap());
    assert!(h.store.passkey_by_credential(&[3; 16]).await.unwrap().is_none(), "gone with the account");
}

pub async fn a_ceremony_answers_once_whichever_replica_takes_it(h: Harness) {
    let ann = seeded(&h, "ann@example.com").await;
    let ceremony = NewCeremony {
        hash: [5; 32],
        account_id: Some(ann),
        purpose: Ceremony::Register,
        state: r#"{"rs":{}}"#.into(),
        expires_at: now() + minutes(5),
    };
    h.store.insert_ceremony(&ceremony).await.unwrap();
    assert!(h.store.take_ceremony(&[5; 32], Ceremony::Login, now()).await.unwrap().is_none(), "another purpose");
    let replicas: Vec<Arc<dyn Store>> = vec![h.store.clone(), h.another_replica().await, h.another_replica().await];
    let takers = (0..9).map(|n| {
        let store = replicas[n % replicas.len()].clone();
        tokio::spawn(async move { store.take_ceremony(&[5; 32], Ceremony::Register, now()).await.unwrap() })
    });
    let mut taken = Vec::new();
    for taker in takers.collect::<Vec<_>>() {
        taken.extend(taker.await.unwrap());
    }
    assert_eq!(taken, vec![(Some(ann), r#"{"rs":{}}"#.to_owned())], "exactly one taker gets the state");

    let stale = NewCeremony {
        hash: [6; 32],
        account_id: None,
        purpose: Ceremony::Login,
        expires_at: now() - minutes(1),
        ..ceremony
    };
    h.store.insert_ceremony(&stale).await.unwrap();
    assert!(h.store.take_ceremony(&[6; 32], Ceremony::Login, now()).await.unwrap().is_none(), "expired");
}
