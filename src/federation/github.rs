//! GitHub: OAuth2's code flow (with PKCE) and two REST calls, since GitHub issues no ID token.
//! Its quirks, handled here: the token endpoint answers form-encoded unless asked for JSON, and
//! reports a refused code with status 200 and an `error` field; `/user` has `email: null` when
//! the address is private, so the address comes from `/user/emails` (the primary one, and
//! whether GitHub has verified it); every API call needs a `User-Agent`.

use openidconnect::PkceCodeChallenge;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::identity::{Authorization, FederationError, ProviderIdentity, Registration};
use crate::config::GitHubEndpoints;
use crate::tokens::opaque::OpaqueToken;

pub(super) fn authorize(provider: Registration<'_>, endpoints: &GitHubEndpoints) -> Authorization {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let state = OpaqueToken::generate().secret;
    let mut url = endpoints.auth_url.clone();
    url.query_pairs_mut()
        .append_pair("client_id", &provider.config.client_id)
        .append_pair("redirect_uri", provider.redirect_uri.as_str())
        .append_pair("scope", &provider.config.scopes.join(" "))
        .append_pair("state", state.expose_secret())
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    Authorization {
        url,
        state,
        // GitHub has no ID token to carry one; one is kept all the same, unused.
        nonce: OpaqueToken::generate().secret.expose_secret().to_owned(),
        pkce_verifier: SecretString::from(verifier.secret().clone()),
    }
}

/// The token endpoint's answer: a token, or (with status 200) an error.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct UserEmail {
    email: String,
    primary: bool,
    verified: bool,
}

fn unreachable(what: &str) -> impl FnOnce(reqwest::Error) -> FederationError + '_ {
    move |error| FederationError::Unavailable(format!("{what}: {error}"))
}

pub(super) async fn finish(
    provider: Registration<'_>,
    endpoints: &GitHubEndpoints,
    http: &reqwest::Client,
    code: &str,
    pkce_verifier: SecretString,
) -> Result<ProviderIdentity, FederationError> {
    let response = http
        .post(endpoints.token_url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[
            ("client_id", provider.config.client_id.as_str()),
            ("client_secret", provider.config.client_secret.expose_secret()),
            ("code", code),
            ("redirect_uri", provider.redirect_uri.as_str()),
            ("code_verifier", pkce_verifier.expose_secret()),
        ])
        .send()
        .await
        .map_err(unreachable("the token endpoint could not be reached"))?;
    let status = response.status();
    let form = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = response.bytes().await.map_err(unreachable("the token endpoint's answer broke off"))?;
    let answer: TokenAnswer =
        if form { serde_urlencoded::from_bytes(&body).ok() } else { serde_json::from_slice(&body).ok() }.ok_or_else(
            || FederationError::Unavailable(format!("the token endpoint's answer (status {status}) is not OAuth2")),
        )?;
    let token = match answer {
        TokenAnswer { error: Some(error), .. } => {
            return Err(FederationError::Refused(format!("the token endpoint refused the code: {error}")));
        }
        TokenAnswer { access_token: Some(token), .. } if status.is_success() => SecretString::from(token),
        _ => return Err(FederationError::Unavailable(format!("the token endpoint answered {status} without a token"))),
    };

    let api = endpoints.api_url.as_str().trim_end_matches('/');
    let get = |path: &str| {
        http.get(format!("{api}/{path}"))
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
            .send()
    };
    let response = get("user").await.map_err(unreachable("GET /user failed"))?;
    if !response.status().is_success() {
        return Err(FederationError::Refused(format!("GET /user answered {}", response.status())));
    }
    let user: User = response.json().await.map_err(unreachable("GET /user's answer is not a user"))?;
    // The primary address and whether it is verified; without the `user:email` scope (a 403 or
    // 404 here), only the public address is known, unverified.
    let emails: Vec<UserEmail> = match get("user/emails").await {
        Ok(response) if response.status().is_success() => {
            response.json().await.map_err(unreachable("GET /user/emails's answer is not a list of addresses"))?
        }
        Ok(response) => {
            tracing::warn!(status = %response.status(), "GET /user/emails refused: the user:email scope is missing");
            Vec::new()
        }
        Err(error) => return Err(unreachable("GET /user/emails failed")(error)),
    };
    let (email, email_verified) = match emails.into_iter().find(|e| e.primary) {
        Some(primary) => (Some(primary.email), primary.verified),
        None => (user.email, false),
    };
    Ok(ProviderIdentity {
        issuer: provider.config.issuer.clone(),
        subject: user.id.to_string(),
        email,
        email_verified,
        name: user.name,
    })
}
