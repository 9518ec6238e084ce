//! Token exchange (RFC 8693), for delegation: a service that received a person's access token
//! (issued to it) trades it, with a token of its own as the actor, for an access token of the
//! same person and session for another registered client's API (`audience`), with
//! `act: {"sub": <the actor>}` saying who acts. Only confidential clients registered for the
//! grant may exchange; the subject token must be a live access token issued to the exchanging
//! client (so a token it merely saw cannot be laundered), and the actor token the client's own
//! client-credentials token. The new token is bound to the subject's session: ending the session
//! ends it. There is no refresh token; the scopes are at most the subject token's, and only those
//! the audience is registered for.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::tokens::{ClientAccessClaims, TokenRequest, TokenResponse};
use super::{ACCESS_TOKEN_TYPE, OAuthError, OAuthResult, parse_scopes};
use crate::accounts::{AuthorizationServer, Error};
use crate::store::clients::OAuthClient;

impl AuthorizationServer {
    /// The token endpoint's token exchange.
    pub(super) async fn exchange(
        &self,
        client: OAuthClient,
        request: TokenRequest,
        jkt: Option<&str>,
    ) -> OAuthResult<TokenResponse> {
        if !client.confidential {
            return Err(OAuthError::refused("unauthorized_client", "token exchange is for confidential clients"));
        }
        let asked = request.exchange.unwrap_or_default();
        let token_type = |given: &Option<String>, name: &str| match given.as_deref() {
            Some(ACCESS_TOKEN_TYPE) => Ok(()),
            Some(_) => Err(OAuthError::invalid_request(format!("{name} must be {ACCESS_TOKEN_TYPE}"))),
            None => Err(OAuthError::invalid_request(format!("{name} is required"))),
        };
        if asked.requested_token_type.as_deref().is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
            return Err(OAuthError::invalid_request(format!("only {ACCESS_TOKEN_TYPE} can be requested")));
        }
        let subject = asked.subject_token.ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
        token_type(&asked.subject_token_type, "subject_token_type")?;
        let actor = asked.actor_token.ok_or_else(|| OAuthError::invalid_request("actor_token is required"))?;
        token_type(&asked.actor_token_type, "actor_token_type")?;

        let refused = |why: &str| OAuthError::invalid_grant(why.to_owned());
        let not_subject =
            "the subject_token is not a live access token issued to this client, or was exchanged already";
        let not_actor = "the actor_token is not a live client-credentials token of this client";
        let (subject, session) = self.live_client_token(&subject).await.map_err(|_| refused(not_subject))?;
        let (actor, _) = self.live_client_token(&actor).await.map_err(|_| refused(not_actor))?;
        if subject.aud.single() != Some(client.id.as_str()) || subject.client_id != client.id || subject.act.is_some() {
            return Err(refused(not_subject));
        }
        // The actor is the client itself: its own client-credentials token, never a person's.
        let own = actor.client_id == client.id && actor.sub == client.id && actor.sid.is_none();
        if !own || actor.aud.single() != Some(client.id.as_str()) || actor.act.is_some() {
            return Err(refused(not_actor));
        }
        let Some(session) = session else {
            return Err(OAuthError::invalid_grant("the subject_token must be a person's, not a client's own"));
        };
        let audience = match asked.audience {
            Some(audience) if audience != client.id => self
                .find_client(&audience)
                .await?
                .ok_or_else(|| OAuthError::refused("invalid_target", "audience names no registered client"))?,
            _ => client.clone(),
        };
        let held: Vec<String> = subject.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        // At most what the subject holds, and only what the audience is registered for.
        let scopes: Vec<String> = match request.scope.as_deref() {
            Some(scope) => {
                let asked = parse_scopes(scope, &self.policy().resources)
                    .map_err(|why| OAuthError::refused("invalid_scope", why))?;
                if asked.iter().any(|s| !held.contains(s)) {
                    return Err(OAuthError::refused("invalid_scope", "an exchange cannot widen the subject's scopes"));
                }
                if let Some(scope) = asked.iter().find(|s| !audience.scopes.contains(s)) {
                    let why = format!("the audience is not registered for the scope {scope:?}");
                    return Err(OAuthError::refused("invalid_scope", why));
                }
                asked
            }
            None => held.into_iter().filter(|s| audience.scopes.contains(s)).collect(),
        };
        if scopes.is_empty() {
            return Err(OAuthError::refused("invalid_scope", "the exchange would carry no scope"));
        }
        let now = self.now();
        let end = DateTime::<Utc>::from_timestamp(subject.exp, 0).unwrap_or(now).min(session.expires_at);
        let ttl = chrono::Duration::from_std(self.settings.access_token_ttl).unwrap_or(chrono::Duration::minutes(15));
        let exp = (now + ttl).min(end);
        let claims = ClientAccessClaims {
            iss: self.keys().issuer().to_owned(),
            sub: subject.sub.clone(),
            aud: super::resources::Audience::one(audience.id),
            client_id: client.id,
            scope: scopes.join(" "),
            sid: Some(session.id),
            act: Some(json!({ "sub": actor.sub })),
            iat: now.timestamp(),
            exp: exp.timestamp(),
            jti: uuid::Uuid::now_v7(),
            cnf: jkt.map(|jkt| super::dpop::Confirmation { jkt: jkt.to_owned() }),
        };
        let access_token = self.keys().sign_typed(&claims, "at+jwt").map_err(Error::from)?;
        let expires_in = u64::try_from((exp - now).num_seconds()).unwrap_or_default();
        Ok(TokenResponse {
            access_token,
            expires_in,
            scope: scopes.join(" "),
            refresh_token: None,
            id_token: None,
            issued_token_type: Some(ACCESS_TOKEN_TYPE),
            token_type: super::dpop::token_type(jkt),
        })
    }
}
