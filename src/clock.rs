//! The time the account rules go by: the system's, unless a test moved it on. The server never
//! moves it; the API tests do, so that a lockout's doubling delay, a refresh token's grace
//! period or the step-up window can be passed in a moment rather than waited out. Everything
//! the rules compare with it (a lockout's end, a session's proof of a factor, a link's expiry)
//! was itself written from it, so moving it on is as if that much time had passed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A clock: the system's time plus how far it was moved on (shared by its clones).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self::default()
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Milliseconds since the epoch, as the rate limits count.
    pub fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Moves the clock (and its clones) on by `by`.
    pub fn advance(&self, by: Duration) {
        self.ahead_ms.fetch_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_moved_on_is_ahead_of_the_system_by_that_much_in_every_clone() {
        let clock = Clock::system();
        let clone = clock.clone();
        clock.advance(Duration::from_secs(3600));
        let ahead = clone.now() - Utc::now();
        assert!(ahead >= chrono::Duration::seconds(3599) && ahead <= chrono::Duration::seconds(3600), "{ahead}");
        assert!(Clock::system().now() - Utc::now() < chrono::Duration::seconds(1), "a new clock is the system's");
    }
}
