//! Sealing: authenticated encryption of the few secrets gatehouse must read back (TOTP seeds),
//! with ChaCha20-Poly1305 from `ring`. A sealed value is `1 | key id (8) | nonce (12) |
//! ciphertext and tag`; the key id says which key sealed it, so a configured key can replace
//! the generated one while values sealed before stay readable. The associated data binds a
//! sealed value to its place (the account it belongs to): moved to another row, it no longer
//! opens.

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 12;
/// The length of a sealing key.
pub const KEY_LEN: usize = 32;

/// Why a sealed value did not open.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the key that sealed this value is not configured (was GATEHOUSE_ENCRYPTION_KEY changed?)")]
    UnknownKey,
    #[error("the sealed value does not open with its key: it was altered or moved")]
    Tampered,
}

/// One key: its id (a digest of the key, never the key) and the AEAD key.
struct SealingKey {
    id: [u8; KEY_ID_LEN],
    key: LessSafeKey,
}

impl SealingKey {
    fn new(secret: &[u8; KEY_LEN]) -> Self {
        let digest = Sha256::new().chain_update(b"gatehouse sealing key id\0").chain_update(secret).finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        let key = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, secret).expect("a 32-byte ChaCha20 key"));
        Self { id, key }
    }
}

/// The keys that seal and open: the first seals, all open.
pub struct Sealer {
    keys: Vec<SealingKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl Sealer {
    /// `sealing` seals from now on; `others` only open what they sealed before.
    pub fn new(sealing: &[u8; KEY_LEN], others: &[[u8; KEY_LEN]]) -> Self {
        let mut keys = vec![SealingKey::new(sealing)];
        keys.extend(others.iter().map(SealingKey::new).filter(|k| k.id != keys[0].id).collect::<Vec<_>>());
        Self { keys, random: SystemRandom::new() }
    }

    /// A new random key.
    pub fn generate_key() -> Zeroizing<[u8; KEY_LEN]> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        SystemRandom::new().fill(key.as_mut()).expect("the system's random source");
        key
    }

    pub fn seal(&self, plaintext: &[u8], place: &[u8]) -> Vec<u8> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).expect("the system's random source");
        let mut sealed = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + plaintext.len() + 16);
        sealed.push(VERSION);
        sealed.extend_from_slice(&key.id);
        sealed.extend_from_slice(&nonce);
        let mut body = plaintext.to_vec();
        key.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(place), &mut body)
            .expect("sealing a short value");
        sealed.extend_from_slice(&body);
        sealed
    }

    pub fn open(&self, sealed: &[u8], place: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let header = 1 + KEY_ID_LEN + NONCE_LEN;
        if sealed.len() < header + 16 || sealed[0] != VERSION {
            return Err(SealError::Malformed);
        }
        let id = &sealed[1..1 + KEY_ID_LEN];
        let key = self.keys.iter().find(|k| k.id == id).ok_or(SealError::UnknownKey)?;
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed[1 + KEY_ID_LEN..header]).map_err(|_| SealError::Malformed)?;
        let mut body = Zeroizing::new(sealed[header..].to_vec());
        let opened = key.key.open_in_place(nonce, Aad::from(place), &mut body).map_err(|_| SealError::Tampered)?;
        Ok(Zeroizing::new(opened.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_with_its_key_and_place_only() {
        let key = Sealer::generate_key();
        let sealer = Sealer::new(&key, &[]);
        let sealed = sealer.seal(b"JBSWY3DPEHPK3PXP", b"account-a");
        assert!(!sealed.windows(16).any(|w| w == b"JBSWY3DPEHPK3PXP"), "the plaintext is not in the sealed value");
        assert_eq!(sealer.open(&sealed, b"account-a").unwrap().as_slice(), b"JBSWY3DPEHPK3PXP");
        assert_eq!(sealer.open(&sealed, b"account-b"), Err(SealError::Tampered));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(sealer.open(&altered, b"account-a"), Err(SealError::Tampered));
        assert_eq!(sealer.open(&sealed[..10], b"account-a"), Err(SealError::Malformed));
        assert_ne!(sealer.seal(b"x", b"p"), sealer.seal(b"x", b"p"), "each sealing has its own nonce");
    }

    #[test]
    fn a_new_key_seals_while_the_old_one_still_opens() {
        let (old, new) = (Sealer::generate_key(), Sealer::generate_key());
        let before = Sealer::new(&old, &[]).seal(b"seed", b"p");
        let after = Sealer::new(&new, &[*old]);
        assert_eq!(after.open(&before, b"p").unwrap().as_slice(), b"seed");
        assert_eq!(Sealer::new(&new, &[]).open(&before, b"p"), Err(SealError::UnknownKey));
        let resealed = after.seal(b"seed", b"p");
        assert_eq!(Sealer::new(&new, &[]).open(&resealed, b"p").unwrap().as_slice(), b"seed");
    }
}
