//! The keys that sign access tokens: one of three algorithms, generated here, stored in the
//! database as PKCS#8 (private) and the raw public key, and published as JWKs.
//!
//! - `EdDSA` (Ed25519): the default; small, fast, deterministic signatures.
//! - `ES256` (ECDSA P-256): for verifiers without Ed25519 (Node's `jsonwebtoken`).
//! - `RS256` (RSA 2048, PKCS#1 v1.5): for verifiers that take RSA only (AWS API Gateway).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The size of the RSA keys generated for `RS256`.
const RSA_BITS: usize = 2048;

pub use crate::model::token::KeyAlgorithm;

/// The `jsonwebtoken` algorithm of a key's.
pub(super) trait JwtAlgorithm {
    fn jwt(self) -> Algorithm;
}

impl JwtAlgorithm for KeyAlgorithm {
    fn jwt(self) -> Algorithm {
        match self {
            Self::EdDSA => Algorithm::EdDSA,
            Self::ES256 => Algorithm::ES256,
            Self::RS256 => Algorithm::RS256,
        }
    }
}

/// A signing key as stored: the PKCS#8 document and the public key — raw for Ed25519, the
/// uncompressed point for P-256, the PKCS#1 `RSAPublicKey` for RSA.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub algorithm: KeyAlgorithm,
    pub private_pkcs8: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Makes a new random Ed25519 key.
    pub fn generate(now: DateTime<Utc>) -> anyhow::Result<Self> {
        Self::generate_for(KeyAlgorithm::EdDSA, now)
    }

    /// Makes a new random key for `algorithm`. Its `kid` is derived from the public key.
    pub fn generate_for(algorithm: KeyAlgorithm, now: DateTime<Utc>) -> anyhow::Result<Self> {
        let rng = SystemRandom::new();
        let (private_pkcs8, public_key) = match algorithm {
            KeyAlgorithm::EdDSA => {
                let pkcs8 =
                    Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| anyhow::anyhow!("generating an Ed25519 key"))?;
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
                    .map_err(|_| anyhow::anyhow!("reading the new Ed25519 key"))?;
                (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
            }
            KeyAlgorithm::ES256 => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| anyhow::anyhow!("generating a P-256 key"))?;
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(|_| anyhow::anyhow!("reading the new P-256 key"))?;
                (pkcs8.as_ref().to_vec(), pair.public_key().as_ref().to_vec())
            }
            KeyAlgorithm::RS256 => {
                let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)?;
                let pkcs8 = private.to_pkcs8_der()?;
                let public = private.to_public_key().to_pkcs1_der()?;
                (pkcs8.as_bytes().to_vec(), public.as_bytes().to_vec())
            }
        };
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public_key)[..12]);
        Ok(Self { kid, algorithm, private_pkcs8, public_key, created_at: now })
    }

    /// The key jsonwebtoken signs with; checks that the stored document is readable.
    pub(super) fn encoding_key(&self) -> anyhow::Result<EncodingKey> {
        let unreadable = || anyhow::anyhow!("the stored {} signing key {} is unreadable", self.algorithm, self.kid);
        Ok(match self.algorithm {
            KeyAlgorithm::EdDSA => {
                Ed25519KeyPair::from_pkcs8(&self.private_pkcs8).map_err(|_| unreadable())?;
                EncodingKey::from_ed_der(&self.private_pkcs8)
            }
            KeyAlgorithm::ES256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.private_pkcs8, &SystemRandom::new())
                    .map_err(|_| unreadable())?;
                EncodingKey::from_ec_der(&self.private_pkcs8)
            }
            // jsonwebtoken reads RSA private keys as PKCS#1.
            KeyAlgorithm::RS256 => {
                let private = rsa::RsaPrivateKey::from_pkcs8_der(&self.private_pkcs8).map_err(|_| unreadable())?;
                EncodingKey::from_rsa_der(private.to_pkcs1_der().map_err(|_| unreadable())?.as_bytes())
            }
        })
    }

    /// The public key as a JWK, the one description every verifier reads.
    pub fn jwk(&self) -> anyhow::Result<Jwk> {
        let b64 = |bytes: &[u8]| Some(URL_SAFE_NO_PAD.encode(bytes));
        let mut jwk = Jwk {
            kty: String::new(),
            crv: None,
            x: None,
            y: None,
            n: None,
            e: None,
            kid: self.kid.clone(),
            alg: self.algorithm.name().to_owned(),
            use_: "sig".into(),
        };
        match self.algorithm {
            KeyAlgorithm::EdDSA => {
                (jwk.kty, jwk.crv, jwk.x) = ("OKP".into(), Some("Ed25519".into()), b64(&self.public_key));
            }
            KeyAlgorithm::ES256 => {
                // The uncompressed point: 0x04, then x and y, 32 bytes each.
                anyhow::ensure!(self.public_key.len() == 65, "the stored P-256 public key {} is malformed", self.kid);
                (jwk.kty, jwk.crv) = ("EC".into(), Some("P-256".into()));
                (jwk.x, jwk.y) = (b64(&self.public_key[1..33]), b64(&self.public_key[33..]));
            }
            KeyAlgorithm::RS256 => {
                let public = rsa::RsaPublicKey::from_pkcs1_der(&self.public_key)?;
                jwk.kty = "RSA".into();
                (jwk.n, jwk.e) = (b64(&public.n().to_bytes_be()), b64(&public.e().to_bytes_be()));
            }
        }
        Ok(jwk)
    }
}

/// One entry of the JWKS document: an OKP (RFC 8037), EC or RSA key (RFC 7518).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Jwk {
    /// `OKP`, `EC` or `RSA`.
    pub kty: String,
    /// `Ed25519` or `P-256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// The RSA modulus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// The RSA public exponent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub alg: String,
    #[serde(rename = "use")]
    #[schema(rename = "use")]
    pub use_: String,
}

impl Jwk {
    /// The key that verifies what this JWK's private half signed.
    pub(super) fn decoding_key(&self) -> anyhow::Result<DecodingKey> {
        let missing = || anyhow::anyhow!("the JWK {} lacks a component", self.kid);
        Ok(match self.kty.as_str() {
            "OKP" => DecodingKey::from_ed_components(self.x.as_deref().ok_or_else(missing)?)?,
            "EC" => DecodingKey::from_ec_components(
                self.x.as_deref().ok_or_else(missing)?,
                self.y.as_deref().ok_or_else(missing)?,
            )?,
            "RSA" => DecodingKey::from_rsa_components(
                self.n.as_deref().ok_or_else(missing)?,
                self.e.as_deref().ok_or_else(missing)?,
            )?,
            other => anyhow::bail!("unknown key type {other}"),
        })
    }
}
