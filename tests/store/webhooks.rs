//! Webhook storage on every database: a delivery exists exactly when the change that tells of
//! it committed, and only for endpoints that receive its type; an account's deliveries to an
//! endpoint are claimed one at a time, in order; a claim whose worker vanished is taken over
//! after its lease and the vanished worker can no longer settle it; a replay queues a settled
//! delivery again; a disabled endpoint's deliveries wait, a deleted one's go.

use std::time::Duration;

use gatehouse::model::outcome::{Effects, Kind, Outcome as Happened};
use gatehouse::store::jobs::{Job, JobKind, Outcome, Settled};
use gatehouse::store::webhooks::{DeliveryQuery, DeliveryStatus, Endpoint, EventType};
use uuid::Uuid;

use crate::Harness;
use crate::scenarios::{now, seeded};

crate::per_backend! {
    stores:
        deliveries_exist_exactly_for_committed_changes_and_subscribed_endpoints,
        an_accounts_deliveries_are_claimed_in_order_and_a_lost_claim_is_taken_over,
        replay_queues_a_settled_delivery_and_disabled_or_deleted_endpoints_get_nothing;
    sessions:
}

const LEASE: Duration = Duration::from_secs(30);

async fn endpoint(h: &Harness, events: &[EventType]) -> Endpoint {
    let at = now();
    let endpoint = Endpoint {
        id: Uuid::now_v7(),
        url: "https://hooks.example.com/in".into(),
        events: events.to_vec(),
        description: String::new(),
        enabled: true,
        created_at: at,
        updated_at: at,
    };
    h.store.insert_endpoint(&endpoint, b"sealed secret", &Effects::none()).await.unwrap();
    endpoint
}

/// The id the store gave the newest event owed to `endpoint`.
async fn newest(h: &Harness, endpoint: Uuid) -> Uuid {
    log(h, endpoint).await.first().expect("a delivery").event_id
}

/// Claims up to ten due deliveries for `worker` as of `at`.
async fn claim(h: &Harness, worker: Uuid, at: chrono::DateTime<chrono::Utc>) -> Vec<Job> {
    h.store.claim_jobs(JobKind::Webhook, worker, at, LEASE, 10).await.unwrap()
}

/// Settles the delivery `job` as `worker`; whether it did.
async fn settle(h: &Harness, worker: Uuid, job: Uuid, outcome: Outcome) -> bool {
    h.store.settle_jobs(worker, &[Settled { id: job, outcome, at: now() }]).await.unwrap() == 1
}

/// The job that carries the delivery of `event`, among `claimed`.
fn job_of(claimed: &[Job], event: Uuid) -> Uuid {
    claimed.iter().find(|job| job.ref_id == Some(event)).expect("claimed").id
}

async fn log(h: &Harness, endpoint: Uuid) -> Vec<gatehouse::store::webhooks::Delivery> {
    let query = DeliveryQuery { endpoint_id: endpoint, status: None, before: None, limit: 100 };
    h.store.deliveries(&query).await.unwrap()
}

pub async fn deliveries_exist_exactly_for_committed_changes_and_subscribed_endpoints(h: Harness) {
    let deletions = endpoint(&h, &[EventType::UserDeleted, EventType::UserPasswordChanged]).await;
    let logins = endpoint(&h, &[EventType::UserLogin]).await;
    assert_eq!(h.store.endpoints().await.unwrap().len(), 2);
    let account = seeded(&h, "wes@example.com").await;

    let changed = Happened::new(Kind::PasswordChanged).account(account);
    h.store.set_password_hash(account, "$argon2id$new", now(), &Effects::none().and(changed)).await.unwrap();
    let changed = newest(&h, deletions.id).await;
    let nobody = Happened::new(Kind::AccountDeleted).account(Uuid::now_v7());
    assert!(
        !h.store.delete_account(nobody.account_id.unwrap(), &Effects::none().and(nobody)).await.unwrap(),
        "no such account"
    );

    let written = log(&h, deletions.id).await;
    assert_eq!(written.len(), 1, "one change committed, one did not: {written:?}");
    assert_eq!((written[0].event_id, written[0].kind.as_str()), (changed, "user.password_changed"));
    assert_eq!((written[0].status, written[0].attempts, written[0].account_id), (DeliveryStatus::Queued, 0, account));
    assert!(log(&h, logins.id).await.is_empty(), "an endpoint gets only the types it receives");

    // The deletion tells of the account as it was, though it is gone by the time it is sent.
    let deleted = Happened::new(Kind::AccountDeleted).account(account);
    assert!(h.store.delete_account(account, &Effects::none().and(deleted)).await.unwrap());
    let deleted = newest(&h, deletions.id).await;
    assert!(deleted > changed, "ids follow the order of the changes");
    let worker = Uuid::now_v7();
    let claimed = claim(&h, worker, chrono::Utc::now()).await;
    let ids: Vec<Option<Uuid>> = claimed.iter().map(|d| d.ref_id).collect();
    assert_eq!(ids, vec![Some(changed)], "the deletion waits for the earlier event of the same account");
    assert!(settle(&h, worker, claimed[0].id, Outcome::Done { status: Some(204) }).await);
    let claimed = claim(&h, worker, chrono::Utc::now()).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].ref_id, claimed[0].topic.as_str()), (Some(deleted), "user.deleted"));
    assert_eq!(claimed[0].target, deletions.id.to_string());
    assert!(claimed[0].payload.contains("wes@example.com"), "the account as it was: {}", claimed[0].payload);
    let delivered = h.store.delivery(deletions.id, changed).await.unwrap().unwrap();
    assert_eq!((delivered.status, delivered.last_response_status), (DeliveryStatus::Delivered, Some(204)));
    assert!(delivered.delivered_at.is_some());
}

pub async fn an_accounts_deliveries_are_claimed_in_order_and_a_lost_claim_is_taken_over(h: Harness) {
    let hooks = endpoint(&h, &[EventType::UserPasswordChanged]).await;
    let (ann, bob) = (seeded(&h, "ann@example.com").await, seeded(&h, "bob@example.com").await);
    let mut ann_events = Vec::new();
    for _ in 0..3 {
        let event = Happened::new(Kind::PasswordChanged).account(ann);
        h.store.set_password_hash(ann, "$argon2id$x", now(), &Effects::none().and(event)).await.unwrap();
        ann_events.push(newest(&h, hooks.id).await);
    }
    let bob_event = Happened::new(Kind::PasswordChanged).account(bob);
    h.store.set_password_hash(bob, "$argon2id$y", now(), &Effects::none().and(bob_event)).await.unwrap();
    let bob_event = newest(&h, hooks.id).await;

    let first = Uuid::now_v7();
    let claimed = claim(&h, first, chrono::Utc::now()).await;
    let mut ids: Vec<Uuid> = claimed.iter().filter_map(|d| d.ref_id).collect();
    ids.sort();
    assert_eq!(ids, vec![ann_events[0], bob_event], "one per account at a time, the oldest first");
    assert!(claimed.iter().all(|d| d.target == hooks.id.to_string() && d.attempts == 1));
    assert!(claimed.iter().all(|d| d.payload.contains("\"account\"")), "the account rides with the event");

    // The first worker vanishes; once its lease is over another takes the same deliveries.
    let later = now() + chrono::Duration::seconds(31);
    let second = Uuid::now_v7();
    let again = claim(&h, second, later).await;
    assert_eq!(again.len(), 2, "taken over after the lease");
    assert!(again.iter().all(|d| d.attempts == 2));
    let (ann_job, bob_job) = (job_of(&again, ann_events[0]), job_of(&again, bob_event));
    let done = Outcome::Done { status: Some(200) };
    assert!(!settle(&h, first, ann_job, done.clone()).await, "no longer the first's");
    assert!(settle(&h, second, ann_job, done).await);
    let retry = Outcome::Retry { at: later + chrono::Duration::minutes(5), status: Some(503), error: "down".into() };
    assert!(settle(&h, second, bob_job, retry).await);

    let next = claim(&h, second, later).await;
    let next_ids: Vec<Option<Uuid>> = next.iter().map(|d| d.ref_id).collect();
    assert_eq!(
        next_ids,
        vec![Some(ann_events[1])],
        "Ann's second, now that her first is delivered; Bob's waits to retry"
    );
    let bob_row = h.store.delivery(hooks.id, bob_event).await.unwrap().unwrap();
    assert_eq!((bob_row.status, bob_row.last_response_status), (DeliveryStatus::Queued, Some(503)));
    assert_eq!(bob_row.last_error.as_deref(), Some("down"));
    assert_eq!(h.store.job_backlog(JobKind::Webhook).await.unwrap().jobs, 3);
}

pub async fn replay_queues_a_settled_delivery_and_disabled_or_deleted_endpoints_get_nothing(h: Harness) {
    let hooks = endpoint(&h, &[EventType::UserPasswordChanged]).await;
    let cat = seeded(&h, "cat@example.com").await;
    let event = Happened::new(Kind::PasswordChanged).account(cat);
    h.store.set_password_hash(cat, "$argon2id$z", now(), &Effects::none().and(event)).await.unwrap();
    let event = newest(&h, hooks.id).await;
    let worker = Uuid::now_v7();
    let claimed = claim(&h, worker, chrono::Utc::now()).await;
    assert_eq!(claimed.len(), 1);
    assert!(!h.store.replay_delivery(hooks.id, event, now()).await.unwrap(), "not while it is on its way");
    let failed = Outcome::Failed { status: Some(503), error: "the endpoint answered 503".into() };
    assert!(settle(&h, worker, claimed[0].id, failed).await);
    assert_eq!(h.store.delivery(hooks.id, event).await.unwrap().unwrap().status, DeliveryStatus::Failed);

    assert!(h.store.replay_delivery(hooks.id, event, now()).await.unwrap());
    let replayed = h.store.delivery(hooks.id, event).await.unwrap().unwrap();
    assert_eq!((replayed.status, replayed.attempts), (DeliveryStatus::Queued, 0));
    assert_eq!((replayed.last_response_status, replayed.last_error), (None, None), "a fresh start");

    let disabled = Endpoint { enabled: false, updated_at: now(), ..hooks.clone() };
    assert!(h.store.update_endpoint(&disabled, &Effects::none()).await.unwrap());
    assert!(claim(&h, worker, chrono::Utc::now()).await.is_empty(), "held back while disabled");
    assert_eq!(log(&h, hooks.id).await[0].status, DeliveryStatus::Queued, "listed as queued while held");
    let more = Happened::new(Kind::PasswordChanged).account(cat);
    h.store.set_password_hash(cat, "$argon2id$w", now(), &Effects::none().and(more)).await.unwrap();
    assert_eq!(log(&h, hooks.id).await.len(), 1, "a disabled endpoint is not written to");
    assert!(h.store.update_endpoint(&hooks, &Effects::none()).await.unwrap());
    assert_eq!(claim(&h, worker, chrono::Utc::now()).await.len(), 1, "goes once enabled");

    assert!(h.store.delete_endpoint(hooks.id, &Effects::none()).await.unwrap());
    assert!(log(&h, hooks.id).await.is_empty(), "what was owed to it goes with it");
    assert_eq!(h.store.endpoint(hooks.id).await.unwrap(), None);
    assert_eq!(h.store.job_backlog(JobKind::Webhook).await.unwrap().jobs, 0);
}
