//! OpenID Connect providers: the discovery document (fetched when first needed, kept an hour,
//! fetched again at once when an ID token names a key it does not list), the code flow with
//! PKCE S256, and the ID token's checks, which `openidconnect` makes (signature by a key of the
//! provider's JWKS, `iss`, `aud`, `exp`, `nonce`) and this file adds (`at_hash`, when present).

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdTokenClaims, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};

use super::http::Http;
use super::identity::{Authorization, FederationError, ProviderIdentity, Registration};

/// How long a discovery document (and its keys) is used before it is fetched again.
const FRESH_FOR: Duration = Duration::from_secs(3600);
/// An ID token signed by a key the cached document does not list makes it be fetched again,
/// at most this often (a provider that has rotated its keys; a forged token, every time).
const REFETCH_AFTER: Duration = Duration::from_secs(30);

/// A provider's discovery document, as last fetched.
#[derive(Debug, Default)]
pub(super) struct Discovery {
    cached: tokio::sync::Mutex<Option<(Arc<CoreProviderMetadata>, Instant)>>,
}

impl Discovery {
    /// The document: the cached one while fresh; fetched otherwise (or, `keys_changed`, when
    /// the cached one is older than [`REFETCH_AFTER`]). When a fetch fails, a cached document
    /// serves on, so a provider's brief outage does not stop logins that need no new key.
    async fn get(
        &self,
        provider: Registration<'_>,
        http: &Http,
        keys_changed: bool,
    ) -> Result<Arc<CoreProviderMetadata>, FederationError> {
        let mut cached = self.cached.lock().await;
        if let Some((metadata, at)) = cached.as_ref() {
            let fresh = if keys_changed { at.elapsed() < REFETCH_AFTER } else { at.elapsed() < FRESH_FOR };
            if fresh {
                return Ok(metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.config.issuer.clone())
            .map_err(|e| FederationError::Unavailable(format!("the issuer is not a URL: {e}")))?;
        match CoreProviderMetadata::discover_async(issuer, http).await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                *cached = Some((metadata.clone(), Instant::now()));
                tracing::info!(provider = %provider.config.name, "discovery document fetched");
                Ok(metadata)
            }
            Err(error) => {
                let why = describe(&error);
                match cached.as_ref() {
                    Some((metadata, _)) => {
                        tracing::warn!(provider = %provider.config.name, error = %why, "discovery failed; the cached document serves on");
                        Ok(metadata.clone())
                    }
                    None => Err(FederationError::Unavailable(format!("discovery failed: {why}"))),
                }
            }
        }
    }
}

/// An error and its causes, on one line (none of them holds a secret: they describe
/// connections and documents).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The client for `provider` as its document describes it, authenticating at the token
/// endpoint as configured (HTTP Basic by default), or by a form post when the document says
/// that is all it accepts.
fn client(
    provider: Registration<'_>,
    metadata: &CoreProviderMetadata,
) -> openidconnect::core::CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
> {
    let methods = metadata.token_endpoint_auth_methods_supported();
    let post_only = provider.config.token_auth_post
        || methods.is_some_and(|methods| {
            !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && methods.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
    CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(provider.config.client_id.clone()),
        Some(ClientSecret::new(provider.config.client_secret.expose_secret().to_owned())),
    )
    .set_redirect_uri(RedirectUrl::from_url(provider.redirect_uri.clone()))
    .set_auth_type(if post_only { AuthType::RequestBody } else { AuthType::BasicAuth })
}

pub(super) async fn authorize(
    provider: Registration<'_>,
    discovery: &Discovery,
    http: &Http,
) -> Result<Authorization, FederationError> {
    let metadata = discovery.get(provider, http, false).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = client(provider, &metadata);
    let mut request =
        client.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
    // `openid` is always asked for.
    for scope in provider.config.scopes.iter().filter(|scope| *scope != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
    Ok(Authorization {
        url,
        state: SecretString::from(state.secret().clone()),
        nonce: nonce.secret().clone(),
        pkce_verifier: SecretString::from(verifier.secret().clone()),
    })
}

pub(super) async fn finish(
    provider: Registration<'_>,
    discovery: &Discovery,
    http: &Http,
    code: &str,
    pkce_verifier: SecretString,
    nonce: &str,
) -> Result<ProviderIdentity, FederationError> {
    let metadata = discovery.get(provider, http, false).await?;
    let client = client(provider, &metadata);
    let answer = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|_| FederationError::Unavailable("the discovery document names no token endpoint".into()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.expose_secret().to_owned()))
        .request_async(http)
        .await
        .map_err(|error| match error {
            RequestTokenError::ServerResponse(refusal) => {
                FederationError::Refused(format!("the token endpoint refused the code: {}", refusal.error()))
            }
            RequestTokenError::Request(cause) => {
                FederationError::Unavailable(format!("the token endpoint could not be reached: {}", describe(&cause)))
            }
            RequestTokenError::Parse(..) => {
                FederationError::Unavailable("the token endpoint's answer is not OAuth2".into())
            }
            RequestTokenError::Other(why) => FederationError::Refused(format!("the token endpoint: {why}")),
        })?;
    let id_token = answer.id_token().ok_or_else(|| FederationError::Refused("the answer has no ID token".into()))?;
    let nonce = Nonce::new(nonce.to_owned());
    let verify = |client: &CoreClient<_, _, _, _, _, _>| -> Result<CoreIdTokenClaims, ClaimsVerificationError> {
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, &nonce)?.clone();
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token.signing_alg().map_err(ClaimsVerificationError::SignatureVerification)?;
            let key = id_token.signing_key(&verifier).map_err(ClaimsVerificationError::SignatureVerification)?;
            let actual = AccessTokenHash::from_token(answer.access_token(), alg, key)
                .map_err(|e| ClaimsVerificationError::Other(format!("at_hash cannot be computed: {e}")))?;
            if actual != *expected {
                return Err(ClaimsVerificationError::Other("at_hash does not match the access token".into()));
            }
        }
        Ok(claims)
    };
    let claims = match verify(&client) {
        // Perhaps a key the provider has just added: its document (and keys) fetched again.
        Err(ClaimsVerificationError::SignatureVerification(_)) => {
            let metadata = discovery.get(provider, http, true).await?;
            verify(&self::client(provider, &metadata))
        }
        other => other,
    }
    .map_err(|error| FederationError::Refused(format!("the ID token did not verify: {}", describe(&error))))?;
    let mut identity = ProviderIdentity {
        issuer: provider.config.issuer.clone(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims.name().and_then(|name| name.get(None)).map(|name| name.as_str().to_owned()),
    };
    if identity.email.is_none() {
        // Some providers put the address only in the UserInfo answer, which must be about the
        // same subject.
        if let Ok(request) = client.user_info(answer.access_token().clone(), Some(claims.subject().clone())) {
            let info: Result<CoreUserInfoClaims, _> = request.request_async(http).await;
            match info {
                Ok(info) => {
                    identity.email = info.email().map(|email| email.as_str().to_owned());
                    identity.email_verified = info.email_verified().unwrap_or(false);
                }
                Err(error) => {
                    tracing::warn!(provider = %provider.config.name, error = %describe(&error), "UserInfo failed; going on without an address");
                }
            }
        }
    }
    Ok(identity)
}
