//! Revocation (RFC 7009) of a client's tokens, and the `id_token_hint` of RP-initiated logout.

use serde::Deserialize;
use uuid::Uuid;

use super::{OAuthError, OAuthResult};
use crate::accounts::{AuthorizationServer, Error};
use crate::store::clients::OAuthClient;
use crate::tokens::opaque::{TokenHash, plausible};

/// What an `id_token_hint` tells: for whom it was issued, and in which browser session.
#[derive(Debug, Deserialize)]
pub struct IdTokenHint {
    pub aud: String,
    #[serde(default)]
    pub sid: Option<Uuid>,
}

impl AuthorizationServer {
    /// Revocation (RFC 7009): a client's access or refresh token ends its session (the whole
    /// family of refresh tokens with it). Unknown tokens are no error; another client's token is
    /// refused and left alone.
    pub async fn revoke_client_token(&self, client: &OAuthClient, token: &str) -> OAuthResult<()> {
        let not_yours = || OAuthError::invalid_request("the token was not issued to this client");
        match self.live_client_token(token).await {
            Ok((claims, _)) if claims.client_id != client.id => return Err(not_yours()),
            Ok((_, Some(session))) => {
                self.close_session(session.account_id, session.id).await?;
                return Ok(());
            }
            Ok((_, None)) => return Ok(()),
            Err(Error::Unauthorized) => {}
            Err(other) => return Err(other.into()),
        }
        if !plausible(token) {
            return Ok(());
        }
        let Some(session) = self.sessions.refresh_token_session(&TokenHash::of(token), self.now()).await? else {
            return Ok(());
        };
        if session.auth.grant.as_ref().is_none_or(|g| g.client_id != client.id) {
            return Err(not_yours());
        }
        self.close_session(session.account_id, session.id).await?;
        Ok(())
    }

    /// What an `id_token_hint` says, if we signed it (expired or not), with a key of this
    /// replica's or one another replica made since.
    pub async fn id_token_hint(&self, hint: &str) -> Option<IdTokenHint> {
        self.verify_typed::<IdTokenHint>(hint, "JWT", true).await.ok()
    }
}
