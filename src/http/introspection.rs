//! The RFC 7662 introspection answer: what the account rules found of a credential, in the
//! wire format of the token endpoint's front.

use serde_json::{Map, Value, json};

use crate::accounts::oauth::Introspected;
use crate::model::api_key::KeyOwner;

/// The answer `/oauth2/introspect` gives for what was found: `{"active": false}` for anything
/// the asker may not learn of; a token's claims (with the `org` claim read now, and its actor);
/// a key's owner (`sub`: the account, or for an organization's key the key itself with `org`),
/// scopes and times.
pub fn answer(found: Introspected) -> Value {
    let mut answer = Map::new();
    match found {
        Introspected::Inactive => {
            answer.insert("active".into(), false.into());
        }
        Introspected::Token { claims, org } => {
            let claims = *claims;
            answer.extend([
                ("active".into(), true.into()),
                ("token_type".into(), "access_token".into()),
                ("client_id".into(), claims.client_id.into()),
                ("scope".into(), claims.scope.into()),
                ("sub".into(), claims.sub.into()),
                ("aud".into(), json!(claims.aud)),
                ("iss".into(), claims.iss.into()),
                ("exp".into(), claims.exp.into()),
                ("iat".into(), claims.iat.into()),
            ]);
            if let Some(org) = org {
                answer.insert("org".into(), org);
            }
            if let Some(act) = claims.act {
                answer.insert("act".into(), act);
            }
            // RFC 9449 §6.2: a resource server checks the proof against the bound key itself.
            if let Some(cnf) = claims.cnf {
                answer.insert("cnf".into(), json!({ "jkt": cnf.jkt }));
                answer.insert("token_type".into(), "DPoP".into());
            }
        }
        Introspected::Key { key, issuer, org } => {
            let key = *key;
            answer.extend([
                ("active".into(), true.into()),
                ("token_type".into(), "api_key".into()),
                ("key_id".into(), key.id.to_string().into()),
                ("scope".into(), key.scopes.join(" ").into()),
                ("iss".into(), issuer.into()),
                ("iat".into(), key.created_at.timestamp().into()),
            ]);
            if let Some(at) = key.expires_at {
                answer.insert("exp".into(), at.timestamp().into());
            }
            match key.owner {
                KeyOwner::Account(account) => {
                    answer.insert("sub".into(), account.to_string().into());
                }
                KeyOwner::Org(_) => {
                    answer.insert("sub".into(), key.id.to_string().into());
                    if let Some(org) = org {
                        answer.insert("org".into(), json!({ "id": org.id, "slug": org.slug }));
                    }
                }
            }
        }
    }
    Value::Object(answer)
}
