//! What a client may see of an account (the claims of ID tokens and userinfo), and what a
//! client's access token says.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::dpop::Confirmation;
use super::resources::Audience;
use crate::model::account::Account;

/// The claims of a client's access token.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClientAccessClaims {
    pub iss: String,
    /// The account id, or the client's for client credentials.
    pub sub: String,
    /// The client; the client an exchange was for; or the resources (RFC 8707) named.
    pub aud: Audience,
    pub client_id: String,
    pub scope: String,
    /// The client session (none for client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    /// Who acts for `sub` (RFC 8693 `act`, `{"sub": …}`): a token exchange's actor. Such a
    /// token's `aud` may be another client than `client_id`, the one that exchanged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Value>,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The key the token is bound to (DPoP, RFC 9449): it opens a door only with a proof of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl crate::tokens::verified::Expiring for ClientAccessClaims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// The claims of `account` that `scopes` let a client see (the ID token's and userinfo's).
pub(super) fn account_claims(account: &Account, scopes: &[String]) -> Map<String, Value> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(account.id));
    if has("email") {
        claims.insert("email".into(), json!(account.email));
        claims.insert("email_verified".into(), json!(account.email_verified));
    }
    if has("profile") {
        if let Some(name) = &account.name {
            claims.insert("name".into(), json!(name));
        }
        if let Some(username) = &account.username {
            claims.insert("preferred_username".into(), json!(username));
        }
        claims.insert("updated_at".into(), json!(account.updated_at.timestamp()));
    }
    if has("app_data") {
        claims.insert("app_data".into(), Value::Object(account.app_data.clone()));
    }
    claims
}
