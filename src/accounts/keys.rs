//! The signing keys in use: loaded from the database, reloaded on a timer (and when a token
//! names a key this replica has not seen), and rotated by an operator. A new key is published
//! for a while before it signs, and an old one stays in the JWKS until every token it signed
//! has expired (see [`KeyRing::at`]).

use std::sync::Arc;

use chrono::Utc;

use super::key_cache::KeyInfo;
use super::{Accounts, Result};
use crate::tokens::jwt::{AccessClaims, KeyRing, SigningKey, TokenError};

impl Accounts {
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

    /// Every stored key, with what it does now.
    pub async fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        let mut stored = self.store.signing_keys().await?;
        stored.sort_by_key(|k| k.created_at);
        let ring = KeyRing::at(&self.settings.issuing(), stored.clone(), Utc::now())?;
        Ok(stored
            .into_iter()
            .map(|k| KeyInfo {
                signing: k.kid == ring.signing_kid(),
                published: ring.knows(&k.kid),
                kid: k.kid,
                algorithm: k.algorithm,
                created_at: k.created_at,
            })
            .collect())
    }

    /// Adds a new signing key. Every replica publishes it within [`RELOAD_EVERY`] and signs
    /// with it after the publish delay; the old key keeps verifying until its tokens expire.
    pub async fn rotate_key(&self) -> Result<KeyInfo> {
        let key = SigningKey::generate_for(self.settings.token_algorithm, Utc::now())?;
        self.store.insert_signing_key(&key).await?;
        tracing::info!(kid = %key.kid, "a new signing key was added");
        self.audit
            .record_now(
                crate::audit::AuditEvent::new(crate::audit::kinds::ADMIN_KEY_ROTATED)
                    .detail(serde_json::json!({ "kid": key.kid, "algorithm": key.algorithm.name() })),
            )
            .await?;
        self.reload_keys().await?;
        Ok(KeyInfo {
            kid: key.kid,
            algorithm: key.algorithm,
            created_at: key.created_at,
            signing: false,
            published: true,
        })
    }
}
