//! Politeness towards the domains emails go to: an optional rate per recipient domain
//! (`GATEHOUSE_SMTP_DOMAIN_RATE`), since real relays throttle, and a pause after a `4xx` answer
//! that doubles while the domain keeps answering so (1 s up to 5 min) and ends with its next
//! accepted message. An email that may not go yet is put back, its attempt not counted: to the
//! place the rate books for it, so that a backlog to one domain is spread over the schedule
//! instead of being claimed and put back again every moment.
//!
//! Kept in this replica's memory: across replicas the rate is per replica.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::limits::Budget;

/// The first pause after a `4xx`; each further one doubles it.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(5 * 60);
/// Past this many domains remembered, the ones with nothing pending are forgotten.
const REMEMBERED: usize = 10_000;

#[derive(Debug, Default)]
struct Domain {
    /// When the next message may start (the rate's schedule).
    next: Option<Instant>,
    /// Paused after a `4xx` until then.
    paused_until: Option<Instant>,
    /// The pause the next `4xx` brings.
    pause: Duration,
}

#[derive(Debug, Default)]
struct State {
    domains: HashMap<String, Domain>,
    /// The places the rate booked for emails it put back, by email: an email that comes back at
    /// its place goes without booking another.
    booked: HashMap<Uuid, Instant>,
}

#[derive(Debug, Default)]
pub(super) struct DomainPace {
    /// The time between two messages to one domain, when a rate is set.
    interval: Option<Duration>,
    /// How many messages may start back to back before the rate spaces them.
    burst: u32,
    state: Mutex<State>,
}

impl DomainPace {
    pub(super) fn new(rate: Option<Budget>) -> Self {
        let interval = rate.map(|budget| budget.period / budget.count.max(1));
        Self { interval, burst: rate.map_or(1, |budget| budget.count.max(1)), state: Mutex::default() }
    }

    /// Takes a place for the email `id` to `domain` now, or answers how long it must wait: a
    /// pause, or the place the rate booked for it.
    pub(super) fn reserve(&self, domain: &str, id: Uuid) -> Result<(), Duration> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.domains.len() >= REMEMBERED {
            let live = |at: &Option<Instant>| at.is_some_and(|at| at > now);
            state.domains.retain(|_, d| live(&d.paused_until) || live(&d.next));
        }
        if state.booked.len() >= REMEMBERED {
            // Places long past: their emails went elsewhere (another replica claimed them).
            state.booked.retain(|_, at| *at + Duration::from_secs(60) > now);
        }
        let booked = state.booked.remove(&id);
        let domain = state.domains.entry(domain.to_owned()).or_default();
        if let Some(until) = domain.paused_until.filter(|until| *until > now) {
            return Err(until - now);
        }
        let Some(interval) = self.interval else { return Ok(()) };
        if let Some(at) = booked {
            if at <= now {
                return Ok(());
            }
            state.booked.insert(id, at);
            return Err(at - now);
        }
        // A virtual schedule: each message moves it on by one interval, and up to a burst of
        // them may run ahead of now; a message past the burst books the place it is given.
        let next = domain.next.map_or(now, |next| next.max(now));
        domain.next = Some(next + interval);
        let ahead = next - now;
        if ahead < interval * self.burst {
            return Ok(());
        }
        let at = now + (ahead - interval * (self.burst - 1));
        state.booked.insert(id, at);
        Err(at - now)
    }

    /// The domain's server answered `4xx`: pause it, longer each time in a row.
    pub(super) fn busy(&self, domain: &str) -> Duration {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = state.domains.entry(domain.to_owned()).or_default();
        let pause = if state.pause.is_zero() { FIRST_PAUSE } else { (state.pause * 2).min(LONGEST_PAUSE) };
        state.pause = pause;
        state.paused_until = Some(now + pause);
        pause
    }

    /// A message to the domain was accepted: its pauses start afresh.
    pub(super) fn accepted(&self, domain: &str) {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(state) = state.domains.get_mut(domain) {
            state.pause = Duration::ZERO;
            state.paused_until = None;
        }
    }
}

/// The domain of an address, in lower case (`ann@Example.COM` → `example.com`).
pub(super) fn domain_of(address: &str) -> String {
    address.rsplit_once('@').map_or(address, |(_, domain)| domain).trim_end_matches('>').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_rate_spaces_messages_to_one_domain_after_its_burst_each_at_its_booked_place() {
        let pace = DomainPace::new(Some(Budget { count: 2, period: Duration::from_secs(1) }));
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        assert_eq!(pace.reserve("example.com", ids[0]), Ok(()));
        assert_eq!(pace.reserve("example.com", ids[1]), Ok(()));
        assert_eq!(pace.reserve("example.com", ids[2]), Err(Duration::from_millis(500)), "the third waits");
        assert_eq!(pace.reserve("example.com", ids[3]), Err(Duration::from_millis(1000)), "the fourth after it");
        assert_eq!(pace.reserve("example.org", ids[4]), Ok(()), "another domain has its own");
        assert_eq!(pace.reserve("example.com", ids[2]), Err(Duration::from_millis(500)), "back early: its place holds");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(pace.reserve("example.com", ids[2]), Ok(()), "at its place it goes without booking again");
        assert_eq!(pace.reserve("example.com", ids[3]), Err(Duration::from_millis(500)));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(pace.reserve("example.com", ids[3]), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_4xx_pauses_the_domain_longer_each_time_until_a_message_is_accepted() {
        let pace = DomainPace::new(None);
        let id = Uuid::now_v7;
        assert_eq!(pace.reserve("example.com", id()), Ok(()), "no rate: anything goes");
        assert_eq!(pace.busy("example.com"), Duration::from_secs(1));
        assert_eq!(pace.reserve("example.com", id()), Err(Duration::from_secs(1)));
        assert_eq!(pace.reserve("example.org", id()), Ok(()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(pace.reserve("example.com", id()), Ok(()));
        assert_eq!(pace.busy("example.com"), Duration::from_secs(2), "doubled");
        pace.accepted("example.com");
        assert_eq!(pace.reserve("example.com", id()), Ok(()));
        assert_eq!(pace.busy("example.com"), Duration::from_secs(1), "afresh after an accepted message");
    }

    #[test]
    fn the_domain_of_an_address_is_its_lower_cased_last_part() {
        assert_eq!(domain_of("Ann@Example.COM"), "example.com");
        assert_eq!(domain_of("\"a@b\"@mail.example"), "mail.example");
    }
}
