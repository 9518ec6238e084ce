//! Access tokens: JWTs signed with the configured algorithm (`EdDSA` by default, `ES256` or
//! `RS256`), `kid` in the header, verifiable by anyone holding the JWKS. Signing keys live in
//! the database so that every replica, and every restart, signs and verifies with the same ones.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::JwtAlgorithm;
use super::mac::MacKey;

pub use super::keys::{Jwk, KeyAlgorithm, SigningKey};

/// Anything longer than this is not a token we issued; it is refused before any parsing. The
/// longest we issue carries 4 KiB of `app_data` (about 5.5 KB once encoded) and an RSA signature.
pub const MAX_TOKEN_LEN: usize = 8192;

/// The claims of an access token, as the contract lists them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub iss: String,
    /// The account id.
    pub sub: Uuid,
    /// Who the token is for (`GATEHOUSE_TOKEN_AUDIENCE`); verifiers check it.
    pub aud: String,
    /// The session id, checked against the session store on every request.
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    pub email: String,
    pub role: String,
    /// The account's admin-written data (see [`crate::model::account::Account::app_data`]).
    #[serde(default)]
    pub app_data: serde_json::Map<String, serde_json::Value>,
    /// How the session was authenticated (RFC 8176 values: `pwd`, `otp`, `mfa`…).
    #[serde(default)]
    pub amr: Vec<String>,
    /// The authenticator assurance level: 1 for one factor, 2 for two (0 in tokens from
    /// before it was recorded).
    #[serde(default)]
    pub aal: u8,
    /// The session's active organization, as the membership stood when the token was signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgClaim>,
    /// Who acts as the account (RFC 8693's `act`): an admin impersonating it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ActClaim>,
}

/// The actor of an impersonation: `{"sub": <the admin's account id>}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActClaim {
    pub sub: Uuid,
}

/// An organization in a token: the session's active one, with the account's role and
/// permissions there. Apps that must act on a removal at once ask gatehouse instead
/// (introspection, userinfo, forward-auth): they read the membership at the request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrgClaim {
    pub id: Uuid,
    pub slug: String,
    pub role: String,
    pub permissions: Vec<String>,
    /// The names of the account's groups in the organization (provisioned by SCIM).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
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

/// What tokens are issued as: by whom, for whom, signed with which algorithm, living how long.
#[derive(Clone, Debug)]
pub struct Issuing {
    pub issuer: String,
    pub audience: String,
    /// The algorithm new tokens are signed with.
    pub algorithm: KeyAlgorithm,
    /// The algorithm the ID tokens of client apps are signed with (`RS256`, which OpenID
    /// Connect asks every relying party to accept, unless configured otherwise).
    pub id_algorithm: KeyAlgorithm,
    /// With it, a key that stopped signing longer than this ago verifies nothing and leaves
    /// the JWKS: every token it signed has expired.
    pub token_ttl: Option<Duration>,
}

impl Issuing {
    /// Tokens by and for `issuer`, signed with Ed25519; old keys are kept.
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        let (algorithm, id_algorithm) = (KeyAlgorithm::EdDSA, KeyAlgorithm::RS256);
        Self { audience: issuer.clone(), issuer, algorithm, id_algorithm, token_ttl: None }
    }
}

/// The keys this process signs and verifies with.
pub struct KeyRing {
    issuing: Issuing,
    active: (String, KeyAlgorithm, EncodingKey),
    /// The key that signs ID tokens, when it is not the active one; none until a key of the
    /// ID-token algorithm exists (see [`KeyRing::needs_id_key`]).
    id_signer: Option<(String, KeyAlgorithm, EncodingKey)>,
    verifiers: HashMap<String, (KeyAlgorithm, DecodingKey)>,
    public: Vec<Jwk>,
    /// One per algorithm: a token is checked only with the algorithm of the key its `kid` names.
    validations: HashMap<KeyAlgorithm, Validation>,
    root: MacKey,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("issuing", &self.issuing)
            .field("active_kid", &self.active.0)
            .finish_non_exhaustive()
    }
}

/// A new key is published (in the JWKS, on every replica) this long before it signs anything,
/// so that no replica is handed a token signed by a key it has not loaded yet. Replicas reload
/// their keys more often than this.
pub const KEY_PUBLISH_DELAY: std::time::Duration = std::time::Duration::from_secs(120);

impl KeyRing {
    /// Builds a ring from stored keys, as of now, keeping every key; the newest key's
    /// algorithm signs.
    pub fn new(issuer: impl Into<String>, keys: Vec<SigningKey>) -> anyhow::Result<Self> {
        let newest = keys.iter().max_by_key(|k| k.created_at).ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let issuing = Issuing { algorithm: newest.algorithm, ..Issuing::new(issuer) };
        Self::at(&issuing, keys, Utc::now())
    }

    /// Builds a ring from stored keys, as of `now`. The signing key is the newest key of the
    /// configured algorithm published for at least [`KEY_PUBLISH_DELAY`] — or, when none of
    /// that algorithm is yet, the oldest of them at once: a first key signs at once, and so
    /// does the first key of an algorithm just switched to (the operator asked for it; the
    /// other replicas load it the moment a token names it). Should no key of the algorithm
    /// exist, the newest published key of any algorithm signs. ID tokens are signed the same
    /// way by a key of their own algorithm.
    pub fn at(issuing: &Issuing, mut keys: Vec<SigningKey>, now: DateTime<Utc>) -> anyhow::Result<Self> {
        keys.sort_by_key(|k| k.created_at);
        let oldest = keys.first().ok_or_else(|| anyhow::anyhow!("no signing key"))?;
        let publish = chrono::Duration::from_std(KEY_PUBLISH_DELAY).unwrap_or_default();
        let published = |k: &&SigningKey| k.created_at + publish <= now;
        let of_algorithm = |algorithm: KeyAlgorithm| keys.iter().filter(move |k| k.algorithm == algorithm);
        let signer =
            |algorithm| of_algorithm(algorithm).rev().find(published).or_else(|| of_algorithm(algorithm).next());
        let signing = signer(issuing.algorithm).or_else(|| keys.iter().rev().find(published)).unwrap_or(oldest);
        let active = (signing.kid.clone(), signing.algorithm, signing.encoding_key()?);
        let id_signing = match issuing.id_algorithm == signing.algorithm {
            true => None,
            false => signer(issuing.id_algorithm),
        };
        let id_signer = match id_signing {
            Some(key) => Some((key.kid.clone(), key.algorithm, key.encoding_key()?)),
            None => None,
        };
        // The oldest key roots the derived secrets, so they stay the same when a new key is added.
        let root = MacKey::new(&oldest.private_pkcs8);
        // A key stops signing when its successor starts: the next key of its algorithm; for a key
        // of an algorithm no longer configured, the next one of each configured algorithm (the
        // later of the two). Its tokens live `token_ttl` longer.
        let first_after = |index: usize, algorithm| keys[index + 1..].iter().find(|k| k.algorithm == algorithm);
        let succeeded_at = |index: usize| {
            let algorithm = keys[index].algorithm;
            if algorithm == issuing.algorithm || algorithm == issuing.id_algorithm {
                return first_after(index, algorithm).map(|next| next.created_at);
            }
            let access = first_after(index, issuing.algorithm)?.created_at;
            Some(first_after(index, issuing.id_algorithm).map_or(access, |id| id.created_at.max(access)))
        };
        let signs = |key: &SigningKey| key.kid == signing.kid || id_signing.is_some_and(|id| id.kid == key.kid);
        let retired = |index: usize| match (issuing.token_ttl, succeeded_at(index)) {
            (Some(ttl), Some(at)) => {
                at + publish + chrono::Duration::from_std(ttl).unwrap_or_default() <= now && !signs(&keys[index])
            }
            _ => false,
        };
        let live: Vec<&SigningKey> = keys.iter().enumerate().filter(|(i, _)| !retired(*i)).map(|(_, k)| k).collect();
        let public = live.iter().map(|k| k.jwk()).collect::<anyhow::Result<Vec<Jwk>>>()?;
        let verifiers = live
            .iter()
            .zip(&public)
            .map(|(key, jwk)| Ok((key.kid.clone(), (key.algorithm, jwk.decoding_key()?))))
            .collect::<anyhow::Result<_>>()?;
        let validations = KeyAlgorithm::ALL
            .into_iter()
            .map(|algorithm| {
                let mut validation = Validation::new(algorithm.jwt());
                validation.set_issuer(&[&issuing.issuer]);
                validation.set_audience(&[&issuing.audience]);
                validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                validation.leeway = 0;
                (algorithm, validation)
            })
            .collect();
        Ok(Self { issuing: issuing.clone(), active, id_signer, verifiers, public, validations, root })
    }

    /// The kid of the key that signs.
    pub fn signing_kid(&self) -> &str {
        &self.active.0
    }

    /// The algorithm new tokens are signed with.
    pub fn signing_algorithm(&self) -> KeyAlgorithm {
        self.active.1
    }

    /// The kid of the key that signs ID tokens.
    pub fn id_signing_kid(&self) -> &str {
        self.id_signer.as_ref().map_or(&self.active.0, |(kid, ..)| kid)
    }

    /// The algorithm ID tokens are signed with: the configured one once a key of it exists.
    pub fn id_signing_algorithm(&self) -> KeyAlgorithm {
        self.id_signer.as_ref().map_or(self.active.1, |(_, algorithm, _)| *algorithm)
    }

    /// The algorithm ID tokens are configured for; until its key exists, the token endpoint
    /// makes it before it signs.
    pub fn id_token_algorithm(&self) -> KeyAlgorithm {
        self.issuing.id_algorithm
    }

    /// Whether ID tokens are configured for an algorithm no stored key has yet. The key is made
    /// when the first client app is registered (or the first ID token is asked for), not at
    /// start: generating an RSA key takes a moment, and most installations have no client app.
    pub fn needs_id_key(&self) -> bool {
        self.id_signer.is_none() && self.active.1 != self.issuing.id_algorithm
    }

    /// Whether `kid` verifies tokens (is in the JWKS).
    pub fn knows(&self, kid: &str) -> bool {
        self.verifiers.contains_key(kid)
    }

    pub fn issuer(&self) -> &str {
        &self.issuing.issuer
    }

    pub fn audience(&self) -> &str {
        &self.issuing.audience
    }

    /// A secret for `purpose`, derived from the stored signing keys: every replica derives the
    /// same one, and it never leaves the process.
    pub fn derive_secret(&self, purpose: &str) -> MacKey {
        MacKey::new(&self.root.tag(&[purpose.as_bytes()]))
    }

    /// Signs claims with the active key.
    pub fn sign(&self, claims: &AccessClaims) -> anyhow::Result<String> {
        self.sign_typed(claims, "JWT")
    }

    /// Signs any claims with the active key, with `typ` in the header (`at+jwt` for the access
    /// tokens of client apps, RFC 9068).
    pub fn sign_typed<T: Serialize>(&self, claims: &T, typ: &str) -> anyhow::Result<String> {
        sign_with(&self.active, claims, typ)
    }

    /// Signs a back-channel logout token (`typ: logout+jwt`) with the ID-token key, which the
    /// client already verifies ID tokens with.
    pub fn sign_logout_token<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        sign_with(self.id_signer.as_ref().unwrap_or(&self.active), claims, "logout+jwt")
    }

    /// Signs the claims of an ID token with the ID-token key (the active key until one exists).
    pub fn sign_id_token<T: Serialize>(&self, claims: &T) -> anyhow::Result<String> {
        sign_with(self.id_signer.as_ref().unwrap_or(&self.active), claims, "JWT")
    }

    /// Checks a token of another shape than the access token ([`Self::verify`] does that): its
    /// size, header (`typ` must be `typ`), key, signature, issuer and expiry, and with
    /// `audiences` its `aud`. `expired_too` accepts an expired one (an `id_token_hint`).
    pub fn verify_typed<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        audiences: Option<&[&str]>,
        expired_too: bool,
    ) -> Result<T, TokenError> {
        let (algorithm, key, header) = self.key_for(token)?;
        if header.typ.as_deref().is_none_or(|t| !t.eq_ignore_ascii_case(typ)) {
            return Err(TokenError::Invalid);
        }
        let mut validation = self.validations[&algorithm].clone();
        match audiences {
            Some(audiences) => validation.set_audience(audiences),
            None => validation.validate_aud = false,
        }
        validation.validate_exp = !expired_too;
        jsonwebtoken::decode::<T>(token, key, &validation).map(|data| data.claims).map_err(classify)
    }

    /// The key (and its algorithm) a token's header names, after the size and header checks.
    fn key_for(&self, token: &str) -> Result<(KeyAlgorithm, &DecodingKey, Header), TokenError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN || token.bytes().filter(|b| *b == b'.').count() != 2 {
            return Err(TokenError::Malformed);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !KeyAlgorithm::ALL.iter().any(|algorithm| algorithm.jwt() == header.alg) {
            return Err(TokenError::Invalid);
        }
        let (algorithm, key) =
            header.kid.as_deref().and_then(|kid| self.verifiers.get(kid)).ok_or(TokenError::UnknownKey)?;
        if header.alg != algorithm.jwt() {
            return Err(TokenError::Invalid);
        }
        Ok((*algorithm, key, header))
    }

    /// Checks a token's size, header, key, signature, issuer, audience and expiry. The
    /// algorithm is the one of the key the `kid` names; a header naming another is refused.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let (algorithm, key, header) = self.key_for(token)?;
        // Client apps' access tokens (`at+jwt`) and ID tokens never pass for gatehouse's own.
        if header.typ.as_deref().is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT")) {
            return Err(TokenError::Invalid);
        }
        let validation = &self.validations[&algorithm];
        jsonwebtoken::decode::<AccessClaims>(token, key, validation).map(|data| data.claims).map_err(classify)
    }

    /// The public keys, as the JWKS lists them.
    pub fn jwks(&self) -> Vec<Jwk> {
        self.public.clone()
    }
}

fn sign_with<T: Serialize>(
    (kid, algorithm, key): &(String, KeyAlgorithm, EncodingKey),
    claims: &T,
    typ: &str,
) -> anyhow::Result<String> {
    let mut header = Header::new(algorithm.jwt());
    header.kid = Some(kid.clone());
    header.typ = Some(typ.to_owned());
    Ok(jsonwebtoken::encode(&header, claims, key)?)
}

fn classify(error: jsonwebtoken::errors::Error) -> TokenError {
    match error.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
        jsonwebtoken::errors::ErrorKind::Base64(_)
        | jsonwebtoken::errors::ErrorKind::Json(_)
        | jsonwebtoken::errors::ErrorKind::Utf8(_)
        | jsonwebtoken::errors::ErrorKind::InvalidToken => TokenError::Malformed,
        _ => TokenError::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::Algorithm;

    use super::*;

    #[test]
    fn a_new_key_is_published_before_it_signs_and_an_old_one_leaves_once_its_tokens_expired() {
        let start = Utc::now() - chrono::Duration::days(1);
        let old = SigningKey::generate(start).unwrap();
        let new = SigningKey::generate(start + chrono::Duration::hours(1)).unwrap();
        let ttl = Some(std::time::Duration::from_secs(900));
        let issuing = Issuing { token_ttl: ttl, ..Issuing::new("https://a.example") };
        let at = |offset: chrono::Duration| {
            KeyRing::at(&issuing, vec![old.clone(), new.clone()], new.created_at + offset).unwrap()
        };
        let just_added = at(chrono::Duration::seconds(1));
        assert_eq!(just_added.signing_kid(), old.kid, "the old key signs until the new one is published");
        assert!(just_added.knows(&new.kid) && just_added.knows(&old.kid));
        let published = at(chrono::Duration::seconds(121));
        assert_eq!(published.signing_kid(), new.kid);
        assert!(published.knows(&old.kid), "tokens the old key signed are still valid");
        let later = at(chrono::Duration::seconds(120 + 901));
        assert!(!later.knows(&old.kid) && later.jwks().len() == 1, "every token of the old key has expired");
        let only = KeyRing::at(&issuing, vec![new.clone()], new.created_at).unwrap();
        assert_eq!(only.signing_kid(), new.kid, "a first key signs at once");
    }

    #[test]
    fn id_tokens_have_a_key_of_their_own_which_stays_while_the_access_key_rotates() {
        let start = Utc::now() - chrono::Duration::days(1);
        let ed0 = SigningKey::generate(start).unwrap();
        let rs = SigningKey::generate_for(KeyAlgorithm::RS256, start + chrono::Duration::hours(1)).unwrap();
        let ed1 = SigningKey::generate(start + chrono::Duration::hours(2)).unwrap();
        let issuing =
            Issuing { token_ttl: Some(std::time::Duration::from_secs(900)), ..Issuing::new("https://a.example") };
        let without = KeyRing::at(&issuing, vec![ed0.clone()], Utc::now()).unwrap();
        assert!(without.needs_id_key(), "no RS256 key yet");
        assert_eq!(without.id_signing_kid(), ed0.kid, "until then the access key signs ID tokens");

        // The RS256 key came an hour after ed0, ed1 an hour later: ed0 signed until ed1 took over.
        let ring = |at| KeyRing::at(&issuing, vec![ed0.clone(), rs.clone(), ed1.clone()], at).unwrap();
        let soon = ring(ed1.created_at + chrono::Duration::seconds(121));
        assert!(!soon.needs_id_key());
        assert_eq!((soon.signing_kid(), soon.id_signing_kid()), (ed1.kid.as_str(), rs.kid.as_str()));
        assert!(soon.knows(&ed0.kid), "ed0's last tokens are still valid, whatever came between");
        let later = ring(Utc::now());
        assert!(!later.knows(&ed0.kid) && later.knows(&rs.kid) && later.knows(&ed1.kid));

        let id_token = later.sign_id_token(&claims(60)).unwrap();
        let header = jsonwebtoken::decode_header(&id_token).unwrap();
        assert_eq!((header.alg, header.kid.as_deref()), (Algorithm::RS256, Some(rs.kid.as_str())));
        let access = jsonwebtoken::decode_header(&later.sign(&claims(60)).unwrap()).unwrap();
        assert_eq!((access.alg, access.kid), (Algorithm::EdDSA, Some(ed1.kid.clone())));

        // When access tokens are RS256 too, one key signs both.
        let rsa_only = KeyRing::new("https://a.example", vec![rs.clone()]).unwrap();
        assert!(!rsa_only.needs_id_key());
        assert_eq!(rsa_only.id_signing_kid(), rs.kid);
    }

    fn ring() -> KeyRing {
        KeyRing::new("https://auth.example.com", vec![SigningKey::generate(Utc::now()).unwrap()]).unwrap()
    }

    fn claims(exp_in: i64) -> AccessClaims {
        let now = Utc::now().timestamp();
        AccessClaims {
            iss: "https://auth.example.com".into(),
            sub: Uuid::now_v7(),
            aud: "https://auth.example.com".into(),
            sid: Uuid::now_v7(),
            iat: now,
            exp: now + exp_in,
            jti: Uuid::now_v7(),
            email: "ann@example.com".into(),
            role: "user".into(),
            app_data: serde_json::Map::new(),
            amr: vec!["pwd".into()],
            aal: 1,
            org: None,
            act: None,
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
        let forged = jsonwebtoken::encode(&header, &claims(60), &theirs.active.2).unwrap();
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
        let public = URL_SAFE_NO_PAD.decode(ring.jwks()[0].x.as_deref().unwrap()).unwrap();
        let hs = jsonwebtoken::encode(&header, &claims(60), &EncodingKey::from_secret(&public)).unwrap();
        assert_eq!(ring.verify(&hs), Err(TokenError::Invalid));
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_is_refused() {
        let ring = ring();
        let mut foreign = claims(60);
        foreign.iss = "https://evil.example.com".into();
        assert_eq!(ring.verify(&ring.sign(&foreign).unwrap()), Err(TokenError::Invalid));
        let mut elsewhere = claims(60);
        elsewhere.aud = "https://other-app.example.com".into();
        assert_eq!(ring.verify(&ring.sign(&elsewhere).unwrap()), Err(TokenError::Invalid));
    }

    #[test]
    fn every_algorithm_signs_tokens_its_jwk_verifies_and_no_other_algorithm_passes_for_it() {
        for algorithm in KeyAlgorithm::ALL {
            let key = SigningKey::generate_for(algorithm, Utc::now()).unwrap();
            let ring = KeyRing::new("https://auth.example.com", vec![key.clone()]).unwrap();
            let token = ring.sign(&claims(60)).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!((header.alg, header.kid.as_deref()), (algorithm.jwt(), Some(key.kid.as_str())));
            assert!(ring.verify(&token).is_ok(), "{algorithm}");
            // Verified from the published JWK alone, as another service would.
            let jwk = &ring.jwks()[0];
            assert_eq!((jwk.alg.as_str(), jwk.kid.as_str()), (algorithm.name(), key.kid.as_str()));
            let mut validation = Validation::new(algorithm.jwt());
            validation.set_audience(&["https://auth.example.com"]);
            let decoded = jsonwebtoken::decode::<AccessClaims>(&token, &jwk.decoding_key().unwrap(), &validation);
            assert!(decoded.is_ok(), "{algorithm}: {decoded:?}");
            // The same signature under another algorithm's name is refused.
            let (_, rest) = token.split_once('.').unwrap();
            for other in KeyAlgorithm::ALL.into_iter().filter(|other| *other != algorithm) {
                let renamed =
                    URL_SAFE_NO_PAD.encode(format!(r#"{{"typ":"JWT","alg":"{}","kid":"{}"}}"#, other.name(), key.kid));
                assert_eq!(
                    ring.verify(&format!("{renamed}.{rest}")),
                    Err(TokenError::Invalid),
                    "{algorithm} as {other}"
                );
            }
        }
    }

    #[test]
    fn after_an_algorithm_switch_the_new_algorithm_signs_at_once_and_old_tokens_still_verify() {
        let old = SigningKey::generate_for(KeyAlgorithm::EdDSA, Utc::now() - chrono::Duration::days(1)).unwrap();
        let before = KeyRing::new("https://auth.example.com", vec![old.clone()]).unwrap();
        let old_token = before.sign(&claims(60)).unwrap();
        let new = SigningKey::generate_for(KeyAlgorithm::RS256, Utc::now()).unwrap();
        let issuing = Issuing { algorithm: KeyAlgorithm::RS256, ..Issuing::new("https://auth.example.com") };
        let after = KeyRing::at(&issuing, vec![old.clone(), new.clone()], Utc::now()).unwrap();
        assert_eq!((after.signing_kid(), after.signing_algorithm()), (new.kid.as_str(), KeyAlgorithm::RS256));
        assert!(after.verify(&old_token).is_ok());
        assert!(after.verify(&after.sign(&claims(60)).unwrap()).is_ok());
        // A replica still configured for EdDSA keeps signing with it, and verifies both.
        let unswitched = KeyRing::at(&Issuing::new("https://auth.example.com"), vec![old.clone(), new], Utc::now());
        let unswitched = unswitched.unwrap();
        assert_eq!(unswitched.signing_kid(), old.kid);
        assert!(unswitched.verify(&after.sign(&claims(60)).unwrap()).is_ok());
    }

    #[test]
    fn garbage_and_oversized_tokens_are_malformed() {
        let ring = ring();
        for bad in ["", "abc", "a.b.c", "...", &"a".repeat(MAX_TOKEN_LEN + 1)] {
            assert!(ring.verify(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ring.verify(&format!("{}.e30.sig", "x".repeat(MAX_TOKEN_LEN + 1000))), Err(TokenError::Malformed));
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
