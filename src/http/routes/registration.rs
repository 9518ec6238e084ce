//! Client registration (RFC 7591) and its management (RFC 7592): `POST /oauth2/register`, and
//! `GET|PUT|DELETE /oauth2/register/{client_id}` with the registration access token; and the
//! initial access tokens admins issue for `GATEHOUSE_CLIENT_REGISTRATION=token`:
//! `GET|POST /admin/registration-tokens`, `DELETE /admin/registration-tokens/{id}`.
//!
//! Who may call what, and what is trusted: registration takes anyone in `open` mode (within the
//! per-IP budget), or the holder of a live initial access token in `token` mode; it trusts
//! nothing the metadata claims (a name, a logo): the client is third-party and every person is
//! asked to consent, its redirect URIs are checked as an admin's are, and it cannot register
//! for token exchange or introspection. Management trusts only the registration access token,
//! compared by hash in constant time, and reaches only its own client; a wrong token and an
//! unknown client answer the same `401 invalid_token`. Errors are RFC 7591's JSON
//! (`invalid_client_metadata`, `invalid_redirect_uri`) or RFC 6750's (`invalid_token`).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::oauth::OAuthError;
use crate::accounts::oauth::initial_tokens::IssuedToken;
use crate::accounts::oauth::registration::{ClientMetadata, Registered};
use crate::http::client_auth::oauth_error;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path};
use crate::http::state::AppState;
use crate::model::client::InitialToken;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/register", post(register))
        .route("/oauth2/register/{client_id}", get(read).put(replace).delete(remove))
        .route("/admin/registration-tokens", get(list_tokens).post(create_token))
        .route("/admin/registration-tokens/{id}", axum::routing::delete(delete_token))
}

/// RFC 7591 client metadata; fields gatehouse does not use (`client_uri`, `logo_uri`,
/// `contacts`, …) are accepted and ignored.
#[derive(Deserialize, ToSchema)]
struct MetadataInput {
    #[schema(example = "Claude Desktop")]
    client_name: Option<String>,
    #[schema(example = json!(["http://127.0.0.1/callback"]))]
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// `authorization_code` (the default), `refresh_token`, `client_credentials` (confidential
    /// clients; a token for the client itself, never for an API). Token exchange and the device
    /// grant are an admin's to give.
    grant_types: Option<Vec<String>>,
    /// `code` only.
    response_types: Option<Vec<String>>,
    /// `none` (a public client: a native app, an SPA), `client_secret_basic` (the default),
    /// `client_secret_post`, or `private_key_jwt` (with `jwks` or `jwks_uri`: no secret is issued).
    token_endpoint_auth_method: Option<String>,
    /// With `private_key_jwt`: the client's public keys, a JWK Set of EC, OKP or RSA keys.
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// With `private_key_jwt`, instead of `jwks`: the `https` URL of its JWK Set (fetched at public
    /// addresses only).
    jwks_uri: Option<String>,
    /// Space-separated; `openid profile email offline_access` and every protected resource's scopes when absent.
    scope: Option<String>,
    /// RFC 7592 update: the client's own id, which must match the address.
    client_id: Option<String>,
    /// OpenID Connect Back-Channel Logout: where the client hears that a session of its ended
    /// (`https`; `http` only for a confidential client). Called only at public addresses.
    backchannel_logout_uri: Option<String>,
    /// Its logout tokens carry `sid` (they always do when the session has one).
    backchannel_logout_session_required: Option<bool>,
    /// RFC 9126 section 6: `/oauth2/authorize` takes only a pushed request (`request_uri`) of it.
    require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 section 5.2: its token requests must carry a DPoP proof.
    dpop_bound_access_tokens: Option<bool>,
}

impl From<MetadataInput> for ClientMetadata {
    fn from(m: MetadataInput) -> Self {
        ClientMetadata {
            client_name: m.client_name,
            redirect_uris: m.redirect_uris,
            post_logout_redirect_uris: m.post_logout_redirect_uris,
            grant_types: m.grant_types,
            response_types: m.response_types,
            token_endpoint_auth_method: m.token_endpoint_auth_method,
            jwks: m.jwks,
            jwks_uri: m.jwks_uri,
            scope: m.scope,
            backchannel_logout_uri: m.backchannel_logout_uri,
            backchannel_logout_session_required: m.backchannel_logout_session_required,
            require_pushed_authorization_requests: m.require_pushed_authorization_requests,
            dpop_bound_access_tokens: m.dpop_bound_access_tokens,
        }
    }
}

/// A registration (RFC 7591 section 3.2.1).
#[derive(Serialize, ToSchema)]
struct RegistrationAnswer {
    client_id: String,
    /// Confidential clients, at registration only: shown this once, stored only hashed.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// With a secret: `0`, it does not expire.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret_expires_at: Option<u64>,
    client_id_issued_at: i64,
    /// At registration only: shown this once, stored only hashed. It reads, replaces and removes
    /// this registration at `registration_client_uri`, and does nothing else.
    #[serde(skip_serializing_if = "Option::is_none")]
    registration_access_token: Option<String>,
    registration_client_uri: String,
    client_name: String,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    response_types: Vec<&'static str>,
    token_endpoint_auth_method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    jwks_uri: Option<String>,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    require_pushed_authorization_requests: bool,
    dpop_bound_access_tokens: bool,
}

fn answer(state: &AppState, registered: Registered) -> RegistrationAnswer {
    let Registered { client, auth_method, client_secret, registration_access_token } = registered;
    let issuer = state.authentication.keys().issuer().to_owned();
    let (jwks, jwks_uri) = client.policy.published_keys();
    RegistrationAnswer {
        jwks,
        jwks_uri,
        registration_client_uri: format!("{issuer}/oauth2/register/{}", client.id),
        client_secret_expires_at: client_secret.as_ref().map(|_| 0),
        client_secret: client_secret.map(|s| s.expose_secret().to_owned()),
        registration_access_token: registration_access_token.map(|s| s.expose_secret().to_owned()),
        client_id_issued_at: client.created_at.timestamp(),
        client_id: client.id,
        client_name: client.name,
        redirect_uris: client.redirect_uris,
        post_logout_redirect_uris: client.post_logout_redirect_uris,
        grant_types: client.grant_types,
        response_types: vec!["code"],
        token_endpoint_auth_method: auth_method,
        scope: client.scopes.join(" "),
        backchannel_logout_uri: client.backchannel_logout_uri,
        backchannel_logout_session_required: client.backchannel_logout_session_required,
        require_pushed_authorization_requests: client.policy.require_pushed_authorization_requests,
        dpop_bound_access_tokens: client.policy.dpop_bound_access_tokens,
    }
}

/// The bearer token sent, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim()).filter(|t| !t.is_empty())
}

/// RFC 7591's and RFC 6750's error answers; a refusal to register at all is `403`.
fn refused(error: OAuthError) -> Response {
    let error = match error {
        OAuthError::Failed(failure) => return failed(failure),
        refused => refused,
    };
    let status = match &error {
        OAuthError::Refused { error: "invalid_token", .. } => StatusCode::UNAUTHORIZED,
        OAuthError::Refused { error: "access_denied", .. } => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = oauth_error(error, false);
    if status != StatusCode::BAD_REQUEST && response.status() == StatusCode::BAD_REQUEST {
        *response.status_mut() = status;
    }
    if status == StatusCode::UNAUTHORIZED {
        let challenge = HeaderValue::from_static(r#"Bearer error="invalid_token""#);
        response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A failure that is not the request's (a spent budget, an unavailable database, an internal
/// error) in the same `{"error", "error_description"}` shape, with its status and
/// `Retry-After`: a registering client reads one kind of answer.
fn failed(failure: crate::accounts::Error) -> Response {
    let problem = ApiError::from(failure).into_response();
    let (error, description) = match problem.status() {
        StatusCode::TOO_MANY_REQUESTS => (
            "temporarily_unavailable",
            "too many registrations from this network; try again after Retry-After seconds (GATEHOUSE_RATE_LIMIT_REGISTER)",
        ),
        StatusCode::SERVICE_UNAVAILABLE => ("temporarily_unavailable", "the service is unavailable; try again shortly"),
        _ => ("server_error", "internal error"),
    };
    let body = Json(serde_json::json!({ "error": error, "error_description": description }));
    let mut response = (problem.status(), body).into_response();
    if let Some(retry) = problem.headers().get(header::RETRY_AFTER) {
        response.headers_mut().insert(header::RETRY_AFTER, retry.clone());
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn registered(state: &AppState, status: StatusCode, registered: Registered) -> Response {
    let mut response = (status, Json(answer(state, registered))).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[utoipa::path(
    post, path = "/oauth2/register", summary = "Register a client (RFC 7591)", operation_id = "oauthRegister", tag = "oidc-provider",
    description = "For apps that register themselves (MCP clients, CLIs). Off unless `GATEHOUSE_CLIENT_REGISTRATION` is `token` (send an initial access token an admin issued as `Authorization: Bearer`) or `open` (anyone, within `GATEHOUSE_RATE_LIMIT_REGISTER` per IP). Redirect URIs must be https, http to a loopback address, or a private-use scheme; matched exactly. The client is third-party: people are always asked to consent. It cannot register for token exchange or the device grant, and an authorization error it did not get from the person is shown on gatehouse's page rather than sent to its redirect URI. The answer carries `client_secret` (confidential clients) and `registration_access_token`, each shown once.",
    request_body = MetadataInput,
    responses((status = 201, description = "Registered", body = RegistrationAnswer), (status = 400, description = "RFC 7591 error: `invalid_client_metadata` or `invalid_redirect_uri`; or `malformed_request`: a body that is not JSON"), (status = 401, description = "`invalid_token`: no initial access token (the description says what is needed), or one that is wrong, spent or expired (`token` mode)"), (status = 403, description = "`access_denied`: registration is off here"), (status = 429, description = "`temporarily_unavailable`: past `GATEHOUSE_RATE_LIMIT_REGISTER`, with `Retry-After`"), (status = 503, description = "`temporarily_unavailable`: the database did not answer"), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType)>)
)]
async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    JsonBody(input): JsonBody<MetadataInput>,
) -> Response {
    match state.oauth.register_client(bearer(&headers), input.into(), &client).await {
        Ok(done) => registered(&state, StatusCode::CREATED, done),
        Err(error) => refused(error),
    }
}

#[utoipa::path(
    get, path = "/oauth2/register/{client_id}", summary = "Read a registration (RFC 7592)", operation_id = "oauthReadRegistration", tag = "oidc-provider", security(("bearer" = [])),
    description = "With the registration access token as `Authorization: Bearer`. The secrets are not shown again: gatehouse keeps only their hashes.",
    params(("client_id" = String, Path)),
    responses((status = 200, description = "The registration", body = RegistrationAnswer), (status = 401, description = "`invalid_token`: no token, a wrong one, or no such self-registered client"), Errors<(code::Unavailable,)>)
)]
async fn read(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match state.oauth.read_registration(&id, bearer(&headers)).await {
        Ok(done) => registered(&state, StatusCode::OK, done),
        Err(error) => refused(error),
    }
}

#[utoipa::path(
    put, path = "/oauth2/register/{client_id}", summary = "Replace a registration (RFC 7592)", operation_id = "oauthUpdateRegistration", tag = "oidc-provider", security(("bearer" = [])),
    description = "The metadata sent replaces the registration's: what is left out takes its default. `client_id` in the body, when sent, must be the address's. The client stays public or confidential; its id, secret and registration access token stay.",
    params(("client_id" = String, Path)),
    request_body = MetadataInput,
    responses((status = 200, description = "The registration", body = RegistrationAnswer), (status = 400, description = "RFC 7591 error: `invalid_client_metadata` or `invalid_redirect_uri`"), (status = 401, description = "`invalid_token`"), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn replace(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<MetadataInput>,
) -> Response {
    if input.client_id.as_deref().is_some_and(|sent| sent != id) {
        let why = "client_id in the body is not the one of the address";
        return refused(OAuthError::refused("invalid_client_metadata", why));
    }
    match state.oauth.update_registration(&id, bearer(&headers), input.into(), &client).await {
        Ok(done) => registered(&state, StatusCode::OK, done),
        Err(error) => refused(error),
    }
}

#[utoipa::path(
    delete, path = "/oauth2/register/{client_id}", summary = "Remove a registration (RFC 7592)", operation_id = "oauthDeleteRegistration", tag = "oidc-provider", security(("bearer" = [])),
    description = "The client goes with its codes and consents; its tokens are refused from the next request.",
    params(("client_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, description = "`invalid_token`"), Errors<(code::Unavailable,)>)
)]
async fn remove(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match state.oauth.delete_registration(&id, bearer(&headers), &client).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => refused(error),
    }
}

/// An initial access token, without its secret.
#[derive(Serialize, ToSchema)]
struct InitialTokenBody {
    id: Uuid,
    name: String,
    /// The admin who issued it.
    created_by: Option<Uuid>,
    /// Registrations it still allows.
    uses_left: i64,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// At issue only: shown this once, stored only hashed. Sent by the registering client as
    /// `Authorization: Bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl From<InitialToken> for InitialTokenBody {
    fn from(t: InitialToken) -> Self {
        InitialTokenBody {
            id: t.id,
            name: t.name,
            created_by: t.created_by,
            uses_left: t.uses_left,
            created_at: t.created_at,
            expires_at: t.expires_at,
            token: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct InitialTokenList {
    tokens: Vec<InitialTokenBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct InitialTokenInput {
    #[schema(example = "MCP clients of the data team")]
    name: String,
    /// Registrations it allows: 1 to 10000, default 1.
    uses: Option<i64>,
    /// Seconds it lives: 60 to 7776000 (90 days), default 86400.
    expires_in: Option<i64>,
}

#[utoipa::path(
    post, path = "/admin/registration-tokens", summary = "Issue an initial access token", operation_id = "createRegistrationToken", tag = "admin", security(("bearer" = [])),
    description = "For `GATEHOUSE_CLIENT_REGISTRATION=token`: a client registers itself at `POST /oauth2/register` only with one of these. Needs a recent authentication (step-up).",
    request_body = InitialTokenInput,
    responses((status = 201, description = "Issued; `token` is shown this once", body = InitialTokenBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::ValidationFailed, code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn create_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    JsonBody(input): JsonBody<InitialTokenInput>,
) -> Result<(StatusCode, Json<InitialTokenBody>), ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    let ttl = input.expires_in.map(|secs| chrono::Duration::seconds(secs.clamp(0, 10 * 365 * 86_400)));
    let IssuedToken { token, secret } = admin.create_initial_token(&input.name, input.uses, ttl).await?;
    let body = InitialTokenBody { token: Some(secret.expose_secret().to_owned()), ..token.into() };
    Ok((StatusCode::CREATED, Json(body)))
}

#[utoipa::path(
    get, path = "/admin/registration-tokens", summary = "Initial access tokens", operation_id = "listRegistrationTokens", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The live ones, newest first", body = InitialTokenList), Errors<(code::Unauthorized, code::Forbidden, code::Unavailable)>)
)]
async fn list_tokens(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
) -> Result<Json<InitialTokenList>, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    let tokens = admin.initial_tokens().await?.into_iter().map(InitialTokenBody::from).collect();
    Ok(Json(InitialTokenList { tokens }))
}

#[utoipa::path(
    delete, path = "/admin/registration-tokens/{id}", summary = "Withdraw an initial access token", operation_id = "deleteRegistrationToken", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Withdrawn: no registration takes it from now on"), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
async fn delete_token(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    admin.delete_initial_token(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
