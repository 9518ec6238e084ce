//! The job queue in the DynamoDB store: claims with leases, renewals, settlements, the order of
//! a lane, and replicas claiming at once.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gatehouse::store::dynamo::DynamoStore;
use gatehouse::store::jobs::{JobKind, Outcome, Settled};
use gatehouse::store::{JobStore, OutboxStore, QueuedEmail};
use uuid::Uuid;

use crate::dynamo::store;
use crate::scenarios::{email, minutes, now};

async fn claim_emails(
    store: &DynamoStore,
    worker: Uuid,
    at: DateTime<Utc>,
    lease: Duration,
    limit: u32,
) -> Vec<QueuedEmail> {
    let jobs = store.claim_jobs(JobKind::Email, worker, at, lease, limit).await.unwrap();
    jobs.iter().map(|job| QueuedEmail::from_job(job).expect("an email job reads back")).collect()
}

async fn settle_email(store: &DynamoStore, worker: Uuid, id: Uuid, outcome: Outcome, at: DateTime<Utc>) -> bool {
    store.settle_jobs(worker, &[Settled { id, outcome, at }]).await.unwrap() == 1
}

async fn email_backlog(store: &DynamoStore) -> u64 {
    store.job_backlog(JobKind::Email).await.unwrap().jobs
}

#[tokio::test]
async fn the_outbox_hands_out_each_due_email_once_per_lease() {
    let Some(store) = store().await else { return };
    let t0 = now();
    for n in 0..3 {
        store.queue_email(&email(&format!("jon{n}@example.com"), t0)).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    let (worker, other) = (Uuid::now_v7(), Uuid::now_v7());

    let first = claim_emails(&store, worker, t0, lease, 2).await;
    let second = claim_emails(&store, worker, t0, lease, 2).await;
    let third = claim_emails(&store, other, t0, lease, 2).await;

    assert_eq!((first.len(), second.len(), third.len()), (2, 1, 0));
    let ids: HashSet<Uuid> = first.iter().chain(&second).map(|e| e.id).collect();
    assert_eq!(ids.len(), 3);
    let claimed = &first[0];
    assert_eq!(claimed.attempts, 1);
    assert!(claimed.text_body.contains("activate?token=") && claimed.message_id.ends_with("@x.example>"));
    let backlog = store.job_backlog(JobKind::Email).await.unwrap();
    assert_eq!((backlog.jobs, backlog.oldest), (3, Some(t0)), "three wait, the oldest written at t0");

    assert_eq!(store.renew_jobs(JobKind::Email, worker, t0 + chrono::Duration::seconds(120)).await.unwrap(), 3);
    assert_eq!(store.renew_jobs(JobKind::Email, other, t0 + chrono::Duration::seconds(120)).await.unwrap(), 0);
    assert!(claim_emails(&store, other, t0 + chrono::Duration::seconds(61), lease, 10).await.is_empty());

    // A worker that died holding a claim loses it once the lease runs out.
    let after_lease = t0 + chrono::Duration::seconds(121);
    let reclaimed = claim_emails(&store, other, after_lease, lease, 10).await;
    assert_eq!(reclaimed.len(), 3);
    assert!(reclaimed.iter().all(|e| e.attempts == 2));
    let again = reclaimed.iter().find(|e| e.id == claimed.id).unwrap();
    assert_eq!((&again.message_id, &again.text_body), (&claimed.message_id, &claimed.text_body), "an identical resend");

    // Only the holder settles: the first worker's late answer changes nothing.
    assert!(!settle_email(&store, worker, claimed.id, Outcome::Done { status: None }, after_lease).await);
    assert_eq!(store.renew_jobs(JobKind::Email, worker, after_lease + minutes(5)).await.unwrap(), 0);
    assert!(settle_email(&store, other, claimed.id, Outcome::Done { status: None }, after_lease).await);
    assert_eq!(email_backlog(&store).await, 2);
}

#[tokio::test]
async fn retried_failed_deferred_and_sent_emails_leave_the_queue_as_they_should() {
    let Some(store) = store().await else { return };
    let t0 = now();
    for n in 0..4 {
        store.queue_email(&email(&format!("kim{n}@example.com"), t0)).await.unwrap();
    }
    let worker = Uuid::now_v7();
    let mut claimed = claim_emails(&store, worker, t0, Duration::from_secs(60), 10).await;
    claimed.sort_by_key(|e| e.id);
    let [sent, retried, failed, deferred] = claimed.as_slice() else { panic!("four emails: {claimed:?}") };

    let settled = [
        Settled { id: sent.id, outcome: Outcome::Done { status: Some(250) }, at: t0 },
        Settled {
            id: retried.id,
            outcome: Outcome::Retry { at: t0 + minutes(5), status: None, error: "421 try later".into() },
            at: t0,
        },
        Settled { id: failed.id, outcome: Outcome::Failed { status: None, error: "550 no such user".into() }, at: t0 },
        Settled { id: deferred.id, outcome: Outcome::Deferred { at: t0 + minutes(2) }, at: t0 },
    ];
    assert_eq!(store.settle_jobs(worker, &settled).await.unwrap(), 4, "one batch settles all four");

    assert_eq!(email_backlog(&store).await, 2, "the retried and the deferred one wait");
    assert!(claim_emails(&store, worker, t0 + minutes(1), Duration::from_secs(60), 10).await.is_empty());
    let put_back = claim_emails(&store, worker, t0 + minutes(2), Duration::from_secs(60), 10).await;
    let put_back: Vec<_> = put_back.iter().map(|e| (e.id, e.attempts)).collect();
    assert_eq!(put_back, vec![(deferred.id, 1)], "a deferral is not an attempt");
    assert!(settle_email(&store, worker, deferred.id, Outcome::Done { status: None }, t0 + minutes(2)).await);
    let due = claim_emails(&store, worker, t0 + minutes(5), Duration::from_secs(60), 10).await;
    assert_eq!(due.iter().map(|e| (e.id, e.attempts)).collect::<Vec<_>>(), vec![(retried.id, 2)]);
}

#[tokio::test]
async fn one_addresss_emails_go_one_at_a_time_in_the_order_written() {
    let Some(store) = store().await else { return };
    let t0 = now();
    for n in 0..3 {
        // The same address in any case is one lane.
        let to = if n == 1 { "LIV@example.com" } else { "liv@example.com" };
        store.queue_email(&email(to, t0 + chrono::Duration::milliseconds(n))).await.unwrap();
    }
    store.queue_email(&email("max@example.com", t0)).await.unwrap();
    let lease = Duration::from_secs(60);
    let (worker, replica) = (Uuid::now_v7(), Uuid::now_v7());

    let mut order = Vec::new();
    let mut at = t0 + minutes(1);
    for round in 0..3 {
        let claimed = claim_emails(&store, worker, at, lease, 10).await;
        let mut recipients: Vec<String> = claimed.iter().map(|e| e.recipient.to_lowercase()).collect();
        recipients.sort();
        let expected = if round == 0 { vec!["liv@example.com", "max@example.com"] } else { vec!["liv@example.com"] };
        assert_eq!(recipients, expected, "round {round}: one per address");
        let liv = claimed.iter().find(|e| e.recipient.eq_ignore_ascii_case("liv@example.com")).unwrap();
        let others = store.claim_jobs(JobKind::Email, replica, at, lease, 10).await.unwrap();
        assert!(others.is_empty(), "another worker gets nothing while the first is on its way: {others:?}");
        order.push(liv.id);
        if round == 1 {
            let retry = Outcome::Retry { at: at + minutes(1), status: None, error: "421".into() };
            assert!(settle_email(&store, worker, liv.id, retry, at).await);
            assert!(
                claim_emails(&store, worker, at, lease, 10).await.is_empty(),
                "the third waits for the retried second"
            );
            at += minutes(1);
            let again = claim_emails(&store, worker, at, lease, 10).await;
            assert_eq!(again.iter().map(|e| e.id).collect::<Vec<_>>(), vec![liv.id]);
        }
        for email in claimed.iter().filter(|e| !e.recipient.eq_ignore_ascii_case("liv@example.com")) {
            assert!(settle_email(&store, worker, email.id, Outcome::Done { status: None }, at).await);
        }
        assert!(settle_email(&store, worker, liv.id, Outcome::Done { status: None }, at).await);
    }
    let mut written = order.clone();
    written.sort();
    assert_eq!(order, written, "claimed in the order written (UUIDv7 ids)");
    assert_eq!(email_backlog(&store).await, 0);
}

#[tokio::test]
async fn workers_claiming_at_once_never_get_the_same_email() {
    let Some(store) = store().await else { return };
    let t0 = now();
    for n in 0..30 {
        store.queue_email(&email(&format!("lea{n}@example.com"), t0)).await.unwrap();
    }
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let store = store.clone();
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
    assert_eq!(all.len(), 30, "every email claimed");
    assert_eq!(unique.len(), 30, "none twice");
}
