//! The Standard Webhooks scheme (standardwebhooks.com): a secret of random bytes written
//! `whsec_<base64>`, and each attempt signed as `v1,<base64 HMAC-SHA256 of
//! "{webhook-id}.{webhook-timestamp}.{body}">`. Small enough to write here over the keyed tags
//! of `tokens::mac`; the tests check it against the scheme's published example and its
//! reference library.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::tokens::mac::MacKey;

const PREFIX: &str = "whsec_";

/// Where an endpoint's sealed secret belongs: sealing binds it to the endpoint, so a sealed
/// secret copied to another row does not open.
pub fn sealed_place(endpoint_id: uuid::Uuid) -> Vec<u8> {
    format!("webhook-secret:{endpoint_id}").into_bytes()
}

/// An endpoint's signing secret.
pub struct Secret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// 32 random bytes: as strong as the HMAC's key can use.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// `whsec_…`, the form receivers' libraries take.
    pub fn display(&self) -> SecretString {
        SecretString::from(format!("{PREFIX}{}", STANDARD.encode(&*self.0)))
    }

    /// A secret in its `whsec_…` form (the prefix may be left out).
    pub fn parse(text: &SecretString) -> Option<Self> {
        let text = text.expose_secret();
        let encoded = text.strip_prefix(PREFIX).unwrap_or(text);
        STANDARD.decode(encoded).ok().filter(|bytes| !bytes.is_empty()).map(|bytes| Self(Zeroizing::new(bytes)))
    }

    /// The `webhook-signature` header's value for one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &str) -> String {
        let tag =
            MacKey::new(&self.0).tag(&[id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", body.as_bytes()]);
        format!("v1,{}", STANDARD.encode(tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_schemes_published_example() {
        let secret = Secret::parse(&SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, r#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_secret_round_trips_through_its_whsec_form_and_never_prints() {
        let secret = Secret::generate();
        let shown = secret.display();
        assert!(shown.expose_secret().starts_with("whsec_"));
        assert_eq!(Secret::parse(&shown).unwrap().bytes(), secret.bytes());
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert!(Secret::parse(&SecretString::from("whsec_not base64!")).is_none());
    }
}
