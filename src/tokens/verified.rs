//! Remembered verifications: the access tokens whose signature this process has already
//! checked, so that a token presented again skips the Ed25519 check (about 80 µs, more than
//! the rest of a token-checked request) and costs one SHA-256 and a map look-up instead.
//! gatehouse's own access tokens have one memory, client apps' access tokens (checked at a
//! protected resource's door) another: each remembers its own kind of claims.
//!
//! Only what the signature proves is remembered: that these exact bytes were signed by the
//! key named `kid`, with these claims. Everything that can change is still checked on every
//! request: the expiry against the clock, that the key still verifies (a retired key refuses
//! even remembered tokens), and — by the caller — the live session, which is what makes
//! logout, password change and disabling act on the very next request.
//!
//! The key is the SHA-256 of the whole token, so a token differing in any byte misses, and the
//! map holds no bearer token an inspection of memory could replay. The map is bounded: when it
//! is full, expired entries go, and if that frees too little, everything goes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::jwt::{AccessClaims, KeyRing, MAX_TOKEN_LEN, TokenError};

/// How many tokens a process remembers by default: a few hundred kilobytes at most.
pub const DEFAULT_CAPACITY: usize = 4096;
/// Longer tokens (much `app_data`) are verified in full every time, so that the memory stays
/// within [`DEFAULT_CAPACITY`] times a small entry.
const REMEMBERED_TOKEN_LEN: usize = 2048;

/// Claims that say when their token expires (`exp`, seconds since the epoch).
pub trait Expiring {
    fn expires_at(&self) -> i64;
}

impl Expiring for AccessClaims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

struct Entry<C> {
    kid: String,
    claims: Arc<C>,
}

/// A bounded map from token digest to verified claims; cheap to share behind an `Arc`.
pub struct VerifiedTokens<C = AccessClaims> {
    entries: Mutex<HashMap<[u8; 32], Entry<C>>>,
    capacity: usize,
}

impl<C: Expiring> std::fmt::Debug for VerifiedTokens<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens").field("len", &self.len()).field("capacity", &self.capacity).finish()
    }
}

impl<C: Expiring> Default for VerifiedTokens<C> {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl VerifiedTokens<AccessClaims> {
    /// Verifies gatehouse's access token `token` with `ring` as of `now` (seconds since the
    /// epoch): from memory when these exact bytes were verified before by a key the ring still
    /// knows, else in full (and remembered when valid). Expiry is always checked against `now`.
    pub fn verify(&self, ring: &KeyRing, token: &str, now: i64) -> Result<Arc<AccessClaims>, TokenError> {
        self.verify_with(ring, token, now, || ring.verify(token))
    }
}

impl<C: Expiring> VerifiedTokens<C> {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self { entries: Mutex::new(HashMap::with_capacity(capacity.min(1024))), capacity }
    }

    /// Tokens remembered now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Verifies `token` with `ring` as of `now`: from memory when these exact bytes were
    /// verified before by a key the ring still knows, else in full by `full` (and remembered
    /// when valid). Expiry is always checked against `now`.
    pub fn verify_with(
        &self,
        ring: &KeyRing,
        token: &str,
        now: i64,
        full: impl FnOnce() -> Result<C, TokenError>,
    ) -> Result<Arc<C>, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(claims) = self.recall(ring, &digest, now)? {
            return Ok(claims);
        }
        let claims = Arc::new(full()?);
        // The signature checked out, so the header names a key the ring knows.
        if token.len() > REMEMBERED_TOKEN_LEN {
            return Ok(claims);
        }
        if let Some(kid) = jsonwebtoken::decode_header(token).ok().and_then(|header| header.kid) {
            self.remember(digest, Entry { kid, claims: claims.clone() }, now);
        }
        Ok(claims)
    }

    /// A remembered verification still good at `now`; `Ok(None)` means verify in full.
    fn recall(&self, ring: &KeyRing, digest: &[u8; 32], now: i64) -> Result<Option<Arc<C>>, TokenError> {
        let mut entries = self.lock();
        let Some(entry) = entries.get(digest) else {
            return Ok(None);
        };
        if !ring.knows(&entry.kid) {
            // The key was retired: forget, and let the full check refuse (or reload the ring).
            entries.remove(digest);
            return Ok(None);
        }
        // The same rule as the full check (no leeway): expired once `exp` is in the past.
        if entry.claims.expires_at() < now {
            entries.remove(digest);
            return Err(TokenError::Expired);
        }
        Ok(Some(entry.claims.clone()))
    }

    fn remember(&self, digest: [u8; 32], entry: Entry<C>, now: i64) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&digest) {
            entries.retain(|_, e| e.claims.expires_at() >= now);
            // Freeing less than a quarter would make the next inserts scan again: start afresh.
            if entries.len() > self.capacity - self.capacity / 4 {
                entries.clear();
            }
        }
        entries.insert(digest, entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry<C>>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::tokens::jwt::{Issuing, SigningKey};

    const ISSUER: &str = "https://auth.example.com";

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            iss: ISSUER.into(),
            sub: Uuid::now_v7(),
            aud: ISSUER.into(),
            sid: Uuid::now_v7(),
            iat: exp - 900,
            exp,
            jti: Uuid::now_v7(),
            email: "ann@example.com".into(),
            role: "user".into(),
            app_data: serde_json::Map::new(),
            amr: vec!["pwd".into()],
            aal: 1,
            org: None,
            act: None,
        }
    }

    fn ring_with(keys: Vec<SigningKey>) -> KeyRing {
        KeyRing::new(ISSUER, keys).unwrap()
    }

    #[test]
    fn a_token_verified_once_is_recalled_with_the_same_claims() {
        let ring = ring_with(vec![SigningKey::generate(Utc::now()).unwrap()]);
        let now = Utc::now().timestamp();
        let expected = claims(now + 60);
        let token = ring.sign(&expected).unwrap();
        let memory = VerifiedTokens::new(8);
        assert!(memory.is_empty());
        assert_eq!(*memory.verify(&ring, &token, now).unwrap(), expected);
        assert_eq!(memory.len(), 1, "a valid token is remembered");
        assert_eq!(*memory.verify(&ring, &token, now).unwrap(), expected, "and recalled");
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let ring = ring_with(vec![SigningKey::generate(Utc::now()).unwrap()]);
        let now = Utc::now().timestamp();
        let token = ring.sign(&claims(now + 60)).unwrap();
        let memory = VerifiedTokens::new(8);
        memory.verify(&ring, &token, now).unwrap();
        assert!(memory.verify(&ring, &token, now + 60).is_ok(), "valid up to its exp second");
        assert_eq!(memory.verify(&ring, &token, now + 61).unwrap_err(), TokenError::Expired);
        assert!(memory.is_empty(), "an expired token is forgotten");
    }

    #[test]
    fn a_token_differing_in_any_byte_is_not_recalled() {
        let ring = ring_with(vec![SigningKey::generate(Utc::now()).unwrap()]);
        let now = Utc::now().timestamp();
        let token = ring.sign(&claims(now + 60)).unwrap();
        let memory = VerifiedTokens::new(8);
        memory.verify(&ring, &token, now).unwrap();
        for at in [0, token.len() / 2, token.len() - 1] {
            let mut bytes = token.clone().into_bytes();
            bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert!(memory.verify(&ring, &altered, now).is_err(), "byte {at} changed");
        }
        assert!(memory.verify(&ring, &format!("{token}A"), now).is_err(), "a byte appended");
        assert!(memory.verify(&ring, &token[..token.len() - 1], now).is_err(), "a byte cut");
        assert_eq!(memory.len(), 1, "only the genuine token is remembered");
    }

    #[test]
    fn refused_tokens_are_not_remembered() {
        let ring = ring_with(vec![SigningKey::generate(Utc::now()).unwrap()]);
        let other = ring_with(vec![SigningKey::generate(Utc::now()).unwrap()]);
        let now = Utc::now().timestamp();
        let memory = VerifiedTokens::new(8);
        let foreign = other.sign(&claims(now + 60)).unwrap();
        assert_eq!(memory.verify(&ring, &foreign, now).unwrap_err(), TokenError::UnknownKey);
        let expired = ring.sign(&claims(now - 1)).unwrap();
        assert_eq!(memory.verify(&ring, &expired, now).unwrap_err(), TokenError::Expired);
        assert_eq!(memory.verify(&ring, &"a".repeat(MAX_TOKEN_LEN + 1), now).unwrap_err(), TokenError::Malformed);
        assert!(memory.is_empty());
    }

    #[test]
    fn the_memory_never_outgrows_its_capacity() {
        let ring = ring_with(vec![SigningKey::generate(Utc::now()).unwrap()]);
        let now = Utc::now().timestamp();
        let memory = VerifiedTokens::new(4);
        let tokens: Vec<String> = (0..10).map(|_| ring.sign(&claims(now + 60)).unwrap()).collect();
        for token in &tokens {
            memory.verify(&ring, token, now).unwrap();
            assert!(memory.len() <= 4, "{} remembered", memory.len());
        }
        // Forgotten tokens still verify, in full.
        for token in &tokens {
            assert!(memory.verify(&ring, token, now).is_ok());
        }
    }

    #[test]
    fn a_token_of_a_retired_key_is_refused_even_when_remembered() {
        let start = Utc::now() - chrono::Duration::days(1);
        let old = SigningKey::generate(start).unwrap();
        let new = SigningKey::generate(start + chrono::Duration::hours(1)).unwrap();
        let issuing = Issuing { token_ttl: Some(std::time::Duration::from_secs(900)), ..Issuing::new(ISSUER) };
        let first = KeyRing::at(&issuing, vec![old.clone()], new.created_at).unwrap();
        let now = Utc::now().timestamp();
        let token = first.sign(&claims(now + 60)).unwrap();
        let memory = VerifiedTokens::new(8);
        memory.verify(&first, &token, now).unwrap();
        // Much later, the old key has retired from the ring.
        let later = KeyRing::at(&issuing, vec![old, new], Utc::now()).unwrap();
        assert_eq!(memory.verify(&later, &token, now).unwrap_err(), TokenError::UnknownKey);
        assert!(memory.is_empty(), "the entry of a retired key is forgotten");
    }
}
