//! Client registration (RFC 7591) and its management (RFC 7592), for apps that register
//! themselves: MCP clients, CLIs, apps of other teams. `GATEHOUSE_CLIENT_REGISTRATION` says who
//! may: nobody (`off`, the default), the holder of an initial access token an admin issued
//! (`token`), or anyone within the per-IP budget (`open`).
//!
//! A self-registered client is never trusted more than a stranger: it is third-party (people are
//! always asked to consent), cannot introspect other clients' tokens, and cannot be registered
//! for token exchange. Its redirect URIs are checked as an admin's are (https, loopback or a
//! private-use scheme; exact match). It gets a registration access token, kept only as a hash,
//! with which it reads, replaces and removes its own registration, and nothing else.

use secrecy::SecretString;
use serde_json::json;
use uuid::Uuid;

use super::clients::{ClientSpec, apply};
use super::{OAuthError, OAuthResult};
use crate::accounts::{AuthorizationServer, ClientInfo, Error};
use crate::config::ClientRegistration;
use crate::model::client::ClientPolicy;
use crate::model::outcome::{Effects, Kind};
use crate::model::resource::Resource;
use crate::store::clients::OAuthClient;
use crate::tokens::mac::same;
use crate::tokens::opaque::{OpaqueToken, TokenHash, plausible};

/// The grants a client may register itself for: not token exchange, which reaches other
/// clients' APIs and is an admin's decision; not the device grant, whose approval page names
/// only the client, so that a self-chosen name and a code passed round would be all a phishing
/// page needed.
const SELF_GRANTS: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];

/// What a client registered without `scope` may ask for.
const DEFAULT_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// RFC 7591 client metadata, as sent; what gatehouse does not use is ignored (section 2).
#[derive(Debug, Default)]
pub struct ClientMetadata {
    pub client_name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    /// `none` (a public client), `client_secret_basic` (the default), `client_secret_post`, or
    /// `private_key_jwt` (with `jwks` or `jwks_uri`).
    pub token_endpoint_auth_method: Option<String>,
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    /// Space-separated.
    pub scope: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
    /// RFC 9126 section 6.
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 section 5.2.
    pub dpop_bound_access_tokens: Option<bool>,
}

/// A registration as stored, and the secrets shown this once.
#[derive(Debug)]
pub struct Registered {
    pub client: OAuthClient,
    pub auth_method: String,
    pub client_secret: Option<SecretString>,
    pub registration_access_token: Option<SecretString>,
}

fn metadata_error(error: Error) -> OAuthError {
    match error {
        Error::Validation(problems) => {
            let redirect = problems.iter().any(|p| p.field.ends_with("redirect_uris"));
            let text: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect();
            let code = if redirect { "invalid_redirect_uri" } else { "invalid_client_metadata" };
            OAuthError::refused(code, text.join("; "))
        }
        other => OAuthError::Failed(other),
    }
}

fn invalid_token() -> OAuthError {
    OAuthError::refused("invalid_token", "the access token is missing, wrong, or not for this client")
}

/// The client `metadata` describes, on top of `client`; what is wrong comes back as RFC 7591's
/// `invalid_client_metadata` or `invalid_redirect_uri`.
fn described(
    client: OAuthClient,
    metadata: ClientMetadata,
    creating: bool,
    resources: &[Resource],
) -> OAuthResult<(OAuthClient, String)> {
    let method = metadata.token_endpoint_auth_method.unwrap_or_else(|| "client_secret_basic".into());
    let keys = metadata.jwks.is_some() || metadata.jwks_uri.is_some();
    let confidential = match (method.as_str(), keys) {
        ("none", false) => false,
        ("client_secret_basic" | "client_secret_post", false) | ("private_key_jwt", true) => true,
        ("private_key_jwt", false) => {
            let why = "token_endpoint_auth_method private_key_jwt needs the client's keys: jwks or jwks_uri";
            return Err(OAuthError::refused("invalid_client_metadata", why));
        }
        ("none" | "client_secret_basic" | "client_secret_post", true) => {
            let why = "jwks and jwks_uri go with token_endpoint_auth_method private_key_jwt";
            return Err(OAuthError::refused("invalid_client_metadata", why));
        }
        (other, _) => {
            let why = format!(
                "token_endpoint_auth_method {other:?} is not supported: none, client_secret_basic, \
                 client_secret_post or private_key_jwt"
            );
            return Err(OAuthError::refused("invalid_client_metadata", why));
        }
    };
    let proves_by_keys = |c: &OAuthClient| c.policy.keys.is_some();
    if !creating && (confidential != client.confidential || keys != proves_by_keys(&client)) {
        let why = "a client keeps how it proves itself: token_endpoint_auth_method cannot change between none, \
                   a secret and private_key_jwt";
        return Err(OAuthError::refused("invalid_client_metadata", why));
    }
    if let Some(unknown) = metadata.response_types.iter().flatten().find(|t| *t != "code") {
        return Err(OAuthError::refused(
            "invalid_client_metadata",
            format!("response_type {unknown:?} is not supported: only code"),
        ));
    }
    let grants = metadata.grant_types.unwrap_or_else(|| vec!["authorization_code".into()]);
    if let Some(grant) = grants.iter().find(|g| !SELF_GRANTS.contains(&g.as_str())) {
        let why = format!("a client cannot register itself for {grant:?}; it may use {}", SELF_GRANTS.join(", "));
        return Err(OAuthError::refused("invalid_client_metadata", why));
    }
    let spec = ClientSpec {
        name: Some(metadata.client_name.unwrap_or_else(|| "Unnamed app".into())),
        redirect_uris: Some(metadata.redirect_uris.unwrap_or_default()),
        post_logout_redirect_uris: Some(metadata.post_logout_redirect_uris.unwrap_or_default()),
        confidential: None,
        grant_types: Some(grants),
        scopes: Some(match metadata.scope {
            Some(scope) => with_whole_resources(scope.split(' ').filter(|s| !s.is_empty()), resources),
            // OpenID Connect's usual four, and every protected resource's: the person is
            // asked for whatever the client asks.
            None => DEFAULT_SCOPES
                .map(str::to_owned)
                .into_iter()
                .chain(resources.iter().flat_map(|r| r.scopes().iter().cloned()))
                .collect(),
        }),
        first_party: Some(false),
        introspect: Some(false),
        backchannel_logout_uri: Some(metadata.backchannel_logout_uri.unwrap_or_default()),
        backchannel_logout_session_required: Some(metadata.backchannel_logout_session_required.unwrap_or(false)),
        require_pushed_authorization_requests: Some(metadata.require_pushed_authorization_requests.unwrap_or(false)),
        dpop_bound_access_tokens: Some(metadata.dpop_bound_access_tokens.unwrap_or(false)),
        jwks: metadata.jwks,
        jwks_uri: metadata.jwks_uri,
    };
    let client = apply(OAuthClient { confidential, ..client }, spec, resources).map_err(metadata_error)?;
    Ok((client, method))
}

/// The scopes a client registers for when it names `named`: those, and every other scope of a
/// protected resource one of them belongs to. MCP clients register with the scope of the first
/// challenge they met (`mcp:tools`) and, when a tool answers `insufficient_scope`, ask again for
/// another of the same resource (`mcp:admin`); the person is asked each time, as for any
/// self-registered client, so a resource's scopes are one registration.
fn with_whole_resources<'a>(named: impl Iterator<Item = &'a str>, resources: &[Resource]) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in named {
        let resource = resources.iter().find(|r| r.scopes().iter().any(|s| s == scope));
        let whole = resource.map(|r| r.scopes().to_vec()).unwrap_or_else(|| vec![scope.to_owned()]);
        for scope in whole {
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
    }
    scopes
}

impl AuthorizationServer {
    /// Registers a client (`POST /oauth2/register`); `initial_token` is the bearer token sent,
    /// which `token` mode requires.
    pub async fn register_client(
        &self,
        initial_token: Option<&str>,
        metadata: ClientMetadata,
        info: &ClientInfo,
    ) -> OAuthResult<Registered> {
        let now = self.now();
        let mode = self.policy().client_registration;
        let initial_token = initial_token.filter(|t| plausible(t));
        match (mode, initial_token) {
            (ClientRegistration::Off, _) => {
                let why = "client registration is off here; an admin registers clients (GATEHOUSE_CLIENT_REGISTRATION)";
                return Err(OAuthError::refused("access_denied", why));
            }
            (ClientRegistration::Token, None) => {
                let why = "registration here needs an initial access token an admin issued, sent as Authorization: \
                           Bearer (GATEHOUSE_CLIENT_REGISTRATION=token); a client that cannot send one is registered \
                           by an admin instead";
                return Err(OAuthError::refused("invalid_token", why));
            }
            _ => {}
        }
        self.throttle.per_registration(info).await?;
        let blank = OAuthClient {
            id: Uuid::new_v4().simple().to_string(),
            name: String::new(),
            confidential: true,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            scopes: ["openid", "profile", "email", "offline_access"].map(str::to_owned).to_vec(),
            first_party: false,
            introspect: false,
            self_registered: true,
            backchannel_logout_uri: None,
            backchannel_logout_session_required: false,
            policy: ClientPolicy::default(),
            created_at: now,
            updated_at: now,
        };
        let (client, method) = described(blank, metadata, true, &self.policy().resources)?;
        // Spent only for a registration that will be made: metadata to fix costs no use.
        if let (ClientRegistration::Token, Some(token)) = (mode, initial_token)
            && !self.store.spend_initial_token(&TokenHash::of(token), now).await?
        {
            return Err(invalid_token());
        }
        let secret = client.secret_kept().then(OpaqueToken::generate);
        let access = OpaqueToken::generate();
        let registered = Effects::of(self.outcome(Kind::OauthClientRegistered, None, info).detail(describe(&client)));
        self.commit(
            &registered,
            self.store.insert_client(&client, secret.as_ref().map(|s| &s.hash), Some(&access.hash), &registered),
        )
        .await?;
        self.ensure_id_key().await?;
        tracing::info!(client_id = %client.id, "a client registered itself");
        Ok(Registered {
            client,
            auth_method: method,
            client_secret: secret.map(|s| s.secret),
            registration_access_token: Some(access.secret),
        })
    }

    /// The self-registered client `id`, if `token` is its registration access token (compared
    /// in constant time); any mismatch, unknown client included, is the same `invalid_token`.
    async fn registered_client(&self, id: &str, token: Option<&str>) -> OAuthResult<OAuthClient> {
        let token = token.filter(|t| plausible(t)).ok_or_else(invalid_token)?;
        if id.is_empty() || id.len() > 64 {
            return Err(invalid_token());
        }
        let stored = self.store.registration_hash(id).await?.ok_or_else(invalid_token)?;
        if !same(TokenHash::of(token).as_bytes(), stored.as_bytes()) {
            return Err(invalid_token());
        }
        self.store.find_client(id).await?.ok_or_else(invalid_token)
    }

    /// RFC 7592 read: the registration as it stands (its secrets are not kept, so not shown).
    pub async fn read_registration(&self, id: &str, token: Option<&str>) -> OAuthResult<Registered> {
        let client = self.registered_client(id, token).await?;
        let auth_method = client.auth_method().to_owned();
        Ok(Registered { client, auth_method, client_secret: None, registration_access_token: None })
    }

    /// RFC 7592 update: the metadata sent replaces the registration's (what is left out takes its
    /// default); the client id, secret and registration access token stay.
    pub async fn update_registration(
        &self,
        id: &str,
        token: Option<&str>,
        metadata: ClientMetadata,
        info: &ClientInfo,
    ) -> OAuthResult<Registered> {
        let before = self.registered_client(id, token).await?;
        let (client, method) = described(before, metadata, false, &self.policy().resources)?;
        let client = OAuthClient { updated_at: self.now(), ..client };
        let updated =
            Effects::of(self.outcome(Kind::OauthClientRegistrationUpdated, None, info).detail(describe(&client)));
        if !self.commit(&updated, self.store.update_client(&client, &updated)).await? {
            return Err(invalid_token());
        }
        Ok(Registered { client, auth_method: method, client_secret: None, registration_access_token: None })
    }

    /// RFC 7592 delete: the client goes with its codes and consents; its tokens are refused from
    /// the next request.
    pub async fn delete_registration(&self, id: &str, token: Option<&str>, info: &ClientInfo) -> OAuthResult<()> {
        let client = self.registered_client(id, token).await?;
        let deleted =
            Effects::of(self.outcome(Kind::OauthClientRegistrationDeleted, None, info).detail(describe(&client)));
        if !self.commit(&deleted, self.store.delete_client(&client.id, &deleted)).await? {
            return Err(invalid_token());
        }
        Ok(())
    }
}

fn describe(client: &OAuthClient) -> serde_json::Value {
    json!({
        "client_id": client.id,
        "name": client.name,
        "redirect_uris": client.redirect_uris,
        "scopes": client.scopes,
        "grant_types": client.grant_types,
    })
}
