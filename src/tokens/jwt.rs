//! Access tokens: JWTs signed with Ed25519 (`alg: EdDSA`), `kid` in the header, verifiable by
//! anyone holding the JWKS. Signing keys live in the database so that every replica, and every
//! restart, signs and verifies with the same ones.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Anything longer than this is not a token we issued; it is refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 4096;

/// The claims of an access token, as the contract lists them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The account id.
    pub sub: Uuid,
    /// The session id, checked against the session store on every request.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub email: String,
    pub role: String,
}

/// An Ed25519 signing key as stored: the PKCS#8 document and the raw public key.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub private_pkcs8: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Makes a new random key. Its `kid` is derived from the public key.
    pub fn generate(now: DateTime<Utc>) -> anyhow::Result<Self> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("generating an Ed25519 key"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| anyhow::anyhow!("reading the new key"))?;
        let public_key = pair.public_key().as_ref().to_vec();
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public_key)[..12]);
        Ok(Self { kid, private_pkcs8: pkcs8.as_ref().to_vec(), public_key, created_at: now })
    }
}

/// Why a presented token was refused. The client only ever learns "401".
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token's signature or claims are invalid")]
    Invalid,
}

/// The keys this process signs and verifies with; the newest signs.
pub struct KeyRing {
    issuer: String,
    active: (String, EncodingKey),
    verifiers: HashMap<String, DecodingKey>,
    public: Vec<(String, Vec<u8>)>,
    validation: Validation,
    root: ring::hmac::Key,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuer", &self.issuer)
            .field("active_kid", &self.active.0)
            .finish_non_exhaustive()
    }
}

/// One entry of the JWKS document (RFC 8037 OKP key).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    #[schema(rename = "use")]
    pub use_: String,
}

/// A new key is published (in the JWKS, on every replica) this long before it signs anything,
/// so that no replica is handed a token signed by a key it has not loaded yet. Replicas reload
/// their keys more often than this.
pub const KEY_PUBLISH_DELAY: std::time::Duration = std::time::Duration::from_secs(120);

impl KeyRing {
    /// Builds a ring from stored keys, as of now, keeping every key.
    pub fn new(issuer: impl Into<String>, keys: Vec<SigningKey>) -> anyhow::Result<Self> {
        Self::at(issuer, keys, Utc::now(), None)
    }

    /// Builds a ring from stored keys, as of `now`. The signing key is the newest one published
    /// for at least [`KEY_PUBLISH_DELAY`] (or the oldest, when none is yet: a first key signs at
    /// once). With `token_ttl`, a key that stopped signing longer than that ago verifies nothing
    /// and leaves the JWKS: every token it signed has expired.
    pub fn at(
        issuer: impl Into<String>,
        mut keys: Vec<SigningKey>,
        now: DateTime<Utc>,
        token_ttl: Option<std::time::Duration>,
    ) -> anyhow::Result<Self> {
        keys.sort_by_key(|k| k.created_at);
        let oldest = keys.first().ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let publish = chrono::Duration::from_std(KEY_PUBLISH_DELAY).unwrap_or_default();
        let signing = keys.iter().rev().find(|k| k.created_at + publish <= now).unwrap_or(oldest);
        Ed25519KeyPair::from_pkcs8(&signing.private_pkcs8)
            .map_err(|_| anyhow::anyhow!("stored signing key unreadable"))?;
        let active = (signing.kid.clone(), EncodingKey::from_ed_der(&signing.private_pkcs8));
        // The oldest key roots the derived secrets, so they stay the same when a new key is added.
        let root = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &oldest.private_pkcs8);
        // A key stops signing when its successor starts; its tokens live `token_ttl` longer.
        let retired = |index: usize| match (token_ttl, keys.get(index + 1)) {
            (Some(ttl), Some(next)) => {
                next.created_at + publish + chrono::Duration::from_std(ttl).unwrap_or_default() <= now
                    && keys[index].kid != signing.kid
            }
            _ => false,
        };
        let live: Vec<&SigningKey> = keys.iter().enumerate().filter(|(i, _)| !retired(*i)).map(|(_, k)| k).collect();
        let issuer = issuer.into();
        let verifiers = live.iter().map(|k| (k.kid.clone(), DecodingKey::from_ed_der(&k.public_key))).collect();
        let public = live.iter().map(|k| (k.kid.clone(), k.public_key.clone())).collect();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        validation.validate_aud = false;
        Ok(Self { issuer, active, verifiers, public, validation, root })
    }

    /// The kid of the key that signs.
    pub fn signing_kid(&self) -> &str {
        &self.active.0
    }

    /// Whether `kid` verifies tokens (is in the JWKS).
    pub fn knows(&self, kid: &str) -> bool {
        self.verifiers.contains_key(kid)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// A secret for `purpose`, derived from the stored signing keys: every replica derives the
    /// same one, and it never leaves the process.
    pub fn derive_secret(&self, purpose: &str) -> ring::hmac::Key {
        let tag = ring::hmac::sign(&self.root, purpose.as_bytes());
        ring::hmac::Key::new(ring::hmac::HMAC_SHA256, tag.as_ref())
    }

    /// Signs claims with the active key.
    pub fn sign(&self, claims: &AccessClaims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.active.0.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.active.1)?)
    }

    /// Checks a token's size, header, key, signature, issuer and expiry.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let key = header.kid.as_deref().and_then(|kid| self.verifiers.get(kid)).ok_or(TokenError::UnknownKey)?;
        jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation).map(|data| data.claims).map_err(|e| match e
            .kind()
        {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
            jsonwebtoken::errors::ErrorKind::Base64(_)
            | jsonwebtoken::errors::ErrorKind::Json(_)
            | jsonwebtoken::errors::ErrorKind::Utf8(_)
            | jsonwebtoken::errors::ErrorKind::InvalidToken => TokenError::Malformed,
            _ => TokenError::Invalid,
        })
    }

    /// The public keys, as a JWKS would list them.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.public
            .iter()
            .map(|(kid, key)| Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: URL_SAFE_NO_PAD.encode(key),
                kid: kid.clone(),
                alg: "EdDSA".into(),
                use_: "sig".into(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_published_before_it_signs_and_an_old_one_leaves_once_its_tokens_expired() {
        let start = Utc::now() - chrono::Duration::days(1);
        let old = SigningKey::generate(start).unwrap();
        let new = SigningKey::generate(start + chrono::Duration::hours(1)).unwrap();
        let ttl = Some(std::time::Duration::from_secs(900));
        let at = |offset: chrono::Duration| {
            KeyRing::at("https://a.example", vec![old.clone(), new.clone()], new.created_at + offset, ttl).unwrap()
        };
        let just_added = at(chrono::Duration::seconds(1));
        assert_eq!(just_added.signing_kid(), old.kid, "the old key signs until the new one is published");
        assert!(just_added.knows(&new.kid) && just_added.knows(&old.kid));
        let published = at(chrono::Duration::seconds(121));
        assert_eq!(published.signing_kid(), new.kid);
        assert!(published.knows(&old.kid), "tokens the old key signed are still valid");
        let later = at(chrono::Duration::seconds(120 + 901));
        assert!(!later.knows(&old.kid) && later.jwks().len() == 1, "every token of the old key has expired");
        let only = KeyRing::at("https://a.example", vec![new.clone()], new.created_at, ttl).unwrap();
        assert_eq!(only.signing_kid(), new.kid, "a first key signs at once");
    }

    fn ring() -> KeyRing {
        KeyRing::new("https://auth.example.com", vec![SigningKey::generate(Utc::now()).unwrap()]).unwrap()
    }

    fn claims(exp_in: i64) -> AccessClaims {
        let now = Utc::now().timestamp();
        AccessClaims {
            iss: "https://auth.example.com".into(),
            sub: Uuid::now_v7(),
            sid: Uuid::now_v7(),
            iat: now,
            exp: now + exp_in,
            jti: Uuid::now_v7(),
            email: "ann@example.com".into(),
            role: "user".into(),
        }
    }

    #[test]
    fn a_signed_token_verifies_and_carries_its_claims() {
        let ring = ring();
        let claims = claims(60);
        let token = ring.sign(&claims).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::EdDSA);
        assert_eq!(header.kid.as_deref(), Some(ring.jwks()[0].kid.as_str()));
        assert_eq!(ring.verify(&token).unwrap(), claims);
    }

    #[test]
    fn an_expired_token_is_refused() {
        let ring = ring();
        let token = ring.sign(&claims(-1)).unwrap();
        assert_eq!(ring.verify(&token), Err(TokenError::Expired));
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let ring = ring();
        let token = ring.sign(&claims(60)).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        payload["role"] = "admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap());
        assert_eq!(ring.verify(&parts.join(".")), Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_from_another_key_is_refused() {
        let ours = ring();
        let theirs = ring();
        let token = theirs.sign(&claims(60)).unwrap();
        assert_eq!(ours.verify(&token), Err(TokenError::UnknownKey));
        // Even when the attacker copies our kid into the header.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(ours.jwks()[0].kid.clone());
        let forged = jsonwebtoken::encode(&header, &claims(60), &theirs.active.1).unwrap();
        assert_eq!(ours.verify(&forged), Err(TokenError::Invalid));
    }

    #[test]
    fn alg_none_and_hmac_tokens_are_refused() {
        let ring = ring();
        let kid = ring.jwks()[0].kid.clone();
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(60)).unwrap());
        let none_header = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
        assert!(ring.verify(&format!("{none_header}.{body}.")).is_err());
        // An HS256 token "signed" with the public key, the classic algorithm-confusion attack.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid);
        let public = URL_SAFE_NO_PAD.decode(&ring.jwks()[0].x).unwrap();
        let hs = jsonwebtoken::encode(&header, &claims(60), &EncodingKey::from_secret(&public)).unwrap();
        assert_eq!(ring.verify(&hs), Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_for_another_issuer_is_refused() {
        let ring = ring();
        let mut foreign = claims(60);
        foreign.iss = "https://evil.example.com".into();
        assert_eq!(ring.verify(&ring.sign(&foreign).unwrap()), Err(TokenError::Invalid));
    }

    #[test]
    fn garbage_and_oversized_tokens_are_malformed() {
        let ring = ring();
        for bad in ["", "abc", "a.b.c", "...", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            assert!(ring.verify(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ring.verify(&format!("{}.e30.sig", "x".repeat(5000))), Err(TokenError::Malformed));
    }

    #[test]
    fn older_keys_still_verify_but_the_newest_published_signs() {
        let old = SigningKey::generate(Utc::now() - chrono::Duration::hours(1)).unwrap();
        let new = SigningKey::generate(Utc::now() - chrono::Duration::minutes(5)).unwrap();
        let old_ring = KeyRing::new("https://auth.example.com", vec![old.clone()]).unwrap();
        let token_by_old = old_ring.sign(&claims(60)).unwrap();
        let ring = KeyRing::new("https://auth.example.com", vec![new.clone(), old]).unwrap();
        assert!(ring.verify(&token_by_old).is_ok());
        let header = jsonwebtoken::decode_header(&ring.sign(&claims(60)).unwrap()).unwrap();
        assert_eq!(header.kid, Some(new.kid));
        assert_eq!(ring.jwks().len(), 2);
    }
}
