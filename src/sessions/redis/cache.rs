//! A replica's memory of the sessions it checked lately (and of the account copies read with
//! them), so that a token presented again is checked without a round trip to Redis.
//!
//! It answers only while it is *trusted*: while this replica's reader of the invalidation
//! stream (`sync.rs`) has, less than [`TRUST`] ago, sent a read whose answer it has
//! applied in full. Every change that could make an entry wrong (a session ended or re-
//! authenticated, an account changed) is written to that stream in the same script that makes
//! it, and whoever makes it waits until every replica has applied it, or [`TRUST`] (and a
//! margin) has passed, before answering; so once a logout is answered, no replica answers from
//! an entry the logout ended. An entry put in place by a check that read Redis before an
//! invalidation arrived, but finished after it, is refused by the [`Ticket`] it was read with.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::account::Account;
use crate::sessions::LiveSession;

/// How long after the send of its last applied read of the stream the memory still answers.
pub(super) const TRUST: Duration = Duration::from_secs(1);

/// The longest an entry answers, trusted or not: a bound on what a change that never reached
/// the stream (an operator deleting keys by hand) leaves standing.
pub(super) const MAX_AGE: Duration = Duration::from_secs(60);

/// What an entry is counted as beside its account copy's stored length: the session, the
/// maps' slots, the copy's parsed form.
const ENTRY_COST: usize = 512;

/// The counter of session checks a serving replica answered from memory (`outcome="hit"`) or
/// took to Redis (`"miss"`).
const CHECKS: &str = "gatehouse_session_memory_checks_total";

/// Proof that the memory was trusted, and unchanged, when a check began: a check that read
/// Redis may keep what it read only if nothing was invalidated since.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ticket(u64);

#[derive(Debug)]
pub(super) struct Cache {
    budget: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    accounts: HashMap<Uuid, Held>,
    bytes: usize,
    /// Counts the invalidations applied and the times trust was lost.
    generation: u64,
    /// When the newest read of the stream applied in full was sent; `None` while not trusted.
    synced: Option<Instant>,
}

#[derive(Debug, Default)]
struct Held {
    /// The account copy, if one was read, with the bytes it is counted as.
    copy: Option<(Account, usize)>,
    sessions: HashMap<Uuid, (LiveSession, Instant)>,
}

impl Held {
    fn bytes(&self) -> usize {
        self.copy.as_ref().map_or(0, |(_, bytes)| *bytes) + self.sessions.len() * ENTRY_COST
    }
}

/// A hit: the session, and the account's copy when one is held.
pub(super) type Hit = (LiveSession, Option<Account>);

impl State {
    fn trusted(&self, now: Instant) -> bool {
        self.synced.is_some_and(|synced| now.saturating_duration_since(synced) < TRUST)
    }

    fn clear(&mut self) {
        self.accounts.clear();
        self.bytes = 0;
        self.generation += 1;
    }

    fn forget(&mut self, account_id: Uuid) {
        if let Some(held) = self.accounts.remove(&account_id) {
            self.bytes -= held.bytes();
        }
        self.generation += 1;
    }

    /// Makes room for `bytes` more within `budget`, dropping whole accounts.
    fn make_room(&mut self, bytes: usize, budget: usize) {
        while self.bytes + bytes > budget {
            let Some(victim) = self.accounts.keys().next().copied() else { return };
            let held = self.accounts.remove(&victim).expect("listed");
            self.bytes -= held.bytes();
        }
    }
}

impl Cache {
    /// A memory of at most `budget` bytes (as counted here).
    pub(super) fn new(budget: usize) -> Self {
        Self { budget, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves nothing half-done that a reader could trust
        // wrongly: every change is a removal or a whole insertion.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The ticket for a check about to read Redis, or `None` when what it reads may not be kept.
    pub(super) fn ticket(&self) -> Option<Ticket> {
        let state = self.state();
        state.trusted(Instant::now()).then_some(Ticket(state.generation))
    }

    /// Session `session_id` of `account_id`, if held, trusted, live at `now` and not too old.
    pub(super) fn get(&self, session_id: Uuid, account_id: Uuid, now: DateTime<Utc>) -> Option<Hit> {
        let state = self.state();
        let instant = Instant::now();
        if !state.trusted(instant) {
            return None;
        }
        let held = state.accounts.get(&account_id)?;
        let (session, stored) = held.sessions.get(&session_id)?;
        let fresh = instant.saturating_duration_since(*stored) < MAX_AGE;
        (fresh && session.expires_at > now && session.account_id == account_id)
            .then(|| (session.clone(), held.copy.as_ref().map(|(account, _)| account.clone())))
    }

    /// [`Self::get`], counted as a hit or a miss; with `with_copy`, a session held without
    /// the account's copy is a miss.
    pub(super) fn lookup(
        &self,
        session_id: Uuid,
        account_id: Uuid,
        now: DateTime<Utc>,
        with_copy: bool,
    ) -> Option<Hit> {
        static OUTCOMES: std::sync::OnceLock<[metrics::Counter; 2]> = std::sync::OnceLock::new();
        let hit = self.get(session_id, account_id, now).filter(|(_, copy)| copy.is_some() || !with_copy);
        let [hits, misses] = OUTCOMES.get_or_init(|| {
            let outcome = |value: &'static str| metrics::counter!(CHECKS, "outcome" => value);
            [outcome("hit"), outcome("miss")]
        });
        if hit.is_some() { hits } else { misses }.increment(1);
        hit
    }

    /// Keeps what a check read (the session, and the account copy with its stored length),
    /// unless something was invalidated since its `ticket` was taken.
    pub(super) fn put(&self, ticket: Ticket, session: LiveSession, copy: Option<(Account, usize)>) {
        let mut state = self.state();
        if state.generation != ticket.0 || !state.trusted(Instant::now()) || session.account_id == Uuid::nil() {
            return;
        }
        let account_id = session.account_id;
        let before = state.accounts.get(&account_id).map_or(0, Held::bytes);
        let mut held = state.accounts.remove(&account_id).unwrap_or_default();
        state.bytes -= before;
        if let Some((account, bytes)) = copy {
            held.copy = Some((account, bytes + ENTRY_COST));
        }
        held.sessions.insert(session.id, (session, Instant::now()));
        let bytes = held.bytes();
        if bytes > self.budget {
            return;
        }
        state.make_room(bytes, self.budget);
        state.bytes += bytes;
        state.accounts.insert(account_id, held);
    }

    /// Records that the session was marked used at `at`, so that the mark is not made again
    /// on every request.
    pub(super) fn touched(&self, session_id: Uuid, at: DateTime<Utc>) {
        let mut state = self.state();
        for held in state.accounts.values_mut() {
            if let Some((session, _)) = held.sessions.get_mut(&session_id) {
                session.last_used_at = at;
                return;
            }
        }
    }

    /// Drops everything held of `account_id`: a change to it or its sessions was made.
    pub(super) fn forget(&self, account_id: Uuid) {
        self.state().forget(account_id);
    }

    /// Applies a read of the stream sent at `sent`: forgets the `accounts` it names (an entry
    /// that names none readably: everything) and, when the read came back with all there was
    /// (`caught_up`), is trusted until [`TRUST`] after `sent`. If trust had lapsed, whatever
    /// changed meanwhile may be lost to this reader, so everything is dropped first.
    pub(super) fn apply(&self, sent: Instant, accounts: impl IntoIterator<Item = Option<Uuid>>, caught_up: bool) {
        let mut state = self.state();
        if !state.trusted(Instant::now()) {
            state.clear();
        }
        for account in accounts {
            match account {
                Some(account_id) => state.forget(account_id),
                None => state.clear(),
            }
        }
        if caught_up {
            state.synced = Some(sent);
        }
    }

    /// Stops answering and drops everything: the stream cannot be read.
    pub(super) fn distrust(&self) {
        let mut state = self.state();
        state.synced = None;
        state.clear();
    }

    /// The bytes held, as counted here.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.state().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::SessionAuth;

    fn session(account_id: Uuid) -> LiveSession {
        let now = Utc::now();
        LiveSession {
            id: Uuid::now_v7(),
            account_id,
            expires_at: now + chrono::Duration::hours(1),
            last_used_at: now,
            auth: SessionAuth::password(now),
        }
    }

    fn trusted_cache(budget: usize) -> Cache {
        let cache = Cache::new(budget);
        cache.apply(Instant::now(), [], true);
        cache
    }

    #[test]
    fn nothing_is_kept_or_answered_before_the_stream_was_read() {
        let cache = Cache::new(1 << 20);
        assert!(cache.ticket().is_none());
        cache.apply(Instant::now(), [], false);
        assert!(cache.ticket().is_none(), "a read that did not catch up proves nothing");
        cache.apply(Instant::now(), [], true);
        let ticket = cache.ticket().expect("trusted after a full read");
        let held = session(Uuid::now_v7());
        cache.put(ticket, held.clone(), None);
        assert_eq!(cache.get(held.id, held.account_id, Utc::now()), Some((held.clone(), None)));
        assert_eq!(cache.get(held.id, Uuid::now_v7(), Utc::now()), None, "another account's token");
    }

    #[test]
    fn an_invalidation_drops_the_account_and_refuses_what_a_check_read_before_it() {
        let cache = trusted_cache(1 << 20);
        let account_id = Uuid::now_v7();
        let (first, second) = (session(account_id), session(account_id));
        cache.put(cache.ticket().unwrap(), first.clone(), None);
        let racing = cache.ticket().unwrap(); // a check reads Redis …
        cache.apply(Instant::now(), [Some(account_id)], true); // … the logout's invalidation arrives …
        cache.put(racing, second.clone(), None); // … and the check finishes
        assert_eq!(cache.get(first.id, account_id, Utc::now()), None);
        assert_eq!(cache.get(second.id, account_id, Utc::now()), None, "read before the invalidation");
        cache.put(cache.ticket().unwrap(), second.clone(), None);
        assert!(cache.get(second.id, account_id, Utc::now()).is_some(), "read after it");
    }

    #[test]
    fn trust_lapses_without_fresh_reads_and_a_lapse_drops_everything() {
        let cache = Cache::new(1 << 20);
        let long_ago = Instant::now().checked_sub(TRUST + Duration::from_millis(10)).unwrap();
        cache.apply(long_ago, [], true);
        assert!(cache.ticket().is_none(), "the last read was sent more than TRUST ago");

        let cache = trusted_cache(1 << 20);
        let held = session(Uuid::now_v7());
        cache.put(cache.ticket().unwrap(), held.clone(), None);
        cache.distrust();
        assert_eq!(cache.get(held.id, held.account_id, Utc::now()), None);
        cache.apply(Instant::now(), [], true);
        assert_eq!(cache.get(held.id, held.account_id, Utc::now()), None, "dropped, not merely hidden");
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn an_expired_session_is_not_answered() {
        let cache = trusted_cache(1 << 20);
        let held = session(Uuid::now_v7());
        cache.put(cache.ticket().unwrap(), held.clone(), None);
        assert_eq!(cache.get(held.id, held.account_id, held.expires_at), None);
    }

    #[test]
    fn the_budget_bounds_what_is_held_and_touches_are_remembered() {
        let cache = trusted_cache(4 * ENTRY_COST);
        let sessions: Vec<LiveSession> = (0..10).map(|_| session(Uuid::now_v7())).collect();
        for held in &sessions {
            cache.put(cache.ticket().unwrap(), held.clone(), None);
            assert!(cache.bytes() <= 4 * ENTRY_COST);
        }
        let answered = sessions.iter().filter(|s| cache.get(s.id, s.account_id, Utc::now()).is_some()).count();
        assert_eq!(answered, 4);
        let last = sessions.last().unwrap();
        let later = Utc::now() + chrono::Duration::minutes(5);
        cache.touched(last.id, later);
        assert_eq!(cache.get(last.id, last.account_id, Utc::now()).unwrap().0.last_used_at, later);
        cache.forget(last.account_id);
        assert_eq!(cache.bytes(), 3 * ENTRY_COST);
    }
}
