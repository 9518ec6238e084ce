//! The audit trail's conformance scenarios: what every backend must store, filter, page and
//! purge alike.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use gatehouse::audit::{AuditEvent, AuditStore, EventFilter};
use gatehouse::model::outcome::Kind;
use gatehouse::store::Pace;
use serde_json::json;
use uuid::Uuid;

use crate::Harness;

/// For each scenario, one test per database backend.
macro_rules! audit_conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Sqlite).await { super::$name(h).await } } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Postgres).await { super::$name(h).await } } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Mysql).await { super::$name(h).await } } )*
        }
        #[cfg(feature = "dynamodb")]
        mod dynamodb {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { if let Some(h) = crate::harness(crate::Kind::Dynamodb).await { super::$name(h).await } } )*
        }
    };
}

audit_conformance! {
    events_round_trip_every_field,
    writing_nothing_is_a_no_op_and_writing_twice_keeps_one,
    a_batch_larger_than_one_statement_is_written_whole,
    text_too_long_for_a_column_is_cut_and_nul_is_dropped,
    events_filter_by_account_kind_and_ip,
    a_kind_prefix_is_not_a_pattern,
    the_time_window_includes_since_and_excludes_until,
    pages_follow_the_cursor_newest_first_without_gaps_or_repeats,
    purging_removes_only_older_events,
}

fn audit(h: &Harness) -> Arc<dyn AuditStore> {
    h.store.clone()
}

fn all(limit: u32) -> EventFilter {
    EventFilter { limit, ..EventFilter::default() }
}

/// An event at a given time (ids still sort by creation).
fn at(kind: &str, time: DateTime<Utc>) -> AuditEvent {
    AuditEvent { at: time, ..AuditEvent::new(kind) }
}

fn micros(time: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(time.timestamp_micros()).unwrap()
}

pub async fn events_round_trip_every_field(h: Harness) {
    let audit = audit(&h);
    let (account, actor) = (Uuid::now_v7(), Uuid::now_v7());
    let full = AuditEvent::new(Kind::AdminAccountUpdated.as_str())
        .account(account)
        .actor(actor)
        .client(Some("2001:db8::7".into()), Some("Mozilla/5.0 (ü)".into()), Some("req-1".into()))
        .detail(json!({"role": {"from": "user", "to": "admin"}, "n": 1.5, "list": [1, "zwei", null, true]}));
    let bare = AuditEvent::new(Kind::RateLimited.as_str());
    audit.insert_events(&[full.clone(), bare.clone()]).await.unwrap();

    let listed = audit.list_events(&all(10)).await.unwrap();

    assert_eq!(listed, [bare, full], "newest first, every field as written");
}

pub async fn writing_nothing_is_a_no_op_and_writing_twice_keeps_one(h: Harness) {
    let audit = audit(&h);
    audit.insert_events(&[]).await.unwrap();
    let event = AuditEvent::new(Kind::Logout.as_str());

    audit.insert_events(std::slice::from_ref(&event)).await.unwrap();
    audit.insert_events(&[event.clone(), AuditEvent::new(Kind::Logout.as_str())]).await.unwrap();

    let listed = audit.list_events(&all(10)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|e| e.id == event.id).count(), 1);
}

pub async fn a_batch_larger_than_one_statement_is_written_whole(h: Harness) {
    let audit = audit(&h);
    let events: Vec<_> =
        (0..1_234).map(|i| AuditEvent::new(Kind::LoginFailed.as_str()).detail(json!({"n": i}))).collect();

    audit.insert_events(&events).await.unwrap();

    let listed = audit.list_events(&all(2_000)).await.unwrap();
    assert_eq!(listed.len(), 1_234);
    assert_eq!(listed.first().unwrap().id, events.last().unwrap().id);
}

pub async fn text_too_long_for_a_column_is_cut_and_nul_is_dropped(h: Harness) {
    let audit = audit(&h);
    let agent = format!("{}é and more", "a".repeat(511));
    let event = AuditEvent::new(Kind::LoginFailed.as_str())
        .client(Some("192.0.2.1".into()), Some(agent), Some("r".repeat(128)))
        .detail(json!({"login": "ann\u{0}@example.com"}));

    audit.insert_events(&[event]).await.unwrap();

    let stored = audit.list_events(&all(1)).await.unwrap().remove(0);
    assert_eq!(stored.user_agent.unwrap(), "a".repeat(511), "cut at 512 bytes, before the two-byte é");
    assert_eq!(stored.request_id.unwrap().len(), 64);
    assert_eq!(stored.detail.unwrap(), json!({"login": "ann@example.com"}));
}

pub async fn events_filter_by_account_kind_and_ip(h: Harness) {
    let audit = audit(&h);
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let with = |kind: &str, account: Uuid, ip: &str| {
        AuditEvent::new(kind).account(account).client(Some(ip.to_owned()), None, None)
    };
    let events = [
        with(Kind::LoginFailed.as_str(), ann, "192.0.2.1"),
        with(Kind::LoginSucceeded.as_str(), ann, "192.0.2.2"),
        with(Kind::LoginFailed.as_str(), bob, "192.0.2.1"),
        with(Kind::Logout.as_str(), bob, "192.0.2.2"),
        AuditEvent::new(Kind::RateLimited.as_str()),
    ];
    audit.insert_events(&events).await.unwrap();
    let ids = |filter: EventFilter| {
        let audit = audit.clone();
        async move { audit.list_events(&filter).await.unwrap().into_iter().map(|e| e.id).collect::<Vec<_>>() }
    };

    let by_account = ids(EventFilter { account_id: Some(ann), ..all(10) }).await;
    let exact_kind = ids(EventFilter { kind: Some(Kind::LoginFailed.as_str().into()), ..all(10) }).await;
    let kind_prefix = ids(EventFilter { kind: Some("login.".into()), ..all(10) }).await;
    let by_ip = ids(EventFilter { ip: Some("192.0.2.2".into()), ..all(10) }).await;
    let combined = ids(EventFilter {
        account_id: Some(bob),
        kind: Some("login.".into()),
        ip: Some("192.0.2.1".into()),
        ..all(10)
    })
    .await;

    assert_eq!(by_account, [events[1].id, events[0].id]);
    assert_eq!(exact_kind, [events[2].id, events[0].id]);
    assert_eq!(kind_prefix, [events[2].id, events[1].id, events[0].id]);
    assert_eq!(by_ip, [events[3].id, events[1].id]);
    assert_eq!(combined, [events[2].id]);
    assert!(ids(EventFilter { kind: Some("login".into()), ..all(10) }).await.is_empty(), "no dot: exact");
}

pub async fn a_kind_prefix_is_not_a_pattern(h: Harness) {
    let audit = audit(&h);
    let events = [AuditEvent::new("a_b.x"), AuditEvent::new("aXb.y"), AuditEvent::new("a%.z")];
    audit.insert_events(&events).await.unwrap();
    let kinds_of = |prefix: &str| {
        let audit = audit.clone();
        let filter = EventFilter { kind: Some(prefix.to_owned()), ..all(10) };
        async move { audit.list_events(&filter).await.unwrap().into_iter().map(|e| e.kind).collect::<Vec<_>>() }
    };

    assert_eq!(kinds_of("a_b.").await, ["a_b.x"]);
    assert_eq!(kinds_of("a%.").await, ["a%.z"]);
    assert!(kinds_of("%.").await.is_empty());
}

pub async fn the_time_window_includes_since_and_excludes_until(h: Harness) {
    let audit = audit(&h);
    let t0 = micros(Utc::now()) - Duration::hours(1);
    let events: Vec<_> = (0..5).map(|i| at(Kind::Signup.as_str(), t0 + Duration::minutes(i))).collect();
    audit.insert_events(&events).await.unwrap();

    let window = EventFilter { since: Some(events[1].at), until: Some(events[3].at), ..all(10) };
    let listed: Vec<_> = audit.list_events(&window).await.unwrap().into_iter().map(|e| e.id).collect();

    assert_eq!(listed, [events[2].id, events[1].id]);
    let since_only = EventFilter { since: Some(events[4].at), ..all(10) };
    assert_eq!(audit.list_events(&since_only).await.unwrap().len(), 1);
}

pub async fn pages_follow_the_cursor_newest_first_without_gaps_or_repeats(h: Harness) {
    let audit = audit(&h);
    let events: Vec<_> = (0..25).map(|_| AuditEvent::new(Kind::LoginSucceeded.as_str())).collect();
    audit.insert_events(&events).await.unwrap();

    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = Vec::new();
    loop {
        let page = audit.list_events(&EventFilter { before, ..all(10) }).await.unwrap();
        pages.push(page.len());
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        seen.extend(page.iter().map(|e| e.id));
    }

    assert_eq!(pages, [10, 10, 5, 0]);
    let mut expected: Vec<_> = events.iter().map(|e| e.id).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);
}

pub async fn purging_removes_only_older_events(h: Harness) {
    let audit = audit(&h);
    let now = micros(Utc::now());
    let old = [
        at(Kind::LoginFailed.as_str(), now - Duration::days(100)),
        at(Kind::Signup.as_str(), now - Duration::days(91)),
    ];
    let cutoff = now - Duration::days(90);
    let kept = [at(Kind::Logout.as_str(), cutoff), at(Kind::Logout.as_str(), now)];
    audit.insert_events(&old).await.unwrap();
    audit.insert_events(&kept).await.unwrap();

    let purged = audit.purge_events(cutoff, Pace::Full).await.unwrap();

    assert_eq!(purged, 2);
    let left: Vec<_> = audit.list_events(&all(10)).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(left, [kept[1].id, kept[0].id]);
    assert_eq!(audit.purge_events(cutoff, Pace::Full).await.unwrap(), 0);
}
