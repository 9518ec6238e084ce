//! Password hashes made elsewhere, which imported accounts bring along: each is checked and put
//! in the form it is stored in when it is imported, verified the way its maker verifies it,
//! and replaced with gatehouse's Argon2id at the account's first successful login.
//!
//! | format | stored as | verified with |
//! |---|---|---|
//! | bcrypt | `$2a$`, `$2b$`, `$2y$` as given | the `bcrypt` crate |
//! | Argon2 (any variant, any parameters) | its PHC string | the Argon2 code of [`super`] |
//! | scrypt | `$scrypt$ln=…,r=…,p=…$salt$hash` (PHC, as passlib and RustCrypto write it) | the `scrypt` crate |
//! | Firebase's scrypt | `$firebase-scrypt$r=…,m=…$separator$signer key$salt$hash` | `scrypt`, then AES-256-CTR (`aes`, `ctr`) |
//! | PBKDF2-SHA1/-SHA256/-SHA512 | `$pbkdf2-sha256$…` (passlib's or the PHC form), `pbkdf2_sha256$…` (Django's) | `ring` |
//!
//! Firebase hashes say nothing of the project they come from: its signer key, salt separator
//! and costs are given once per import and kept in each hash, like the salt. They are no
//! secret beyond the hashes themselves: whoever holds the hashes of a Firebase export holds
//! them too.
//!
//! What a hash asks for is bounded twice. An import takes only hashes within [`ImportLimit`]:
//! what common frameworks write at their defaults (bcrypt 10 to 12, Django's PBKDF2), and
//! nothing that makes one login cost seconds. Verification takes anything up to [`MaxWork`] (hashes imported before the
//! import limit existed), so that no stored hash can make a login cost seconds or gigabytes;
//! those over the import limit are verified on a queue of their own ([`costly`]), so that
//! they can never fill the queue every other login waits in.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use subtle::ConstantTimeEq;

/// Standard base64, with or without its padding.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The most work an imported hash may ask of a login.
#[derive(Debug)]
pub struct MaxWork;

impl MaxWork {
    /// bcrypt's cost (2^16 rounds take about a quarter of a second).
    pub const BCRYPT_COST: u32 = 16;
    /// PBKDF2's iterations (Django's default is a million).
    pub const PBKDF2_ITERATIONS: u32 = 2_000_000;
    /// scrypt's memory, 128·r·N bytes (Firebase's default is 16 MiB).
    pub const SCRYPT_BYTES: u64 = 256 << 20;
    /// scrypt's parallelism.
    pub const SCRYPT_P: u32 = 16;
    /// Argon2's memory in KiB, and passes.
    pub const ARGON2_KIB: u32 = 256 * 1024;
    pub const ARGON2_T: u32 = 10;
}

/// The most work an imported hash may ask of a login. Measured on the benchmark machine (one
/// core, the reference C implementations): gatehouse's own Argon2id takes 20 ms; bcrypt cost 13
/// 470 ms, PBKDF2 at these iterations 240 to 310 ms, scrypt at 96 MiB 215 ms, Argon2 at
/// 64 MiB × 3 passes 150 ms. So each family stops at about the same cost (the bcrypt and PBKDF2
/// limits are where common frameworks' defaults end), well above gatehouse's own hash, and well
/// below a second (docs/SECURITY.md).
#[derive(Debug)]
pub struct ImportLimit;

impl ImportLimit {
    /// bcrypt's cost: 2^13 rounds.
    pub const BCRYPT_COST: u32 = 13;
    /// PBKDF2's iterations, by digest.
    pub const PBKDF2_SHA1: u32 = 1_300_000;
    pub const PBKDF2_SHA256: u32 = 1_000_000;
    pub const PBKDF2_SHA512: u32 = 600_000;
    /// scrypt's memory passes: 128·r·N·p bytes (Firebase's default is 16 MiB, passlib's 16).
    pub const SCRYPT_BYTES: u64 = 96 << 20;
    /// Argon2's memory times its passes, in KiB (gatehouse's own is 12 MiB × 4).
    pub const ARGON2_KIB_PASSES: u64 = 4 * (12 * 1024) * 4;
}

/// Why a stored hash asks more than [`ImportLimit`] allows, if it does.
fn over_import_limit(stored: &str) -> Option<String> {
    let over = |what: String, limit: String| {
        Some(format!(
            "{what}; an import takes at most {limit}, so that no login with it costs much more than a quarter of a second"
        ))
    };
    if Format::of(stored)? == Format::Argon2 {
        let parsed = argon2::password_hash::PasswordHash::new(stored).ok()?;
        let params = argon2::Params::try_from(&parsed).ok()?;
        let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
        return (work > ImportLimit::ARGON2_KIB_PASSES).then(|| {
            let what = format!("an Argon2 hash of {} KiB and {} passes", params.m_cost(), params.t_cost());
            over(what, format!("{} KiB times passes", ImportLimit::ARGON2_KIB_PASSES))
        })?;
    }
    match parse(stored).ok()? {
        Parsed::Bcrypt { cost } if cost > ImportLimit::BCRYPT_COST => {
            over(format!("a bcrypt cost of {cost}"), format!("cost {}", ImportLimit::BCRYPT_COST))
        }
        Parsed::Pbkdf2 { digest, iterations, .. } => {
            let limit = match digest {
                "sha1" => ImportLimit::PBKDF2_SHA1,
                "sha256" => ImportLimit::PBKDF2_SHA256,
                _ => ImportLimit::PBKDF2_SHA512,
            };
            (iterations.get() > limit).then(|| {
                over(format!("{iterations} PBKDF2-{} iterations", digest.to_uppercase()), format!("{limit}"))
            })?
        }
        Parsed::Scrypt { params, .. } | Parsed::Firebase { params, .. } => {
            let bytes = 128u64
                .saturating_mul(u64::from(params.r()))
                .saturating_mul(1u64 << params.log_n())
                .saturating_mul(u64::from(params.p()));
            (bytes > ImportLimit::SCRYPT_BYTES).then(|| {
                let what = format!("scrypt with N=2^{}, r={}, p={}", params.log_n(), params.r(), params.p());
                over(what, format!("{} MiB (128·r·N·p)", ImportLimit::SCRYPT_BYTES >> 20))
            })?
        }
        _ => None,
    }
}

/// Whether verifying a stored hash costs more than an import may ask now (it was imported
/// before the limit, or by an older version): such hashes are verified on a queue of their own.
/// gatehouse's own hashes never are (the caller need not ask for them).
pub fn costly(stored: &str) -> bool {
    over_import_limit(stored).is_some()
}

/// The families of hashes gatehouse verifies; what `gatehouse import status` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    Argon2,
    Bcrypt,
    Scrypt,
    FirebaseScrypt,
    Pbkdf2,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Self::Argon2 => "argon2",
            Self::Bcrypt => "bcrypt",
            Self::Scrypt => "scrypt",
            Self::FirebaseScrypt => "firebase-scrypt",
            Self::Pbkdf2 => "pbkdf2",
        }
    }

    /// The format of a stored hash, by its prefix.
    pub fn of(stored: &str) -> Option<Self> {
        Some(match stored {
            s if s.starts_with("$argon2") => Self::Argon2,
            s if ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p)) => Self::Bcrypt,
            s if s.starts_with("$scrypt$") => Self::Scrypt,
            s if s.starts_with("$firebase-scrypt$") => Self::FirebaseScrypt,
            s if s.starts_with("$pbkdf2-") || s.starts_with("pbkdf2_") => Self::Pbkdf2,
            _ => return None,
        })
    }
}

/// A Firebase project's hash settings (the console's "Password hash parameters").
#[derive(Clone, Debug)]
pub struct FirebaseProject {
    /// `base64_signer_key`.
    pub signer_key: String,
    /// `base64_salt_separator`.
    pub salt_separator: String,
    pub rounds: u32,
    pub mem_cost: u32,
}

impl FirebaseProject {
    /// Checks the settings: base64 where they should be, costs scrypt accepts within bounds.
    pub fn check(&self) -> Result<(), String> {
        b64("the Firebase signer key", &self.signer_key)?;
        b64("the Firebase salt separator", &self.salt_separator)?;
        scrypt_params(self.mem_cost, self.rounds, 1).map(|_| ())
    }
}

/// A hash as an import gives it (`salt` for Firebase's, which keeps it apart), checked and put
/// in the form it is stored in; or why it cannot be.
pub fn stored_form(hash: &str, salt: Option<&str>, firebase: Option<&FirebaseProject>) -> Result<String, String> {
    let hash = hash.trim();
    if let Some(salt) = salt {
        let project = firebase.ok_or("a password_salt is only for Firebase hashes, and the import names no Firebase project (its signer key, salt separator, rounds and memory cost)")?;
        b64("password_salt", salt)?;
        b64("password_hash", hash)?;
        let (r, m, sep, key) = (project.rounds, project.mem_cost, &project.salt_separator, &project.signer_key);
        return Ok(format!("$firebase-scrypt$r={r},m={m}${sep}${key}${salt}${hash}"));
    }
    match Format::of(hash) {
        Some(Format::FirebaseScrypt) | None => {
            return Err(format!(
                "an unknown password hash format (starting {:?}); gatehouse reads bcrypt, Argon2, scrypt, PBKDF2 (passlib's, PHC and Django's) and, with the project's settings and a password_salt, Firebase's scrypt",
                hash.chars().take(8).collect::<String>()
            ));
        }
        Some(Format::Argon2) => check_argon2(hash)?,
        Some(_) => parse(hash).map(|_| ())?,
    }
    match over_import_limit(hash) {
        Some(why) => Err(why),
        None => Ok(hash.to_owned()),
    }
}

/// What a stored foreign hash says, parsed.
enum Parsed {
    Bcrypt {
        cost: u32,
    },
    Scrypt {
        params: scrypt::Params,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    Firebase {
        params: scrypt::Params,
        salt: Vec<u8>,
        signer_key: Vec<u8>,
        hash: Vec<u8>,
    },
    Pbkdf2 {
        /// `sha1`, `sha256` or `sha512`.
        digest: &'static str,
        algorithm: ring::pbkdf2::Algorithm,
        iterations: std::num::NonZeroU32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
}

/// Checks an imported Argon2 hash: readable, and within [`MaxWork`]. (Argon2 hashes are
/// verified by the hashing pool's own Argon2 code.)
fn check_argon2(phc: &str) -> Result<(), String> {
    use argon2::password_hash::PasswordHash;
    let parsed = PasswordHash::new(phc).map_err(|e| format!("an unreadable Argon2 hash: {e}"))?;
    argon2::Algorithm::try_from(parsed.algorithm).map_err(|e| format!("an Argon2 hash: {e}"))?;
    let params = argon2::Params::try_from(&parsed).map_err(|e| format!("an Argon2 hash's parameters: {e}"))?;
    if parsed.salt.is_none() || parsed.hash.is_none_or(|h| h.len() < 16) {
        return Err("an Argon2 hash without its salt or output".into());
    }
    if params.m_cost() > MaxWork::ARGON2_KIB || params.t_cost() > MaxWork::ARGON2_T {
        let (m, t) = (MaxWork::ARGON2_KIB, MaxWork::ARGON2_T);
        return Err(format!("an Argon2 hash asking for more than {m} KiB or {t} passes"));
    }
    Ok(())
}

/// Checks `password` against a stored hash that is not Argon2; an error says why the stored
/// hash cannot be read.
pub fn verify(stored: &str, password: &[u8]) -> Result<bool, String> {
    let unreadable = |why: String| format!("stored hash unreadable: {why}");
    Ok(match parse(stored).map_err(unreadable)? {
        Parsed::Bcrypt { .. } => bcrypt::verify(password, stored).map_err(|e| unreadable(e.to_string()))?,
        Parsed::Scrypt { params, salt, hash } => {
            let mut out = vec![0u8; hash.len()];
            scrypt::scrypt(password, &salt, &params, &mut out).map_err(|e| unreadable(e.to_string()))?;
            bool::from(out.ct_eq(&hash))
        }
        Parsed::Firebase { params, salt, signer_key, hash } => {
            use aes::cipher::{KeyIvInit, StreamCipher};
            let mut key = [0u8; 32];
            scrypt::scrypt(password, &salt, &params, &mut key).map_err(|e| unreadable(e.to_string()))?;
            let mut out = signer_key;
            ctr::Ctr128BE::<aes::Aes256>::new(&key.into(), &[0u8; 16].into()).apply_keystream(&mut out);
            bool::from(out.ct_eq(&hash))
        }
        Parsed::Pbkdf2 { algorithm, iterations, salt, hash, .. } => {
            ring::pbkdf2::verify(algorithm, iterations, &salt, password, &hash).is_ok()
        }
    })
}

fn parse(stored: &str) -> Result<Parsed, String> {
    match Format::of(stored) {
        Some(Format::Bcrypt) => parse_bcrypt(stored),
        Some(Format::Scrypt) => parse_scrypt(stored),
        Some(Format::FirebaseScrypt) => parse_firebase(stored),
        Some(Format::Pbkdf2) => parse_pbkdf2(stored),
        Some(Format::Argon2) | None => Err("not a foreign hash gatehouse reads".into()),
    }
}

/// `$2b$12$` + 22 characters of salt + 31 of hash, in bcrypt's own base64.
fn parse_bcrypt(stored: &str) -> Result<Parsed, String> {
    let cost: u32 = stored.get(4..6).and_then(|c| c.parse().ok()).ok_or("a bcrypt hash's cost is two digits")?;
    let rest = stored.get(7..).filter(|_| stored.as_bytes().get(6) == Some(&b'$')).unwrap_or_default();
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if rest.len() != 53 || !rest.chars().all(alphabet) {
        return Err("a bcrypt hash has 53 characters after its cost".into());
    }
    if !(4..=MaxWork::BCRYPT_COST).contains(&cost) {
        return Err(format!("a bcrypt cost of {cost}; gatehouse takes 4 to {}", MaxWork::BCRYPT_COST));
    }
    Ok(Parsed::Bcrypt { cost })
}

/// `$scrypt$ln=14,r=8,p=1$salt$hash`, salt and hash in base64 without padding.
fn parse_scrypt(stored: &str) -> Result<Parsed, String> {
    let [params, salt, hash] = fields::<3>(&stored["$scrypt$".len()..], "scrypt")?;
    let (mut ln, mut r, mut p) = (None, None, None);
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=').ok_or("scrypt parameters are ln=…,r=…,p=…")?;
        let value: u32 = value.parse().map_err(|_| format!("the scrypt parameter {name} is not a number"))?;
        match name {
            "ln" => ln = Some(value),
            "r" => r = Some(value),
            "p" => p = Some(value),
            _ => return Err(format!("an unknown scrypt parameter {name}")),
        }
    }
    let (Some(ln), Some(r), Some(p)) = (ln, r, p) else {
        return Err("scrypt parameters are ln=…,r=…,p=…".into());
    };
    let hash = b64("the scrypt hash", hash)?;
    if hash.len() < 16 {
        return Err("a scrypt hash of fewer than 16 bytes".into());
    }
    Ok(Parsed::Scrypt { params: scrypt_params(ln, r, p)?, salt: b64("the scrypt salt", salt)?, hash })
}

/// `$firebase-scrypt$r=8,m=14$separator$signer key$salt$hash`, in standard base64.
fn parse_firebase(stored: &str) -> Result<Parsed, String> {
    let [params, separator, signer_key, salt, hash] =
        fields::<5>(&stored["$firebase-scrypt$".len()..], "Firebase scrypt")?;
    let number =
        |prefix: &str| params.split(',').find_map(|p| p.strip_prefix(prefix)).and_then(|v| v.parse::<u32>().ok());
    let (Some(rounds), Some(mem_cost)) = (number("r="), number("m=")) else {
        return Err("Firebase scrypt parameters are r=…,m=…".into());
    };
    let mut salt = b64("the Firebase salt", salt)?;
    salt.extend(b64("the Firebase salt separator", separator)?);
    let signer_key = b64("the Firebase signer key", signer_key)?;
    let hash = b64("the Firebase hash", hash)?;
    if hash.len() != signer_key.len() {
        return Err("a Firebase hash is as long as the project's signer key".into());
    }
    Ok(Parsed::Firebase { params: scrypt_params(mem_cost, rounds, 1)?, salt, signer_key, hash })
}

/// passlib's `$pbkdf2-sha256$29000$salt$hash` (its base64 with `.` for `+`), the PHC form
/// `$pbkdf2-sha256$i=29000,l=32$salt$hash`, and Django's `pbkdf2_sha256$29000$salt$hash` (the
/// salt used as it is written, the hash in standard base64).
fn parse_pbkdf2(stored: &str) -> Result<Parsed, String> {
    let django = !stored.starts_with('$');
    let (name, rest) = stored.trim_start_matches('$').split_once('$').ok_or("a PBKDF2 hash names its digest")?;
    let (digest, algorithm) = match name {
        "pbkdf2-sha256" | "pbkdf2_sha256" => ("sha256", ring::pbkdf2::PBKDF2_HMAC_SHA256),
        "pbkdf2-sha512" | "pbkdf2_sha512" => ("sha512", ring::pbkdf2::PBKDF2_HMAC_SHA512),
        "pbkdf2-sha1" | "pbkdf2_sha1" | "pbkdf2" => ("sha1", ring::pbkdf2::PBKDF2_HMAC_SHA1),
        other => return Err(format!("an unknown PBKDF2 digest {other:?}")),
    };
    let [iterations, salt, hash] = fields::<3>(rest, "PBKDF2")?;
    let iterations = iterations.split(',').find_map(|p| p.strip_prefix("i=")).unwrap_or(iterations);
    let iterations: u32 = iterations.parse().map_err(|_| "a PBKDF2 hash's iterations are a number")?;
    if !(1..=MaxWork::PBKDF2_ITERATIONS).contains(&iterations) {
        return Err(format!("{iterations} PBKDF2 iterations; gatehouse takes 1 to {}", MaxWork::PBKDF2_ITERATIONS));
    }
    let iterations = std::num::NonZeroU32::new(iterations).ok_or("no PBKDF2 iterations")?;
    let (salt, hash) = match django {
        true => (salt.as_bytes().to_vec(), b64("the PBKDF2 hash", hash)?),
        false => (b64("the PBKDF2 salt", &salt.replace('.', "+"))?, b64("the PBKDF2 hash", &hash.replace('.', "+"))?),
    };
    if hash.len() < 16 {
        return Err("a PBKDF2 hash of fewer than 16 bytes".into());
    }
    Ok(Parsed::Pbkdf2 { digest, algorithm, iterations, salt, hash })
}

/// scrypt's parameters from the log2 of N, r and p, within [`MaxWork`].
fn scrypt_params(ln: u32, r: u32, p: u32) -> Result<scrypt::Params, String> {
    let bytes = 128u64.saturating_mul(u64::from(r)).checked_shl(ln).unwrap_or(u64::MAX);
    if ln == 0 || ln >= 32 || bytes > MaxWork::SCRYPT_BYTES || p > MaxWork::SCRYPT_P {
        return Err(format!(
            "scrypt with N=2^{ln}, r={r}, p={p}; gatehouse takes at most {} MiB (128·r·N) and p={}",
            MaxWork::SCRYPT_BYTES >> 20,
            MaxWork::SCRYPT_P
        ));
    }
    scrypt::Params::new(ln as u8, r, p).map_err(|e| format!("scrypt parameters: {e}"))
}

/// The `N` fields of a hash after its name, split on `$`.
fn fields<'a, const N: usize>(rest: &'a str, what: &str) -> Result<[&'a str; N], String> {
    let parts: Vec<&str> = rest.split('$').collect();
    parts.try_into().map_err(|_| format!("a {what} hash has {N} fields after its name"))
}

fn b64(what: &str, text: &str) -> Result<Vec<u8>, String> {
    B64.decode(text)
        .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(text))
        .map_err(|_| format!("{what} is not base64"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes made by the reference libraries (`tests/fixtures/foreign_hashes.py`), and
    /// Firebase's own published sample.
    const FIXTURES: &str = include_str!("../../tests/fixtures/foreign-hashes.jsonl");

    fn verify_stored(stored: &str, password: &str) -> bool {
        let verified = crate::passwords::verify_with(&mut Vec::new(), password.as_bytes(), Some(stored)).unwrap();
        assert_eq!(verified.rehashed.is_some(), verified.matches, "a match is rehashed: {stored}");
        if let Some(new) = &verified.rehashed {
            assert!(new.starts_with("$argon2id$v=19$m=12288,t=4,p=1$"), "{new}");
        }
        verified.matches
    }

    #[test]
    fn every_reference_library_s_hashes_verify_and_nothing_else_does() {
        let mut formats = std::collections::BTreeMap::new();
        for line in FIXTURES.lines() {
            let fixture: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = |name: &str| fixture[name].as_str().unwrap_or_default().to_owned();
            let (format, password, hash) = (text("format"), text("password"), text("hash"));
            let stored = match format.as_str() {
                "firebase_scrypt" => {
                    let project = FirebaseProject {
                        signer_key: text("signer_key"),
                        salt_separator: text("salt_separator"),
                        rounds: fixture["rounds"].as_u64().unwrap() as u32,
                        mem_cost: fixture["mem_cost"].as_u64().unwrap() as u32,
                    };
                    project.check().unwrap();
                    stored_form(&hash, Some(&text("salt")), Some(&project)).unwrap()
                }
                _ => stored_form(&hash, None, None).unwrap_or_else(|why| panic!("{format}: {why}: {hash}")),
            };
            assert!(verify_stored(&stored, &password), "{format} ({}): {hash}", text("library"));
            assert!(!verify_stored(&stored, &format!("{password}!")), "{format}: a wrong password");
            *formats.entry(format).or_insert(0) += 1;
        }
        let expected = ["argon2", "bcrypt", "django", "firebase_scrypt", "pbkdf2_phc", "scrypt_phc"];
        assert!(expected.iter().all(|f| formats.contains_key(*f)), "{formats:?}");
    }

    #[test]
    fn hashes_gatehouse_cannot_read_or_that_ask_too_much_are_refused_at_import() {
        let refused = [
            "plaintext",
            "$1$saltsalt$hash",
            "$2b$31$o4g2bmmyULpl8D3aY/ykre6Suxo8q4GRkuuQ6A2WFoUAPbPv8LoAS",
            "$2b$04$short",
            "$scrypt$ln=30,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=10,r=8$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
            "pbkdf2_sha256$100000000$salt$aGFzaGhhc2hoYXNoaGFzaA==",
            "pbkdf2_md5$1000$salt$aGFzaGhhc2hoYXNoaGFzaA==",
            "$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$firebase-scrypt$r=8,m=14$Bw==$a2V5$c2FsdA==$aGFzaA==",
        ];
        for hash in refused {
            assert!(stored_form(hash, None, None).is_err(), "{hash}");
        }
        assert!(stored_form("aGFzaA==", Some("c2FsdA=="), None).is_err(), "a salt without the project");
    }

    /// Hashes within what verification can do, but above what an import takes: refused at
    /// import with the limit named, and, if already stored, verified on the costly queue.
    #[test]
    fn an_import_refuses_hashes_that_would_make_a_login_cost_seconds() {
        let bcrypt = |cost: &str| format!("$2b${cost}$o4g2bmmyULpl8D3aY/ykre6Suxo8q4GRkuuQ6A2WFoUAPbPv8LoAS");
        let over = [
            (bcrypt("14"), "cost 13"),
            (bcrypt("16"), "cost 13"),
            ("$pbkdf2-sha256$1000001$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(), "1000000"),
            ("pbkdf2_sha256$1500000$salt$aGFzaGhhc2hoYXNoaGFzaA==".into(), "1000000"),
            ("$pbkdf2-sha512$600001$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(), "600000"),
            ("pbkdf2_sha1$1300001$salt$aGFzaGhhc2hoYXNoaGFzaA==".into(), "1300000"),
            ("$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA".into(), "96 MiB"),
            ("$scrypt$ln=14,r=8,p=8$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA".into(), "96 MiB"),
            ("$argon2id$v=19$m=65536,t=4,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(), "196608 KiB"),
            ("$argon2id$v=19$m=262144,t=1,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(), "196608 KiB"),
        ];
        for (hash, limit) in &over {
            let why = stored_form(hash, None, None).unwrap_err();
            assert!(why.contains(limit), "{hash}: {why}");
            assert!(costly(hash), "{hash} would be verified on the login queue");
        }
        let within = [
            bcrypt("13"),
            bcrypt("10"),
            "$pbkdf2-sha256$1000000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "pbkdf2_sha256$870000$salt$aGFzaGhhc2hoYXNoaGFzaA==".into(),
            "$pbkdf2-sha512$600000$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$scrypt$ln=16,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
        ];
        for hash in &within {
            assert_eq!(stored_form(hash, None, None).as_deref(), Ok(hash.as_str()));
            assert!(!costly(hash), "{hash}");
        }
        assert!(!costly(crate::passwords::CURRENT_PREFIX), "gatehouse's own hashes");
    }
}
