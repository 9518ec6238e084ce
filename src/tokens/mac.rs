//! Keyed tags and the comparison of secrets, each written once: HMAC-SHA256 (RFC 2104) under a
//! key of its own per purpose, and a comparison whose time does not depend on where two values
//! first differ. Cookies, form tokens, device tokens, emailed codes, refresh rotation and
//! webhook signatures all go through here.

use ring::hmac;
use subtle::ConstantTimeEq;

/// The length of a tag.
pub const TAG_LEN: usize = 32;

/// An HMAC-SHA256 key.
#[derive(Clone, Debug)]
pub struct MacKey(hmac::Key);

impl MacKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The tag of `parts`, written one after another.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        let mut context = hmac::Context::with_key(&self.0);
        for part in parts {
            context.update(part);
        }
        context.sign().as_ref().try_into().expect("HMAC-SHA256 tags are 32 bytes")
    }

    /// Whether `tag` is the tag of `message`, compared in constant time.
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        same(&self.tag(&[message]), tag)
    }
}

/// Whether two secrets (or their hashes) are equal, in a time that tells nothing of where they
/// differ; values of different lengths are unequal.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::{MacKey, same};

    #[test]
    fn a_tag_is_hmac_sha256_of_its_parts_together() {
        // RFC 4231, test case 2.
        let key = MacKey::new(b"Jefe");
        let tag = key.tag(&[b"what do ya want ", b"for nothing?"]);
        let expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(tag.iter().map(|b| format!("{b:02x}")).collect::<String>(), expected);
        assert!(key.verify(b"what do ya want for nothing?", &tag));
        assert!(!key.verify(b"what do ya want for nothing!", &tag));
        assert!(!key.verify(b"what do ya want for nothing?", &tag[..16]));
        assert!(!MacKey::new(b"Jeff").verify(b"what do ya want for nothing?", &tag));
    }

    #[test]
    fn secrets_are_the_same_only_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(same(b"", b""));
    }
}
