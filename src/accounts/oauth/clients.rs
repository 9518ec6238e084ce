//! The client registry: admins (the API, the console) and operators (the command line) register,
//! change, re-key and remove client apps at runtime, with no restart; and the token endpoint
//! authenticates a client by its secret, of which only the SHA-256 is kept (a 256-bit random
//! secret needs no slow hash: it cannot be guessed, and the hash makes a stolen database useless).

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

use super::{GRANT_TYPES, OAuthError, OAuthResult, parse_scopes, registrable};
use crate::accounts::admin::Admin;
use crate::accounts::{AuthorizationServer, Core, Error, FieldError, Result};
use crate::model::client::{ClientKeys, ClientPolicy};
use crate::model::outcome::{Effects, Kind};
use crate::model::resource::Resource;
use crate::store::clients::OAuthClient;
use crate::tokens::assertion::{claimed_client, key_set_problem};
use crate::tokens::mac::same;
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// A client as submitted (`POST /admin/clients`, `gatehouse client create`); on a change
/// (`PATCH`), what is absent stays.
#[derive(Debug, Default)]
pub struct ClientSpec {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Only at creation: a client does not change between public and confidential.
    pub confidential: Option<bool>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub first_party: Option<bool>,
    /// A resource server, which may introspect every client's tokens.
    pub introspect: Option<bool>,
    /// Where it hears of a session's end; `Some("")` removes it.
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
    /// Its authorization requests must be pushed (RFC 9126 section 6).
    pub require_pushed_authorization_requests: Option<bool>,
    /// Its access tokens are always DPoP-bound (RFC 9449 section 5.2).
    pub dpop_bound_access_tokens: Option<bool>,
    /// The public keys it proves itself with (`private_key_jwt`) instead of a secret, as a JWK
    /// Set or the URL of one (not both); given at creation, and changed only for a client that
    /// has keys (a client does not change how it proves itself).
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
}

/// A client just registered or re-keyed, with its secret: shown this once.
pub use crate::model::client::ClientWithSecret;

/// Applies `spec` to `client` and checks the result whole; every problem comes back at once.
pub(super) fn apply(mut client: OAuthClient, spec: ClientSpec, resources: &[Resource]) -> Result<OAuthClient> {
    let mut problems = Vec::new();
    if let Some(name) = spec.name {
        client.name = name.trim().to_owned();
    }
    if client.name.is_empty() || client.name.chars().count() > 200 {
        problems.push(FieldError::new("name", "a client has a name of 1 to 200 characters"));
    }
    for (field, uris, target) in [
        ("redirect_uris", spec.redirect_uris, &mut client.redirect_uris),
        ("post_logout_redirect_uris", spec.post_logout_redirect_uris, &mut client.post_logout_redirect_uris),
    ] {
        if let Some(uris) = uris {
            *target = uris;
        }
        if target.len() > 20 {
            problems.push(FieldError::new(field, "at most 20 addresses"));
        }
        problems.extend(target.iter().filter_map(|uri| registrable(uri).err()).map(|why| FieldError::new(field, why)));
    }
    if let Some(grants) = spec.grant_types {
        client.grant_types = grants;
    }
    let mut seen = Vec::new();
    client.grant_types.retain(|grant| match seen.contains(grant) {
        true => false,
        false => {
            seen.push(grant.clone());
            true
        }
    });
    if let Some(unknown) = client.grant_types.iter().find(|g| !GRANT_TYPES.contains(&g.as_str())) {
        let why = format!("unknown grant type {unknown:?}; the grant types are {}", GRANT_TYPES.join(", "));
        problems.push(FieldError::new("grant_types", why));
    }
    if client.grant_types.is_empty() {
        problems.push(FieldError::new("grant_types", "a client needs at least one grant type"));
    }
    let grants = |g: &str| client.grant_types.iter().any(|x| x == g);
    if grants(super::TOKEN_EXCHANGE) && !client.confidential {
        problems.push(FieldError::new("grant_types", "token exchange needs a confidential client (one with a secret)"));
    }
    if grants("client_credentials") && !client.confidential {
        problems
            .push(FieldError::new("grant_types", "client_credentials needs a confidential client (one with a secret)"));
    }
    if grants("authorization_code") && client.redirect_uris.is_empty() {
        problems.push(FieldError::new("redirect_uris", "authorization_code needs at least one redirect URI"));
    }
    if let Some(scopes) = spec.scopes {
        match parse_scopes(&scopes.join(" "), resources) {
            Ok(scopes) => client.scopes = scopes,
            Err(why) => problems.push(FieldError::new("scopes", why)),
        }
    }
    if let Some(first_party) = spec.first_party {
        client.first_party = first_party;
    }
    if let Some(introspect) = spec.introspect {
        client.introspect = introspect;
    }
    if let Some(uri) = spec.backchannel_logout_uri {
        client.backchannel_logout_uri = Some(uri.trim().to_owned()).filter(|u| !u.is_empty());
    }
    if let Some(required) = spec.backchannel_logout_session_required {
        client.backchannel_logout_session_required = required;
    }
    if let Some(required) = spec.require_pushed_authorization_requests {
        client.policy.require_pushed_authorization_requests = required;
    }
    if let Some(required) = spec.dpop_bound_access_tokens {
        client.policy.dpop_bound_access_tokens = required;
    }
    match (spec.jwks, spec.jwks_uri) {
        (Some(_), Some(_)) => problems.push(FieldError::new("jwks_uri", "register jwks or jwks_uri, not both")),
        (Some(set), None) => client.policy.keys = Some(ClientKeys::Jwks(set)),
        (None, Some(uri)) => client.policy.keys = Some(ClientKeys::JwksUri(uri)),
        (None, None) => {}
    }
    match &client.policy.keys {
        Some(_) if !client.confidential => {
            problems
                .push(FieldError::new("jwks", "a public client proves nothing: keys are for a confidential client"));
        }
        Some(ClientKeys::Jwks(keys)) => problems.extend(key_set_problem(keys).map(|why| FieldError::new("jwks", why))),
        Some(ClientKeys::JwksUri(uri)) => {
            problems.extend(keys_uri_problem(uri).map(|why| FieldError::new("jwks_uri", why)));
        }
        None => {}
    }
    if let Some(why) =
        client.backchannel_logout_uri.as_deref().and_then(|uri| logout_uri_problem(uri, client.confidential))
    {
        problems.push(FieldError::new("backchannel_logout_uri", why));
    }
    if problems.is_empty() { Ok(client) } else { Err(Error::Validation(problems)) }
}

/// What is wrong with a `jwks_uri`: it must be an absolute `https` URL (`http` is let through
/// where the fetch's guard lets private addresses in, so that it is refused at the fetch
/// instead), without credentials or fragment.
fn keys_uri_problem(uri: &str) -> Option<String> {
    let Ok(url) = url::Url::parse(uri) else { return Some(format!("{uri:?} is not an absolute URL")) };
    let plain = url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
    if !plain || url.host().is_none() || uri.len() > 2048 || !matches!(url.scheme(), "https" | "http") {
        return Some(format!(
            "{uri:?} must be an https URL of at most 2048 characters, with no credentials or fragment"
        ));
    }
    None
}

/// What is wrong with a back-channel logout URI: it must be absolute, without fragment, and
/// `https` (`http` only for a confidential client, as OpenID Connect Back-Channel Logout allows).
fn logout_uri_problem(uri: &str, confidential: bool) -> Option<String> {
    let Ok(url) = url::Url::parse(uri) else { return Some(format!("{uri:?} is not an absolute URL")) };
    if url.fragment().is_some() || url.host().is_none() || uri.len() > 2048 {
        return Some(format!("{uri:?} must name a host, hold no fragment and be at most 2048 characters"));
    }
    match url.scheme() {
        "https" => None,
        "http" if confidential => None,
        _ => Some(format!("{uri:?} must be https (http only for a confidential client)")),
    }
}

impl Admin<'_, AuthorizationServer> {
    /// Registers a client; a confidential one gets its secret, shown this once.
    pub async fn create_client(&self, spec: ClientSpec) -> Result<ClientWithSecret> {
        self.admit(crate::accounts::access::matrix::Operation::Client).await?;
        let now = self.service().now();
        let confidential = spec.confidential.unwrap_or(true);
        let blank = OAuthClient {
            id: Uuid::new_v4().simple().to_string(),
            name: String::new(),
            confidential,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scopes: ["openid", "profile", "email", "offline_access"].map(str::to_owned).to_vec(),
            first_party: false,
            introspect: false,
            self_registered: false,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            policy: ClientPolicy::default(),
            created_at: now,
            updated_at: now,
        };
        let client = apply(blank, spec, &self.service().policy().resources)?;
        let secret = client.secret_kept().then(OpaqueToken::generate);
        let created = Effects::of(self.outcome(Kind::AdminClientCreated, None).detail(describe(&client)));
        self.service()
            .commit(
                &created,
                self.service().store.insert_client(&client, secret.as_ref().map(|s| &s.hash), None, &created),
            )
            .await?;
        tracing::info!(client_id = %client.id, "client registered");
        // Published now, so the app finds it in the JWKS on its first login.
        self.service().ensure_id_key().await?;
        Ok(ClientWithSecret { client, secret: secret.map(|s| s.secret) })
    }

    pub async fn clients(&self) -> Result<Vec<OAuthClient>> {
        Ok(self.service().store.list_clients().await?)
    }

    pub async fn client(&self, id: &str) -> Result<OAuthClient> {
        self.service().store.find_client(id).await?.ok_or(Error::NotFoundClient)
    }

    /// Changes what `spec` names; the rest stays.
    pub async fn update_client(&self, id: &str, spec: ClientSpec) -> Result<OAuthClient> {
        if spec.confidential.is_some() {
            let why = "a client stays public or confidential; register a new one to change that";
            return Err(Error::field("confidential", why));
        }
        let before = self.client(id).await?;
        if (spec.jwks.is_some() || spec.jwks_uri.is_some()) && before.policy.keys.is_none() {
            let why = "a client keeps how it proves itself (a secret, or keys); register a new one to change that";
            return Err(Error::field("jwks", why));
        }
        let client = apply(before.clone(), spec, &self.service().policy().resources)?;
        // Where a client's codes may go, what it may ask for, and whether people are asked at
        // all are lasting access; its name is not.
        if (OAuthClient { name: before.name.clone(), ..client.clone() }) != before {
            self.require_recent().await?;
        }
        let client = OAuthClient { updated_at: self.service().now(), ..client };
        let updated = Effects::of(self.outcome(Kind::AdminClientUpdated, None).detail(describe(&client)));
        if !self.service().commit(&updated, self.service().store.update_client(&client, &updated)).await? {
            return Err(Error::NotFoundClient);
        }
        Ok(client)
    }

    /// A new secret for a confidential client; the old one stops working at once.
    pub async fn rotate_client_secret(&self, id: &str) -> Result<ClientWithSecret> {
        self.require_recent().await?;
        let client = self.client(id).await?;
        if !client.secret_kept() {
            return Err(Error::field("confidential", "only a confidential client without keys has a secret"));
        }
        let secret = OpaqueToken::generate();
        let rotated =
            Effects::of(self.outcome(Kind::AdminClientSecretRotated, None).detail(json!({ "client_id": id })));
        if !self
            .service()
            .commit(&rotated, self.service().store.set_client_secret(id, &secret.hash, self.service().now(), &rotated))
            .await?
        {
            return Err(Error::NotFoundClient);
        }
        Ok(ClientWithSecret { client, secret: Some(secret.secret) })
    }

    /// Removes a client: its codes and consents go, and its tokens are refused from the next
    /// request (each check finds the client first).
    pub async fn delete_client(&self, id: &str) -> Result<OAuthClient> {
        let client = self.client(id).await?;
        let deleted = Effects::of(self.outcome(Kind::AdminClientDeleted, None).detail(describe(&client)));
        if !self.service().commit(&deleted, self.service().store.delete_client(id, &deleted)).await? {
            return Err(Error::NotFoundClient);
        }
        Ok(client)
    }
}

fn describe(client: &OAuthClient) -> serde_json::Value {
    json!({ "client_id": client.id, "name": client.name, "scopes": client.scopes, "grant_types": client.grant_types })
}

/// How a client authenticated at the token, PAR, device, revocation or introspection endpoint.
#[derive(Debug)]
pub enum ClientCredentials {
    /// `Authorization: Basic` or `client_id` and `client_secret` in the body.
    Secret { id: String, secret: SecretString },
    /// `client_assertion` (`private_key_jwt`), with the `client_id` of the body if one was sent.
    Assertion { id: Option<String>, assertion: String },
    /// A public client: `client_id` alone.
    Public { id: String },
}

impl AuthorizationServer {
    /// The client the credentials prove at `endpoint` (its path: an assertion's `aud` may name
    /// it), or `invalid_client`. A client proves itself the one way it registered: a secret
    /// (compared in constant time), an assertion signed by one of its keys, or, a public one,
    /// nothing.
    pub async fn authenticate_client(
        &self,
        credentials: ClientCredentials,
        endpoint: &str,
    ) -> OAuthResult<OAuthClient> {
        let invalid = || OAuthError::refused("invalid_client", "unknown client, or wrong client credentials");
        let id = match &credentials {
            ClientCredentials::Secret { id, .. } | ClientCredentials::Public { id } => id.clone(),
            ClientCredentials::Assertion { assertion, .. } => claimed_client(assertion).ok_or_else(invalid)?,
        };
        if id.is_empty() || id.len() > 64 {
            return Err(invalid());
        }
        let client = self.store.find_client(&id).await?.ok_or_else(invalid)?;
        match credentials {
            ClientCredentials::Secret { secret, .. } if client.secret_kept() && plausible(secret.expose_secret()) => {
                let stored = self.store.client_secret(&id).await?.ok_or_else(invalid)?;
                let presented = TokenHash::of(secret.expose_secret());
                match same(presented.as_bytes(), stored.as_bytes()) {
                    true => Ok(client),
                    false => Err(invalid()),
                }
            }
            ClientCredentials::Assertion { id: named, assertion } if client.confidential => {
                if named.is_some_and(|named| named != client.id) {
                    return Err(invalid());
                }
                let Some(keys) = client.policy.keys.clone() else { return Err(invalid()) };
                self.asserted(&client, &keys, &assertion, endpoint).await?;
                Ok(client)
            }
            ClientCredentials::Public { .. } if !client.confidential => Ok(client),
            _ => Err(invalid()),
        }
    }
}

impl Core {
    /// A client by its id, as a request names it.
    pub async fn find_client(&self, id: &str) -> Result<Option<OAuthClient>> {
        if id.is_empty() || id.len() > 64 {
            return Ok(None);
        }
        Ok(self.store.find_client(id).await?)
    }
}
