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
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use serde::Deserialize;
use serde_json::Value;

use super::compact;
use super::dpop::Refused;

/// `client_assertion_type`'s one value.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest assertion taken.
const MAX_ASSERTION_LEN: usize = 8192;

/// How far ahead an assertion's `exp` may be (seconds): an hour, as long as the common client
/// libraries make them.
const MAX_LIFETIME: i64 = 3600;

/// Clock skew allowed on `exp` and `iat` (seconds).
const LEEWAY: i64 = 60;

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

/// What an assertion must hold; one without `iss`, `sub`, `aud` or `exp` is no assertion.
#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Value,
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
    let header = compact::header(assertion).ok_or(Refused("the client assertion is not a JWT"))?;
    let alg = compact::taken_algorithm(&header)
        .ok_or(Refused("the client assertion's alg is not one of ES256, ES384, EdDSA, Ed25519, RS256, PS256"))?;
    let candidates: Vec<&Jwk> = match header.get("kid").and_then(Value::as_str) {
        Some(kid) => keys.keys.iter().filter(|k| k.common.key_id.as_deref() == Some(kid)).collect(),
        None => keys.keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(Refused("no key the client registered has this assertion's kid"));
    }
    let claims = candidates
        .into_iter()
        .filter(|key| !symmetric(key))
        .find_map(|key| compact::verified::<Claims>(assertion, alg, key))
        .ok_or(Refused("the client assertion's signature does not verify with the client's keys, or it lacks one of iss, sub, aud, exp"))?;
    judged(claims, expected)
}

fn judged(claims: Claims, expected: &Expected) -> Result<Assertion, Refused> {
    if claims.sub != expected.client_id || claims.iss != expected.client_id {
        return Err(Refused("the client assertion's iss and sub must both be the client_id"));
    }
    let audiences = match &claims.aud {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|aud| expected.audiences.iter().any(|expected| expected == aud)) {
        return Err(Refused("the client assertion's aud is neither the issuer nor this endpoint"));
    }
    let leeway = LEEWAY;
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
