//! Rate limits and the audit trail in the DynamoDB store: one budget shared by concurrent
//! callers, runs of failures, and the audit list's filters, order, cursor and purge.

use std::time::Duration;

use gatehouse::audit::{AuditEvent, AuditStore, EventFilter};
use gatehouse::limits::{Budget, Decision, LimitStore, LockoutPolicy};
use gatehouse::store::Pace;
use uuid::Uuid;

use crate::dynamo::store;
use crate::scenarios::{minutes, now};

#[tokio::test]
async fn concurrent_callers_share_one_budget_and_failures_add_up() {
    let Some(store) = store().await else { return };
    let t0 = now().timestamp_millis();
    let budget = Budget { count: 5, period: Duration::from_secs(60) };
    let takers: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take("ip:192.0.2.1", budget, t0).await.unwrap() })
        })
        .collect();
    let mut allowed = 0;
    for taker in takers {
        if taker.await.unwrap() == Decision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "the budget, not one more, whoever asks");
    assert!(matches!(store.take("ip:192.0.2.1", budget, t0).await.unwrap(), Decision::Limited { .. }));
    assert_eq!(store.take("ip:192.0.2.2", budget, t0).await.unwrap(), Decision::Allowed, "another key");
    assert_eq!(store.take("ip:192.0.2.1", budget, t0 + 60_000).await.unwrap(), Decision::Allowed, "refilled");

    let policy = LockoutPolicy {
        free: 3,
        base: Duration::from_secs(1),
        max: Duration::from_secs(60),
        forget_after: Duration::from_secs(3600),
    };
    let failures: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_failure("login:ann", &policy, t0).await.unwrap() })
        })
        .collect();
    for failure in failures {
        failure.await.unwrap();
    }
    let state = store.failures("login:ann", t0).await.unwrap();
    assert_eq!(state.failures, 6, "no failure lost to a race");
    assert!(state.locked_until_ms > t0, "locked after the free ones");
    assert_eq!(store.failures("login:ann", t0 + 3_600_001 + 60_000).await.unwrap().failures, 0, "forgotten later");
    store.clear("login:ann").await.unwrap();
    assert_eq!(store.failures("login:ann", t0).await.unwrap().failures, 0);
}

fn event(kind: &str, account: Option<Uuid>, at: chrono::DateTime<chrono::Utc>) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        at,
        kind: kind.to_owned(),
        account_id: account,
        actor_id: None,
        ip: Some("192.0.2.9".into()),
        user_agent: Some("test/1".into()),
        request_id: None,
        detail: Some(serde_json::json!({"method": "password"})),
    }
}

#[tokio::test]
async fn audit_events_list_newest_first_by_filter_and_cursor_and_purge() {
    let Some(store) = store().await else { return };
    let (ann, ben) = (Uuid::now_v7(), Uuid::now_v7());
    let t0 = now();
    let events = vec![
        event("login.succeeded", Some(ann), t0 - minutes(3)),
        event("login.failed", Some(ben), t0 - minutes(2)),
        event("password.changed", Some(ann), t0 - minutes(1)),
        event("login.succeeded", None, t0),
    ];
    store.insert_events(&events).await.unwrap();
    store.insert_events(&events[..1]).await.expect("an event stored already is no failure");

    let all = |limit| EventFilter { limit, ..EventFilter::default() };
    let listed = store.list_events(&all(10)).await.unwrap();
    assert_eq!(listed.iter().rev().map(|e| e.id).collect::<Vec<_>>(), events.iter().map(|e| e.id).collect::<Vec<_>>());
    assert_eq!(listed[3], events[0].storable(), "every field back");
    let page = store.list_events(&all(2)).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![events[3].id, events[2].id]);
    let next = EventFilter { before: Some(page[1].id), ..all(2) };
    let next = store.list_events(&next).await.unwrap();
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), vec![events[1].id, events[0].id]);

    let anns = EventFilter { account_id: Some(ann), ..all(10) };
    let anns: Vec<Uuid> = store.list_events(&anns).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(anns, vec![events[2].id, events[0].id]);
    let logins = EventFilter { kind: Some("login.".into()), ..all(10) };
    assert_eq!(store.list_events(&logins).await.unwrap().len(), 3);
    let since = EventFilter { since: Some(t0 - minutes(1)), ..all(10) };
    assert_eq!(store.list_events(&since).await.unwrap().len(), 2);

    assert_eq!(store.purge_events(t0 - minutes(1), Pace::Full).await.unwrap(), 2);
    let left: Vec<Uuid> = store.list_events(&all(10)).await.unwrap().iter().map(|e| e.id).collect();
    assert_eq!(left, vec![events[3].id, events[2].id]);
}
