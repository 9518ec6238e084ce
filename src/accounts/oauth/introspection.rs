//! The endpoints that read a client's access token: UserInfo (OpenID Connect) and
//! introspection (RFC 7662).

use serde_json::{Map, Value};

use super::claims::account_claims;
use super::dpop::Possession;
use super::tokens::ClientAccessClaims;
use crate::accounts::{AuthorizationServer, Error, Result};
use crate::model::account::{AccountKey, Status};
use crate::model::api_key::ApiKey;
use crate::model::org::Organization;
use crate::store::clients::OAuthClient;

/// What introspection found of a credential, before any wire format (the token endpoint's
/// front renders it as RFC 7662 says).
#[derive(Debug)]
pub enum Introspected {
    /// Nothing the asker may learn of: not live, or not its business.
    Inactive,
    /// A live client access token, with its organization's claim read now (`org` scope).
    Token { claims: Box<ClientAccessClaims>, org: Option<Value> },
    /// A live API key, with the organization of an organization's key.
    Key { key: Box<ApiKey>, issuer: String, org: Option<Organization> },
}

impl AuthorizationServer {
    /// UserInfo: the account's claims the token's scopes allow; `Forbidden` without `openid`.
    pub async fn userinfo(&self, token: &str, possession: Option<Possession<'_>>) -> Result<Map<String, Value>> {
        let (claims, session) = self.live_client_token(token).await?;
        self.presented_as_bound(token, claims.cnf.as_ref(), possession).await?;
        let (Some(session), true) = (session, claims.scope.split(' ').any(|s| s == "openid")) else {
            return Err(Error::Forbidden);
        };
        let account = self.store.find_account(&AccountKey::Id(session.account_id)).await?.map(|c| c.account);
        let account = account.filter(|a| a.status == Status::Active).ok_or(Error::Unauthorized)?;
        let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
        let mut answer = account_claims(&account, &scopes);
        if let Some(org) = self.org_claim_of(&session, &scopes).await? {
            answer.insert("org".into(), org);
        }
        Ok(answer)
    }

    /// Introspection (RFC 7662): whether a client access token is live, and what it says, to
    /// the client it was issued to, or to a resource server (a client registered with
    /// `introspect`). Refresh tokens, other clients' tokens and anything else are inactive: a
    /// client learns nothing of tokens that are not its business.
    pub(crate) async fn introspect(&self, asker: &OAuthClient, token: &str) -> Result<Introspected> {
        match self.live_client_token(token).await {
            Ok((claims, _)) if claims.client_id != asker.id && !claims.aud.contains(&asker.id) && !asker.introspect => {
                Ok(Introspected::Inactive)
            }
            Ok((claims, session)) => {
                let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
                let org = match &session {
                    Some(session) => self.org_claim_of(session, &scopes).await?,
                    None => None,
                };
                Ok(Introspected::Token { claims: Box::new(ClientAccessClaims::clone(&claims)), org })
            }
            Err(Error::Unauthorized) => Ok(Introspected::Inactive),
            Err(other) => Err(other),
        }
    }
}
