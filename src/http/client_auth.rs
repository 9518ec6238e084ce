//! How a client app proves itself at the token, PAR, device authorization, revocation and
//! introspection endpoints (`client_secret_basic`, `client_secret_post`, `private_key_jwt`, or
//! a public client's `client_id` alone), and how those endpoints answer errors: as RFC 6749 says
//! (`{"error","error_description"}`, `application/json`), which is what client libraries read.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::accounts::oauth::OAuthError;
use crate::accounts::oauth::clients::ClientCredentials;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::model::client::OAuthClient;
use crate::tokens::assertion::ASSERTION_TYPE;

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

/// How a client may prove itself in a form's body: `client_id` with `client_secret`
/// (`client_secret_post`), with `client_assertion` (`private_key_jwt`), or alone (a public client).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ClientFields {
    pub client_id: Option<String>,
    #[schema(value_type = Option<String>)]
    pub client_secret: Option<SecretString>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`, with `client_assertion`.
    pub client_assertion_type: Option<String>,
    /// `private_key_jwt` (RFC 7523 section 2.2): a JWT signed by one of the client's registered
    /// keys, `iss` and `sub` its `client_id`, `aud` the issuer or this endpoint's URL, with
    /// `exp` (at most an hour away) and a `jti` used once.
    #[schema(value_type = Option<String>)]
    pub client_assertion: Option<SecretString>,
}

impl ClientFields {
    /// The fields of a form read as pairs, taken out of them (the rest is the request).
    pub fn take_from(pairs: &mut Vec<(String, String)>) -> Self {
        let take = |pairs: &mut Vec<(String, String)>, name: &str| {
            let value = pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
            if name != "client_id" {
                pairs.retain(|(key, _)| key != name);
            }
            value
        };
        ClientFields {
            client_id: take(pairs, "client_id"),
            client_secret: take(pairs, "client_secret").map(SecretString::from),
            client_assertion_type: take(pairs, "client_assertion_type"),
            client_assertion: take(pairs, "client_assertion").map(SecretString::from),
        }
    }
}

/// The client's credentials: `Authorization: Basic` (`client_secret_basic`), or in the body
/// `client_id` with `client_secret` (`client_secret_post`), a `client_assertion`
/// (`private_key_jwt`), or alone (a public client). One way at a time.
fn credentials(headers: &HeaderMap, fields: ClientFields) -> Result<(ClientCredentials, bool), OAuthError> {
    let invalid = || {
        OAuthError::refused(
            "invalid_client",
            "send the client's credentials (Basic, client_id and client_secret, or a client_assertion)",
        )
    };
    let ClientFields { client_id, client_secret, client_assertion_type, client_assertion } = fields;
    let assertion = match (client_assertion_type.as_deref(), client_assertion) {
        (None, None) => None,
        (Some(ASSERTION_TYPE), Some(assertion)) => Some(assertion),
        (Some(ASSERTION_TYPE), None) => return Err(OAuthError::invalid_request("client_assertion is missing")),
        (Some(_), _) => {
            let why = format!("client_assertion_type must be {ASSERTION_TYPE}");
            return Err(OAuthError::invalid_request(why));
        }
        (None, Some(_)) => return Err(OAuthError::invalid_request("client_assertion_type is missing")),
    };
    let one_way = || OAuthError::invalid_request("send the client's credentials one way, not two");
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
            return Err(invalid());
        };
        if client_secret.is_some() || assertion.is_some() {
            return Err(one_way());
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
    match (client_id, client_secret, assertion) {
        (_, Some(_), Some(_)) => Err(one_way()),
        (id, None, Some(assertion)) => {
            Ok((ClientCredentials::Assertion { id, assertion: assertion.expose_secret().to_owned() }, false))
        }
        (Some(id), Some(secret), None) => Ok((ClientCredentials::Secret { id, secret }, false)),
        (Some(id), None, None) => Ok((ClientCredentials::Public { id }, false)),
        (None, _, None) => Err(invalid()),
    }
}

/// The client a request to `endpoint` (the token, PAR, device, revocation or introspection
/// endpoint's path) comes from, authenticated, and whether it used `Basic`; or the answer
/// refusing it.
pub async fn calling_client(
    state: &AppState,
    headers: &HeaderMap,
    fields: ClientFields,
    endpoint: &str,
) -> Result<(OAuthClient, bool), Response> {
    let (credentials, basic) = credentials(headers, fields).map_err(|e| oauth_error(e, false))?;
    let app = state.oauth.authenticate_client(credentials, endpoint).await.map_err(|e| oauth_error(e, basic))?;
    Ok((app, basic))
}
