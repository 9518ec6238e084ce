//! gatehouse as an OpenID Connect provider: `/oauth2/authorize` (with the consent form's post to
//! `/oauth2/consent`), `/oauth2/token`, `/oauth2/userinfo`, `/oauth2/revoke` (RFC 7009),
//! `/oauth2/introspect` (RFC 7662) and `/oauth2/logout` (RP-initiated logout). The token,
//! revocation and introspection endpoints answer errors as RFC 6749 says
//! (`{"error","error_description"}`, `application/json`), which is what client libraries read.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::accounts::oauth::ExchangeRequest;
use crate::accounts::oauth::OAuthError;
use crate::accounts::oauth::authorize::Authorization;
use crate::accounts::oauth::tokens::{TokenRequest, TokenResponse};
use crate::accounts::{Caller, Error};
use crate::http::browser::{
    browser_caller, clear_session_cookies, end_browser_session, form_posted_here, form_token, go_to, with_cookies,
};
use crate::http::client_auth::{ClientFields, calling_client, oauth_error};
use crate::http::dpop;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Client, JsonOrForm, Query};
use crate::http::pages;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/consent", post(consent))
        .route("/oauth2/token", post(token))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/logout", get(logout).post(logout_confirmed))
}

/// Turns the decision into the browser's next step.
fn answer(state: &AppState, headers: &HeaderMap, decision: Authorization) -> Response {
    match decision {
        Authorization::Refused(why) => pages::oauth_refused(&why),
        Authorization::Redirect(url) => go_to(url.as_str()),
        Authorization::Login { again, login_hint } => {
            let issuer = state.authentication.settings().public_url_issuer();
            let mut login = url::Url::parse(&format!("{issuer}/login")).expect("the public URL parses");
            login.query_pairs_mut().append_pair("next", &format!("{issuer}/oauth2/authorize?{again}"));
            if let Some(hint) = login_hint {
                login.query_pairs_mut().append_pair("login_hint", &hint);
            }
            go_to(login.as_str())
        }
        Authorization::Consent { request, client, scopes, resources, redirect_uri, unverified, org } => {
            let (form, set) = form_token(state, headers);
            let org = org.as_deref();
            let asked = pages::Asked { client: &client, scopes: &scopes, resources: &resources, unverified, org };
            with_cookies(pages::consent_form(&form, &request, &asked, &redirect_uri), [set])
        }
    }
}

#[utoipa::path(
    get, path = "/oauth2/authorize", summary = "Authorization endpoint (OpenID Connect)", operation_id = "oauthAuthorize", tag = "oidc-provider",
    description = "The authorization code flow with PKCE S256 (required; `plain` is refused). Needs `client_id`, a registered `redirect_uri` (exact; a loopback one's port may vary), `response_type=code`, `code_challenge` and `code_challenge_method=S256`; takes `scope` (`openid profile email offline_access app_data org`), `state`, `nonce`, `prompt` (`none`, `login`, `consent`), `max_age`, `login_hint` and `org_hint` (an organization's id or slug: with the `org` scope, the one the tokens name, if the person is a member; else the session's active one, else their only one). Without a browser session the browser is sent to `/login` and back; consent is asked unless the client is first-party or the person agreed before. The answer goes to the redirect URI with `code` (or `error`), `state` and `iss`; an unknown client or redirect URI is shown as a page, never redirected.",
    responses((status = 303, description = "To the redirect URI with `code` or `error`, or to `/login`"), (status = 200, description = "The consent page", content_type = "text/html"), (status = 400, description = "An unknown client or redirect URI: a page", content_type = "text/html"))
)]
async fn authorize(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let caller = match browser_caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    match state.oauth.authorize(&query, caller.as_ref(), None, &client).await {
        Ok(decision) => answer(&state, &headers, decision),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct ConsentForm {
    form: String,
    /// The authorization request's query string, as the consent page had it.
    request: String,
    /// `allow` or `deny`.
    decision: String,
}

/// The consent page's answer: the authorization request decided again, with it.
async fn consent(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<ConsentForm>,
) -> Response {
    let ConsentForm { form, request, decision } = body.value;
    if !form_posted_here(&state, &headers, &form) {
        return pages::form_expired();
    }
    let caller: Option<Caller> = match browser_caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let decision = Some(decision == "allow");
    match state.oauth.authorize(&request, caller.as_ref(), decision.filter(|_| caller.is_some()), &client).await {
        Ok(decision) => answer(&state, &headers, decision),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    /// The device grant's code (`grant_type=urn:ietf:params:oauth:grant-type:device_code`).
    device_code: Option<String>,
    /// Token exchange (RFC 8693): the person's access token issued to this client.
    subject_token: Option<String>,
    /// `urn:ietf:params:oauth:token-type:access_token`.
    subject_token_type: Option<String>,
    /// Token exchange: an access token of this client's own (its client credentials), the actor.
    actor_token: Option<String>,
    actor_token_type: Option<String>,
    /// Token exchange: the `client_id` of the API the new token is for.
    audience: Option<String>,
    /// RFC 8707: the API (one of `GATEHOUSE_OAUTH_RESOURCES`) the access token is for, its
    /// `aud`. With a code or refresh token, one the authorization request named.
    resource: Option<String>,
    requested_token_type: Option<String>,
    #[serde(flatten)]
    client: ClientFields,
}

#[derive(Serialize, utoipa::ToSchema)]
struct TokenAnswer {
    access_token: String,
    /// `Bearer`, or `DPoP` for an access token bound to the key of the request's DPoP proof.
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    /// With `offline_access`; rotated on each use.
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// With `openid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    /// A token exchange's: `urn:ietf:params:oauth:token-type:access_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
}

impl From<TokenResponse> for TokenAnswer {
    fn from(r: TokenResponse) -> Self {
        TokenAnswer {
            access_token: r.access_token,
            token_type: r.token_type,
            expires_in: r.expires_in,
            scope: r.scope,
            refresh_token: r.refresh_token.map(|t| t.expose_secret().to_owned()),
            id_token: r.id_token,
            issued_token_type: r.issued_token_type,
        }
    }
}

#[utoipa::path(
    post, path = "/oauth2/token", summary = "Token endpoint (OpenID Connect)", operation_id = "oauthToken", tag = "oidc-provider",
    description = "`grant_type=authorization_code` (with `code`, `redirect_uri`, `code_verifier`), `refresh_token` (rotated; a spent one presented again ends the whole session) `client_credentials` (confidential clients; `sub` is the client) or `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628, with `device_code`: `authorization_pending` until the person answers on `/device`, `slow_down` when polled faster than `interval` (which then grows by 5 s), `access_denied`, `expired_token`, or the tokens, once) or `urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693, confidential clients registered for it: `subject_token`, a person's access token issued to this client, and `actor_token`, one of its own, both of type `urn:ietf:params:oauth:token-type:access_token`, with `audience` another client's id → an access token of the person's session for that client, with `act: {\"sub\": <the actor>}`; no refresh token). Clients authenticate with `client_secret_basic`, `client_secret_post` or `private_key_jwt` (`client_assertion_type` and `client_assertion`); public clients send `client_id` alone. With a `DPoP` header (RFC 9449: a proof for `POST` this URL) the access token is bound to the proof's key (`cnf.jkt`, `token_type: DPoP`), and so are a public client's refresh tokens, which then need a proof of that key. Errors are RFC 6749's: `{\"error\",\"error_description\"}`.",
    request_body(content((TokenForm = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The tokens", body = TokenAnswer), (status = 400, description = "RFC 6749 error: invalid_request, invalid_grant, invalid_scope, unauthorized_client, unsupported_grant_type; RFC 9449's invalid_dpop_proof; RFC 8628's authorization_pending, slow_down, access_denied, expired_token; or `malformed_request`: a body that is not a form"), (status = 401, description = "invalid_client"), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn token(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<TokenForm>,
) -> Response {
    let form = body.value;
    let (app, basic) = match calling_client(&state, &headers, form.client, "/oauth2/token").await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let dpop = match dpop::sent_proof(&headers) {
        Ok(proof) => proof.map(str::to_owned),
        Err(refused) => return oauth_error(refused, basic),
    };
    let request = TokenRequest {
        grant_type: form.grant_type.unwrap_or_default(),
        code: form.code,
        redirect_uri: form.redirect_uri,
        code_verifier: form.code_verifier,
        refresh_token: form.refresh_token,
        scope: form.scope,
        device_code: form.device_code,
        exchange: Some(ExchangeRequest {
            subject_token: form.subject_token,
            subject_token_type: form.subject_token_type,
            actor_token: form.actor_token,
            actor_token_type: form.actor_token_type,
            audience: form.audience,
            requested_token_type: form.requested_token_type,
        }),
        resource: form.resource,
        dpop,
    };
    let mut answer = match state.oauth.token(app, request, &client).await {
        Ok(tokens) => Json(TokenAnswer::from(tokens)).into_response(),
        Err(error) => oauth_error(error, basic),
    };
    dpop::with_nonce(&state, &mut answer);
    answer
}

#[utoipa::path(
    get, path = "/oauth2/userinfo", summary = "UserInfo (OpenID Connect)", operation_id = "oauthUserinfo", tag = "oidc-provider", security(("bearer" = [])),
    description = "The claims the access token's scopes allow: `sub`; `email`, `email_verified` (email); `name`, `preferred_username`, `updated_at` (profile); `app_data` (app_data); `org` (`{id, slug, role, permissions}` of the granted organization, read now: none once the person has left it). Takes a client's access token (`at+jwt`), not gatehouse's own; `POST` works too. A token bound to a key (DPoP) only as `Authorization: DPoP` with a `DPoP` proof of that key for this request (else `401` with a `DPoP` challenge).",
    responses((status = 200, description = "The claims", body = crate::http::extract::Object), Errors<(code::Unauthorized, code::Forbidden, code::Unavailable)>)
)]
async fn userinfo(State(state): State<AppState>, parts: axum::http::request::Parts) -> Response {
    let Some(Ok(sent)) = dpop::presented(&parts) else {
        return ApiError::Unauthorized { token_sent: false }.into_response();
    };
    let url = format!("{}/oauth2/userinfo", state.oauth.keys().issuer());
    match state.oauth.userinfo(sent.token, sent.possession(parts.method.as_str(), &url)).await {
        Ok(claims) => Json(claims).into_response(),
        Err(Error::Forbidden) => {
            let mut response = ApiError::Forbidden.into_response();
            let value = HeaderValue::from_static(r#"Bearer error="insufficient_scope", scope="openid""#);
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            response
        }
        Err(Error::Unauthorized) => {
            let mut response = ApiError::Unauthorized { token_sent: true }.into_response();
            if sent.dpop {
                dpop::challenge(&mut response, Some("invalid_token"));
            }
            response
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct TokenOfClient {
    token: Option<String>,
    /// Accepted and not needed: gatehouse tells the kinds apart.
    #[serde(rename = "token_type_hint")]
    _token_type_hint: Option<String>,
    #[serde(flatten)]
    client: ClientFields,
}

#[utoipa::path(
    post, path = "/oauth2/revoke", summary = "Revoke a token (RFC 7009)", operation_id = "oauthRevoke", tag = "oidc-provider",
    description = "Ends the client session an access or refresh token belongs to (every token of it). Answers 200 for unknown tokens too; a token issued to another client is refused (`400 invalid_request`) and left alone.",
    request_body(content((TokenOfClient = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Revoked, or nothing to revoke"), (status = 400, description = "invalid_request: no `token`, or another client's token; or `malformed_request`: a body that is not a form"), (status = 401, description = "invalid_client"), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: JsonOrForm<TokenOfClient>) -> Response {
    let form = body.value;
    let (app, basic) = match calling_client(&state, &headers, form.client, "/oauth2/revoke").await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let Some(token) = form.token else { return oauth_error(OAuthError::invalid_request("token is required"), basic) };
    match state.oauth.revoke_client_token(&app, &token).await {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => oauth_error(error, basic),
    }
}

#[utoipa::path(
    post, path = "/oauth2/introspect", summary = "Introspect a token (RFC 7662)", operation_id = "oauthIntrospect", tag = "oidc-provider",
    description = "For confidential clients: whether a client access token is live now (its session not ended), with its `client_id`, `scope`, `sub`, `exp`, and with the `org` scope the `org` claim of the granted organization, read now (absent once the person has left it). A client learns this only of the tokens issued to it, unless it is registered as a resource server (`introspect: true`), which may introspect every client's. Anything else is `{\"active\": false}`.",
    request_body(content((TokenOfClient = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "`active`, and the token's claims when it is", body = crate::http::extract::Object), (status = 400, description = "invalid_request: no `token`; or `malformed_request`: a body that is not a form"), (status = 401, description = "invalid_client"), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: JsonOrForm<TokenOfClient>) -> Response {
    let form = body.value;
    let (app, basic) = match calling_client(&state, &headers, form.client, "/oauth2/introspect").await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    if !app.confidential {
        let refusal = OAuthError::refused("invalid_client", "introspection is for confidential clients");
        return oauth_error(refusal, basic);
    }
    let Some(token) = form.token else { return oauth_error(OAuthError::invalid_request("token is required"), basic) };
    match state.oauth.introspect_credential(&app, &token).await {
        Ok(found) => Json(crate::http::introspection::answer(found)).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
struct LogoutRequest {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    /// The confirmation form's token (its post only).
    form: Option<String>,
}

/// Where the browser goes after logout: a `post_logout_redirect_uri` registered for the client
/// the request names (with `state`), if any; an unregistered one is an error.
async fn after_logout(
    state: &AppState,
    request: &LogoutRequest,
    client_id: Option<&str>,
) -> Result<Option<String>, Response> {
    let Some(uri) = request.post_logout_redirect_uri.as_deref() else { return Ok(None) };
    let client = match client_id {
        Some(id) => state.authentication.find_client(id).await.map_err(|e| ApiError::from(e).into_response())?,
        None => None,
    };
    if !client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri)) {
        return Err(pages::oauth_refused("The post_logout_redirect_uri is not one registered for this client."));
    }
    let mut url =
        url::Url::parse(uri).map_err(|_| pages::oauth_refused("The post_logout_redirect_uri is not a URL."))?;
    if let Some(value) = &request.state {
        url.query_pairs_mut().append_pair("state", value);
    }
    Ok(Some(url.to_string()))
}

#[utoipa::path(
    get, path = "/oauth2/logout", summary = "RP-initiated logout (OpenID Connect)", operation_id = "oauthLogout", tag = "oidc-provider",
    description = "Ends the browser session, and every client session granted through it. With an `id_token_hint` that gatehouse issued to a registered client for this browser's session it ends at once; otherwise a page asks first. `post_logout_redirect_uri` must be registered for the client (`client_id` or the hint's `aud`); `state` comes back with it.",
    params(LogoutRequest),
    responses((status = 303, description = "To the post_logout_redirect_uri"), (status = 200, description = "Logged out, or the confirmation page", content_type = "text/html"), (status = 400, description = "An unregistered post_logout_redirect_uri", content_type = "text/html"))
)]
async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Query(request): Query<LogoutRequest>,
) -> Response {
    let hint = match request.id_token_hint.as_deref() {
        Some(hint) => Some(state.oauth.id_token_hint(hint).await),
        None => None,
    };
    if let Some(None) = hint {
        return pages::oauth_refused("The id_token_hint was not issued here.");
    }
    // A hint ends the session without asking only when it is an ID token of a registered
    // client for this very browser session; any other is a reason to ask.
    let session = match browser_caller(&state, &headers).await {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let mut hint = hint.flatten();
    let mut ask = false;
    if let Some(given) = &hint {
        let client = match state.authentication.find_client(&given.aud).await {
            Ok(client) => client,
            Err(error) => return ApiError::from(error).into_response(),
        };
        let ours = session.as_ref().is_none_or(|s| given.sid.is_some() && given.sid == s.session_id());
        // A client that registered itself could send anyone without a session here with its
        // own hint and be sent back to its site at once: it is asked first, as without a hint.
        ask = session.is_none() && client.as_ref().is_some_and(|c| c.self_registered);
        if client.is_none() || !ours {
            hint = None;
        }
    }
    let client_id = hint.as_ref().map(|h| h.aud.clone()).or(request.client_id.clone());
    if ask {
        hint = None;
    }
    let next = match after_logout(&state, &request, client_id.as_deref()).await {
        Ok(next) => next,
        Err(page) => return page,
    };
    if hint.is_none() {
        let (form, set) = form_token(&state, &headers);
        let mut fields = vec![];
        for (name, value) in [
            ("client_id", &client_id),
            ("post_logout_redirect_uri", &request.post_logout_redirect_uri),
            ("state", &request.state),
        ] {
            if let Some(value) = value {
                fields.push((name, value.as_str()));
            }
        }
        return with_cookies(pages::logout_form(&form, &fields), [set]);
    }
    finish_logout(&state, &headers, &client, next).await
}

/// The confirmation page's post.
async fn logout_confirmed(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<LogoutRequest>,
) -> Response {
    let request = body.value;
    if !request.form.as_deref().is_some_and(|form| form_posted_here(&state, &headers, form)) {
        return pages::form_expired();
    }
    let next = match after_logout(&state, &request, request.client_id.as_deref()).await {
        Ok(next) => next,
        Err(page) => return page,
    };
    finish_logout(&state, &headers, &client, next).await
}

async fn finish_logout(
    state: &AppState,
    headers: &HeaderMap,
    client: &crate::accounts::ClientInfo,
    next: Option<String>,
) -> Response {
    if let Err(error) = end_browser_session(state, headers, client).await {
        return error.into_response();
    }
    let response = match next {
        Some(next) => go_to(&next),
        None => pages::signed_out(None),
    };
    with_cookies(response, clear_session_cookies(state))
}
