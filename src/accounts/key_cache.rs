//! The key ring this replica signs and verifies with, swapped whole when the keys are reloaded.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::tokens::jwt::KeyRing;

/// How often a replica re-reads the keys; shorter than the publish delay.
pub const RELOAD_EVERY: Duration = Duration::from_secs(30);
/// A token naming an unknown key triggers a reload at most this often.
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(5);

/// The current key ring, swapped whole on reload.
#[derive(Debug, Clone)]
pub struct Keys {
    ring: Arc<RwLock<Arc<KeyRing>>>,
    last_reload: Arc<Mutex<Option<Instant>>>,
    /// Held while the ID-token key is made, so that one request makes it.
    pub(super) making_id_key: Arc<tokio::sync::Mutex<()>>,
}

impl Keys {
    pub fn new(ring: Arc<KeyRing>) -> Self {
        Self {
            ring: Arc::new(RwLock::new(ring)),
            last_reload: Arc::new(Mutex::new(None)),
            making_id_key: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(super) fn replace(&self, ring: KeyRing) {
        *self.ring.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
    }

    /// Whether an unknown-key reload may run now (and records that it does).
    pub(super) fn may_reload_for_unknown_kid(&self) -> bool {
        let mut last = self.last_reload.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_RELOAD) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

/// A signing key as an operator sees it (never the private half).
pub use crate::model::token::KeyInfo;
