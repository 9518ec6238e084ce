//! The OpenID Connect provider's storage on every database: clients round-trip and keep only
//! the hash of their secret, a code is redeemed once however many replicas race for it, and a
//! client's session keeps its grant (and is found by its refresh token without spending it) in
//! every session store.

use std::sync::Arc;

use gatehouse::model::audit::EventFilter;
use gatehouse::model::client::{ClientKeys, ClientPolicy};
use gatehouse::model::outcome::{Effects, Kind, Outcome};
use gatehouse::model::webhook::Endpoint;
use gatehouse::sessions::{Grant, SessionAuth};
use gatehouse::store::Pace;
use gatehouse::store::clients::{InitialToken, NewCode, OAuthClient, Redemption};
use gatehouse::store::devices::{DeviceCode, DeviceDecision, DeviceState};
use gatehouse::tokens::opaque::{OpaqueToken, TokenHash};
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{minutes, now, seeded, session};

crate::per_backend! {
    stores:
        a_client_round_trips_and_keeps_only_the_hash_of_its_secret,
        a_code_is_redeemed_once_by_racing_replicas_and_not_after_its_minute,
        a_device_request_is_answered_once_polled_by_one_at_a_time_and_spent_once,
        an_initial_access_token_gives_its_uses_once_each_to_racing_registrations,
        every_change_of_the_registry_is_audited_in_its_own_transaction_and_only_when_made;
    sessions:
        a_client_session_keeps_its_grant_and_is_found_by_its_refresh_token,
}

fn client(confidential: bool) -> OAuthClient {
    let at = now();
    OAuthClient {
        id: Uuid::new_v4().simple().to_string(),
        name: "Dashboard".into(),
        confidential,
        redirect_uris: vec!["https://app.example.com/cb".into(), "http://127.0.0.1/cb".into()],
        post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scopes: vec!["openid".into(), "email".into()],
        first_party: false,
        // Stored and read back like the rest (a resource server may introspect others' tokens).
        introspect: confidential,
        self_registered: false,
        backchannel_logout_uri: confidential.then(|| "https://app.example.com/backchannel-logout?tenant=a".into()),
        backchannel_logout_session_required: confidential,
        // A column added after 0.1.0, read and written like the rest.
        policy: ClientPolicy {
            require_pushed_authorization_requests: confidential,
            dpop_bound_access_tokens: true,
            keys: confidential.then(|| ClientKeys::JwksUri("https://app.example.com/jwks.json".into())),
        },
        created_at: at,
        updated_at: at,
    }
}

pub async fn a_client_round_trips_and_keeps_only_the_hash_of_its_secret(h: Harness) {
    let app = client(true);
    let secret = OpaqueToken::generate();
    h.store.insert_client(&app, Some(&secret.hash), None, &Effects::none()).await.unwrap();
    assert_eq!(h.store.find_client(&app.id).await.unwrap(), Some(app.clone()));
    assert_eq!(h.store.registration_hash(&app.id).await.unwrap(), None, "an admin's client has no registration token");
    assert_eq!(h.store.client_secret(&app.id).await.unwrap(), Some(secret.hash));
    let public = client(false);
    let registration = OpaqueToken::generate();
    h.store.insert_client(&public, None, Some(&registration.hash), &Effects::none()).await.unwrap();
    let found = h.store.find_client(&public.id).await.unwrap().unwrap();
    assert!(found.self_registered, "a client stored with a registration token registered itself");
    assert_eq!(h.store.registration_hash(&public.id).await.unwrap(), Some(registration.hash));
    assert_eq!(h.store.client_secret(&public.id).await.unwrap(), None);
    assert!(
        !h.store.set_client_secret(&public.id, &secret.hash, now(), &Effects::none()).await.unwrap(),
        "a public client gets no secret"
    );
    let listed = h.store.list_clients().await.unwrap();
    assert_eq!(listed.iter().map(|c| c.self_registered).collect::<Vec<_>>(), [false, true]);

    let changed =
        OAuthClient { name: "Renamed".into(), scopes: vec!["openid".into()], first_party: true, ..app.clone() };
    assert!(h.store.update_client(&changed, &Effects::none()).await.unwrap());
    assert_eq!(h.store.find_client(&app.id).await.unwrap(), Some(changed));
    let next = OpaqueToken::generate();
    assert!(h.store.set_client_secret(&app.id, &next.hash, now(), &Effects::none()).await.unwrap());
    assert_eq!(h.store.client_secret(&app.id).await.unwrap(), Some(next.hash));

    let account = seeded(&h, "ann@example.com").await;
    h.store.save_consent(account, &app.id, &["openid".into()], now()).await.unwrap();
    h.store.save_consent(account, &app.id, &["openid".into(), "email".into()], now()).await.unwrap();
    assert_eq!(h.store.consent(account, &app.id).await.unwrap(), Some(vec!["openid".into(), "email".into()]));
    assert!(h.store.delete_client(&app.id, &Effects::none()).await.unwrap());
    assert_eq!(h.store.consent(account, &app.id).await.unwrap(), None, "consents leave with their client");
    assert!(!h.store.delete_client(&app.id, &Effects::none()).await.unwrap());
}

pub async fn a_device_request_is_answered_once_polled_by_one_at_a_time_and_spent_once(h: Harness) {
    let app = client(false);
    h.store.insert_client(&app, None, None, &Effects::none()).await.unwrap();
    let account = seeded(&h, "ann@example.com").await;
    let t0 = now();
    let request = |expires_in: chrono::Duration| DeviceCode {
        device_hash: OpaqueToken::generate().hash,
        user_hash: OpaqueToken::generate().hash,
        client_id: app.id.clone(),
        scopes: vec!["openid".into(), "email".into()],
        state: DeviceState::Pending,
        account_id: None,
        auth: None,
        views: 0,
        polls: 0,
        interval_secs: 5,
        polled_at: None,
        created_at: t0,
        expires_at: t0 + expires_in,
    };
    let live = request(minutes(10));
    h.store.insert_device_code(&live).await.unwrap();
    assert_eq!(h.store.device_code(&live.device_hash).await.unwrap().as_ref(), Some(&live));

    // Shown at most `max` times, and only while pending and live.
    for shown in 1..=3 {
        let found = h.store.view_device_code(&live.user_hash, 3, now()).await.unwrap().expect("pending");
        assert_eq!((found.views, found.device_hash), (shown, live.device_hash));
    }
    assert_eq!(h.store.view_device_code(&live.user_hash, 3, now()).await.unwrap(), None, "shown enough");
    assert_eq!(h.store.view_device_code(&live.user_hash, 9, t0 + minutes(11)).await.unwrap(), None, "expired");

    // Racing polls: one is counted, the others find the count moved on.
    let store = Arc::clone(&h.store);
    let pollers: Vec<_> = (0..8)
        .map(|_| {
            let (store, hash) = (Arc::clone(&store), live.device_hash);
            tokio::spawn(async move { store.record_poll(&hash, 0, 5, now()).await.unwrap() })
        })
        .collect();
    let mut counted = 0;
    for poller in pollers {
        counted += usize::from(poller.await.unwrap());
    }
    assert_eq!(counted, 1, "one poll of those that saw the same count");
    let polled = h.store.device_code(&live.device_hash).await.unwrap().unwrap();
    assert_eq!((polled.polls, polled.polled_at.is_some()), (1, true));
    assert!(h.store.record_poll(&live.device_hash, 1, 10, now()).await.unwrap());
    assert_eq!(h.store.device_code(&live.device_hash).await.unwrap().unwrap().interval_secs, 10);

    // Answered once; spent once, only when approved.
    assert!(!h.store.spend_device_code(&live.device_hash).await.unwrap(), "pending is not spendable");
    let approve = DeviceDecision::Approve { account_id: account, auth: SessionAuth::password(t0).encode() };
    assert!(h.store.decide_device_code(&live.device_hash, &approve, now()).await.unwrap());
    assert!(!h.store.decide_device_code(&live.device_hash, &DeviceDecision::Deny, now()).await.unwrap());
    let approved = h.store.device_code(&live.device_hash).await.unwrap().unwrap();
    assert_eq!((approved.state, approved.account_id), (DeviceState::Approved, Some(account)));
    let spenders: Vec<_> = (0..8)
        .map(|_| {
            let (store, hash) = (Arc::clone(&store), live.device_hash);
            tokio::spawn(async move { store.spend_device_code(&hash).await.unwrap() })
        })
        .collect();
    let mut spent = 0;
    for spender in spenders {
        spent += usize::from(spender.await.unwrap());
    }
    assert_eq!(spent, 1, "the tokens are handed out once");
    assert_eq!(h.store.device_code(&live.device_hash).await.unwrap().unwrap().state, DeviceState::Spent);

    // A late answer changes nothing.
    let late = request(minutes(10));
    h.store.insert_device_code(&late).await.unwrap();
    assert!(!h.store.decide_device_code(&late.device_hash, &DeviceDecision::Deny, t0 + minutes(11)).await.unwrap());
    assert!(h.store.decide_device_code(&late.device_hash, &DeviceDecision::Deny, now()).await.unwrap());
    assert_eq!(h.store.device_code(&late.device_hash).await.unwrap().unwrap().state, DeviceState::Denied);
}

pub async fn a_code_is_redeemed_once_by_racing_replicas_and_not_after_its_minute(h: Harness) {
    let app = client(true);
    h.store.insert_client(&app, Some(&OpaqueToken::generate().hash), None, &Effects::none()).await.unwrap();
    let account = seeded(&h, "ann@example.com").await;
    let t0 = now();
    let code = |expires_in: chrono::Duration| NewCode {
        hash: OpaqueToken::generate().hash,
        client_id: app.id.clone(),
        account_id: account,
        browser_session_id: Uuid::now_v7(),
        redirect_uri: "https://app.example.com/cb".into(),
        scopes: vec!["openid".into(), "email".into()],
        nonce: Some("n-1".into()),
        resources: vec!["https://api.example.com/".into(), "https://mcp.example.com/".into()],
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        dpop_jkt: Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()),
        auth: SessionAuth::password(t0).encode(),
        created_at: t0,
        expires_at: t0 + expires_in,
    };
    let live = code(minutes(1));
    h.store.insert_code(&live).await.unwrap();
    let store = Arc::clone(&h.store);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (store, hash) = (Arc::clone(&store), live.hash);
            tokio::spawn(async move { store.redeem_code(&hash, Uuid::now_v7(), now()).await.unwrap() })
        })
        .collect();
    let mut spent = 0;
    let mut named = None;
    for racer in racers {
        match racer.await.unwrap() {
            Redemption::Spent(found) => {
                spent += 1;
                assert_eq!((found.client_id.as_str(), found.nonce.as_deref()), (app.id.as_str(), Some("n-1")));
                assert_eq!((found.account_id, &found.scopes), (account, &live.scopes));
                assert_eq!(found.resources, live.resources, "the resources named come back in order");
                assert_eq!(found.dpop_jkt, live.dpop_jkt, "the key the request named comes back");
            }
            Redemption::Reused { account_id, session_id } => {
                assert_eq!(account_id, account);
                assert!(session_id.is_some(), "the winner named its session when it spent the code");
                named = session_id;
            }
            Redemption::Unknown => panic!("a live code is known"),
        }
    }
    assert_eq!(spent, 1, "one redemption wins");
    assert!(named.is_some() && h.store.code_reused(&live.hash).await.unwrap(), "the losers marked it reused");
    let fresh = code(minutes(1));
    h.store.insert_code(&fresh).await.unwrap();
    assert!(matches!(h.store.redeem_code(&fresh.hash, Uuid::now_v7(), now()).await.unwrap(), Redemption::Spent(_)));
    assert!(!h.store.code_reused(&fresh.hash).await.unwrap(), "spent once is not reused");

    let late = code(minutes(1));
    h.store.insert_code(&late).await.unwrap();
    assert!(matches!(
        h.store.redeem_code(&late.hash, Uuid::now_v7(), t0 + minutes(2)).await.unwrap(),
        Redemption::Unknown
    ));
    assert!(!h.store.code_reused(&late.hash).await.unwrap(), "an expired code presented is not a reuse");
    let unknown = h.store.redeem_code(&OpaqueToken::generate().hash, Uuid::now_v7(), t0).await.unwrap();
    assert!(matches!(unknown, Redemption::Unknown));
    let expired = code(minutes(-1));
    h.store.insert_code(&expired).await.unwrap();
    if let Some(purged) = h.purge_if_offered(now(), Pace::Full).await {
        assert!(purged >= 1);
    }
    let again = h.store.redeem_code(&live.hash, Uuid::now_v7(), now()).await.unwrap();
    assert!(matches!(again, Redemption::Reused { .. }), "a spent live code stays until it expires");
}

pub async fn a_client_session_keeps_its_grant_and_is_found_by_its_refresh_token(h: Harness) {
    let account = seeded(&h, "ann@example.com").await;
    let t0 = now();
    let (mut new, refresh) = session(account, t0, minutes(60));
    let grant = Grant {
        client_id: "c0ffee".into(),
        scopes: vec!["openid".into(), "offline_access".into()],
        via: Some(Uuid::now_v7()),
        resources: vec!["https://api.example.com/".into()],
        jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
    };
    new.auth = SessionAuth { grant: Some(grant.clone()), ..SessionAuth::password(t0) };
    h.sessions.create_session(&new).await.unwrap();
    let found = h.sessions.refresh_token_session(&refresh, t0).await.unwrap().expect("found by its refresh token");
    assert_eq!((found.id, found.auth.grant.as_ref()), (new.id, Some(&grant)));
    let listed = h.sessions.list_sessions(account, t0).await.unwrap();
    assert_eq!(listed[0].auth.grant.as_ref(), Some(&grant), "the list shows whose session it is");

    let next = OpaqueToken::generate().hash;
    h.sessions.rotate_refresh(&refresh, &next, t0, std::time::Duration::from_secs(30)).await.unwrap();
    assert_eq!(
        h.sessions.refresh_token_session(&refresh, t0).await.unwrap().map(|s| s.id),
        Some(new.id),
        "a spent token still names it"
    );
    assert_eq!(
        h.sessions.refresh_token_session(&next, t0).await.unwrap().map(|s| s.id),
        Some(new.id),
        "finding spends nothing"
    );
    assert!(h.sessions.refresh_token_session(&TokenHash::of("unknown"), t0).await.unwrap().is_none());
    h.sessions.revoke_session(account, new.id).await.unwrap();
    assert!(h.sessions.refresh_token_session(&next, t0).await.unwrap().is_none(), "not after the session ended");
}

pub async fn an_initial_access_token_gives_its_uses_once_each_to_racing_registrations(h: Harness) {
    let t0 = now();
    let token = InitialToken {
        id: Uuid::now_v7(),
        name: "MCP clients".into(),
        created_by: None,
        uses_left: 3,
        created_at: t0,
        expires_at: t0 + minutes(60),
    };
    let secret = OpaqueToken::generate();
    h.store.insert_initial_token(&token, &secret.hash, &Effects::none()).await.unwrap();
    assert_eq!(h.store.list_initial_tokens(t0).await.unwrap(), vec![token.clone()]);
    let store = Arc::clone(&h.store);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let (store, hash) = (Arc::clone(&store), secret.hash);
            tokio::spawn(async move { store.spend_initial_token(&hash, now()).await.unwrap() })
        })
        .collect();
    let mut spent = 0;
    for racer in racers {
        spent += usize::from(racer.await.unwrap());
    }
    assert_eq!(spent, 3, "three uses, three registrations, however many race");
    assert_eq!(h.store.list_initial_tokens(t0).await.unwrap()[0].uses_left, 0);
    assert!(!h.store.spend_initial_token(&OpaqueToken::generate().hash, now()).await.unwrap(), "an unknown token");

    let other = InitialToken { id: Uuid::now_v7(), uses_left: 5, ..token.clone() };
    let other_secret = OpaqueToken::generate();
    h.store.insert_initial_token(&other, &other_secret.hash, &Effects::none()).await.unwrap();
    assert!(
        !h.store.spend_initial_token(&other_secret.hash, t0 + minutes(61)).await.unwrap(),
        "an expired token gives nothing"
    );
    assert_eq!(h.store.list_initial_tokens(t0 + minutes(61)).await.unwrap(), vec![], "expired ones are not listed");
    assert!(h.store.delete_initial_token(other.id, &Effects::none()).await.unwrap());
    assert!(!h.store.spend_initial_token(&other_secret.hash, now()).await.unwrap(), "a withdrawn token gives nothing");
    assert!(!h.store.delete_initial_token(other.id, &Effects::none()).await.unwrap());
}

/// What tells of a registry change: one audit row of `kind`.
fn told(kind: Kind) -> Effects {
    Effects::of(Outcome::new(kind))
}

/// How many audit rows of `kind` the store holds.
async fn audited(h: &Harness, kind: Kind) -> usize {
    let filter = EventFilter { kind: Some(kind.as_str().to_owned()), limit: 500, ..Default::default() };
    h.store.list_events(&filter).await.unwrap().len()
}

/// Each write of the registry (clients, their secrets, initial access tokens, webhook endpoints)
/// writes its audit row with it, in one transaction; a write that changed nothing (no such
/// entry) writes none.
pub async fn every_change_of_the_registry_is_audited_in_its_own_transaction_and_only_when_made(h: Harness) {
    let app = client(true);
    h.store
        .insert_client(&app, Some(&OpaqueToken::generate().hash), None, &told(Kind::AdminClientCreated))
        .await
        .unwrap();
    assert_eq!(audited(&h, Kind::AdminClientCreated).await, 1);
    let renamed = OAuthClient { name: "Renamed".into(), ..app.clone() };
    assert!(h.store.update_client(&renamed, &told(Kind::AdminClientUpdated)).await.unwrap());
    let rotated = told(Kind::AdminClientSecretRotated);
    assert!(h.store.set_client_secret(&app.id, &OpaqueToken::generate().hash, now(), &rotated).await.unwrap());
    assert!(h.store.delete_client(&app.id, &told(Kind::AdminClientDeleted)).await.unwrap());
    let ghost = OAuthClient { id: "nobody".into(), ..renamed };
    assert!(!h.store.update_client(&ghost, &told(Kind::AdminClientUpdated)).await.unwrap());
    assert!(!h.store.set_client_secret(&ghost.id, &OpaqueToken::generate().hash, now(), &rotated).await.unwrap());
    assert!(!h.store.delete_client(&ghost.id, &told(Kind::AdminClientDeleted)).await.unwrap());
    for kind in [Kind::AdminClientUpdated, Kind::AdminClientSecretRotated, Kind::AdminClientDeleted] {
        assert_eq!(audited(&h, kind).await, 1, "{kind:?}: once, with the change that was made");
    }

    let t0 = now();
    let token = InitialToken {
        id: Uuid::now_v7(),
        name: "agents".into(),
        created_by: None,
        uses_left: 1,
        created_at: t0,
        expires_at: t0 + minutes(60),
    };
    let created = told(Kind::AdminRegistrationTokenCreated);
    h.store.insert_initial_token(&token, &OpaqueToken::generate().hash, &created).await.unwrap();
    let deleted = told(Kind::AdminRegistrationTokenDeleted);
    assert!(h.store.delete_initial_token(token.id, &deleted).await.unwrap());
    assert!(!h.store.delete_initial_token(token.id, &deleted).await.unwrap());
    assert_eq!(audited(&h, Kind::AdminRegistrationTokenCreated).await, 1);
    assert_eq!(audited(&h, Kind::AdminRegistrationTokenDeleted).await, 1);

    let endpoint = Endpoint {
        id: Uuid::now_v7(),
        url: "https://hooks.example.com/in".into(),
        events: Vec::new(),
        description: String::new(),
        enabled: true,
        created_at: t0,
        updated_at: t0,
    };
    h.store.insert_endpoint(&endpoint, b"sealed", &told(Kind::AdminWebhookCreated)).await.unwrap();
    let disabled = Endpoint { enabled: false, ..endpoint.clone() };
    assert!(h.store.update_endpoint(&disabled, &told(Kind::AdminWebhookUpdated)).await.unwrap());
    assert!(h.store.delete_endpoint(endpoint.id, &told(Kind::AdminWebhookDeleted)).await.unwrap());
    assert!(!h.store.update_endpoint(&disabled, &told(Kind::AdminWebhookUpdated)).await.unwrap());
    assert!(!h.store.delete_endpoint(endpoint.id, &told(Kind::AdminWebhookDeleted)).await.unwrap());
    for kind in [Kind::AdminWebhookCreated, Kind::AdminWebhookUpdated, Kind::AdminWebhookDeleted] {
        assert_eq!(audited(&h, kind).await, 1, "{kind:?}: once, with the change that was made");
    }
}
