//! Rate limits and brute-force defence, shared by every replica: in Redis when configured,
//! otherwise in the database. Two kinds of state live behind [`LimitStore`]:
//!
//! - request budgets (`N` requests per period, per client IP or per subject), kept with the
//!   generic cell rate algorithm: one number per key, the theoretical arrival time;
//! - runs of failed logins (per account, per account and IP, per account and device), each
//!   failure past the free ones adding a doubling delay during which attempts get 429.
//!
//! The arithmetic is here, once, as pure functions; the database stores apply it inside a
//! transaction, the Redis store in a Lua script that mirrors it.

pub mod redis;

use std::time::Duration;

use async_trait::async_trait;

use crate::model::error::StoreResult;

/// A request budget: `count` requests per `period`, all of which may come at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub count: u32,
    pub period: Duration,
}

/// The answer to "may this request go ahead?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Limited { retry_after: Duration },
}

/// How failed logins slow an attacker down: `free` failures in a row cost nothing; each one
/// after that locks the key for `base` doubling per failure, capped at `max`. A run of failures
/// is forgotten `forget_after` the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub free: u32,
    pub base: Duration,
    pub max: Duration,
    pub forget_after: Duration,
}

/// A key's run of failures: how many, and until when (Unix ms) attempts are refused.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureState {
    pub failures: u32,
    pub locked_until_ms: i64,
}

/// Where limit state lives. Every method is one atomic step, safe against concurrent callers
/// on any number of replicas. Times are Unix milliseconds.
#[async_trait]
pub trait LimitStore: Send + Sync + std::fmt::Debug + 'static {
    /// Takes one request from `key`'s budget.
    async fn take(&self, key: &str, budget: Budget, now_ms: i64) -> StoreResult<Decision>;
    /// The key's run of failures, if it has one that is not yet forgotten.
    async fn failures(&self, key: &str, now_ms: i64) -> StoreResult<FailureState>;
    /// Records one more failure under `policy` and returns the new state.
    async fn record_failure(&self, key: &str, policy: &LockoutPolicy, now_ms: i64) -> StoreResult<FailureState>;
    /// Forgets the key (after a successful login).
    async fn clear(&self, key: &str) -> StoreResult<()>;
    /// Deletes state that no longer means anything.
    async fn purge_limits(&self, now_ms: i64) -> StoreResult<u64>;
}

/// One key's stored state: the columns of the `rate_limits` table, and the fields of a Redis
/// limit hash. For a budget `until_ms` is the theoretical arrival time and `count` is 0; for a
/// run of failures `count` is its length and `until_ms` the end of its delay. A row whose
/// `expires_ms` has come means nothing: it counts as absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitRow {
    pub until_ms: i64,
    pub count: u32,
    pub expires_ms: i64,
}

impl LimitRow {
    /// The row, unless it has expired by `now_ms`.
    pub fn live(self, now_ms: i64) -> Option<Self> {
        (self.expires_ms > now_ms).then_some(self)
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A budget's emission interval `T` (its period over its count, rounded up to a whole
/// millisecond, so the budget is never exceeded) and tolerance `τ = T·(count − 1)`, in ms.
/// `None` for a budget of nothing.
fn cell(budget: Budget) -> Option<(i64, i64)> {
    let count = i64::from(budget.count);
    if count == 0 {
        return None;
    }
    let period = millis(budget.period);
    let interval = (period / count + i64::from(period % count != 0)).max(1);
    Some((interval, interval.saturating_mul(count - 1)))
}

/// The generic cell rate algorithm: given a key's theoretical arrival time (`None` when it has
/// none), either lets a request at `now_ms` through and returns the new arrival time (which is
/// also when the key may be forgotten), or says how long to wait (at least 1 ms).
pub fn gcra(tat_ms: Option<i64>, now_ms: i64, budget: Budget) -> Result<i64, Duration> {
    let Some((interval, tolerance)) = cell(budget) else {
        return Err(budget.period.max(Duration::from_millis(1)));
    };
    let new_tat = tat_ms.map_or(now_ms, |tat| tat.max(now_ms)).saturating_add(interval);
    let ahead = new_tat.saturating_sub(now_ms);
    let allowance = tolerance.saturating_add(interval);
    if ahead > allowance {
        Err(Duration::from_millis(ahead.saturating_sub(allowance).max(1).unsigned_abs()))
    } else {
        Ok(new_tat)
    }
}

/// The delay after the `doublings + 1`-th failure past the free ones: `base · 2^doublings`,
/// capped at `max`, in ms.
fn lockout_ms(policy: &LockoutPolicy, doublings: u32) -> i64 {
    let max = millis(policy.max);
    if doublings >= 63 { max } else { millis(policy.base).saturating_mul(1 << doublings).min(max) }
}

/// One more failure on top of `current` (already [`FailureState::default`] if the run was
/// forgotten): the new state, and when it may be forgotten (Unix ms), never before its delay ends.
pub fn next_failure(current: FailureState, now_ms: i64, policy: &LockoutPolicy) -> (FailureState, i64) {
    let failures = current.failures.saturating_add(1);
    let locked_until_ms = if failures > policy.free {
        now_ms.saturating_add(lockout_ms(policy, failures - policy.free - 1))
    } else {
        current.locked_until_ms
    };
    let expires_ms = now_ms.saturating_add(millis(policy.forget_after)).max(locked_until_ms);
    (FailureState { failures, locked_until_ms }, expires_ms)
}

/// How long attempts under `state` are still refused at `now_ms`, if they are.
pub fn retry_after(state: FailureState, now_ms: i64) -> Option<Duration> {
    (state.locked_until_ms > now_ms).then(|| Duration::from_millis((state.locked_until_ms - now_ms).unsigned_abs()))
}

/// [`LimitStore::take`] applied to a key's stored row: the decision, and the row to store in its
/// place when the request is allowed (nothing changes when it is not).
pub fn apply_take(row: Option<LimitRow>, budget: Budget, now_ms: i64) -> (Decision, Option<LimitRow>) {
    let tat = row.and_then(|row| row.live(now_ms)).map(|row| row.until_ms);
    match gcra(tat, now_ms, budget) {
        Ok(tat) => (Decision::Allowed, Some(LimitRow { until_ms: tat, count: 0, expires_ms: tat })),
        Err(retry_after) => (Decision::Limited { retry_after }, None),
    }
}

/// The run of failures a key's stored row holds at `now_ms`.
pub fn failures_in(row: Option<LimitRow>, now_ms: i64) -> FailureState {
    row.and_then(|row| row.live(now_ms))
        .map(|row| FailureState { failures: row.count, locked_until_ms: row.until_ms })
        .unwrap_or_default()
}

/// [`LimitStore::record_failure`] applied to a key's stored row: the new state, and the row to
/// store in its place.
pub fn apply_failure(row: Option<LimitRow>, policy: &LockoutPolicy, now_ms: i64) -> (FailureState, LimitRow) {
    let (state, expires_ms) = next_failure(failures_in(row, now_ms), now_ms, policy);
    (state, LimitRow { until_ms: state.locked_until_ms, count: state.failures, expires_ms })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const T0: i64 = 1_700_000_000_000;

    fn budget(count: u32, period_ms: u64) -> Budget {
        Budget { count, period: Duration::from_millis(period_ms) }
    }

    fn policy() -> LockoutPolicy {
        LockoutPolicy {
            free: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(8),
            forget_after: Duration::from_secs(3600),
        }
    }

    /// Takes one request at each time in turn, keeping the arrival time as a store would.
    fn run(budget: Budget, times: &[i64]) -> Vec<Result<i64, Duration>> {
        let mut tat = None;
        times
            .iter()
            .map(|&now| {
                let answer = gcra(tat, now, budget);
                if let Ok(new) = answer {
                    tat = Some(new);
                }
                answer
            })
            .collect()
    }

    #[test]
    fn a_budget_lets_its_whole_count_through_at_once_and_then_waits_one_interval() {
        let answers = run(budget(5, 10_000), &[T0; 6]);

        assert!(answers[..5].iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(answers[5], Err(Duration::from_secs(2)), "one interval: 10 s over 5");
    }

    #[test]
    fn after_the_wait_one_more_request_passes_and_no_sooner() {
        let b = budget(5, 10_000);
        let full = run(b, &[T0; 5]).pop().unwrap().unwrap();

        assert_eq!(gcra(Some(full), T0 + 1_999, b), Err(Duration::from_millis(1)));
        let next = gcra(Some(full), T0 + 2_000, b).unwrap();
        assert_eq!(gcra(Some(next), T0 + 2_000, b), Err(Duration::from_secs(2)));
    }

    #[test]
    fn a_key_idle_for_a_whole_period_has_its_whole_budget_back() {
        let b = budget(3, 3_000);
        let answers = run(b, &[T0, T0, T0, T0 + 3_000, T0 + 3_000, T0 + 3_000, T0 + 3_000]);

        assert_eq!(answers.iter().filter(|a| a.is_ok()).count(), 6, "{answers:?}");
        assert_eq!(answers[3], Ok(T0 + 4_000), "the arrival time restarts from now");
    }

    #[test]
    fn the_new_arrival_time_is_when_the_key_may_be_forgotten() {
        let b = budget(2, 1_000);
        let tat = gcra(None, T0, b).unwrap();

        assert_eq!(tat, T0 + 500);
        assert_eq!(gcra(Some(tat), tat, b), gcra(None, tat, b), "at its arrival time a key is as good as new");
    }

    #[test]
    fn intervals_round_up_to_the_millisecond_so_the_budget_is_never_exceeded() {
        let b = budget(3, 1_000);

        assert_eq!(run(b, &[T0; 3]).pop().unwrap(), Ok(T0 + 1_002));
        assert_eq!(gcra(None, T0, budget(10, 5)), Ok(T0 + 1), "at least one millisecond");
    }

    #[test]
    fn a_budget_of_nothing_refuses_everything() {
        assert_eq!(gcra(None, T0, budget(0, 60_000)), Err(Duration::from_secs(60)));
        assert_eq!(gcra(None, T0, budget(0, 0)), Err(Duration::from_millis(1)));
    }

    #[test]
    fn free_failures_do_not_lock() {
        let mut state = FailureState::default();
        for n in 1..=3 {
            let (next, expires) = next_failure(state, T0, &policy());
            assert_eq!(next, FailureState { failures: n, locked_until_ms: 0 });
            assert_eq!(expires, T0 + 3_600_000);
            state = next;
        }
        assert_eq!(retry_after(state, T0), None);
    }

    #[test]
    fn each_failure_past_the_free_ones_doubles_the_delay_up_to_the_cap() {
        let mut state = FailureState { failures: 3, locked_until_ms: 0 };
        let mut delays = Vec::new();
        for _ in 0..6 {
            state = next_failure(state, T0, &policy()).0;
            delays.push(state.locked_until_ms - T0);
        }

        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
        assert_eq!(state.failures, 9);
        assert_eq!(retry_after(state, T0 + 7_500), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(state, T0 + 8_000), None);
    }

    #[test]
    fn a_run_is_kept_at_least_as_long_as_its_delay() {
        let short_memory = LockoutPolicy { forget_after: Duration::from_secs(2), ..policy() };
        let state = FailureState { failures: 6, locked_until_ms: 0 };

        let (next, expires) = next_failure(state, T0, &short_memory);

        assert_eq!(next.locked_until_ms, T0 + 8_000);
        assert_eq!(expires, T0 + 8_000);
    }

    #[test]
    fn endless_failures_neither_overflow_nor_exceed_the_cap() {
        let huge = LockoutPolicy { free: 0, base: Duration::MAX, max: Duration::MAX, forget_after: Duration::MAX };
        let state = FailureState { failures: u32::MAX - 1, locked_until_ms: 0 };

        let (next, expires) = next_failure(state, T0, &policy());
        assert_eq!((next.failures, next.locked_until_ms), (u32::MAX, T0 + 8_000));
        assert_eq!(next_failure(next, T0, &policy()).0.failures, u32::MAX);
        assert!(expires > T0);
        let (worst, expires) = next_failure(FailureState::default(), T0, &huge);
        assert_eq!((worst.locked_until_ms, expires), (i64::MAX, i64::MAX));
    }

    #[test]
    fn expired_rows_count_as_absent() {
        let b = budget(1, 1_000);
        let old = LimitRow { until_ms: T0 + 5_000, count: 7, expires_ms: T0 };

        assert_eq!(apply_take(Some(old), b, T0), apply_take(None, b, T0));
        assert_eq!(failures_in(Some(old), T0), FailureState::default());
        assert_eq!(apply_failure(Some(old), &policy(), T0).0.failures, 1, "a forgotten run starts again");
        assert_eq!(failures_in(Some(old), T0 - 1), FailureState { failures: 7, locked_until_ms: T0 + 5_000 });
    }

    #[test]
    fn a_limited_take_writes_nothing_and_an_allowed_one_writes_its_arrival_time() {
        let b = budget(1, 1_000);

        let (allowed, row) = apply_take(None, b, T0);
        let (limited, none) = apply_take(row, b, T0);

        assert_eq!(allowed, Decision::Allowed);
        assert_eq!(row, Some(LimitRow { until_ms: T0 + 1_000, count: 0, expires_ms: T0 + 1_000 }));
        assert_eq!(limited, Decision::Limited { retry_after: Duration::from_secs(1) });
        assert_eq!(none, None);
    }

    proptest! {
        #[test]
        fn no_more_than_the_burst_plus_the_rate_ever_passes(
            count in 1u32..50,
            period in 1u64..100_000,
            gaps in proptest::collection::vec(0i64..5_000, 1..300),
        ) {
            let b = budget(count, period);
            let times: Vec<i64> = gaps.iter().scan(T0, |t, gap| { *t += gap; Some(*t) }).collect();
            let allowed = run(b, &times).iter().filter(|a| a.is_ok()).count() as i64;
            let span = times.last().unwrap() - T0;
            let (interval, _) = cell(b).unwrap();
            prop_assert!(allowed <= i64::from(count) + span / interval);
        }

        #[test]
        fn the_retry_after_is_exactly_when_the_next_request_passes(
            count in 1u32..20,
            period in 1u64..100_000,
            extra in 1usize..5,
        ) {
            let b = budget(count, period);
            let mut tat = None;
            for _ in 0..count as usize + extra {
                if let Ok(new) = gcra(tat, T0, b) { tat = Some(new); }
            }
            let Err(wait) = gcra(tat, T0, b) else { panic!("the budget is spent") };
            let wait = i64::try_from(wait.as_millis()).unwrap();
            prop_assert!(gcra(tat, T0 + wait, b).is_ok());
            prop_assert!(wait == 1 || gcra(tat, T0 + wait - 1, b).is_err());
        }
    }
}
