//! Recovery codes: ten single-use codes shown once when a second factor is enabled, for when
//! the authenticator is lost. Each is 12 characters of a 32-letter alphabet without look-alikes
//! (60 bits), shown as `xxxx-xxxx-xxxx`; stored only as SHA-256 of the account id and the code,
//! so a copy of the database gives neither the codes nor one hash that fits two accounts, and
//! 60 bits are out of reach of guessing against the hash. A presented code is compared with
//! every unspent hash of the account in constant time.

use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::mac::same;

/// How many codes a set has.
pub const COUNT: usize = 10;
const LEN: usize = 12;
/// No 0/o, 1/l/i, no u: what is read can be typed back.
const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstvwxyz0123456789";

/// A new set of codes, formatted for showing.
pub fn generate() -> Vec<String> {
    let mut rng = rand::rngs::OsRng;
    (0..COUNT)
        .map(|_| {
            let raw: String = (0..LEN).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
            format!("{}-{}-{}", &raw[..4], &raw[4..8], &raw[8..])
        })
        .collect()
}

/// The code as typed, reduced to its letters: no separators or spaces, lower case.
fn normalize(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// What the store keeps of `code` for `account`.
pub fn hash(account: Uuid, code: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"gatehouse recovery code\0")
        .chain_update(account.as_bytes())
        .chain_update(normalize(code))
        .finalize()
        .into()
}

/// Which of `unspent` (the account's stored hashes) `code` is, comparing with every one in
/// constant time.
pub fn find(account: Uuid, code: &str, unspent: &[[u8; 32]]) -> Option<[u8; 32]> {
    let presented = hash(account, code);
    let mut found = None;
    for stored in unspent {
        if same(stored, &presented) {
            found = Some(*stored);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_holds_ten_distinct_codes_of_sixty_bits() {
        let codes = generate();
        assert_eq!(codes.len(), COUNT);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), COUNT);
        for code in &codes {
            assert_eq!(code.len(), 14, "{code}");
            assert_eq!(normalize(code).len(), LEN);
            assert!(normalize(code).bytes().all(|b| ALPHABET.contains(&b)));
        }
        assert!((ALPHABET.len() as f64).log2() * LEN as f64 >= 50.0);
    }

    #[test]
    fn a_code_is_found_however_it_is_typed_and_only_for_its_account() {
        let (ann, ben) = (Uuid::now_v7(), Uuid::now_v7());
        let codes = generate();
        let stored: Vec<[u8; 32]> = codes.iter().map(|c| hash(ann, c)).collect();
        assert_eq!(find(ann, &codes[3], &stored), Some(stored[3]));
        assert_eq!(find(ann, &codes[3].to_uppercase().replace('-', " "), &stored), Some(stored[3]));
        assert_eq!(find(ben, &codes[3], &stored), None, "another account's code");
        assert_eq!(find(ann, "abcd-efgh-jkmn", &stored), None);
    }
}
