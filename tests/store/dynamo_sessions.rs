//! Sessions in the DynamoDB store: the per-request check, ending one, all or the account's,
//! and refresh-token rotation with reuse detection, its grace period and its races.

use std::sync::Arc;

use gatehouse::model::outcome::Effects;
use gatehouse::sessions::{AccountRead, Rotation, SessionStore};
use gatehouse::store::AccountStore;
use gatehouse::store::dynamo::DynamoStore;
use gatehouse::tokens::opaque::OpaqueToken;
use uuid::Uuid;

use crate::dynamo::store;
use crate::scenarios::{account, minutes, now, session};

const GRACE: std::time::Duration = std::time::Duration::from_secs(30);

async fn seeded(store: &DynamoStore, address: &str) -> Uuid {
    store.insert_account(&account(address, None), None, &Effects::none()).await.unwrap().id
}

#[tokio::test]
async fn a_session_is_live_until_it_expires_or_is_revoked_and_dies_with_its_account() {
    let Some(store) = store().await else { return };
    let id = seeded(&store, "ned@example.com").await;
    let t0 = now();
    let (new, _) = session(id, t0, minutes(30));
    store.create_session(&new).await.unwrap();

    let live = store.live_session(new.id, t0).await.unwrap().expect("live");
    assert_eq!((live.account_id, live.expires_at, live.last_used_at), (id, t0 + minutes(30), t0));
    store.touch_session(new.id, t0 + minutes(2)).await.unwrap();
    assert_eq!(store.live_session(new.id, t0).await.unwrap().unwrap().last_used_at, t0 + minutes(2));
    assert!(store.live_session(new.id, t0 + minutes(30)).await.unwrap().is_none(), "expired");
    assert!(store.live_session(Uuid::now_v7(), t0).await.unwrap().is_none(), "unknown");
    let (read, account) = store.live_session_and_account(new.id, id, t0).await.unwrap().unwrap();
    assert_eq!(read.id, new.id);
    assert!(matches!(account, AccountRead::Current(a) if a.id == id));

    assert!(!store.revoke_session(Uuid::now_v7(), new.id).await.unwrap(), "not another account's to end");
    assert!(store.revoke_session(id, new.id).await.unwrap());
    assert!(store.live_session(new.id, t0).await.unwrap().is_none(), "revoked");
    assert!(!store.revoke_session(id, new.id).await.unwrap(), "ended once");
    store.touch_session(new.id, t0).await.unwrap();
    assert!(store.live_session(new.id, t0).await.unwrap().is_none(), "touching does not revive it");

    let (other, _) = session(id, t0, minutes(30));
    store.create_session(&other).await.unwrap();
    assert!(store.delete_account(id, &Effects::none()).await.unwrap());
    assert!(store.live_session(other.id, t0).await.unwrap().is_none(), "gone with its account");
}

#[tokio::test]
async fn revoking_all_spares_the_exception_and_the_list_shows_live_sessions_newest_first() {
    let Some(store) = store().await else { return };
    let ann = seeded(&store, "quinn@example.com").await;
    let ben = seeded(&store, "rae@example.com").await;
    let t0 = now();
    let sessions: Vec<_> = (0..3).map(|n| session(ann, t0 - chrono::Duration::seconds(n), minutes(60)).0).collect();
    for s in &sessions {
        store.create_session(s).await.unwrap();
    }
    let (expired, _) = session(ann, t0 - minutes(120), minutes(60));
    store.create_session(&expired).await.unwrap();
    let (bens, _) = session(ben, t0, minutes(60));
    store.create_session(&bens).await.unwrap();

    let listed: Vec<Uuid> = store.list_sessions(ann, t0).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(listed, sessions.iter().map(|s| s.id).collect::<Vec<_>>(), "newest first, the expired one left out");

    let ended = store.revoke_all_sessions(ann, Some(sessions[1].id)).await.unwrap();

    assert_eq!(ended, 2);
    assert!(store.live_session(sessions[1].id, t0).await.unwrap().is_some(), "the exception lives");
    assert!(store.live_session(sessions[0].id, t0).await.unwrap().is_none());
    assert!(store.live_session(bens.id, t0).await.unwrap().is_some(), "other accounts untouched");
    let listed: Vec<Uuid> = store.list_sessions(ann, t0).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(listed, vec![sessions[1].id]);
    assert_eq!(store.revoke_all_sessions(ann, None).await.unwrap(), 1);
    assert!(store.live_session(sessions[1].id, t0).await.unwrap().is_none());
    let (after, _) = session(ann, t0, minutes(60));
    store.create_session(&after).await.unwrap();
    assert!(store.live_session(after.id, t0).await.unwrap().is_some(), "a later login is live");
}

#[tokio::test]
async fn rotation_spends_the_old_token_a_replay_in_grace_changes_nothing_and_reuse_revokes() {
    let Some(store) = store().await else { return };
    let id = seeded(&store, "oli@example.com").await;
    let t0 = now();
    let (new, first) = session(id, t0, minutes(60));
    store.create_session(&new).await.unwrap();
    let (second, third) = (OpaqueToken::generate().hash, OpaqueToken::generate().hash);
    let t1 = t0 + minutes(1);

    let rotated = store.rotate_refresh(&first, &second, t1, GRACE).await.unwrap();
    let Rotation::Rotated(live) = rotated else { panic!("{rotated:?}") };
    assert_eq!((live.id, live.account_id, live.last_used_at), (new.id, id, t1));
    let replayed = store.rotate_refresh(&first, &second, t1 + chrono::Duration::seconds(29), GRACE).await.unwrap();
    assert_eq!(replayed, Rotation::Replayed(live.clone()), "a replay in grace with its successor");
    assert_eq!(store.refresh_token_session(&first, t1).await.unwrap(), Some(live));
    let unknown = store.rotate_refresh(&OpaqueToken::generate().hash, &third, t1, GRACE).await.unwrap();
    assert_eq!(unknown, Rotation::Unknown);

    let reused = store.rotate_refresh(&first, &third, t1 + minutes(2), GRACE).await.unwrap();
    assert_eq!(reused, Rotation::Reused { session_id: new.id, account_id: id });
    assert!(store.live_session(new.id, t0).await.unwrap().is_none(), "the session is revoked");
    let after = store.rotate_refresh(&second, &third, t1 + minutes(3), GRACE).await.unwrap();
    assert_eq!(after, Rotation::Unknown, "the newest token died with its session");
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_rotate_once() {
    let Some(store) = store().await else { return };
    let id = seeded(&store, "pia@example.com").await;
    let (new, token) = session(id, now(), minutes(60));
    store.create_session(&new).await.unwrap();

    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let store: Arc<DynamoStore> = store.clone();
            tokio::spawn(async move { store.rotate_refresh(&token, &OpaqueToken::generate().hash, now(), GRACE).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for attempt in attempts {
        outcomes.push(attempt.await.unwrap().unwrap());
    }
    let rotated = outcomes.iter().filter(|o| matches!(o, Rotation::Rotated(_))).count();
    assert_eq!(rotated, 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| matches!(o, Rotation::Rotated(_) | Rotation::Reused { .. } | Rotation::Unknown)),
        "the others are reuse (another successor) or find the session ended: {outcomes:?}"
    );
    assert!(store.live_session(new.id, now()).await.unwrap().is_none(), "reuse ended the session");
}
