//! A replica's memory of the sessions it checked lately (and of the account copies read with
//! them), so that a token presented again is checked without a round trip to Redis; and of the
//! API keys it checked lately, held under their owner (an account or an organization) and
//! forgotten with it, so that a key presented again costs no database read.
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
use crate::model::api_key::{FoundKey, KeyOwner};
use crate::sessions::{KeyMemory, LiveSession};
use crate::tokens::opaque::TokenHash;

/// How long after the send of its last applied read of the stream the memory still answers.
pub(super) const TRUST: Duration = Duration::from_secs(1);

/// The longest an entry answers, trusted or not: a bound on what a change that never reached
/// the stream (an operator deleting keys by hand) leaves standing.
pub(super) const MAX_AGE: Duration = Duration::from_secs(60);

/// What an entry is counted as beside its account copy's stored length: the session, the
/// maps' slots, the copy's parsed form.
const ENTRY_COST: usize = 512;

/// What a remembered key is counted as: the key and its owner's account.
const KEY_COST: usize = 2 * ENTRY_COST;

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
    /// The owner each remembered key is held under, by the key's hash.
    key_owners: HashMap<[u8; 32], Uuid>,
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
    /// The owner's API keys, by their hashes.
    keys: HashMap<[u8; 32], (FoundKey, Instant)>,
}

impl Held {
    fn bytes(&self) -> usize {
        self.copy.as_ref().map_or(0, |(_, bytes)| *bytes)
            + self.sessions.len() * ENTRY_COST
            + self.keys.len() * KEY_COST
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
        self.key_owners.clear();
        self.bytes = 0;
        self.generation += 1;
    }

    fn forget(&mut self, account_id: Uuid) {
        self.drop_held(account_id);
        self.generation += 1;
    }

    /// Removes what is held of `owner`, its keys' index entries with it.
    fn drop_held(&mut self, owner: Uuid) -> Option<Held> {
        let held = self.accounts.remove(&owner)?;
        self.bytes -= held.bytes();
        for hash in held.keys.keys() {
            self.key_owners.remove(hash);
        }
        Some(held)
    }

    /// Makes room for `bytes` more within `budget`, dropping whole accounts.
    fn make_room(&mut self, bytes: usize, budget: usize) {
        while self.bytes + bytes > budget {
            let Some(victim) = self.accounts.keys().next().copied() else { return };
            self.drop_held(victim);
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
        let mut held = state.drop_held(account_id).unwrap_or_default();
        if let Some((account, bytes)) = copy {
            held.copy = Some((account, bytes + ENTRY_COST));
        }
        held.sessions.insert(session.id, (session, Instant::now()));
        self.hold(&mut state, account_id, held);
    }

    /// Puts `held` back under `owner`, within the budget (making room), with its keys indexed.
    fn hold(&self, state: &mut State, owner: Uuid, held: Held) {
        let bytes = held.bytes();
        if bytes > self.budget {
            return;
        }
        state.make_room(bytes, self.budget);
        state.bytes += bytes;
        for hash in held.keys.keys() {
            state.key_owners.insert(*hash, owner);
        }
        state.accounts.insert(owner, held);
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

    /// The key of this hash, if held, trusted and not too old.
    fn get_key(&self, hash: &TokenHash) -> Option<FoundKey> {
        let state = self.state();
        let instant = Instant::now();
        if !state.trusted(instant) {
            return None;
        }
        let owner = state.key_owners.get(hash.as_bytes())?;
        let (found, stored) = state.accounts.get(owner)?.keys.get(hash.as_bytes())?;
        (instant.saturating_duration_since(*stored) < MAX_AGE).then(|| found.clone())
    }

    /// The bytes held, as counted here.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.state().bytes
    }
}

impl KeyMemory for Cache {
    fn ticket(&self) -> Option<u64> {
        Cache::ticket(self).map(|Ticket(generation)| generation)
    }

    fn key(&self, hash: &TokenHash) -> Option<FoundKey> {
        static OUTCOMES: std::sync::OnceLock<[metrics::Counter; 2]> = std::sync::OnceLock::new();
        let found = self.get_key(hash);
        let [hits, misses] = OUTCOMES.get_or_init(|| {
            let outcome = |value: &'static str| metrics::counter!(KEY_CHECKS, "outcome" => value);
            [outcome("hit"), outcome("miss")]
        });
        if found.is_some() { hits } else { misses }.increment(1);
        found
    }

    fn keep(&self, ticket: u64, hash: &TokenHash, found: &FoundKey) {
        let owner = match found.key.owner {
            KeyOwner::Account(id) | KeyOwner::Org(id) => id,
        };
        let mut state = self.state();
        if state.generation != ticket || !state.trusted(Instant::now()) || owner == Uuid::nil() {
            return;
        }
        let mut held = state.drop_held(owner).unwrap_or_default();
        held.keys.insert(*hash.as_bytes(), (found.clone(), Instant::now()));
        self.hold(&mut state, owner, held);
    }

    fn used(&self, hash: &TokenHash, at: DateTime<Utc>) {
        let mut state = self.state();
        let Some(owner) = state.key_owners.get(hash.as_bytes()).copied() else { return };
        if let Some((found, _)) = state.accounts.get_mut(&owner).and_then(|held| held.keys.get_mut(hash.as_bytes())) {
            found.key.last_used_at = Some(at);
        }
    }
}

/// The counter of API key checks a serving replica answered from memory (`outcome="hit"`) or
/// took to the database (`"miss"`).
const KEY_CHECKS: &str = "gatehouse_api_key_memory_checks_total";

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

    #[test]
    fn a_key_is_held_under_its_owner_and_forgotten_with_it() {
        use crate::model::api_key::ApiKey;
        let cache = trusted_cache(1 << 20);
        let owner = Uuid::now_v7();
        let found = FoundKey {
            key: ApiKey {
                id: Uuid::now_v7(),
                owner: KeyOwner::Account(owner),
                created_by: Some(owner),
                name: "deploy".into(),
                prefix: "gh_abc".into(),
                scopes: vec![],
                created_at: Utc::now(),
                expires_at: None,
                last_used_at: None,
            },
            owner_active: true,
            account: None,
        };
        let hash = TokenHash::of("gh_secret");
        let racing = KeyMemory::ticket(&cache).unwrap();
        cache.apply(Instant::now(), [Some(owner)], true); // the key is revoked meanwhile
        cache.keep(racing, &hash, &found);
        assert!(cache.key(&hash).is_none(), "read before the revocation's invalidation");
        cache.keep(KeyMemory::ticket(&cache).unwrap(), &hash, &found);
        assert_eq!(cache.key(&hash).map(|f| f.key.id), Some(found.key.id));
        let at = Utc::now();
        cache.used(&hash, at);
        assert_eq!(cache.key(&hash).unwrap().key.last_used_at, Some(at));
        cache.put(cache.ticket().unwrap(), session(owner), None); // the owner's session beside it
        cache.forget(owner);
        assert!(cache.key(&hash).is_none(), "forgotten with its owner");
        assert_eq!(cache.bytes(), 0);
        cache.keep(KeyMemory::ticket(&cache).unwrap(), &hash, &found);
        cache.distrust();
        assert!(cache.key(&hash).is_none(), "not answered untrusted");
    }
}
