//! The scenarios of the conformance suite; each takes a fresh [`Harness`].

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gatehouse::i18n::Locale;
use gatehouse::model::account::{AccountKey, Role, Status};
use gatehouse::model::outcome::Effects;
use gatehouse::sessions::{AccountRead, LiveSession, NewSession, Rotation, SessionAuth};
use gatehouse::store::admin::OutboxQuery;
use gatehouse::store::jobs::{JobKind, Outcome, Settled};
use gatehouse::store::probe::Held;
use gatehouse::store::{
    NewAccount, NewEmail, NewOneTimeToken, Pace, ProfileChange, QueuedEmail, StoreError, TokenPurpose,
};
use gatehouse::tokens::jwt::SigningKey;
use gatehouse::tokens::opaque::{OpaqueToken, TokenHash};
use serde_json::json;
use uuid::Uuid;

use crate::Harness;

/// How long a spent refresh token may be presented again with its successor.
const GRACE: Duration = Duration::from_secs(30);

/// Now, at the millisecond: every backend keeps at least that much precision.
pub(crate) fn now() -> DateTime<Utc> {
    let t = Utc::now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap()
}

pub(crate) fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

pub(crate) fn account(email: &str, username: Option<&str>) -> NewAccount {
    NewAccount {
        id: Uuid::now_v7(),
        email: email.to_owned(),
        email_normalized: email.to_lowercase(),
        username: username.map(str::to_owned),
        name: Some("Ann Lee".into()),
        data: json!({"phone": "+49 30 1234", "tags": ["a", "ü"], "nested": {"n": 1.5, "ok": true}})
            .as_object()
            .unwrap()
            .clone(),
        app_data: json!({"plan": "trial"}).as_object().unwrap().clone(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        role: Role::User,
        status: Status::Pending,
        email_verified: false,
        locale: Some(Locale::De),
        now: now(),
    }
}

pub(crate) fn email(recipient: &str, at: DateTime<Utc>) -> NewEmail {
    let id = Uuid::now_v7();
    NewEmail {
        id,
        kind: "activation",
        recipient: recipient.to_owned(),
        subject: "Confirm your email address".into(),
        text_body: format!("open https://x.example/activate?token={id}"),
        html_body: "<p>html</p>".into(),
        message_id: format!("<{id}@x.example>"),
        created_at: at,
    }
}

pub(crate) fn link(
    account_id: Uuid,
    purpose: TokenPurpose,
    expires_at: DateTime<Utc>,
) -> (OpaqueToken, NewOneTimeToken) {
    let token = OpaqueToken::generate();
    let record = NewOneTimeToken { hash: token.hash, account_id, purpose, created_at: now(), expires_at };
    (token, record)
}

/// An organization `slug` owned by `owner`: its id.
pub(crate) async fn founded(h: &Harness, slug: &str, owner: Uuid) -> Uuid {
    let org = gatehouse::model::org::NewOrganization {
        id: Uuid::now_v7(),
        name: slug.to_owned(),
        slug: gatehouse::model::org::Slug::parse(slug).unwrap(),
        data: serde_json::Map::new(),
        owner,
        now: now(),
    };
    h.store.insert_org(&org, &Effects::none()).await.unwrap().id
}

pub(crate) async fn seeded(h: &Harness, email_address: &str) -> Uuid {
    h.store.insert_account(&account(email_address, None), None, &Effects::none()).await.unwrap().id
}

pub(crate) fn session(
    account_id: Uuid,
    created_at: DateTime<Utc>,
    lifetime: chrono::Duration,
) -> (NewSession, TokenHash) {
    let refresh = OpaqueToken::generate();
    let new = NewSession {
        id: Uuid::now_v7(),
        account_id,
        refresh_hash: refresh.hash,
        created_at,
        expires_at: created_at + lifetime,
        user_agent: Some("conformance/1.0".into()),
        ip: Some("192.0.2.7".into()),
        auth: SessionAuth::password(created_at),
    };
    (new, refresh.hash)
}

pub async fn accounts_round_trip_every_field(h: Harness) {
    let new = account("Ann.Lee@Example.com", Some("AnnLee"));

    let created = h.store.insert_account(&new, None, &Effects::none()).await.unwrap();

    assert_eq!(created.id, new.id);
    for key in
        [AccountKey::Id(new.id), AccountKey::Email("ann.lee@example.com".into()), AccountKey::Username("annlee".into())]
    {
        let found = h.store.find_account(&key).await.unwrap().unwrap_or_else(|| panic!("not found by {key:?}"));
        let a = found.account;
        assert_eq!(a.id, new.id);
        assert_eq!(a.email, "Ann.Lee@Example.com", "the email keeps its case");
        assert_eq!(a.username.as_deref(), Some("AnnLee"));
        assert_eq!(a.name.as_deref(), Some("Ann Lee"));
        assert_eq!(serde_json::Value::Object(a.data.clone()), serde_json::Value::Object(new.data.clone()));
        assert_eq!((a.role, a.status, a.email_verified), (Role::User, Status::Pending, false));
        assert_eq!(a.locale, Some(Locale::De));
        assert_eq!(a.created_at, new.now, "timestamps come back as the same UTC instant");
        assert_eq!(found.password_hash, new.password_hash);
    }
    assert!(h.store.find_account(&AccountKey::Email("nobody@example.com".into())).await.unwrap().is_none());
    assert!(h.store.find_account(&AccountKey::Id(Uuid::now_v7())).await.unwrap().is_none());
}

pub async fn emails_and_usernames_are_unique_whatever_their_case(h: Harness) {
    h.store.insert_account(&account("ben@example.com", Some("Ben")), None, &Effects::none()).await.unwrap();

    let same_email = h.store.insert_account(&account("BEN@example.COM", None), None, &Effects::none()).await;
    let same_username =
        h.store.insert_account(&account("other@example.com", Some("bEN")), None, &Effects::none()).await;

    assert!(matches!(same_email, Err(StoreError::EmailTaken)), "{same_email:?}");
    assert!(matches!(same_username, Err(StoreError::UsernameTaken)), "{same_username:?}");
    let other = h.store.insert_account(&account("cat@example.com", Some("cat")), None, &Effects::none()).await.unwrap();
    let change = ProfileChange {
        username: Some("BEN".into()),
        name: None,
        data: Default::default(),
        app_data: serde_json::Map::new(),
        role: Role::User,
        status: Status::Active,
        locale: None,
        now: now(),
    };
    let renamed = h.store.update_profile(other.id, &change, &Effects::none()).await;
    assert!(matches!(renamed, Err(StoreError::UsernameTaken)), "{renamed:?}");
    // Several accounts without a username are fine.
    h.store.insert_account(&account("dan@example.com", None), None, &Effects::none()).await.unwrap();
    h.store.insert_account(&account("eve@example.com", None), None, &Effects::none()).await.unwrap();
}

pub async fn updates_replace_the_editable_fields(h: Harness) {
    let id = seeded(&h, "fay@example.com").await;
    let later = now() + minutes(1);
    let change = ProfileChange {
        username: Some("fay".into()),
        name: None,
        data: json!({"lang": "de"}).as_object().unwrap().clone(),
        app_data: json!({"plan": "pro", "seats": [1, 2]}).as_object().unwrap().clone(),
        role: Role::Admin,
        status: Status::Disabled,
        locale: Some(Locale::Fr),
        now: later,
    };
    let before = h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap();

    let updated = h.store.update_profile(id, &change, &Effects::none()).await.unwrap().unwrap();

    assert_eq!(serde_json::Value::Object(before.account.app_data), json!({"plan": "trial"}), "as inserted");
    assert_eq!(updated.username.as_deref(), Some("fay"));
    assert_eq!(updated.name, None);
    assert_eq!(serde_json::Value::Object(updated.data), json!({"lang": "de"}));
    assert_eq!(serde_json::Value::Object(updated.app_data.clone()), json!({"plan": "pro", "seats": [1, 2]}));
    assert_eq!((updated.role, updated.status), (Role::Admin, Status::Disabled));
    assert_eq!(updated.locale, Some(Locale::Fr));
    assert_eq!(updated.updated_at, later);
    assert!(h.store.find_account(&AccountKey::Username("FAY".into())).await.unwrap().is_some());
    let nameless = ProfileChange { username: None, ..change };
    assert!(h.store.update_profile(Uuid::now_v7(), &nameless, &Effects::none()).await.unwrap().is_none());
    h.store.set_password_hash(id, "$argon2id$new", later, &Effects::none()).await.unwrap();
    let found = h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap();
    assert_eq!(found.password_hash, "$argon2id$new");
}

pub async fn deleting_an_account_takes_its_sessions_and_links_with_it(h: Harness) {
    let id = seeded(&h, "gus@example.com").await;
    let (new, _) = session(id, now(), minutes(60));
    h.sessions.create_session(&new).await.unwrap();
    let (token, record) = link(id, TokenPurpose::Activation, now() + minutes(60));
    h.store.insert_link(&record, &Effects::none().email(email("gus@example.com", now()))).await.unwrap();

    assert!(h.store.delete_account(id, &Effects::none()).await.unwrap());

    assert!(h.store.find_account(&AccountKey::Id(id)).await.unwrap().is_none());
    assert!(h.store.find_token(&token.hash).await.unwrap().is_none());
    assert!(h.sessions.live_session(new.id, now()).await.unwrap().is_none());
    assert!(!h.store.delete_account(id, &Effects::none()).await.unwrap(), "a second delete finds nothing");
}

pub async fn a_link_is_redeemed_once_and_not_after_it_expires(h: Harness) {
    let id = seeded(&h, "hal@example.com").await;
    let (token, record) = link(id, TokenPurpose::Activation, now() + minutes(60));
    h.store.insert_link(&record, &Effects::none().email(email("hal@example.com", now()))).await.unwrap();

    let stored = h.store.find_token(&token.hash).await.unwrap().unwrap();
    assert_eq!((stored.account_id, stored.purpose, stored.used_at), (id, TokenPurpose::Activation, None));
    assert!(h.store.redeem_activation(&token.hash, now(), &Effects::none()).await.unwrap());
    assert!(!h.store.redeem_activation(&token.hash, now(), &Effects::none()).await.unwrap(), "single use");
    let a = h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap().account;
    assert_eq!((a.status, a.email_verified), (Status::Active, true));
    assert!(h.store.find_token(&token.hash).await.unwrap().unwrap().used_at.is_some());

    let (old, record) = link(id, TokenPurpose::PasswordReset, now() - minutes(1));
    h.store.insert_link(&record, &Effects::none().email(email("hal@example.com", now()))).await.unwrap();
    assert!(!h.store.redeem_reset(&old.hash, "$argon2id$x", now(), &Effects::none()).await.unwrap(), "expired");
    assert!(!h.store.redeem_activation(&old.hash, now(), &Effects::none()).await.unwrap(), "wrong purpose");
}

pub async fn concurrent_redemptions_of_one_reset_link_succeed_once(h: Harness) {
    let id = seeded(&h, "ivy@example.com").await;
    let (token, record) = link(id, TokenPurpose::PasswordReset, now() + minutes(60));
    let (other, other_record) = link(id, TokenPurpose::PasswordReset, now() + minutes(60));
    h.store.insert_link(&record, &Effects::none().email(email("ivy@example.com", now()))).await.unwrap();
    h.store.insert_link(&other_record, &Effects::none().email(email("ivy@example.com", now()))).await.unwrap();

    let attempts: Vec<_> = (0..12)
        .map(|n| {
            let store = h.store.clone();
            let hash = token.hash;
            tokio::spawn(async move {
                store.redeem_reset(&hash, &format!("$argon2id${n}"), now(), &Effects::none()).await.unwrap()
            })
        })
        .collect();
    let mut successes = 0;
    for attempt in attempts {
        successes += usize::from(attempt.await.unwrap());
    }

    assert_eq!(successes, 1);
    let a = h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap();
    assert!(a.password_hash.starts_with("$argon2id$"));
    assert_eq!(a.account.status, Status::Active, "a reset proves the address");
    assert!(
        !h.store.redeem_reset(&other.hash, "$argon2id$late", now(), &Effects::none()).await.unwrap(),
        "the other links are spent"
    );
}

/// Claims up to `limit` due emails for `worker` as of `at`, with `lease`.
async fn claim_emails(h: &Harness, worker: Uuid, at: DateTime<Utc>, lease: Duration, limit: u32) -> Vec<QueuedEmail> {
    let jobs = h.store.claim_jobs(JobKind::Email, worker, at, lease, limit).await.unwrap();
    jobs.iter().map(|job| QueuedEmail::from_job(job).expect("an email job reads back")).collect()
}

/// Settles the email `id` as `worker`; whether it did.
async fn settle_email(h: &Harness, worker: Uuid, id: Uuid, outcome: Outcome, at: DateTime<Utc>) -> bool {
    h.store.settle_jobs(worker, &[Settled { id, outcome, at }]).await.unwrap() == 1
}

async fn email_backlog(h: &Harness) -> u64 {
    h.store.job_backlog(JobKind::Email).await.unwrap().jobs
}

pub async fn the_outbox_hands_out_each_due_email_once_per_lease(h: Harness) {
    let id = seeded(&h, "jon@example.com").await;
    let t0 = now();
    for n in 0..3 {
        let (_, record) = link(id, TokenPurpose::Activation, t0 + minutes(60));
        h.store.insert_link(&record, &Effects::none().email(email(&format!("jon{n}@example.com"), t0))).await.unwrap();
    }
    let lease = Duration::from_secs(60);

    let (worker, other) = (Uuid::now_v7(), Uuid::now_v7());

    let first = claim_emails(&h, worker, t0, lease, 2).await;
    let second = claim_emails(&h, worker, t0, lease, 2).await;
    let third = claim_emails(&h, other, t0, lease, 2).await;

    assert_eq!((first.len(), second.len(), third.len()), (2, 1, 0));
    let ids: HashSet<Uuid> = first.iter().chain(&second).map(|e| e.id).collect();
    assert_eq!(ids.len(), 3);
    let claimed = &first[0];
    assert_eq!(claimed.attempts, 1);
    assert!(claimed.text_body.contains("activate?token=") && claimed.message_id.ends_with("@x.example>"));
    assert!(claimed.recipient.starts_with("jon") && claimed.recipient.ends_with("@example.com"));
    let backlog = h.store.job_backlog(JobKind::Email).await.unwrap();
    assert_eq!((backlog.jobs, backlog.oldest), (3, Some(t0)), "three wait, the oldest written at t0");

    // A live worker renews its claims: nobody else gets them, however long it sends.
    assert_eq!(h.store.renew_jobs(JobKind::Email, worker, t0 + chrono::Duration::seconds(120)).await.unwrap(), 3);
    let none = h.store.renew_jobs(JobKind::Email, other, t0 + chrono::Duration::seconds(120)).await.unwrap();
    assert_eq!(none, 0, "it holds none");
    assert!(claim_emails(&h, other, t0 + chrono::Duration::seconds(61), lease, 10).await.is_empty());

    // A worker that died holding a claim loses it once the lease runs out.
    let after_lease = t0 + chrono::Duration::seconds(121);
    let reclaimed = claim_emails(&h, other, after_lease, lease, 10).await;
    assert_eq!(reclaimed.len(), 3);
    assert!(reclaimed.iter().all(|e| e.attempts == 2));
    let again = reclaimed.iter().find(|e| e.id == claimed.id).unwrap();
    assert_eq!((&again.message_id, &again.text_body), (&claimed.message_id, &claimed.text_body), "an identical resend");

    // Only the holder settles: the first worker's late answer changes nothing.
    let late = Outcome::Retry { at: after_lease, status: None, error: "421 later".into() };
    assert!(!settle_email(&h, worker, claimed.id, Outcome::Done { status: None }, after_lease).await);
    let other_one = reclaimed.iter().find(|e| e.id != claimed.id).unwrap().id;
    assert!(!settle_email(&h, worker, other_one, late, after_lease).await);
    assert_eq!(
        h.store.renew_jobs(JobKind::Email, worker, after_lease + minutes(5)).await.unwrap(),
        0,
        "its claims are gone"
    );
    assert!(settle_email(&h, other, claimed.id, Outcome::Done { status: None }, after_lease).await);
    assert_eq!(email_backlog(&h).await, 2);
}

pub async fn retried_failed_and_sent_emails_leave_the_queue_as_they_should(h: Harness) {
    let id = seeded(&h, "kim@example.com").await;
    let t0 = now();
    for n in 0..4 {
        let (_, record) = link(id, TokenPurpose::Activation, t0 + minutes(60));
        h.store.insert_link(&record, &Effects::none().email(email(&format!("kim{n}@example.com"), t0))).await.unwrap();
    }
    let worker = Uuid::now_v7();
    let mut claimed = claim_emails(&h, worker, t0, Duration::from_secs(60), 10).await;
    claimed.sort_by_key(|e| e.id);
    let [sent, retried, failed, deferred] = claimed.as_slice() else { panic!("four emails") };

    let settled = [
        Settled { id: sent.id, outcome: Outcome::Done { status: None }, at: t0 },
        Settled {
            id: retried.id,
            outcome: Outcome::Retry { at: t0 + minutes(5), status: None, error: "421 try later".into() },
            at: t0,
        },
        Settled { id: failed.id, outcome: Outcome::Failed { status: None, error: "550 no such user".into() }, at: t0 },
        Settled { id: deferred.id, outcome: Outcome::Deferred { at: t0 + minutes(2) }, at: t0 },
    ];
    assert_eq!(h.store.settle_jobs(worker, &settled).await.unwrap(), 4, "one batch settles all four");

    assert_eq!(email_backlog(&h).await, 2, "the retried and the deferred one wait");
    assert!(claim_emails(&h, worker, t0 + minutes(1), Duration::from_secs(60), 10).await.is_empty());
    let put_back = claim_emails(&h, worker, t0 + minutes(2), Duration::from_secs(60), 10).await;
    assert_eq!(
        put_back.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(),
        vec![(deferred.id, 1)],
        "a deferral is not an attempt"
    );
    assert!(settle_email(&h, worker, deferred.id, Outcome::Done { status: None }, t0 + minutes(2)).await);
    let due = claim_emails(&h, worker, t0 + minutes(5), Duration::from_secs(60), 10).await;
    assert_eq!(due.iter().map(|e| e.id).collect::<Vec<_>>(), vec![retried.id]);
    assert_eq!(due[0].attempts, 2);
    let outbox = |status: &str| OutboxQuery { status: Some(status.into()), limit: 10, ..OutboxQuery::default() };
    let sent_list = h.store.list_outbox(&outbox("sent")).await.unwrap();
    assert_eq!(sent_list.iter().map(|e| e.id).collect::<Vec<_>>(), vec![deferred.id, sent.id], "newest first");
    assert_eq!(sent_list[1].sent_at, Some(t0));
    let erased = h.store.probe().expect("the store offers its probe").email_erased(sent.id).await.unwrap();
    assert!(erased, "a delivered email's bodies are erased");
    let failed_list = h.store.list_outbox(&outbox("failed")).await.unwrap();
    assert_eq!(failed_list.len(), 1);
    assert_eq!(failed_list[0].last_error.as_deref(), Some("550 no such user"));
}

/// One address's emails go out one at a time, in the order written: a claim never takes the
/// second while the first waits or is being sent, whichever replica claims.
pub async fn one_addresss_emails_go_one_at_a_time_in_the_order_written(h: Harness) {
    let id = seeded(&h, "liv@example.com").await;
    let t0 = now();
    for n in 0..3 {
        let (_, record) = link(id, TokenPurpose::Activation, t0 + minutes(60));
        // The same address in any case is one lane.
        let to = if n == 1 { "LIV@example.com" } else { "liv@example.com" };
        h.store
            .insert_link(&record, &Effects::none().email(email(to, t0 + chrono::Duration::milliseconds(n))))
            .await
            .unwrap();
    }
    let other = seeded(&h, "max@example.com").await;
    let (_, record) = link(other, TokenPurpose::Activation, t0 + minutes(60));
    h.store.insert_link(&record, &Effects::none().email(email("max@example.com", t0))).await.unwrap();
    let lease = Duration::from_secs(60);
    let (worker, replica) = (Uuid::now_v7(), Uuid::now_v7());
    let second_store = h.another_replica().await;

    let mut order = Vec::new();
    let mut at = t0 + minutes(1);
    for round in 0..3 {
        let claimed = claim_emails(&h, worker, at, lease, 10).await;
        let recipients: Vec<String> = claimed.iter().map(|e| e.recipient.to_lowercase()).collect();
        let expected = if round == 0 { vec!["liv@example.com", "max@example.com"] } else { vec!["liv@example.com"] };
        let mut sorted = recipients.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "round {round}: one per address");
        let liv = claimed.iter().find(|e| e.recipient.eq_ignore_ascii_case("liv@example.com")).unwrap();
        let others = second_store.claim_jobs(JobKind::Email, replica, at, lease, 10).await.unwrap();
        assert!(others.is_empty(), "another replica gets nothing while the first is on its way: {others:?}");
        order.push(liv.id);
        // A retry keeps its place: the next is not claimed before it goes.
        if round == 1 {
            let retry = Outcome::Retry { at: at + minutes(1), status: None, error: "421".into() };
            assert!(settle_email(&h, worker, liv.id, retry, at).await);
            assert!(claim_emails(&h, worker, at, lease, 10).await.is_empty(), "the third waits for the retried second");
            at += minutes(1);
            let again = claim_emails(&h, worker, at, lease, 10).await;
            assert_eq!(again.iter().map(|e| e.id).collect::<Vec<_>>(), vec![liv.id]);
        }
        for email in claimed.iter().filter(|e| !e.recipient.eq_ignore_ascii_case("liv@example.com")) {
            assert!(settle_email(&h, worker, email.id, Outcome::Done { status: None }, at).await);
        }
        assert!(settle_email(&h, worker, liv.id, Outcome::Done { status: None }, at).await);
    }
    let mut written = order.clone();
    written.sort();
    assert_eq!(order, written, "claimed in the order written (UUIDv7 ids)");
}

pub async fn two_replicas_claiming_at_once_never_get_the_same_email(h: Harness) {
    let id = seeded(&h, "lea@example.com").await;
    let t0 = now();
    for n in 0..40 {
        let (_, record) = link(id, TokenPurpose::Activation, t0 + minutes(60));
        h.store.insert_link(&record, &Effects::none().email(email(&format!("lea{n}@example.com"), t0))).await.unwrap();
    }
    let replicas = [h.store.clone(), h.another_replica().await, h.another_replica().await];

    let workers: Vec<_> = replicas
        .into_iter()
        .map(|store| {
            tokio::spawn(async move {
                let (mut got, worker) = (Vec::new(), Uuid::now_v7());
                loop {
                    let batch =
                        store.claim_jobs(JobKind::Email, worker, t0, Duration::from_secs(600), 3).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|e| e.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }

    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40, "every email claimed");
    assert_eq!(unique.len(), 40, "none twice");
}

pub async fn replicas_racing_on_an_empty_database_agree_on_one_signing_key(h: Harness) {
    let mut racers = Vec::new();
    for _ in 0..3 {
        racers.push(h.another_replica().await);
    }
    let attempts: Vec<_> = racers
        .into_iter()
        .map(|store| {
            tokio::spawn(async move {
                store.insert_first_signing_key(&SigningKey::generate(Utc::now()).unwrap()).await.unwrap();
                store.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = Vec::new();
    for attempt in attempts {
        seen.push(attempt.await.unwrap());
    }

    assert!(seen.iter().all(|kids| kids.len() == 1), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    let stored = h.store.signing_keys().await.unwrap();
    assert_eq!(stored[0].public_key.len(), 32);
    assert!(!stored[0].private_pkcs8.is_empty());
}

pub async fn purging_removes_expired_sessions_only(h: Harness) {
    let id = seeded(&h, "max@example.com").await;
    let (old, _) = session(id, now() - minutes(120), minutes(60));
    let (live, _) = session(id, now(), minutes(60));
    h.sessions.create_session(&old).await.unwrap();
    h.sessions.create_session(&live).await.unwrap();

    if h.purge_if_offered(now(), Pace::Full).await.is_some() {
        assert_eq!(h.held(Held::Sessions).await, 1);
    }
    assert!(h.sessions.live_session(old.id, now()).await.unwrap().is_none(), "expired, whether or not it is gone");
    assert!(h.sessions.live_session(live.id, now()).await.unwrap().is_some());
}

pub async fn a_session_is_live_until_it_expires_or_is_revoked(h: Harness) {
    let id = seeded(&h, "ned@example.com").await;
    let t0 = now();
    let (new, _) = session(id, t0, minutes(30));
    h.sessions.create_session(&new).await.unwrap();

    let live = h.sessions.live_session(new.id, t0).await.unwrap().expect("live");
    assert_eq!((live.account_id, live.expires_at, live.last_used_at), (id, t0 + minutes(30), t0));
    h.sessions.touch_session(new.id, t0 + minutes(2)).await.unwrap();
    assert_eq!(h.sessions.live_session(new.id, t0).await.unwrap().unwrap().last_used_at, t0 + minutes(2));
    assert!(h.sessions.live_session(new.id, t0 + minutes(30)).await.unwrap().is_none(), "expired");
    assert!(h.sessions.live_session(Uuid::now_v7(), t0).await.unwrap().is_none(), "unknown");

    assert!(h.sessions.revoke_session(id, new.id).await.unwrap());
    assert!(h.sessions.live_session(new.id, t0).await.unwrap().is_none(), "revoked");
    h.sessions.touch_session(new.id, t0).await.unwrap();
    assert!(h.sessions.live_session(new.id, t0).await.unwrap().is_none(), "touching does not revive it");
}

/// A session another replica checked (and, with Redis, remembers) is refused by it as soon as
/// it ends, however it ends; a re-authentication and an account change show at once too.
pub async fn what_one_replica_ends_another_refuses_at_once(h: Harness) {
    let peer = h.peer.clone().unwrap_or_else(|| h.sessions.clone());
    if h.peer.is_some() {
        // The memory answers once its reader has read the invalidation stream through (its
        // first read comes back within a quarter of a second).
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let id = seeded(&h, "pia@example.com").await;
    let account = h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap().account;
    let t0 = now();
    for ending in ["logout", "logout everywhere", "refresh token reused", "step-up", "account changed"] {
        let (new, refresh) = session(id, t0, minutes(30));
        h.sessions.create_session(&new).await.unwrap();
        if let AccountRead::Unread { seen: Some(seen) } =
            peer.live_session_and_account(new.id, id, t0).await.unwrap().expect("live").1
        {
            peer.keep_account_copy(&account, &seen).await.unwrap();
        }
        for _ in 0..3 {
            assert!(peer.live_session_of(new.id, id, t0).await.unwrap().is_some(), "{ending}: live");
            assert!(peer.live_session_and_account(new.id, id, t0).await.unwrap().is_some(), "{ending}: live");
        }
        match ending {
            "logout" => assert!(h.sessions.revoke_session(id, new.id).await.unwrap()),
            "logout everywhere" => assert_eq!(h.sessions.revoke_all_sessions(id, None).await.unwrap(), 1),
            "refresh token reused" => {
                let (next, again) = (OpaqueToken::generate().hash, OpaqueToken::generate().hash);
                let rotated = h.sessions.rotate_refresh(&refresh, &next, t0, Duration::ZERO).await.unwrap();
                assert!(matches!(rotated, Rotation::Rotated(_)), "{rotated:?}");
                let reused = h.sessions.rotate_refresh(&refresh, &again, t0, Duration::ZERO).await.unwrap();
                assert!(matches!(reused, Rotation::Reused { .. }), "{reused:?}");
            }
            "step-up" => {
                let stepped = SessionAuth::second_factor(vec!["pwd".into(), "otp".into()], t0);
                assert!(h.sessions.set_session_auth(new.id, &stepped).await.unwrap());
                let seen = peer.live_session_of(new.id, id, t0).await.unwrap().expect("still live");
                assert_eq!(seen.auth, stepped, "the new level, at once");
                assert_eq!(peer.live_session_and_account(new.id, id, t0).await.unwrap().unwrap().0.auth, stepped);
                continue;
            }
            _ => {
                h.sessions.drop_account_copy(id).await.unwrap();
                let (_, read) = peer.live_session_and_account(new.id, id, t0).await.unwrap().expect("still live");
                if !h.sessions_in_database {
                    assert!(matches!(read, AccountRead::Unread { .. }), "the old copy is gone: {read:?}");
                }
                continue;
            }
        }
        assert!(peer.live_session_of(new.id, id, t0).await.unwrap().is_none(), "{ending}: ended");
        assert!(peer.live_session_and_account(new.id, id, t0).await.unwrap().is_none(), "{ending}: ended");
    }
}

/// The per-request read: the session and, from a store that also holds the accounts, its
/// account as it is now (read afresh each time, so a change or a revocation shows at once).
pub async fn the_per_request_read_gives_the_session_and_its_current_account(h: Harness) {
    let id = seeded(&h, "nia@example.com").await;
    let t0 = now();
    let (new, _) = session(id, t0, minutes(30));
    h.sessions.create_session(&new).await.unwrap();

    let (live, read) = h.sessions.live_session_and_account(new.id, id, t0).await.unwrap().expect("live");
    assert_eq!(Some(live), h.sessions.live_session(new.id, t0).await.unwrap());
    let stored = h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap().account;
    let expected = if h.sessions_in_database {
        AccountRead::Current(stored)
    } else {
        AccountRead::Unread { seen: Some(String::new()) }
    };
    assert_eq!(read, expected, "the account from the database; from Redis, no copy yet");

    let change = ProfileChange {
        username: Some("nia".into()),
        name: Some("Nia".into()),
        data: json!({"team": "blue"}).as_object().unwrap().clone(),
        app_data: serde_json::Map::new(),
        role: Role::User,
        status: Status::Active,
        locale: None,
        now: t0 + minutes(1),
    };
    let updated = h.store.update_profile(id, &change, &Effects::none()).await.unwrap().unwrap();
    let (_, read) = h.sessions.live_session_and_account(new.id, id, t0).await.unwrap().expect("live");
    if h.sessions_in_database {
        assert_eq!(read, AccountRead::Current(updated), "the account as it is after the change");
    }

    assert!(h.sessions.live_session_and_account(new.id, id, t0 + minutes(30)).await.unwrap().is_none(), "expired");
    assert!(h.sessions.live_session_and_account(Uuid::now_v7(), id, t0).await.unwrap().is_none(), "unknown");
    assert!(h.sessions.revoke_session(id, new.id).await.unwrap());
    assert!(h.sessions.live_session_and_account(new.id, id, t0).await.unwrap().is_none(), "revoked");
}

/// Redis keeps a copy of the account for `GET /user`; a change marks it stale, and a reader
/// that read the account before the change cannot put the old one back. The database stores
/// read the account itself and keep no copy.
pub async fn a_copy_of_the_account_is_read_until_the_account_changes(h: Harness) {
    let id = seeded(&h, "ola@example.com").await;
    let t0 = now();
    let (new, _) = session(id, t0, minutes(30));
    h.sessions.create_session(&new).await.unwrap();
    let account = h.store.find_account(&AccountKey::Id(id)).await.unwrap().unwrap().account;
    let read = |account_id| {
        let sessions = h.sessions.clone();
        async move { sessions.live_session_and_account(new.id, account_id, t0).await.unwrap().expect("live").1 }
    };

    if h.sessions_in_database {
        h.sessions.keep_account_copy(&account, "").await.unwrap();
        h.sessions.drop_account_copy(id).await.unwrap();
        assert_eq!(read(id).await, AccountRead::Current(account), "read with the session, never a copy");
        return;
    }
    let AccountRead::Unread { seen: Some(nothing) } = read(id).await else { panic!("no copy yet") };
    h.sessions.keep_account_copy(&account, &nothing).await.unwrap();
    assert_eq!(read(id).await, AccountRead::Copy(account.clone()));

    h.sessions.drop_account_copy(id).await.unwrap();
    let AccountRead::Unread { seen: Some(mark) } = read(id).await else { panic!("the change marks the copy stale") };
    assert_ne!(mark, nothing);
    h.sessions.keep_account_copy(&account, &nothing).await.unwrap();
    assert_eq!(
        read(id).await,
        AccountRead::Unread { seen: Some(mark.clone()) },
        "a copy read before the change is refused"
    );

    let change = ProfileChange {
        username: Some("ola".into()),
        name: None,
        data: json!({"plan": "pro"}).as_object().unwrap().clone(),
        app_data: serde_json::Map::new(),
        role: Role::User,
        status: Status::Active,
        locale: None,
        now: t0 + minutes(1),
    };
    let updated = h.store.update_profile(id, &change, &Effects::none()).await.unwrap().unwrap();
    h.sessions.drop_account_copy(id).await.unwrap();
    let AccountRead::Unread { seen: Some(latest) } = read(id).await else { panic!("marked again") };
    h.sessions.keep_account_copy(&updated, &latest).await.unwrap();
    assert_eq!(read(id).await, AccountRead::Copy(updated), "the account as read after the change");

    assert_eq!(read(Uuid::now_v7()).await, AccountRead::Unread { seen: None }, "another account's token reads nothing");
}

pub async fn refresh_rotation_spends_the_old_token_and_reuse_revokes_the_session(h: Harness) {
    let id = seeded(&h, "oli@example.com").await;
    let t0 = now();
    let (new, first) = session(id, t0, minutes(60));
    h.sessions.create_session(&new).await.unwrap();
    let second = OpaqueToken::generate().hash;
    let third = OpaqueToken::generate().hash;

    let rotated = h.sessions.rotate_refresh(&first, &second, t0 + minutes(1), GRACE).await.unwrap();
    let Rotation::Rotated(live) = rotated else { panic!("{rotated:?}") };
    assert_eq!((live.id, live.account_id, live.expires_at), (new.id, id, t0 + minutes(60)));
    assert_eq!(h.sessions.live_session(new.id, t0).await.unwrap().unwrap().last_used_at, t0 + minutes(1));

    let unknown = h.sessions.rotate_refresh(&OpaqueToken::generate().hash, &third, t0, GRACE).await.unwrap();
    assert_eq!(unknown, Rotation::Unknown);

    let reused = h.sessions.rotate_refresh(&first, &third, t0 + minutes(2), GRACE).await.unwrap();
    assert_eq!(reused, Rotation::Reused { session_id: new.id, account_id: id });
    assert!(h.sessions.live_session(new.id, t0).await.unwrap().is_none(), "the session is revoked");
    let after = h.sessions.rotate_refresh(&second, &third, t0 + minutes(3), GRACE).await.unwrap();
    assert_eq!(after, Rotation::Unknown, "the newest token died with its session");

    let (expired, token) = session(id, t0 - minutes(120), minutes(60));
    h.sessions.create_session(&expired).await.unwrap();
    assert_eq!(h.sessions.rotate_refresh(&token, &third, t0, GRACE).await.unwrap(), Rotation::Unknown);
}

pub async fn concurrent_refreshes_with_one_token_rotate_once(h: Harness) {
    let id = seeded(&h, "pia@example.com").await;
    let (new, token) = session(id, now(), minutes(60));
    h.sessions.create_session(&new).await.unwrap();

    let attempts: Vec<_> = (0..10)
        .map(|_| {
            let sessions = h.sessions.clone();
            tokio::spawn(async move {
                sessions.rotate_refresh(&token, &OpaqueToken::generate().hash, now(), GRACE).await.unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for attempt in attempts {
        if let Rotation::Rotated(_) = attempt.await.unwrap() {
            rotated += 1;
        }
    }

    assert_eq!(rotated, 1);
}

pub async fn a_replay_within_the_grace_period_with_the_successor_changes_nothing(h: Harness) {
    let id = seeded(&h, "pat@example.com").await;
    let t0 = now();
    let (new, first) = session(id, t0, minutes(60));
    h.sessions.create_session(&new).await.unwrap();
    let second = OpaqueToken::generate().hash;
    let third = OpaqueToken::generate().hash;
    let t1 = t0 + minutes(1);
    let rotated = h.sessions.rotate_refresh(&first, &second, t1, GRACE).await.unwrap();
    assert!(matches!(rotated, Rotation::Rotated(_)), "{rotated:?}");

    let replayed = h.sessions.rotate_refresh(&first, &second, t1 + chrono::Duration::seconds(29), GRACE).await.unwrap();

    let expected = LiveSession {
        id: new.id,
        account_id: id,
        expires_at: t0 + minutes(60),
        last_used_at: t1,
        auth: SessionAuth::password(t0),
    };
    assert_eq!(replayed, Rotation::Replayed(expected.clone()));
    assert_eq!(h.sessions.live_session(new.id, t1).await.unwrap(), Some(expected), "live and untouched");
    let later = t1 + chrono::Duration::seconds(40);
    let onwards = h.sessions.rotate_refresh(&second, &third, later, GRACE).await.unwrap();
    assert!(matches!(onwards, Rotation::Rotated(ref s) if s.id == new.id), "the successor rotates: {onwards:?}");
    assert_eq!(h.sessions.live_session(new.id, t1).await.unwrap().unwrap().last_used_at, later);
}

pub async fn a_replay_after_the_grace_period_revokes_the_session(h: Harness) {
    let id = seeded(&h, "quin@example.com").await;
    let t0 = now();
    let (new, first) = session(id, t0, minutes(60));
    h.sessions.create_session(&new).await.unwrap();
    let second = OpaqueToken::generate().hash;
    h.sessions.rotate_refresh(&first, &second, t0, GRACE).await.unwrap();

    let replayed = h.sessions.rotate_refresh(&first, &second, t0 + chrono::Duration::seconds(30), GRACE).await.unwrap();

    assert_eq!(replayed, Rotation::Reused { session_id: new.id, account_id: id });
    assert!(h.sessions.live_session(new.id, t0).await.unwrap().is_none(), "the session is revoked");
    let next = OpaqueToken::generate().hash;
    assert_eq!(h.sessions.rotate_refresh(&second, &next, t0, GRACE).await.unwrap(), Rotation::Unknown);

    // A zero grace period is none, even to a replica whose clock runs behind.
    let (new, first) = session(id, t0, minutes(60));
    h.sessions.create_session(&new).await.unwrap();
    let successor = OpaqueToken::generate().hash;
    h.sessions.rotate_refresh(&first, &successor, t0, Duration::ZERO).await.unwrap();
    let behind = t0 - chrono::Duration::seconds(1);
    let replayed = h.sessions.rotate_refresh(&first, &successor, behind, Duration::ZERO).await.unwrap();
    assert_eq!(replayed, Rotation::Reused { session_id: new.id, account_id: id }, "no grace period");
}

pub async fn a_replay_after_the_successor_rotated_again_revokes_the_session(h: Harness) {
    let id = seeded(&h, "rex@example.com").await;
    let t0 = now();
    let seconds = chrono::Duration::seconds;
    for next_presented in ["the spent successor", "the current token"] {
        let (new, first) = session(id, t0, minutes(60));
        h.sessions.create_session(&new).await.unwrap();
        let second = OpaqueToken::generate().hash;
        let third = OpaqueToken::generate().hash;
        h.sessions.rotate_refresh(&first, &second, t0, GRACE).await.unwrap();
        h.sessions.rotate_refresh(&second, &third, t0 + seconds(1), GRACE).await.unwrap();
        let next = if next_presented == "the current token" { third } else { second };

        let replayed = h.sessions.rotate_refresh(&first, &next, t0 + seconds(2), GRACE).await.unwrap();

        assert_eq!(replayed, Rotation::Reused { session_id: new.id, account_id: id }, "with {next_presented}");
        assert!(h.sessions.live_session(new.id, t0).await.unwrap().is_none(), "revoked, with {next_presented}");
    }
}

pub async fn a_replay_with_another_successor_revokes_the_session(h: Harness) {
    let id = seeded(&h, "sue@example.com").await;
    let t0 = now();
    let (new, first) = session(id, t0, minutes(60));
    h.sessions.create_session(&new).await.unwrap();
    let second = OpaqueToken::generate().hash;
    h.sessions.rotate_refresh(&first, &second, t0, GRACE).await.unwrap();

    let other = OpaqueToken::generate().hash;
    let replayed = h.sessions.rotate_refresh(&first, &other, t0 + chrono::Duration::seconds(1), GRACE).await.unwrap();

    assert_eq!(replayed, Rotation::Reused { session_id: new.id, account_id: id });
    assert!(h.sessions.live_session(new.id, t0).await.unwrap().is_none(), "the session is revoked");
}

pub async fn concurrent_refreshes_with_one_token_and_its_successor_rotate_once_and_replay(h: Harness) {
    let id = seeded(&h, "tom@example.com").await;
    let (new, token) = session(id, now(), minutes(60));
    h.sessions.create_session(&new).await.unwrap();
    let next = OpaqueToken::generate().hash;

    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let sessions = h.sessions.clone();
            tokio::spawn(async move { sessions.rotate_refresh(&token, &next, now(), GRACE).await.unwrap() })
        })
        .collect();
    let (mut rotated, mut replayed) = (0, 0);
    for attempt in attempts {
        match attempt.await.unwrap() {
            Rotation::Rotated(s) if s.id == new.id => rotated += 1,
            Rotation::Replayed(s) if s.id == new.id => replayed += 1,
            other => panic!("{other:?}"),
        }
    }

    assert_eq!((rotated, replayed), (1, 19));
    assert!(h.sessions.live_session(new.id, now()).await.unwrap().is_some(), "the session lives");
    let onwards = h.sessions.rotate_refresh(&next, &OpaqueToken::generate().hash, now(), GRACE).await.unwrap();
    assert!(matches!(onwards, Rotation::Rotated(_)), "the successor is current: {onwards:?}");
}

pub async fn only_the_owner_can_end_a_session_and_revoke_all_spares_the_exception(h: Harness) {
    let ann = seeded(&h, "quinn@example.com").await;
    let ben = seeded(&h, "rae@example.com").await;
    let t0 = now();
    let sessions: Vec<_> = (0..3).map(|n| session(ann, t0 + chrono::Duration::seconds(n), minutes(60)).0).collect();
    for s in &sessions {
        h.sessions.create_session(s).await.unwrap();
    }
    let (bens, _) = session(ben, t0, minutes(60));
    h.sessions.create_session(&bens).await.unwrap();

    assert!(!h.sessions.revoke_session(ben, sessions[0].id).await.unwrap(), "not Ben's");
    assert!(h.sessions.live_session(sessions[0].id, t0).await.unwrap().is_some());

    let ended = h.sessions.revoke_all_sessions(ann, Some(sessions[1].id)).await.unwrap();

    assert_eq!(ended, 2);
    assert!(h.sessions.live_session(sessions[1].id, t0).await.unwrap().is_some(), "the exception lives");
    assert!(h.sessions.live_session(sessions[0].id, t0).await.unwrap().is_none());
    assert!(h.sessions.live_session(bens.id, t0).await.unwrap().is_some(), "other accounts untouched");
    assert_eq!(h.sessions.revoke_all_sessions(ann, None).await.unwrap(), 1);
}

pub async fn the_session_list_shows_live_sessions_newest_first(h: Harness) {
    let id = seeded(&h, "sam@example.com").await;
    let t0 = now();
    let (old, _) = session(id, t0 - minutes(10), minutes(60));
    let (new, _) = session(id, t0, minutes(60));
    let (expired, _) = session(id, t0 - minutes(120), minutes(60));
    for s in [&old, &new, &expired] {
        h.sessions.create_session(s).await.unwrap();
    }

    let list = h.sessions.list_sessions(id, t0).await.unwrap();

    assert_eq!(list.iter().map(|s| s.id).collect::<Vec<_>>(), vec![new.id, old.id]);
    let shown = &list[0];
    assert_eq!((shown.created_at, shown.last_used_at, shown.expires_at), (t0, t0, t0 + minutes(60)));
    assert_eq!(shown.user_agent.as_deref(), Some("conformance/1.0"));
    assert_eq!(shown.ip.as_deref(), Some("192.0.2.7"));
    assert!(h.sessions.list_sessions(Uuid::now_v7(), t0).await.unwrap().is_empty());
}

/// A username once given never goes to another account: not after its holder changed it, not
/// after its holder was deleted, not through an import. Its holder may take it back.
pub async fn a_username_once_given_never_goes_to_another_account(h: Harness) {
    let ann = h.store.insert_account(&account("ann@example.com", Some("Fay")), None, &Effects::none()).await.unwrap();
    let change = |username: &str, at: &gatehouse::model::account::Account| ProfileChange {
        username: Some(username.to_owned()),
        name: at.name.clone(),
        data: at.data.clone(),
        app_data: at.app_data.clone(),
        role: at.role,
        status: at.status,
        locale: at.locale,
        now: now(),
    };
    let renamed = h.store.update_profile(ann.id, &change("fae", &ann), &Effects::none()).await.unwrap().unwrap();
    assert_eq!(renamed.username.as_deref(), Some("fae"));

    let taken = h.store.insert_account(&account("eve@example.com", Some("FAY")), None, &Effects::none()).await;
    assert!(matches!(taken, Err(StoreError::UsernameTaken)), "{taken:?}");
    let eve = h.store.insert_account(&account("eve@example.com", None), None, &Effects::none()).await.unwrap();
    let taken = h.store.update_profile(eve.id, &change("fay", &eve), &Effects::none()).await;
    assert!(matches!(taken, Err(StoreError::UsernameTaken)), "{taken:?}");
    let back = h.store.update_profile(ann.id, &change("fay", &renamed), &Effects::none()).await.unwrap().unwrap();
    assert_eq!(back.username.as_deref(), Some("fay"), "its holder takes it back");

    assert!(h.store.delete_account(ann.id, &Effects::none()).await.unwrap());
    let taken = h.store.update_profile(eve.id, &change("fae", &eve), &Effects::none()).await;
    assert!(matches!(taken, Err(StoreError::UsernameTaken)), "a deleted account's names stay its own: {taken:?}");
    let imported = h
        .store
        .import_accounts(&[account("imp@example.com", Some("fay")), account("imp2@example.com", Some("free"))])
        .await
        .unwrap();
    assert_eq!(imported.len(), 1, "the import skips the name once given");
    assert!(h.store.find_account(&AccountKey::Email("imp2@example.com".into())).await.unwrap().is_some());
    let taken = h.store.update_profile(eve.id, &change("free", &eve), &Effects::none()).await;
    assert!(matches!(taken, Err(StoreError::UsernameTaken)), "an imported name is claimed too: {taken:?}");
}

/// A pending account made through a provider: its own confirmation link keeps the login its
/// maker linked; proving the address any other way (a generic activation link, an admin's
/// activation) removes it, in the same transaction.
pub async fn activating_a_pending_account_another_way_drops_what_its_maker_linked(h: Harness) {
    use gatehouse::store::identities::{Identity, IdentityKey};
    for (n, purpose, kept) in
        [(1, Some(TokenPurpose::ActivationThroughProvider), 1), (2, Some(TokenPurpose::Activation), 0), (3, None, 0)]
    {
        let pending = account(&format!("p{n}@example.com"), None);
        let identity = Identity {
            id: Uuid::now_v7(),
            account_id: pending.id,
            provider: "idp".into(),
            email: Some(pending.email.clone()),
            created_at: now(),
            last_login_at: None,
        };
        let key = IdentityKey { issuer: "https://idp.example", subject: &format!("subject-{n}") };
        h.store.insert_account_with_identity(&pending, &identity, key, None, &Effects::none()).await.unwrap();
        match purpose {
            Some(purpose) => {
                let (token, record) = link(pending.id, purpose, now() + minutes(60));
                h.store.insert_link(&record, &Effects::none().email(email(&pending.email, now()))).await.unwrap();
                assert!(h.store.redeem_activation(&token.hash, now(), &Effects::none()).await.unwrap());
            }
            None => {
                // An admin's activation.
                let found = h.store.find_account(&AccountKey::Id(pending.id)).await.unwrap().unwrap().account;
                let change = ProfileChange {
                    username: None,
                    name: found.name.clone(),
                    data: found.data.clone(),
                    app_data: found.app_data.clone(),
                    role: found.role,
                    status: Status::Active,
                    locale: found.locale,
                    now: now(),
                };
                h.store.update_profile(pending.id, &change, &Effects::none()).await.unwrap().unwrap();
            }
        }
        let active = h.store.find_account(&AccountKey::Id(pending.id)).await.unwrap().unwrap().account;
        assert_eq!(active.status, Status::Active);
        assert_eq!(h.store.identities(pending.id).await.unwrap().len(), kept, "{purpose:?}");
    }
}

/// A hand-off code keeps what its login was bound to, and is spent once.
pub async fn a_hand_off_code_keeps_its_binding_and_is_spent_once(h: Harness) {
    use gatehouse::store::email_login::HandoffBinding;
    let id = seeded(&h, "hana@example.com").await;
    for binding in [
        HandoffBinding { browser: Some(TokenHash::of("cookie")), challenge: Some("c".repeat(43)) },
        HandoffBinding { browser: Some(TokenHash::of("cookie")), challenge: None },
        HandoffBinding::default(),
    ] {
        let code = OpaqueToken::generate();
        h.store.insert_handoff(&code.hash, id, "email", &binding, now(), now() + minutes(2)).await.unwrap();
        let spent = h.store.spend_handoff(&code.hash, now()).await.unwrap().expect("spent once");
        assert_eq!((spent.account_id, spent.method.as_str(), &spent.binding), (id, "email", &binding));
        assert!(h.store.spend_handoff(&code.hash, now()).await.unwrap().is_none(), "and only once");
    }
}
