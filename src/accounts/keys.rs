//! The keys: the signing keys and the sealing key, loaded (or made) at start; the signing keys
//! reloaded from the database on a timer (and when a token names a key this replica has not
//! seen), and rotated by an operator. A new key is published for a while before it signs, and
//! an old one stays in the JWKS until every token it signed has expired (see [`KeyRing::at`]).

use std::sync::Arc;

use chrono::Utc;

use super::key_cache::KeyInfo;
use super::{Core, Result};
use crate::model::outcome::{Effects, Kind, Outcome};
use crate::store::KeyStore;
use crate::tokens::jwt::{AccessClaims, Issuing, KeyAlgorithm, KeyRing, SigningKey, TokenError};
use crate::tokens::sealing::{KEY_LEN, Sealer};

impl Core {
    /// Re-reads the signing keys from the database.
    pub async fn reload_keys(&self) -> Result<()> {
        let stored = self.store.signing_keys().await?;
        let ring = KeyRing::at(&self.settings.issuing(), stored, Utc::now())?;
        self.keys.replace(ring);
        Ok(())
    }

    /// Verifies an access token, from memory when this process has checked these exact bytes
    /// before (the expiry and the key's standing are still checked every time); a token naming
    /// a key not loaded here (another replica rotated) makes this replica reload its keys once
    /// before deciding.
    pub(super) async fn verify_token(&self, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        let now = Utc::now().timestamp();
        match self.verified.verify(&self.keys(), token, now) {
            Err(TokenError::UnknownKey) if self.keys.may_reload_for_unknown_kid() => {
                if let Err(error) = self.reload_keys().await {
                    tracing::warn!(%error, "could not reload the signing keys");
                }
                self.verified.verify(&self.keys(), token, now)
            }
            other => other,
        }
    }

    /// Checks a client app's access token (`at+jwt`): from this process's memory of client
    /// tokens when these exact bytes were checked before (see [`crate::tokens::verified::VerifiedTokens`]), else in full;
    /// like [`Self::verify_token`], a key not loaded here makes this replica reload once first.
    pub(super) async fn verify_client_token(
        &self,
        token: &str,
        typ: &str,
    ) -> Result<Arc<super::oauth::tokens::ClientAccessClaims>, TokenError> {
        let now = Utc::now().timestamp();
        let verify = |ring: &KeyRing| {
            self.verified_clients.verify_with(ring, token, now, || ring.verify_typed(token, typ, None, false))
        };
        match verify(&self.keys()) {
            Err(TokenError::UnknownKey) if self.keys.may_reload_for_unknown_kid() => {
                if let Err(error) = self.reload_keys().await {
                    tracing::warn!(%error, "could not reload the signing keys");
                }
                verify(&self.keys())
            }
            other => other,
        }
    }

    /// Checks a token of another shape than gatehouse's access token (see
    /// [`KeyRing::verify_typed`]); like [`Self::verify_token`], one naming a key not loaded here
    /// (an ID-token key another replica made) makes this replica reload its keys once first.
    pub(super) async fn verify_typed<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
        expired_too: bool,
    ) -> Result<T, TokenError> {
        match self.keys().verify_typed(token, typ, None, expired_too) {
            Err(TokenError::UnknownKey) if self.keys.may_reload_for_unknown_kid() => {
                if let Err(error) = self.reload_keys().await {
                    tracing::warn!(%error, "could not reload the signing keys");
                }
                self.keys().verify_typed(token, typ, None, expired_too)
            }
            other => other,
        }
    }

    /// Re-reads the signing keys now and then until `stop`, so that a key rotated on any
    /// replica (or by an operator) is published here before it signs.
    pub async fn reload_keys_until(self, stop: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(super::KEY_RELOAD_EVERY) => {}
            }
            if let Err(error) = self.reload_keys().await {
                tracing::warn!(%error, "reloading the signing keys failed; will try again");
            }
        }
    }

    /// Every stored key, with what it does now.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let mut stored = self.store.signing_keys().await?;
        stored.sort_by_key(|k| k.created_at);
        let ring = KeyRing::at(&self.settings.issuing(), stored.clone(), Utc::now())?;
        Ok(stored
            .into_iter()
            .map(|k| KeyInfo {
                signing: k.kid == ring.signing_kid(),
                signs_id_tokens: k.kid == ring.id_signing_kid() && !ring.needs_id_key(),
                published: ring.knows(&k.kid),
                kid: k.kid,
                algorithm: k.algorithm,
                created_at: k.created_at,
            })
            .collect())
    }

    /// Adds a new signing key, and a new ID-token key when those have a key of their own.
    /// Every replica publishes them within [`RELOAD_EVERY`] and signs with them after the
    /// publish delay; the old keys keep verifying until their tokens expire.
    pub async fn rotate_key(&self) -> Result<Vec<KeyInfo>> {
        let ring = self.keys();
        let mut algorithms = vec![self.settings.token_algorithm];
        if ring.id_signing_algorithm() != self.settings.token_algorithm && !ring.needs_id_key() {
            algorithms.push(ring.id_signing_algorithm());
        }
        let mut added = Vec::new();
        for algorithm in algorithms {
            let key = generate(algorithm).await?;
            self.store.insert_signing_key(&key).await?;
            tracing::info!(kid = %key.kid, %algorithm, "a new signing key was added");
            let rotated =
                Outcome::new(Kind::AdminKeyRotated).with("kid", key.kid.as_str()).with("algorithm", algorithm.name());
            self.tell(Effects::of(rotated)).await?;
            added.push(KeyInfo {
                signs_id_tokens: false,
                kid: key.kid,
                algorithm,
                created_at: key.created_at,
                signing: false,
                published: true,
            });
        }
        self.reload_keys().await?;
        Ok(added)
    }

    /// Reloads the keys when this replica holds no ID-token key, at most every few seconds: one
    /// made by another process (a client registered at the command line) is then published at
    /// once.
    pub async fn reload_keys_for_missing_id_key(&self) -> Result<()> {
        if self.keys().needs_id_key() && self.keys.may_reload_for_unknown_kid() {
            self.reload_keys().await?;
        }
        Ok(())
    }

    /// Makes the key that signs ID tokens when none of their algorithm exists yet (see
    /// [`KeyRing::needs_id_key`]). Another replica may have made it: the keys are read again
    /// first; and should two make one at once, every replica signs with the older.
    pub async fn ensure_id_key(&self) -> Result<()> {
        if !self.keys().needs_id_key() {
            return Ok(());
        }
        let _one_at_a_time = self.keys.making_id_key.lock().await;
        self.reload_keys().await?;
        if !self.keys().needs_id_key() {
            return Ok(());
        }
        let key = generate(self.settings.id_token_algorithm).await?;
        self.store.insert_signing_key(&key).await?;
        tracing::info!(kid = %key.kid, algorithm = %key.algorithm, "made the key that signs ID tokens");
        self.reload_keys().await
    }
}

/// A new key, made off the async threads: an RSA key is a prime search of a fraction of a second.
async fn generate(algorithm: KeyAlgorithm) -> anyhow::Result<SigningKey> {
    tokio::task::spawn_blocking(move || SigningKey::generate_for(algorithm, Utc::now())).await?
}

/// Reads the signing keys; on a database without any, creates the first one, and when none is
/// of the configured algorithm (it was just switched), adds one that signs at once. Two
/// processes starting at once on an empty database both end up with the one stored first.
pub async fn load_or_create(store: &dyn KeyStore, issuing: &Issuing) -> anyhow::Result<KeyRing> {
    let mut keys = store.signing_keys().await?;
    if keys.is_empty() {
        store.insert_first_signing_key(&SigningKey::generate_for(issuing.algorithm, Utc::now())?).await?;
        keys = store.signing_keys().await?;
        tracing::info!(kid = %keys.first().map(|k| k.kid.as_str()).unwrap_or("?"), "created the first signing key");
    } else if !keys.iter().any(|key| key.algorithm == issuing.algorithm) {
        let key = SigningKey::generate_for(issuing.algorithm, Utc::now())?;
        store.insert_signing_key(&key).await?;
        tracing::info!(
            kid = %key.kid, algorithm = %issuing.algorithm,
            "the token algorithm changed: a new signing key signs from now on; tokens already issued stay valid"
        );
        keys = store.signing_keys().await?;
    }
    KeyRing::at(issuing, keys, Utc::now())
}

/// The sealer: the configured key seals, and the generated one (created here on a database
/// without one, unless a key is configured) still opens what it sealed.
pub async fn load_sealer(store: &dyn KeyStore, configured: Option<&secrecy::SecretString>) -> anyhow::Result<Sealer> {
    let stored_key = |bytes: Vec<u8>| -> anyhow::Result<[u8; KEY_LEN]> {
        bytes.try_into().map_err(|_| anyhow::anyhow!("the stored sealing key is not {KEY_LEN} bytes"))
    };
    let stored = store.sealing_key().await?.map(stored_key).transpose()?;
    if let Some(configured) = configured {
        let key = crate::config::encryption_key_bytes(configured)
            .ok_or_else(|| anyhow::anyhow!("GATEHOUSE_ENCRYPTION_KEY is not 32 bytes of base64"))?;
        return Ok(Sealer::new(&key, stored.as_slice()));
    }
    let key = match stored {
        Some(key) => key,
        None => {
            store.insert_first_sealing_key(Sealer::generate_key().as_slice(), Utc::now()).await?;
            tracing::info!(
                "created the key that seals secrets at rest (set GATEHOUSE_ENCRYPTION_KEY to keep it outside the database)"
            );
            stored_key(store.sealing_key().await?.ok_or_else(|| anyhow::anyhow!("the sealing key was not stored"))?)?
        }
    };
    Ok(Sealer::new(&key, &[]))
}
