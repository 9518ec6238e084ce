//! gatehouse as an OpenID Connect provider for the team's other apps: the client registry
//! (`clients.rs`), the authorization endpoint's decisions (`authorize.rs`) and the token,
//! userinfo, introspection and revocation endpoints (`tokens.rs`).
//!
//! The device authorization grant (RFC 8628) is `device.rs`; token exchange (RFC 8693),
//! `exchange.rs`; pushed authorization requests (RFC 9126), `par.rs`.
//!
//! What it holds to: the authorization-code grant only with PKCE S256 (no `plain`, no implicit
//! grant, no password grant for client apps), exact redirect URIs (a loopback URI's port may vary
//! for native apps, RFC 8252), codes spent once within a minute, and a client's session is an
//! ordinary gatehouse session marked with its [`Grant`](crate::sessions::Grant): its refresh tokens
//! rotate, and one presented twice ends the whole session — the family — in the one transaction
//! (or Lua script) of the rotation. A client's tokens never open gatehouse's own API: its access
//! tokens are `at+jwt` with the client as `aud`.

pub mod authorize;
pub mod backchannel;
pub mod claims;
pub mod client_keys;
pub mod clients;
pub mod device;
pub mod dpop;
pub mod exchange;
pub mod initial_tokens;
pub mod introspection;
pub use self::introspection::Introspected;
pub mod logout_delivery;
pub mod par;
pub mod registration;
pub mod resources;
pub mod revocation;
pub mod tokens;

use url::Url;

use super::Error;
use crate::model::resource::Resource;

/// The scopes a client may ask for: OpenID Connect's, plus `app_data` (the admin-written data).
pub const SCOPES: &[&str] = &["openid", "profile", "email", "offline_access", "app_data", "org"];

/// The grants a client may be allowed.
pub const GRANT_TYPES: &[&str] =
    &["authorization_code", "refresh_token", "client_credentials", crate::model::device::DEVICE_GRANT, TOKEN_EXCHANGE];

/// How long an authorization code may wait for its redemption.
pub const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// Token exchange's grant type (RFC 8693, `exchange.rs`).
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The one token type taken and given.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// What a token exchange sent, beside the grant type and `scope`.
#[derive(Debug, Default)]
pub struct ExchangeRequest {
    pub subject_token: Option<String>,
    pub subject_token_type: Option<String>,
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    /// The client whose API the new token is for (its `client_id`); the exchanging client's
    /// own when absent.
    pub audience: Option<String>,
    pub requested_token_type: Option<String>,
}

/// An OAuth 2.0 error (RFC 6749 section 5.2 and 4.1.2.1), or a failure of gatehouse itself.
#[derive(Debug)]
pub enum OAuthError {
    Refused { error: &'static str, description: String },
    Failed(Error),
}

impl OAuthError {
    pub fn refused(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError::Refused { error, description: description.into() }
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::refused("invalid_grant", description)
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::refused("invalid_request", description)
    }
}

impl From<Error> for OAuthError {
    fn from(error: Error) -> Self {
        OAuthError::Failed(error)
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> Self {
        OAuthError::Failed(error.into())
    }
}

pub type OAuthResult<T> = std::result::Result<T, OAuthError>;

/// Space-separated scopes, each one known (OpenID Connect's and gatehouse's, or a scope of one
/// of the protected `resources`); duplicates dropped, order kept.
pub fn parse_scopes(text: &str, resources: &[Resource]) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in text.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&scope) && !resources.iter().any(|r| r.has_scope(scope)) {
            return Err(format!("unknown scope {scope:?}; the scopes are {}", supported_scopes(resources).join(" ")));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(scopes)
}

/// Every scope a client may ask for: OpenID Connect's and gatehouse's, then each resource's.
pub fn supported_scopes(resources: &[Resource]) -> Vec<String> {
    let mut scopes: Vec<String> = SCOPES.iter().map(|s| (*s).to_owned()).collect();
    for scope in resources.iter().flat_map(Resource::scopes) {
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    scopes
}

fn is_loopback(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(domain)) => domain == "localhost",
            None => false,
        }
}

/// Whether `presented` is the registered redirect URI `registered`: the same text, except that
/// a loopback URI's port may differ (a native app listens on whatever port it got, RFC 8252
/// section 7.3). Compared as parsed URLs, so `https://app.example.com.evil.com` or a path
/// appended to the registered one never matches.
pub fn redirect_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(mut registered), Ok(mut presented)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    if !is_loopback(&registered) || !is_loopback(&presented) {
        return false;
    }
    let _ = registered.set_port(None);
    let _ = presented.set_port(None);
    registered == presented
}

/// Whether a redirect URI may be registered: absolute, no fragment, and `https` — or `http` to
/// a loopback address, or a native app's private-use scheme (`com.example.app:/callback`).
pub fn registrable(uri: &str) -> Result<(), String> {
    if uri.len() > 2000 {
        return Err("a redirect URI is at most 2000 characters".into());
    }
    let url = Url::parse(uri).map_err(|_| format!("{uri:?} is not an absolute URL"))?;
    if url.fragment().is_some() || uri.contains(char::is_whitespace) {
        return Err(format!("{uri:?} may not hold a fragment or spaces"));
    }
    if uri.contains('*') {
        return Err(format!("{uri:?}: a redirect URI is matched exactly; it may not hold a wildcard"));
    }
    let allowed = match url.scheme() {
        "https" => url.host().is_some(),
        "http" => is_loopback(&url),
        scheme => scheme.contains('.'),
    };
    if allowed {
        Ok(())
    } else {
        Err(format!(
            "{uri:?} must be https, http to a loopback address (127.0.0.1, [::1], localhost) or a private-use scheme like com.example.app:/callback"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_match_exactly_but_for_a_loopback_port() {
        let registered = "https://app.example.com/callback";
        assert!(redirect_matches(registered, "https://app.example.com/callback"));
        for other in [
            "https://app.example.com/callback/",
            "https://app.example.com/callback?x=1",
            "https://app.example.com/callbackx",
            "https://app.example.com.evil.com/callback",
            "https://app.example.com@evil.com/callback",
            "http://app.example.com/callback",
            "https://app.example.com:8443/callback",
            "https://APP.example.com/callback/../callback",
        ] {
            assert!(!redirect_matches(registered, other), "{other}");
        }
        assert!(redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:53817/cb"));
        assert!(redirect_matches("http://[::1]:8080/cb", "http://[::1]:1234/cb"));
        assert!(!redirect_matches("http://127.0.0.1/cb", "http://127.0.0.1:53817/other"));
        assert!(!redirect_matches("http://127.0.0.1/cb", "http://127.0.0.2:1/cb"));
    }

    #[test]
    fn only_safe_redirect_uris_register() {
        for good in
            ["https://app.example.com/cb", "http://127.0.0.1:8080/cb", "http://localhost/cb", "com.example.app:/cb"]
        {
            assert!(registrable(good).is_ok(), "{good}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "javascript:alert(1)",
            "/cb",
            "data:x",
            "https://*.example.com/cb",
        ] {
            assert!(registrable(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_known_ones() {
        assert_eq!(parse_scopes("openid  email openid", &[]).unwrap(), ["openid", "email"]);
        assert!(parse_scopes("openid admin", &[]).unwrap_err().contains("admin"));
        let mcp = Resource::new("https://mcp.example.com/", vec!["mcp:tools".into()]).unwrap();
        assert_eq!(parse_scopes("openid mcp:tools", std::slice::from_ref(&mcp)).unwrap(), ["openid", "mcp:tools"]);
        assert!(parse_scopes("mcp:tools", &[]).is_err(), "a resource's scope only while it is listed");
        assert_eq!(supported_scopes(&[mcp]).last().map(String::as_str), Some("mcp:tools"));
    }
}
