//! DPoP (RFC 9449): sender-constrained tokens. A client that sends a `DPoP` proof to the token
//! endpoint gets access tokens bound to its key (`cnf.jkt`), and a public client's refresh
//! tokens bound to it too (the grant records the key); such a token then opens a door only with
//! a fresh proof of that key for that very request (`htm`, `htu`, `ath`), never as a bearer
//! token. Each proof is taken once: its `jti` is spent in the shared limit store, on every
//! replica. The proof itself is checked in [`crate::tokens::dpop`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::resources::Audience;
use super::{OAuthError, OAuthResult};
use crate::accounts::{AuthorizationServer, Error, Result};
use crate::model::client::OAuthClient;
use crate::tokens::dpop::{self, Expected, Proof, Refused};
use crate::tokens::mac::same;

/// How long one DPoP nonce is handed out (seconds); it is taken for as long again.
const NONCE_WINDOW: i64 = 300;

/// A token's confirmation claim (RFC 7800 `cnf`): the thumbprint of the key it is bound to.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: String,
}

/// What a request to a door sent with the DPoP scheme: its proof, and the request itself.
#[derive(Clone, Copy, Debug)]
pub struct Possession<'a> {
    /// The one `DPoP` header (`None` when there was none, or more than one).
    pub proof: Option<&'a str>,
    pub method: &'a str,
    /// The request's URL as the client addressed it.
    pub url: &'a str,
}

/// The `token_type` of an access token bound to `jkt`, or of a bearer token.
pub(super) fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// The key a new client session's refresh tokens are bound to: a public client's proof's
/// (RFC 9449 §5; a confidential client's refresh tokens are bound to its secret already).
pub(super) fn bound_refresh(client: &OAuthClient, jkt: Option<&str>) -> Option<String> {
    jkt.filter(|_| !client.confidential).map(str::to_owned)
}

impl AuthorizationServer {
    /// The proof sent to the token endpoint (`None`: the tokens are bearer tokens), checked and
    /// spent; a bad one is `invalid_dpop_proof`.
    pub(super) async fn token_proof(&self, proof: Option<&str>) -> OAuthResult<Option<Proof>> {
        self.endpoint_proof(proof, "/oauth2/token").await
    }

    /// The proof sent to one of the authorization server's endpoints (the token endpoint, or the
    /// pushed request's, which binds the code to the key), checked and spent, with its nonce
    /// when nonces are asked for.
    pub(super) async fn endpoint_proof(&self, proof: Option<&str>, path: &str) -> OAuthResult<Option<Proof>> {
        let Some(proof) = proof else { return Ok(None) };
        let url = format!("{}{path}", self.keys().issuer());
        let at = Possession { proof: Some(proof), method: "POST", url: &url };
        let proof = match self.proven(at, None).await? {
            Ok(proof) => proof,
            Err(Refused(why)) => return Err(OAuthError::refused("invalid_dpop_proof", why)),
        };
        if self.policy().dpop_nonce && !proof.nonce.as_deref().is_some_and(|nonce| self.nonce_holds(nonce)) {
            return Err(OAuthError::refused("use_dpop_nonce", "send the proof again with the DPoP-Nonce given"));
        }
        Ok(Some(proof))
    }

    /// The nonce a DPoP proof at the token endpoint is to carry now, when nonces are asked for
    /// (`GATEHOUSE_DPOP_NONCE`): the same on every replica for a window of [`NONCE_WINDOW`],
    /// and taken through the next.
    pub fn dpop_nonce(&self) -> Option<String> {
        self.policy().dpop_nonce.then(|| self.nonce_of(self.nonce_window()))
    }

    fn nonce_window(&self) -> i64 {
        self.now().timestamp().div_euclid(NONCE_WINDOW)
    }

    fn nonce_of(&self, window: i64) -> String {
        let tag = self.keys().derive_secret("dpop-nonce").tag(&[window.to_string().as_bytes()]);
        URL_SAFE_NO_PAD.encode(&tag[..18])
    }

    fn nonce_holds(&self, nonce: &str) -> bool {
        let window = self.nonce_window();
        [window, window - 1].iter().any(|w| same(self.nonce_of(*w).as_bytes(), nonce.as_bytes()))
    }

    /// A token for a resource that takes only bound tokens (`GATEHOUSE_DPOP_RESOURCES`) must be
    /// bound: refused before it is made, as `invalid_dpop_proof`.
    pub(super) fn bound_as_resources_ask(&self, aud: &Audience, jkt: Option<&str>) -> OAuthResult<()> {
        if jkt.is_some() {
            return Ok(());
        }
        match self.policy().resources.iter().find(|r| r.dpop_required() && aud.contains(r.url())) {
            Some(resource) => Err(OAuthError::refused(
                "invalid_dpop_proof",
                format!("{} takes only DPoP-bound tokens: send a DPoP proof", resource.url()),
            )),
            None => Ok(()),
        }
    }

    /// Whether the resource (its canonical URL) takes only bound tokens.
    pub fn dpop_required(&self, resource: &str) -> bool {
        self.policy().resources.iter().any(|r| r.url() == resource && r.dpop_required())
    }

    /// Whether a client access token is presented as its binding asks: a token bound to a key
    /// only with the DPoP scheme and a proof of that key for this request, an unbound one only
    /// as a bearer token. The key's thumbprint, for a bound one.
    pub(in crate::accounts) async fn presented_as_bound(
        &self,
        token: &str,
        cnf: Option<&Confirmation>,
        possession: Option<Possession<'_>>,
    ) -> Result<Option<String>> {
        match (cnf, possession) {
            (None, None) => Ok(None),
            (Some(cnf), Some(at)) => match self.proven(at, Some(token)).await? {
                Ok(proof) if proof.jkt == cnf.jkt => Ok(Some(proof.jkt)),
                Ok(_) => {
                    tracing::info!("a DPoP-bound token came with a proof of another key");
                    Err(Error::Unauthorized)
                }
                Err(Refused(why)) => {
                    tracing::info!(why, "a DPoP proof was refused");
                    Err(Error::Unauthorized)
                }
            },
            (Some(_), None) => {
                tracing::info!("a DPoP-bound token was presented as a bearer token");
                Err(Error::Unauthorized)
            }
            (None, Some(_)) => Err(Error::Unauthorized),
        }
    }

    /// A proof checked against the request and spent: `Refused` when it does not hold or was
    /// taken before (on any replica).
    async fn proven(
        &self,
        at: Possession<'_>,
        access_token: Option<&str>,
    ) -> Result<std::result::Result<Proof, Refused>> {
        let Some(proof) = at.proof else { return Ok(Err(Refused("a DPoP proof is required"))) };
        let expected = Expected { method: at.method, url: at.url, access_token, now: self.now().timestamp() };
        let proof = match dpop::check(proof, &expected) {
            Ok(proof) => proof,
            Err(refused) => return Ok(Err(refused)),
        };
        if !self.throttle.first_use("dpop", &proof.replay_key(), Proof::remember_for()).await? {
            return Ok(Err(Refused("the DPoP proof was used before (its jti)")));
        }
        Ok(Ok(proof))
    }
}
