//! Time-based one-time passwords (RFC 6238) as every authenticator app reads them: HMAC-SHA-1,
//! six digits, 30-second steps, and one step of clock skew either way. Which step a code
//! matched is returned so that the caller can refuse it the second time (RFC 6238 §5.2).

use ring::rand::{SecureRandom, SystemRandom};
use totp_rs::{Algorithm, Builder, Totp};
use zeroize::Zeroizing;

/// The seconds one code lasts.
pub const STEP: u64 = 30;
/// The digits of a code.
pub const DIGITS: u8 = 6;
/// Steps of clock skew accepted either way.
pub const SKEW: u16 = 1;
/// The bytes of a new secret: 160 bits, RFC 4226's recommendation.
const SECRET_LEN: usize = 20;

/// A new random secret.
pub fn new_secret() -> Zeroizing<Vec<u8>> {
    let mut secret = Zeroizing::new(vec![0u8; SECRET_LEN]);
    SystemRandom::new().fill(&mut secret).expect("the system's random source");
    secret
}

fn totp(secret: &[u8]) -> Totp {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP)
        .with_secret(secret)
        .build_noncompliant()
}

/// The secret as authenticator apps take it typed in: base32, unpadded.
pub fn base32(secret: &[u8]) -> String {
    totp(secret).secret().to_base32()
}

/// The `otpauth://totp/…` URI a QR code carries. `issuer` and `account` may not hold a colon
/// (the label's separator); one is replaced by a space.
pub fn otpauth_uri(secret: &[u8], issuer: &str, account: &str) -> anyhow::Result<String> {
    let issuer = issuer.replace(':', " ");
    let account = account.replace(':', " ");
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_step_duration(STEP)
        .with_secret(secret)
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()?;
    Ok(totp.to_url()?)
}

/// The time step (Unix seconds / 30) whose code `code` is, within one step of `now`; `None` for
/// a wrong or malformed code. Spaces in the code are ignored (`123 456`). The comparison is in
/// constant time.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let matched = totp(secret).check(&code, now)?;
    Some(matched)
}

/// The code of the step holding `at` (Unix seconds).
pub fn code_at(secret: &[u8], at: u64) -> String {
    totp(secret).generate(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 vectors (8 digits there; the last six are ours).
    #[test]
    fn codes_match_the_rfc_test_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [(59, "94287082"), (1_111_111_109, "07081804"), (1_234_567_890, "89005924")] {
            assert_eq!(code_at(secret, time), code[2..], "at {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_step_either_side_only() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let step = now / STEP;
        let code = code_at(&secret, now);
        assert_eq!(matching_step(&secret, &code, now), Some(step));
        assert_eq!(matching_step(&secret, &code, now + STEP), Some(step), "a clock one step behind");
        assert_eq!(matching_step(&secret, &code, now - STEP), Some(step), "a clock one step ahead");
        assert_eq!(matching_step(&secret, &code, now + 2 * STEP), None);
        assert_eq!(matching_step(&secret, &code, now - 2 * STEP), None);
        assert_eq!(matching_step(&secret, &format!("{} {}", &code[..3], &code[3..]), now), Some(step));
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert_eq!(matching_step(&secret, "+12345", now), None);
    }

    #[test]
    fn the_uri_names_the_issuer_account_and_secret() {
        let secret = b"12345678901234567890";
        let uri = otpauth_uri(secret, "example.com", "ann@example.com").unwrap();
        assert!(uri.starts_with("otpauth://totp/example.com:ann%40example.com?"), "{uri}");
        assert!(uri.contains(&format!("secret={}", base32(secret))), "{uri}");
        assert!(uri.contains("issuer=example.com"), "{uri}");
        assert_eq!(base32(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    }
}
