//! The endpoints that read a client's access token: UserInfo (OpenID Connect) and
//! introspection (RFC 7662).

use serde_json::{Map, Value, json};

use super::tokens::account_claims;
use crate::accounts::{Accounts, Error, Result};
use crate::model::account::{AccountKey, Status};
use crate::store::clients::OAuthClient;

impl Accounts {
    /// UserInfo: the account's claims the token's scopes allow; `Forbidden` without `openid`.
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>> {
        let (claims, session) = self.live_client_token(token).await?;
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
    /// `introspect`). Refresh tokens, other clients' tokens and anything else are
    /// `{"active": false}`: a client learns nothing of tokens that are not its business.
    pub async fn introspect(&self, asker: &OAuthClient, token: &str) -> Result<Value> {
        match self.live_client_token(token).await {
            Ok((claims, _)) if claims.client_id != asker.id && !claims.aud.contains(&asker.id) && !asker.introspect => {
                Ok(json!({ "active": false }))
            }
            Ok((claims, session)) => {
                let scopes: Vec<String> = claims.scope.split(' ').map(str::to_owned).collect();
                let org = match &session {
                    Some(session) => self.org_claim_of(session, &scopes).await?,
                    None => None,
                };
                let mut answer = json!({
                "active": true,
                "token_type": "access_token",
                "client_id": claims.client_id,
                "scope": claims.scope,
                "sub": claims.sub,
                "aud": claims.aud,
                "iss": claims.iss,
                "exp": claims.exp,
                "iat": claims.iat,
                });
                if let Some(fields) = answer.as_object_mut() {
                    if let Some(org) = org {
                        fields.insert("org".into(), org);
                    }
                    if let Some(act) = claims.act {
                        fields.insert("act".into(), act);
                    }
                }
                Ok(answer)
            }
            Err(Error::Unauthorized) => Ok(json!({ "active": false })),
            Err(other) => Err(other),
        }
    }
}
