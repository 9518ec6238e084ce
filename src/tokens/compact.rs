//! A JWT a client signed with its own key (a DPoP proof, a client assertion): its header read
//! before anything in it is trusted, and its signature checked with one public JWK under one of
//! the asymmetric algorithms gatehouse takes from clients. Ed25519 signatures go by two names:
//! RFC 8037's `EdDSA` and RFC 9864's `Ed25519`, which newer client libraries send; the JWT
//! library knows only the first, so the second is verified here, with the same key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The signature algorithms a client's JWT may use: asymmetric ones only (never `none`, never
/// HMAC, whose key the server would have to share).
pub const ALGORITHMS: [&str; 6] = ["ES256", "ES384", "EdDSA", "Ed25519", "RS256", "PS256"];

/// The header of `jwt`, decoded but not verified; `None` when it is not a JWT's.
pub fn header(jwt: &str) -> Option<Value> {
    let part = jwt.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// The header's `alg`, when it is one of [`ALGORITHMS`].
pub fn taken_algorithm(header: &Value) -> Option<&'static str> {
    let alg = header.get("alg")?.as_str()?;
    ALGORITHMS.into_iter().find(|taken| *taken == alg)
}

/// The claims of `jwt` when its signature verifies with `key` under `alg` (one of
/// [`ALGORITHMS`]); nothing else of them is judged here.
pub fn verified<C: DeserializeOwned>(jwt: &str, alg: &str, key: &Jwk) -> Option<C> {
    if alg == "Ed25519" {
        let AlgorithmParameters::OctetKeyPair(pair) = &key.algorithm else { return None };
        if pair.curve != EllipticCurve::Ed25519 {
            return None;
        }
        let (input, signature) = jwt.rsplit_once('.')?;
        let public = URL_SAFE_NO_PAD.decode(&pair.x).ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public)
            .verify(input.as_bytes(), &signature)
            .ok()?;
        let payload = input.split('.').nth(1)?;
        return serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok();
    }
    let algorithm: Algorithm = alg.parse().ok()?;
    let decoding = DecodingKey::from_jwk(key).ok()?;
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<C>(jwt, &decoding, &validation).ok().map(|data| data.claims)
}

#[cfg(test)]
mod tests {
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use serde_json::json;

    use super::*;

    fn signed(pair: &Ed25519KeyPair, alg: &str) -> String {
        let part = |value: Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&value).unwrap());
        let input = format!("{}.{}", part(json!({"alg": alg})), part(json!({"n": 1})));
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(pair.sign(input.as_bytes()).as_ref()))
    }

    #[test]
    fn an_ed25519_signature_verifies_under_either_name_and_with_its_own_key_only() {
        let random = ring::rand::SystemRandom::new();
        let pair = |_| Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&random).unwrap().as_ref()).unwrap();
        let (mine, other) = (pair(0), pair(1));
        let jwk = |pair: &Ed25519KeyPair| -> Jwk {
            let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
            serde_json::from_value(json!({"kty": "OKP", "crv": "Ed25519", "x": x})).unwrap()
        };
        for alg in ["EdDSA", "Ed25519"] {
            let jwt = signed(&mine, alg);
            assert_eq!(taken_algorithm(&header(&jwt).unwrap()), Some(alg));
            assert_eq!(verified::<Value>(&jwt, alg, &jwk(&mine)), Some(json!({"n": 1})), "{alg}");
            assert_eq!(verified::<Value>(&jwt, alg, &jwk(&other)), None, "{alg} with another key");
        }
        assert_eq!(taken_algorithm(&json!({"alg": "none"})), None);
        assert_eq!(taken_algorithm(&json!({"alg": "HS256"})), None);
    }
}
