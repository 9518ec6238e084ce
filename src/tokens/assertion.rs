//! Client assertions (`private_key_jwt`, RFC 7523 section 2.2 and OpenID Connect Core section
//! 9): a client proves itself with a short-lived JWT signed by a private key it holds, whose
//! public half it registered (`jwks`, or a `jwks_uri` gatehouse fetches). No secret is shared,
//! so nothing gatehouse stores lets anyone act as the client.
//!
//! This module checks one assertion against the client's key set and says what it was. Whether
//! its `jti` was seen before is the caller's to ask of the shared limit store, until `exp`,
//! since that spans replicas.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::dpop::{ALGORITHMS, Refused};

/// `client_assertion_type`'s one value.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest assertion taken.
const MAX_ASSERTION_LEN: usize = 8192;

/// How far ahead an assertion's `exp` may be (seconds): an hour, as long as the common client
/// libraries make them.
const MAX_LIFETIME: i64 = 3600;

/// Clock skew allowed on `exp` and `iat` (seconds).
const LEEWAY: u64 = 60;

/// The most keys one client may register.
pub const MAX_KEYS: usize = 10;

/// What one assertion must say.
#[derive(Debug)]
pub struct Expected<'a> {
    /// Its `iss` and `sub`.
    pub client_id: &'a str,
    /// One of these must be in its `aud`: the issuer, the token endpoint, the endpoint called.
    pub audiences: &'a [String],
    /// Now, in Unix seconds.
    pub now: i64,
}

/// An assertion that passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assertion {
    pub jti: String,
    /// Its `exp`: until when its `jti` must be remembered.
    pub exp: i64,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: i64,
    jti: Option<String>,
    iat: Option<i64>,
}

/// The client an assertion says it comes from (its `iss`), read before anything is verified,
/// so as to find the keys it is to be verified with.
pub fn claimed_client(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return None;
    }
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// The problem with a key set a client registers: none when each key is a public EC, OKP or
/// RSA key gatehouse can verify with, and there are 1 to [`MAX_KEYS`].
pub fn key_set_problem(keys: &Value) -> Option<String> {
    let Ok(set) = serde_json::from_value::<JwkSet>(keys.clone()) else {
        return Some(r#"jwks is not a JWK Set ({"keys": [...]}) of EC, OKP or RSA keys"#.into());
    };
    if set.keys.is_empty() || set.keys.len() > MAX_KEYS {
        return Some(format!("jwks holds 1 to {MAX_KEYS} keys"));
    }
    let members = keys["keys"].as_array().into_iter().flatten().filter_map(Value::as_object);
    if members.clone().any(|key| ["d", "p", "q", "dp", "dq", "qi", "k"].iter().any(|m| key.contains_key(*m))) {
        return Some("jwks holds a private or symmetric key: register only the public half".into());
    }
    if set.keys.iter().any(|key| DecodingKey::from_jwk(key).is_err() || symmetric(key)) {
        return Some("jwks holds a key that is not an EC, OKP or RSA public key".into());
    }
    None
}

fn symmetric(key: &Jwk) -> bool {
    matches!(key.algorithm, jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_))
}

/// Checks `assertion` against the client's `keys` and what it must say.
pub fn check(assertion: &str, keys: &JwkSet, expected: &Expected) -> Result<Assertion, Refused> {
    if assertion.len() > MAX_ASSERTION_LEN {
        return Err(Refused("the client assertion is too long"));
    }
    // The alg is read first, so that one the JWT library does not know (`none`, RFC 9864's
    // `Ed25519`) is named as the problem rather than the assertion's form.
    let alg = assertion
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|header| header.get("alg").and_then(Value::as_str).map(str::to_owned))
        .ok_or(Refused("the client assertion is not a JWT"))?;
    if !ALGORITHMS.contains(&alg.as_str()) {
        return Err(Refused("the client assertion's alg is not one of ES256, ES384, EdDSA, RS256, PS256"));
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| Refused("the client assertion is not a JWT"))?;
    let candidates: Vec<&Jwk> = match &header.kid {
        Some(kid) => keys.keys.iter().filter(|k| k.common.key_id.as_deref() == Some(kid.as_str())).collect(),
        None => keys.keys.iter().collect(),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    // `exp` is judged below by the server's clock, not by the system's.
    validation.validate_exp = false;
    validation.set_audience(expected.audiences);
    validation.set_issuer(&[expected.client_id]);
    let mut last = Refused("no key the client registered has this assertion's kid");
    for key in candidates.into_iter().filter(|k| !symmetric(k)) {
        let Ok(decoding) = DecodingKey::from_jwk(key) else { continue };
        match jsonwebtoken::decode::<Claims>(assertion, &decoding, &validation) {
            Ok(data) => return judged(data.claims, expected),
            Err(error) => last = refusal(error.kind()),
        }
    }
    Err(last)
}

fn refusal(kind: &jsonwebtoken::errors::ErrorKind) -> Refused {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::InvalidAudience => Refused("the client assertion's aud is neither the issuer nor this endpoint"),
        ErrorKind::InvalidIssuer => Refused("the client assertion's iss is not the client_id"),
        ErrorKind::MissingRequiredClaim(_) => Refused("the client assertion lacks one of iss, sub, aud, exp"),
        _ => Refused("the client assertion's signature does not verify with the client's keys"),
    }
}

fn judged(claims: Claims, expected: &Expected) -> Result<Assertion, Refused> {
    if claims.sub != expected.client_id || claims.iss != expected.client_id {
        return Err(Refused("the client assertion's iss and sub must both be the client_id"));
    }
    let leeway = i64::try_from(LEEWAY).unwrap_or(60);
    if claims.exp + leeway < expected.now {
        return Err(Refused("the client assertion has expired"));
    }
    if claims.exp > expected.now + MAX_LIFETIME + leeway {
        return Err(Refused("the client assertion's exp is more than an hour away"));
    }
    if claims.iat.is_some_and(|iat| iat > expected.now + leeway) {
        return Err(Refused("the client assertion's iat is in the future"));
    }
    let jti = claims
        .jti
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or(Refused("the client assertion has no jti"))?;
    Ok(Assertion { jti, exp: claims.exp })
}
