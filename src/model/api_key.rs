//! API keys: long-lived bearer secrets (`gh_` and 43 base62 characters, 256 random bits) for
//! scripts and agents, owned by an account or by an organization, kept as their SHA-256 only.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::token::TokenHash;

/// What every key starts with, so that a key is told from a JWT at a glance (and by scanners).
pub const KEY_PREFIX: &str = "gh_";
/// The random characters after the prefix: 43 of base62 hold 256 bits.
pub const KEY_CHARS: usize = 43;
/// How much of the key lists show (the prefix and 8 characters).
pub const SHOWN_CHARS: usize = KEY_PREFIX.len() + 8;
/// The most keys one account or one organization holds.
pub const MAX_KEYS: usize = 50;
/// The most scopes a key carries, and the longest one.
pub const MAX_SCOPES: usize = 32;
pub const MAX_SCOPE_LEN: usize = 64;

/// Who a key acts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOwner {
    Account(Uuid),
    Org(Uuid),
}

/// A key as kept and listed (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub id: Uuid,
    pub owner: KeyOwner,
    /// Who made it (for an organization's key, the member who did).
    pub created_by: Option<Uuid>,
    pub name: String,
    /// The start of the secret, for people to tell their keys apart.
    pub prefix: String,
    /// What apps are told the key may do (introspection, forward-auth).
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKey {
    /// Whether it still opens anything at `now`.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// A key found by its secret, with whether its owning account (for an account's key) is
/// active: a disabled owner's keys open nothing; and the account itself, where the store read
/// it in the same lookup.
#[derive(Clone, Debug)]
pub struct FoundKey {
    pub key: ApiKey,
    pub owner_active: bool,
    pub account: Option<super::account::Account>,
}

/// A new key and the hash it is found by.
#[derive(Debug)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub hash: TokenHash,
}

/// A scope as a key carries it: 1 to 64 of letters, digits and `:._-/`, like OAuth scopes.
pub fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope.len() <= MAX_SCOPE_LEN
        && scope.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_a_short_word_of_safe_characters() {
        for good in ["read", "reports:read", "api.example/v1", "a_b-c"] {
            assert!(valid_scope(good), "{good}");
        }
        let long = "x".repeat(MAX_SCOPE_LEN + 1);
        for bad in ["", "two words", "quote\"", "ünïcode", long.as_str()] {
            assert!(!valid_scope(bad), "{bad}");
        }
    }
}
