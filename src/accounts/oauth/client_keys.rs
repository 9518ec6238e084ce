//! `private_key_jwt`: a confidential client proves itself with an assertion signed by one of the
//! keys it registered, inline (`jwks`) or at a URL of its own (`jwks_uri`). A key set at a URL
//! is fetched through the guard (`webhooks::fetch`: public addresses only, no redirect, 10 s,
//! 64 KiB) and kept as its `Cache-Control` allows, within a minute and a day (ten minutes when
//! it says nothing); an assertion naming a `kid` the kept set lacks has it fetched again, at
//! most once a minute, so that a client's new key works at once. Each assertion is taken once:
//! its `jti` is spent in the shared limit store until its `exp`, on every replica.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;

use super::{OAuthError, OAuthResult};
use crate::accounts::AuthorizationServer;
use crate::model::client::{ClientKeys, OAuthClient};
use crate::tokens::assertion::{self, Expected};
use crate::tokens::compact;
use crate::tokens::dpop::Refused;
use crate::webhooks::Guard;
use crate::webhooks::fetch::{Entry, fetch};

/// The most a fetched key set may weigh.
const MAX_KEY_SET: usize = 64 * 1024;
/// How long a key set that says nothing of caching is kept.
const DEFAULT_KEEP: Duration = Duration::from_secs(600);
/// The bounds on how long a fetched key set is kept.
const KEEP: (Duration, Duration) = (Duration::from_secs(60), Duration::from_secs(86_400));
/// How soon a key set may be fetched again for a `kid` it lacks.
const REFETCH_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

fn refused(why: impl Into<String>) -> OAuthError {
    OAuthError::refused("invalid_client", why)
}

impl AuthorizationServer {
    /// Checks the assertion `client` sent to `endpoint` against its `keys`, and spends it.
    pub(super) async fn asserted(
        &self,
        client: &OAuthClient,
        keys: &ClientKeys,
        assertion: &str,
        endpoint: &str,
    ) -> OAuthResult<()> {
        let issuer = self.keys().issuer().to_owned();
        let audiences = [issuer.clone(), format!("{issuer}/oauth2/token"), format!("{issuer}{endpoint}")];
        let expected = Expected { client_id: &client.id, audiences: &audiences, now: self.now().timestamp() };
        let checked = match keys {
            ClientKeys::Jwks(set) => {
                let set: JwkSet =
                    serde_json::from_value(set.clone()).map_err(|_| refused("the client's jwks is unusable"))?;
                assertion::check(assertion, &set, &expected)
            }
            ClientKeys::JwksUri(uri) => {
                let kept = match self.client_keys.get(uri, self.now()) {
                    Some(kept) => kept,
                    None => self.fetch_keys(uri).await?,
                };
                // Read as the check reads it, so that an `Ed25519`-named assertion's new kid is
                // fetched for too.
                let header = compact::header(assertion);
                let kid = header.as_ref().and_then(|h| h.get("kid")).and_then(serde_json::Value::as_str);
                let lacks =
                    kid.is_some_and(|kid| !kept.value.keys.iter().any(|k| k.common.key_id.as_deref() == Some(kid)));
                let kept = match lacks && self.now() - kept.fetched >= REFETCH_AFTER {
                    true => self.fetch_keys(uri).await?,
                    false => kept,
                };
                assertion::check(assertion, &kept.value, &expected)
            }
        };
        let checked = checked.map_err(|Refused(why)| refused(why))?;
        let lasting = Duration::from_secs(u64::try_from(checked.exp - expected.now).unwrap_or(0) + 61);
        if !self.throttle.first_use("client-assertion", &format!("{}:{}", client.id, checked.jti), lasting).await? {
            return Err(refused("the client assertion was used before (its jti)"));
        }
        Ok(())
    }

    async fn fetch_keys(&self, uri: &str) -> OAuthResult<Entry<JwkSet>> {
        let guard = Guard::new(self.settings.webhooks_allow_private);
        let fetched = fetch(guard, uri, MAX_KEY_SET).await.map_err(|why| {
            tracing::info!(%why, "a client's jwks_uri could not be used");
            refused(format!("the client's jwks_uri: {why}"))
        })?;
        let value: serde_json::Value =
            serde_json::from_slice(&fetched.body).map_err(|_| refused("the client's jwks_uri holds no JSON"))?;
        if let Some(why) = assertion::key_set_problem(&value) {
            return Err(refused(format!("the client's jwks_uri: {why}")));
        }
        let keys: JwkSet = serde_json::from_value(value).map_err(|_| refused("the client's jwks_uri is unusable"))?;
        let keep = fetched.max_age.unwrap_or(DEFAULT_KEEP).clamp(KEEP.0, KEEP.1);
        Ok(self.client_keys.put(uri, keys, self.now(), keep))
    }
}
