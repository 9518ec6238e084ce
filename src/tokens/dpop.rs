//! DPoP proofs (RFC 9449): a client proves, request by request, that it holds the private key
//! its tokens are bound to. A proof is a JWT of type `dpop+jwt`, signed with that key, whose
//! header carries the public key (`jwk`) and whose claims name this request (`htm`, `htu`), a
//! moment (`iat`), a unique id (`jti`) and, with an access token, its hash (`ath`).
//!
//! This module checks one proof against the request it came with and says which key made it
//! (its RFC 7638 thumbprint, `jkt`). Whether its `jti` was seen before is the caller's to ask of
//! the shared limit store, for [`Proof::remember_for`], since that spans replicas.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use super::compact;

/// The longest proof taken: an RSA-4096 key in the header and a signature fit well within.
const MAX_PROOF_LEN: usize = 4096;

/// How far a proof's `iat` may be from now, either way.
pub const ISSUED_WINDOW: Duration = Duration::from_secs(60);

/// The signature algorithms a proof may use.
pub use super::compact::ALGORITHMS;

/// The request a proof must be about.
#[derive(Debug)]
pub struct Expected<'a> {
    /// `POST`, `GET`…
    pub method: &'a str,
    /// The request's URL (its query and fragment are not compared).
    pub url: &'a str,
    /// The access token sent with the proof, whose hash `ath` must be.
    pub access_token: Option<&'a str>,
    /// Now, in Unix seconds.
    pub now: i64,
}

/// A proof that passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The key's thumbprint (RFC 7638, SHA-256, base64url): what tokens are bound to.
    pub jkt: String,
    /// The proof's unique id, to be seen once.
    pub jti: String,
    /// The server nonce it carries, if any.
    pub nonce: Option<String>,
}

impl Proof {
    /// How long the proof's `jti` must be remembered: as long as the proof could be taken.
    pub fn remember_for() -> Duration {
        ISSUED_WINDOW * 2 + Duration::from_secs(1)
    }

    /// The key a replay check remembers: the same `jti` of another key is another proof.
    pub fn replay_key(&self) -> String {
        format!("{}:{}", self.jkt, self.jti)
    }
}

/// Why a proof was refused: said to the client in `error_description`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused(pub &'static str);

#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    ath: Option<String>,
    nonce: Option<String>,
}

/// Checks `proof` against the request it came with.
pub fn check(proof: &str, expected: &Expected) -> Result<Proof, Refused> {
    if proof.len() > MAX_PROOF_LEN {
        return Err(Refused("the DPoP proof is too long"));
    }
    let header = compact::header(proof).ok_or(Refused("the DPoP proof is not a JWT"))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(Refused("the DPoP proof's typ is not dpop+jwt"));
    }
    let alg = compact::taken_algorithm(&header)
        .ok_or(Refused("the DPoP proof's alg is not one of ES256, ES384, EdDSA, Ed25519, RS256, PS256"))?;
    let jwk = header.get("jwk").and_then(Value::as_object).ok_or(Refused("the DPoP proof carries no jwk"))?;
    // A private or symmetric key in the header means the client gave its secret away.
    if ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|member| jwk.contains_key(*member)) {
        return Err(Refused("the DPoP proof's jwk is not a public key"));
    }
    let jkt = thumbprint(jwk).ok_or(Refused("the DPoP proof's jwk is not an EC, OKP or RSA public key"))?;
    let key: jsonwebtoken::jwk::Jwk = serde_json::from_value(Value::Object(jwk.clone()))
        .map_err(|_| Refused("the DPoP proof's jwk is not a usable key"))?;
    let claims: Claims = compact::verified(proof, alg, &key)
        .ok_or(Refused("the DPoP proof's signature does not verify with its jwk"))?;

    let jti =
        claims.jti.filter(|jti| !jti.is_empty() && jti.len() <= 256).ok_or(Refused("the DPoP proof has no jti"))?;
    if claims.htm.as_deref() != Some(expected.method) {
        return Err(Refused("the DPoP proof's htm is not this request's method"));
    }
    if !claims.htu.as_deref().is_some_and(|htu| same_target(htu, expected.url)) {
        return Err(Refused("the DPoP proof's htu is not this request's URL"));
    }
    let window = i64::try_from(ISSUED_WINDOW.as_secs()).unwrap_or(60);
    match claims.iat {
        Some(iat) if (iat - expected.now).abs() <= window => {}
        Some(_) => return Err(Refused("the DPoP proof's iat is too far from now")),
        None => return Err(Refused("the DPoP proof has no iat")),
    }
    if let Some(token) = expected.access_token {
        let hash = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        if claims.ath.as_deref() != Some(hash.as_str()) {
            return Err(Refused("the DPoP proof's ath is not the hash of the access token sent with it"));
        }
    }
    Ok(Proof { jkt, jti, nonce: claims.nonce })
}

/// Whether `jkt` could be a thumbprint: the base64url (unpadded) of a SHA-256.
pub fn plausible_thumbprint(jkt: &str) -> bool {
    jkt.len() == 43 && jkt.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 of its required members, in lexicographic
/// order, as compact JSON; `None` for a key type (or a member) it does not know.
pub fn thumbprint(jwk: &serde_json::Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut required = BTreeMap::new();
    for member in members {
        required.insert(*member, jwk.get(*member)?.as_str()?);
    }
    let canonical = serde_json::to_string(&required).ok()?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes())))
}

/// Whether `htu` names the same resource as `url`, as RFC 9449 §4.3 compares them: scheme and
/// host in any case, the default port or none, the path exactly; query and fragment ignored.
fn same_target(htu: &str, url: &str) -> bool {
    let parts = |text: &str| {
        let url = Url::parse(text).ok()?;
        Some((
            url.scheme().to_owned(),
            url.host_str()?.to_ascii_lowercase(),
            url.port_or_known_default(),
            url.path().to_owned(),
        ))
    };
    match (parts(htu), parts(url)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_rfc_7638_s_example() {
        // RFC 7638 section 3.1's key and thumbprint.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(jwk.as_object().unwrap()).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn the_target_is_compared_as_the_rfc_says() {
        let url = "https://auth.example.com/oauth2/token";
        for same in [url, "HTTPS://Auth.Example.com:443/oauth2/token", "https://auth.example.com/oauth2/token?x=1#f"] {
            assert!(same_target(same, url), "{same}");
        }
        for other in [
            "http://auth.example.com/oauth2/token",
            "https://auth.example.com:8443/oauth2/token",
            "https://auth.example.com/oauth2/token/",
            "https://auth.example.com/OAUTH2/token",
            "https://evil.example.com/oauth2/token",
            "/oauth2/token",
        ] {
            assert!(!same_target(other, url), "{other}");
        }
    }
}
