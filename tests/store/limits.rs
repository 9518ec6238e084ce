//! The rate-limit scenarios: every [`LimitStore`] (each database, and Redis) keeps request
//! budgets and runs of failed logins alike, one atomic step per call, whatever the number of
//! concurrent callers and replicas. Time is passed in, so the tests move it instead of waiting.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use gatehouse::limits::redis::RedisLimits;
use gatehouse::limits::{Budget, Decision, FailureState, LimitStore, LockoutPolicy};
use gatehouse::secret_url::SecretUrl;
use gatehouse::store::probe::Held;

use crate::{Harness, Kind};

/// A limit store under test, and a second, independent connection to the same state.
struct Subject {
    limits: Arc<dyn LimitStore>,
    replica: Arc<dyn LimitStore>,
    /// The database the state lives in (none for Redis).
    harness: Option<Harness>,
}

async fn database(kind: Kind) -> Option<Subject> {
    let harness = crate::harness(kind).await?;
    let limits: Arc<dyn LimitStore> = harness.store.clone();
    let replica: Arc<dyn LimitStore> = harness.another_replica().await;
    Some(Subject { limits, replica, harness: Some(harness) })
}

/// Two connections to Redis under a prefix of the test's own.
async fn redis_subject() -> Option<(Subject, String)> {
    let Ok(url) = std::env::var("GATEHOUSE_TEST_REDIS_URL") else {
        crate::skip("redis", "GATEHOUSE_TEST_REDIS_URL");
        return None;
    };
    let url = SecretUrl::new(&url);
    let prefix = format!("gh-limits-test-{}:", uuid::Uuid::now_v7().simple());
    let connect = || RedisLimits::connect(&url, &prefix, Duration::from_secs(5));
    let limits: Arc<dyn LimitStore> = Arc::new(connect().await.unwrap());
    let replica: Arc<dyn LimitStore> = Arc::new(connect().await.unwrap());
    Some((Subject { limits, replica, harness: None }, prefix))
}

/// Now, in Unix ms. Real time, since Redis expires keys by its own clock.
fn now() -> i64 {
    Utc::now().timestamp_millis()
}

/// Five requests per ten seconds: one every two seconds, five at once.
const FIVE_PER_TEN_SECONDS: Budget = Budget { count: 5, period: Duration::from_secs(10) };

fn policy() -> LockoutPolicy {
    LockoutPolicy {
        free: 3,
        base: Duration::from_secs(1),
        max: Duration::from_secs(8),
        forget_after: Duration::from_secs(3600),
    }
}

fn limited(ms: u64) -> Decision {
    Decision::Limited { retry_after: Duration::from_millis(ms) }
}

/// Spends the whole budget of `key` at `t`.
async fn spend(limits: &dyn LimitStore, key: &str, t: i64) {
    for n in 1..=FIVE_PER_TEN_SECONDS.count {
        assert_eq!(limits.take(key, FIVE_PER_TEN_SECONDS, t).await.unwrap(), Decision::Allowed, "request {n}");
    }
}

async fn a_budget_lets_its_count_through_at_once_and_then_limits(s: Subject) {
    let t0 = now();

    spend(&*s.limits, "ip:a", t0).await;
    let sixth = s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0).await.unwrap();
    let later = s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0 + 500).await.unwrap();

    assert_eq!(sixth, limited(2_000), "one request every two seconds");
    assert_eq!(later, limited(1_500), "a refused request does not use up the budget");
}

async fn after_waiting_the_budget_allows_again(s: Subject) {
    let t0 = now();
    spend(&*s.limits, "ip:a", t0).await;

    assert_eq!(s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0 + 1_999).await.unwrap(), limited(1));
    assert_eq!(s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0 + 2_000).await.unwrap(), Decision::Allowed);
    assert_eq!(s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0 + 2_000).await.unwrap(), limited(2_000));
    // Idle for a whole period, the key has its whole budget back.
    spend(&*s.limits, "ip:a", t0 + 12_000).await;
    assert_eq!(s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0 + 12_000).await.unwrap(), limited(2_000));
}

async fn keys_are_independent(s: Subject) {
    let t0 = now();

    spend(&*s.limits, "ip:a", t0).await;
    for _ in 0..5 {
        s.limits.record_failure("account:a", &policy(), t0).await.unwrap();
    }

    spend(&*s.limits, "ip:b", t0).await;
    assert_eq!(s.limits.failures("account:b", t0).await.unwrap(), FailureState::default());
    assert_eq!(s.limits.record_failure("account:b", &policy(), t0).await.unwrap().failures, 1);
    assert_eq!(s.limits.failures("account:a", t0).await.unwrap().failures, 5);
}

async fn concurrent_takes_on_two_replicas_allow_exactly_the_budget(s: Subject) {
    let budget = Budget { count: 10, period: Duration::from_secs(3600) };
    let t0 = now();

    let attempts: Vec<_> = (0..40)
        .map(|n| {
            let limits = if n % 2 == 0 { s.limits.clone() } else { s.replica.clone() };
            tokio::spawn(async move { limits.take("ip:crowd", budget, t0).await.unwrap() })
        })
        .collect();
    let mut decisions = Vec::new();
    for attempt in attempts {
        decisions.push(attempt.await.unwrap());
    }

    assert_eq!(decisions.iter().filter(|d| **d == Decision::Allowed).count(), 10);
    assert!(decisions.iter().all(|d| *d == Decision::Allowed || *d == limited(360_000)), "{decisions:?}");
}

async fn failures_past_the_free_ones_lock_with_doubling_delays_up_to_the_cap(s: Subject) {
    let t0 = now();
    for n in 1..=3 {
        let state = s.limits.record_failure("account:a", &policy(), t0 + n).await.unwrap();
        assert_eq!(state, FailureState { failures: n as u32, locked_until_ms: 0 }, "free failure {n}");
    }
    assert_eq!(s.limits.failures("account:a", t0 + 3).await.unwrap().failures, 3);

    let mut delays = Vec::new();
    for n in 0..5 {
        let at = t0 + 100_000 * (n + 1);
        let state = s.limits.record_failure("account:a", &policy(), at).await.unwrap();
        assert_eq!(s.limits.failures("account:a", at).await.unwrap(), state, "the state reads back");
        delays.push(state.locked_until_ms - at);
    }

    assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 8_000]);
    let state = s.replica.failures("account:a", t0 + 500_000).await.unwrap();
    assert_eq!(state.failures, 8);
    assert_eq!(gatehouse::limits::retry_after(state, t0 + 500_000), Some(Duration::from_secs(8)));
}

async fn clear_forgets_the_key(s: Subject) {
    let t0 = now();
    for _ in 0..5 {
        s.limits.record_failure("account:a", &policy(), t0).await.unwrap();
    }
    spend(&*s.limits, "ip:a", t0).await;

    s.limits.clear("account:a").await.unwrap();
    s.limits.clear("ip:a").await.unwrap();
    s.limits.clear("never:seen").await.unwrap();

    assert_eq!(s.limits.failures("account:a", t0).await.unwrap(), FailureState::default());
    let next = s.limits.record_failure("account:a", &policy(), t0).await.unwrap();
    assert_eq!(next, FailureState { failures: 1, locked_until_ms: 0 }, "a new run starts");
    spend(&*s.limits, "ip:a", t0).await;
}

async fn a_run_of_failures_is_forgotten_after_forget_after(s: Subject) {
    let t0 = now();
    for _ in 0..4 {
        s.limits.record_failure("account:a", &policy(), t0).await.unwrap();
    }
    let forgotten = t0 + 3_600_000;

    assert_eq!(s.limits.failures("account:a", forgotten - 1).await.unwrap().failures, 4);
    assert_eq!(s.limits.failures("account:a", forgotten).await.unwrap(), FailureState::default());
    let next = s.limits.record_failure("account:a", &policy(), forgotten).await.unwrap();
    assert_eq!(next, FailureState { failures: 1, locked_until_ms: 0 });
}

async fn concurrent_failures_on_two_replicas_are_each_counted(s: Subject) {
    let t0 = now();

    let attempts: Vec<_> = (0..20)
        .map(|n| {
            let limits = if n % 2 == 0 { s.limits.clone() } else { s.replica.clone() };
            tokio::spawn(async move { limits.record_failure("account:crowd", &policy(), t0).await.unwrap() })
        })
        .collect();
    let mut counts = Vec::new();
    for attempt in attempts {
        counts.push(attempt.await.unwrap().failures);
    }
    counts.sort_unstable();

    assert_eq!(counts, (1..=20).collect::<Vec<u32>>(), "each caller saw its own step");
    assert_eq!(s.limits.failures("account:crowd", t0).await.unwrap().failures, 20);
}

async fn purging_deletes_expired_rows_only(s: Subject) {
    let h = s.harness.as_ref().expect("a database");
    let t0 = now();
    s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0).await.unwrap();
    s.limits.record_failure("account:a", &policy(), t0).await.unwrap();

    if h.db.kind == crate::Kind::Dynamodb {
        // Nothing to purge: each entry carries its expiry (`ttl`), and reads ignore it after.
        assert_eq!(s.limits.purge_limits(t0 + 3_600_000).await.unwrap(), 0);
        assert_eq!(s.limits.failures("account:a", t0 + 2_000).await.unwrap().failures, 1);
        assert_eq!(s.limits.failures("account:a", t0 + 3_600_000).await.unwrap().failures, 0);
        return;
    }
    assert_eq!(s.limits.purge_limits(t0 + 1_999).await.unwrap(), 0);
    assert_eq!(s.limits.purge_limits(t0 + 2_000).await.unwrap(), 1, "the budget's arrival time has passed");
    assert_eq!(h.held(Held::RateLimits).await, 1);
    assert_eq!(s.limits.failures("account:a", t0 + 2_000).await.unwrap().failures, 1);
    assert_eq!(s.limits.purge_limits(t0 + 3_600_000).await.unwrap(), 1);
    assert_eq!(h.held(Held::RateLimits).await, 0);
}

/// Redis only: keys carry their expiry, so Redis forgets them by itself; nothing is purged.
#[tokio::test]
async fn redis_forgets_limit_keys_by_itself() {
    let Some((s, prefix)) = redis_subject().await else { return };
    let url = std::env::var("GATEHOUSE_TEST_REDIS_URL").unwrap();
    let mut redis = ::redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let t0 = now();

    s.limits.take("ip:a", FIVE_PER_TEN_SECONDS, t0).await.unwrap();
    s.limits.record_failure("account:a", &policy(), t0).await.unwrap();

    let budget_ttl: i64 = ::redis::cmd("PTTL").arg(format!("{prefix}l:ip:a")).query_async(&mut redis).await.unwrap();
    let run_ttl: i64 = ::redis::cmd("PTTL").arg(format!("{prefix}l:account:a")).query_async(&mut redis).await.unwrap();
    assert!(0 < budget_ttl && budget_ttl <= 2_000, "the budget's key lives until its arrival time: {budget_ttl}");
    assert!(3_500_000 < run_ttl && run_ttl <= 3_600_000, "the run's key lives for forget_after: {run_ttl}");
    assert_eq!(s.limits.purge_limits(t0 + 3_600_000).await.unwrap(), 0);
    s.limits.clear("account:a").await.unwrap();
    let left: i64 = ::redis::cmd("EXISTS").arg(format!("{prefix}l:account:a")).query_async(&mut redis).await.unwrap();
    assert_eq!(left, 0, "clear deletes the key");
}

/// For each named scenario, one test per backend; the database ones on the databases only.
macro_rules! on_every_backend {
    (limits: $($limit:ident),* ; databases: $($db:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $limit() { if let Some(s) = super::database(crate::Kind::Sqlite).await { super::$limit(s).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $db() { if let Some(s) = super::database(crate::Kind::Sqlite).await { super::$db(s).await } } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $limit() { if let Some(s) = super::database(crate::Kind::Postgres).await { super::$limit(s).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $db() { if let Some(s) = super::database(crate::Kind::Postgres).await { super::$db(s).await } } )*
        }
        mod mysql {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $limit() { if let Some(s) = super::database(crate::Kind::Mysql).await { super::$limit(s).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $db() { if let Some(s) = super::database(crate::Kind::Mysql).await { super::$db(s).await } } )*
        }
        #[cfg(feature = "dynamodb")]
        mod dynamodb {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $limit() { if let Some(s) = super::database(crate::Kind::Dynamodb).await { super::$limit(s).await } } )*
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $db() { if let Some(s) = super::database(crate::Kind::Dynamodb).await { super::$db(s).await } } )*
        }
        mod redis_limits {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
               async fn $limit() { if let Some((s, _)) = super::redis_subject().await { super::$limit(s).await } } )*
        }
    };
}

on_every_backend! {
    limits:
        a_budget_lets_its_count_through_at_once_and_then_limits,
        after_waiting_the_budget_allows_again,
        keys_are_independent,
        concurrent_takes_on_two_replicas_allow_exactly_the_budget,
        failures_past_the_free_ones_lock_with_doubling_delays_up_to_the_cap,
        clear_forgets_the_key,
        a_run_of_failures_is_forgotten_after_forget_after,
        concurrent_failures_on_two_replicas_are_each_counted;
    databases:
        purging_deletes_expired_rows_only,
}
