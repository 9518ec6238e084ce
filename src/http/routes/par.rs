//! Pushed authorization requests (RFC 9126): `POST /oauth2/par`.
//!
//! Who may call it: a registered client, authenticated as at the token endpoint (a public
//! client by its `client_id` alone). What it trusts: nothing of the request until it has passed
//! every check `/oauth2/authorize` makes. What it hands out, a `request_uri`, is the request
//! sealed for that client (`accounts/oauth/par.rs`): it cannot be forged or changed, opens for
//! no other client, lives a minute and yields one code.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::http::client_auth::{ClientFields, calling_client, oauth_error};
use crate::http::dpop;
use crate::http::error::{Errors, code};
use crate::http::extract::FormPairs;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/oauth2/par", post(push))
}

/// The parameters of `/oauth2/authorize`, with the client's credentials.
#[derive(Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
struct PushedRequestForm {
    #[serde(flatten)]
    client: ClientFields,
    response_type: String,
    redirect_uri: String,
    code_challenge: String,
    /// `S256`.
    code_challenge_method: String,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    /// RFC 8707; may repeat.
    resource: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
    org_hint: Option<String>,
    /// RFC 9449 section 10: the thumbprint of the DPoP key the code is for. A `DPoP` proof sent
    /// with the push (`htu` `{issuer}/oauth2/par`) names it too.
    dpop_jkt: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct PushedRequestAnswer {
    /// `urn:ietf:params:oauth:request_uri:…`: send it to `/oauth2/authorize` with `client_id`.
    request_uri: String,
    /// Seconds it may wait for its use (60).
    expires_in: u64,
}

#[utoipa::path(
    post, path = "/oauth2/par", summary = "Push an authorization request (RFC 9126)", operation_id = "oauthPushedAuthorizationRequest", tag = "oidc-provider",
    description = "A client posts the parameters it would send to `/oauth2/authorize`, authenticated as at the token endpoint (a public client sends `client_id` alone), and gets a `request_uri` to send there instead, with `client_id` and nothing else: the request never passes through the browser. It is checked now as the authorization endpoint would check it, and a mistake is an RFC 6749 error here (`invalid_request` for an unregistered redirect URI, `invalid_scope`, `invalid_target`, …). The `request_uri` is good for 60 s to start the authorization (through a login and the consent page it goes on for 30 minutes), for that client only, and yields one code. With `GATEHOUSE_REQUIRE_PAR=true` every authorization request must come this way.",
    request_body(content((PushedRequestForm = "application/x-www-form-urlencoded"))),
    responses((status = 201, description = "The request_uri", body = PushedRequestAnswer), (status = 400, description = "RFC 6749 error: invalid_request, invalid_scope, invalid_target, unauthorized_client, unsupported_response_type, request_not_supported; or `malformed_request`: a body that is not a form"), (status = 401, description = "invalid_client"), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn push(State(state): State<AppState>, headers: HeaderMap, FormPairs(mut pairs): FormPairs) -> Response {
    let fields = ClientFields::take_from(&mut pairs);
    let (app, basic) = match calling_client(&state, &headers, fields, "/oauth2/par").await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let proof = match dpop::sent_proof(&headers) {
        Ok(proof) => proof,
        Err(refused) => return oauth_error(refused, basic),
    };
    let mut response = match state.oauth.push_request(&app, pairs, proof).await {
        Ok(pushed) => {
            let answer = PushedRequestAnswer { request_uri: pushed.request_uri, expires_in: pushed.expires_in };
            let mut response = (StatusCode::CREATED, Json(answer)).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => oauth_error(error, basic),
    };
    dpop::with_nonce(&state, &mut response);
    response
}
