//! Pushed authorization requests (RFC 9126): a client posts its authorization request to
//! `/oauth2/par`, authenticated as at the token endpoint, and sends the browser to the
//! authorization endpoint with the `request_uri` it got back and its `client_id` alone. The
//! parameters never pass through the browser where they could be read or changed.
//!
//! The `request_uri` holds the request itself, sealed (encrypted and authenticated) for that
//! client: nothing is stored until it is spent, so it costs no table and works on every replica.
//! It must reach the authorization endpoint within [`PUSHED_TTL`]; through the login and the
//! consent page that may follow, the request goes on sealed, for as long as a person may take
//! to log in ([`CARRIED_TTL`] from the push). It yields one code: the code's issue spends it in
//! the shared limit store, so a second use on any replica is refused.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::OAuthError;
use crate::accounts::{AuthorizationServer, Result};
use crate::model::client::OAuthClient;

/// How soon a pushed request must be used: RFC 9126 suggests a short life.
pub const PUSHED_TTL: Duration = Duration::from_secs(60);

/// How long a pushed request goes on through a login and the consent page, from its push.
const CARRIED_TTL: Duration = Duration::from_secs(30 * 60);

/// The form of every `request_uri` gatehouse hands out.
const URN: &str = "urn:ietf:params:oauth:request_uri:";

/// What a `request_uri` seals.
#[derive(Serialize, Deserialize)]
struct Sealed {
    /// Which push this is: what its one code spends.
    id: Uuid,
    /// When it was pushed, and until when it is good (Unix seconds).
    pushed: i64,
    until: i64,
    /// The authorization request's parameters, as the client pushed them.
    pairs: Vec<(String, String)>,
}

/// The answer to a push.
#[derive(Debug)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: u64,
}

/// An authorization request's parameters, and the push they came from, if they did.
#[derive(Debug)]
pub struct Request {
    pub pairs: Vec<(String, String)>,
    pub pushed: Option<Push>,
}

/// Which push a request came from, and when it was made (Unix seconds).
#[derive(Clone, Copy, Debug)]
pub struct Push {
    id: Uuid,
    at: i64,
}

/// What a sealed request is bound to: a `request_uri` opens only for the client it was made for.
fn place(client_id: &str) -> Vec<u8> {
    [b"par:".as_slice(), client_id.as_bytes()].concat()
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

impl AuthorizationServer {
    /// Takes a pushed authorization request of `client` (authenticated): checked as the
    /// authorization endpoint will check it, so the client hears of a mistake now, as an
    /// RFC 6749 error, rather than its person on a page.
    pub async fn push_request(
        &self,
        client: &OAuthClient,
        mut pairs: Vec<(String, String)>,
        dpop: Option<&str>,
    ) -> std::result::Result<Pushed, OAuthError> {
        if pairs.iter().any(|(key, _)| key == "request_uri") {
            return Err(OAuthError::invalid_request("a pushed request cannot name a request_uri"));
        }
        // A proof sent with the push binds the code to its key, as `dpop_jkt` would (RFC 9449
        // section 10.1); both must then name the same key.
        if let Some(proof) = self.endpoint_proof(dpop, "/oauth2/par").await? {
            match pairs.iter().find(|(key, _)| key == "dpop_jkt") {
                Some((_, named)) if *named != proof.jkt => {
                    let why = "dpop_jkt names another key than the DPoP proof sent with the push";
                    return Err(OAuthError::refused("invalid_dpop_proof", why));
                }
                Some(_) => {}
                None => pairs.push(("dpop_jkt".to_owned(), proof.jkt)),
            }
        }
        match pairs.iter().filter(|(key, _)| key == "client_id").map(|(_, value)| value).next() {
            Some(named) if *named != client.id => {
                return Err(OAuthError::invalid_request("client_id is not the client that authenticated"));
            }
            Some(_) => {}
            None => pairs.push(("client_id".to_owned(), client.id.clone())),
        }
        let now = self.now().timestamp();
        let push = Push { id: Uuid::now_v7(), at: now };
        let request = Request { pairs, pushed: Some(push) };
        self.check_pushed(&request).await?;
        let sealed =
            Sealed { id: push.id, pushed: now, until: now.saturating_add(seconds(PUSHED_TTL)), pairs: request.pairs };
        Ok(Pushed { request_uri: self.seal_request(&client.id, &sealed), expires_in: PUSHED_TTL.as_secs() })
    }

    /// The authorization request a query makes: its own parameters, or those of the pushed
    /// request it names (and nothing else of it: RFC 9126 §4); or why it is refused (a page).
    pub fn authorization_request(&self, query: &str) -> std::result::Result<Request, String> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let named = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let Some(request_uri) = named("request_uri") else { return Ok(Request { pairs, pushed: None }) };
        let refuse = || {
            "The pushed authorization request (request_uri) is unknown, was made for another client, or has \
             expired; start again from the app."
                .to_owned()
        };
        let client_id = named("client_id").ok_or_else(refuse)?;
        let sealed = request_uri
            .strip_prefix(URN)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
            .and_then(|bytes| self.sealer.open(&bytes, &place(client_id)).ok())
            .and_then(|plain| serde_json::from_slice::<Sealed>(&plain).ok())
            .filter(|sealed| sealed.until > self.now().timestamp())
            .ok_or_else(refuse)?;
        Ok(Request { pairs: sealed.pairs, pushed: Some(Push { id: sealed.id, at: sealed.pushed }) })
    }

    /// The query that carries a request through a login or the consent page: the parameters
    /// themselves, or for a pushed request a `request_uri` sealing them again, good until
    /// [`CARRIED_TTL`] after the push.
    pub fn carried(&self, pushed: Option<Push>, pairs: &[(String, String)]) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let Some(Push { id, at }) = pushed else { return query.extend_pairs(pairs).finish() };
        let client_id = pairs.iter().find(|(key, _)| key == "client_id").map(|(_, v)| v.clone()).unwrap_or_default();
        let until = at.saturating_add(seconds(CARRIED_TTL));
        let request_uri = self.seal_request(&client_id, &Sealed { id, pushed: at, until, pairs: pairs.to_vec() });
        query.extend_pairs([("client_id", client_id.as_str()), ("request_uri", request_uri.as_str())]).finish()
    }

    /// Spends a pushed request as its code is issued: `false` when it was spent before (on
    /// any replica), remembered past the longest its `request_uri` may be carried.
    pub async fn spend_pushed(&self, push: Push) -> Result<bool> {
        self.throttle.first_use("par", &push.id.to_string(), CARRIED_TTL + PUSHED_TTL).await
    }

    fn seal_request(&self, client_id: &str, sealed: &Sealed) -> String {
        let plain = serde_json::to_vec(sealed).expect("a pushed request serializes");
        format!("{URN}{}", URL_SAFE_NO_PAD.encode(self.sealer.seal(&plain, &place(client_id))))
    }
}
