//! What a client may see of an account: the claims of ID tokens and userinfo.

use serde_json::{Map, Value, json};

use crate::model::account::Account;

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
