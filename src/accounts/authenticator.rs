//! The authenticator: the one place a presented credential is told apart by its shape, and
//! turned into who is calling. An API key starts `gh_` (a person's or an organization's), a
//! SCIM token `scim_`; anything else is a signed token (gatehouse's access token, a client
//! app's). Nothing else in gatehouse reads a credential's prefix (`tests/architecture.rs`
//! keeps it so): the HTTP extractors, forward-auth, introspection and SCIM all ask here, so a
//! new kind of credential is taught to one function, and no caller kind can be taken for another
//! at one door and not at the next.

use uuid::Uuid;

use super::oauth::dpop::Possession;
use super::scim::ScimCaller;
use super::{AuthorizationServer, Caller, Core, Error, Result};
use crate::model::api_key::{ApiKey, KEY_CHARS, KEY_PREFIX, KeyOwner};
use crate::tokens::jwt::OrgClaim;

/// The prefix of a SCIM token.
pub const SCIM_PREFIX: &str = "scim_";

/// The characters of a key's secret.
pub(super) const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// What a presented credential is, by its shape alone (nothing is checked yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// An API key: a person's or an organization's.
    ApiKey,
    /// An organization's SCIM token.
    ScimToken,
    /// Anything else: a signed token (gatehouse's access token, or a client app's).
    Signed,
}

/// The shape of `credential`.
pub fn shape(credential: &str) -> Shape {
    if credential.starts_with(KEY_PREFIX) {
        Shape::ApiKey
    } else if credential.starts_with(SCIM_PREFIX) {
        Shape::ScimToken
    } else {
        Shape::Signed
    }
}

/// Whether `token` is shaped as a key is made (checked before any read).
pub(super) fn well_formed_key(token: &str) -> bool {
    token
        .strip_prefix(KEY_PREFIX)
        .is_some_and(|rest| rest.len() == KEY_CHARS && rest.bytes().all(|b| BASE62.contains(&b)))
}

/// Whether `token` is shaped as a SCIM token is made (checked before any read).
pub(super) fn well_formed_scim_token(token: &str) -> bool {
    token.starts_with(SCIM_PREFIX) && token.len() <= 128
}

/// Where a bearer credential is presented. Each door admits some shapes of credential, decided
/// before anything is read: a credential of another shape is refused as unknown, at no cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// Forward-auth: a person's session or key, or an organization's key.
    Forward,
    /// SCIM: an organization's directory, by its SCIM token.
    Scim,
}

impl Door {
    /// Whether a credential of `shape` may be presented here at all.
    pub fn admits(self, shape: Shape) -> bool {
        match self {
            Door::Forward => matches!(shape, Shape::ApiKey | Shape::Signed),
            Door::Scim => shape == Shape::ScimToken,
        }
    }
}

/// Who is calling, resolved once from a bearer credential presented at a [`Door`].
#[derive(Debug)]
pub enum Principal {
    /// A person: through a session (or an admin acting as them), or through their API key
    /// (the caller's [`super::Via`] says which).
    Person(Box<Caller>),
    /// An organization, through one of its API keys: it acts as the organization and is no
    /// person (gatehouse's own API refuses it; forward-auth lets it act where its organization
    /// may).
    Organization { key: ApiKey },
    /// An organization's directory, through its SCIM token: it provisions the organization's
    /// people and groups, and is refused everywhere else.
    Directory(ScimCaller),
    /// A client app, through an access token it was issued for a protected resource: for the
    /// person who granted it, or for itself (client credentials). Only a protected resource's
    /// door takes one (see [`AuthorizationServer::resource_principal`]).
    Client(Box<ClientCaller>),
}

/// A client app calling a protected resource with a token it was issued for it.
#[derive(Clone, Debug)]
pub struct ClientCaller {
    pub client_id: String,
    /// The person the client acts for; none for a client-credentials token.
    pub account_id: Option<Uuid>,
    /// The token's scopes.
    pub scopes: Vec<String>,
    /// The organization the person granted (the `org` scope), as the membership is now.
    pub org: Option<OrgClaim>,
    /// The key the token is bound to (DPoP), proven with this request.
    pub dpop_jkt: Option<String>,
}

impl Core {
    /// Who a bearer credential presented at `door` is: a person's session or key, an
    /// organization's key, an organization's directory; `Unauthorized` for anything else (a
    /// shape the door does not admit, a client app's token, an unknown or revoked one).
    pub async fn principal(&self, door: Door, bearer: &str) -> Result<Principal> {
        let shape = shape(bearer);
        if !door.admits(shape) {
            return Err(Error::Unauthorized);
        }
        match shape {
            Shape::ApiKey => {
                let verified = self.verify_api_key(bearer).await?;
                match verified.key.owner {
                    KeyOwner::Org(_) => Ok(Principal::Organization { key: verified.key }),
                    KeyOwner::Account(_) => Ok(Principal::Person(Box::new(self.caller_of_key(&verified)?))),
                }
            }
            Shape::ScimToken => Ok(Principal::Directory(self.scim_caller(bearer).await?)),
            Shape::Signed => Ok(Principal::Person(Box::new(self.authenticate(bearer).await?))),
        }
    }
}

impl AuthorizationServer {
    /// Who a bearer credential presented to the protected resource `resource` (its canonical
    /// URL) is: a client's access token issued for it (signed as a client's token, its `aud`
    /// naming the resource, the client still registered, the grant's session still live), or
    /// else whoever it is at forward-auth's door, gatehouse's own logins. A client's token for
    /// another resource is no one here. `possession`: the request used the DPoP scheme, which
    /// only a token bound to a key may, with a proof of that key (and such a token may not come
    /// as a bearer token).
    pub async fn resource_principal(
        &self,
        resource: &str,
        bearer: &str,
        possession: Option<Possession<'_>>,
    ) -> Result<Principal> {
        if shape(bearer) == Shape::Signed {
            match self.live_client_token(bearer).await {
                Ok((claims, session)) if claims.aud.contains(resource) => {
                    let dpop_jkt = self.presented_as_bound(bearer, claims.cnf.as_ref(), possession).await?;
                    if dpop_jkt.is_none() && self.dpop_required(resource) {
                        return Err(Error::Unauthorized);
                    }
                    let scopes: Vec<String> =
                        claims.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
                    let org = match (&session, scopes.iter().any(|s| s == "org")) {
                        (Some(session), true) => match session.auth.org {
                            Some(org) => self.org_claim(org, session.account_id, &session.auth).await?,
                            None => None,
                        },
                        _ => None,
                    };
                    let account_id = session.map(|session| session.account_id);
                    return Ok(Principal::Client(Box::new(ClientCaller {
                        client_id: claims.client_id.clone(),
                        account_id,
                        scopes,
                        org,
                        dpop_jkt,
                    })));
                }
                Ok(_) => return Err(Error::Unauthorized),
                Err(Error::Unauthorized) => {}
                Err(other) => return Err(other),
            }
        }
        // Nothing else is bound to a key: the DPoP scheme is no way to present it, and a
        // resource that takes only bound tokens takes nothing else.
        if possession.is_some() || self.dpop_required(resource) {
            return Err(Error::Unauthorized);
        }
        self.principal(Door::Forward, bearer).await
    }

    /// RFC 7662 introspection of any credential by the client `app`: a key's answer for a
    /// key (only to a resource server), a token's for anything else.
    pub async fn introspect_credential(
        &self,
        app: &crate::store::clients::OAuthClient,
        credential: &str,
    ) -> Result<super::oauth::Introspected> {
        match shape(credential) {
            Shape::ApiKey => self.introspect_key(app.introspect, credential).await,
            Shape::ScimToken | Shape::Signed => self.introspect(app, credential).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every door × every shape: forward-auth takes keys and signed tokens, SCIM its own
    /// tokens only, each refusing the rest before any read.
    #[test]
    fn each_door_admits_its_own_shapes_and_no_other() {
        let table = [
            (Door::Forward, [(Shape::ApiKey, true), (Shape::ScimToken, false), (Shape::Signed, true)]),
            (Door::Scim, [(Shape::ApiKey, false), (Shape::ScimToken, true), (Shape::Signed, false)]),
        ];
        for (door, row) in table {
            for (shape, admitted) in row {
                assert_eq!(door.admits(shape), admitted, "{door:?} × {shape:?}");
            }
        }
    }

    #[test]
    fn a_credential_is_told_apart_by_its_shape_alone() {
        let key = format!("{KEY_PREFIX}{}", "a".repeat(KEY_CHARS));
        assert_eq!(shape(&key), Shape::ApiKey);
        assert!(well_formed_key(&key));
        assert!(!well_formed_key(&format!("{KEY_PREFIX}short")) && !well_formed_key(&"a".repeat(46)));
        assert!(!well_formed_key(&format!("{KEY_PREFIX}{}", "-".repeat(KEY_CHARS))));
        assert_eq!(shape("scim_abc"), Shape::ScimToken);
        assert!(well_formed_scim_token("scim_abc") && !well_formed_scim_token(&format!("scim_{}", "a".repeat(200))));
        assert_eq!(shape("eyJhbGciOiJFZERTQSJ9.e30.sig"), Shape::Signed);
        assert_eq!(shape(""), Shape::Signed);
    }
}
