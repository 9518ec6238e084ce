//! PKCE's S256 (RFC 7636): a client proves it started a flow by showing the verifier whose
//! SHA-256 it sent at the start. The OpenID Connect provider's codes and the hand-off codes of
//! browser logins both use it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::mac::same;

/// Whether `challenge` can be an S256 challenge: 43 to 128 characters of base64url (the
/// unreserved characters RFC 7636 allows).
pub fn plausible_challenge(challenge: &str) -> bool {
    (43..=128).contains(&challenge.len())
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// Whether `verifier` is the verifier of `challenge` (S256), compared in constant time.
pub fn holds(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    well_formed && same(computed.as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_holds_and_nothing_else_does() {
        // RFC 7636, appendix B.
        let (verifier, challenge) =
            ("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(plausible_challenge(challenge));
        assert!(holds(verifier, challenge));
        assert!(!holds(&verifier.replace('d', "e"), challenge));
        assert!(!holds("short", challenge));
        assert!(!plausible_challenge("short"));
        assert!(!plausible_challenge(&"a".repeat(129)));
    }
}
