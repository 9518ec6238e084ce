//! How a client app proves itself at the token, device authorization, revocation and
//! introspection endpoints (`client_secret_basic`, `client_secret_post`, or a public client's
//! `client_id` alone), and how those endpoints answer errors: as RFC 6749 says
//! (`{"error","error_description"}`, `application/json`), which is what client libraries read.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use secrecy::SecretString;
use serde::Serialize;

use crate::accounts::oauth::OAuthError;
use crate::accounts::oauth::clients::ClientCredentials;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::model::client::OAuthClient;

/// An OAuth error answer (RFC 6749 section 5.2), or gatehouse's own failure as a problem.
pub fn oauth_error(error: OAuthError, basic: bool) -> Response {
    match error {
        OAuthError::Refused { error, description } => {
            #[derive(Serialize)]
            struct Body<'a> {
                error: &'a str,
                error_description: &'a str,
            }
            let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
            let mut response = (status, Json(Body { error, error_description: &description })).into_response();
            if status == StatusCode::UNAUTHORIZED && basic {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="gatehouse""#));
            }
            response
        }
        OAuthError::Failed(error) => ApiError::from(error).into_response(),
    }
}

/// The client's credentials: `Authorization: Basic` (`client_secret_basic`), or `client_id`
/// with `client_secret` (`client_secret_post`) or alone (a public client) in the body.
fn credentials(
    headers: &HeaderMap,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
) -> Result<(ClientCredentials, bool), OAuthError> {
    let invalid = || {
        OAuthError::refused("invalid_client", "send the client's credentials (Basic, or client_id and client_secret)")
    };
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
            return Err(invalid());
        };
        if client_secret.is_some() {
            return Err(OAuthError::invalid_request("send the client's credentials one way, not two"));
        }
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| invalid())?;
        let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
        let unescape =
            |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
        let (id, secret) = (unescape(id).ok_or_else(invalid)?, unescape(secret).ok_or_else(invalid)?);
        if client_id.as_deref().is_some_and(|other| other != id) {
            return Err(invalid());
        }
        return Ok((ClientCredentials::Secret { id, secret: secret.into() }, true));
    }
    match (client_id, client_secret) {
        (Some(id), Some(secret)) => Ok((ClientCredentials::Secret { id, secret }, false)),
        (Some(id), None) => Ok((ClientCredentials::Public { id }, false)),
        _ => Err(invalid()),
    }
}

/// The client a request to the token, revocation or introspection endpoint comes from,
/// authenticated, and whether it used `Basic`; or the answer refusing it.
pub async fn calling_client(
    state: &AppState,
    headers: &HeaderMap,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
) -> Result<(OAuthClient, bool), Response> {
    let (credentials, basic) = credentials(headers, client_id, client_secret).map_err(|e| oauth_error(e, false))?;
    let app = state.oauth.authenticate_client(credentials).await.map_err(|e| oauth_error(e, basic))?;
    Ok((app, basic))
}
