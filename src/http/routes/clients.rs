//! The client registry for admins: `GET|POST /admin/clients`, `GET|PATCH|DELETE
//! /admin/clients/{id}`, `POST /admin/clients/{id}/secret`. Changes act at once, on every
//! replica: each request reads the client from the database.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::oauth::clients::ClientSpec;
use crate::contract::ClientBody;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(list).post(create))
        .route("/admin/clients/{id}", get(read).patch(update).delete(remove))
        .route("/admin/clients/{id}/secret", post(rotate_secret))
}

#[derive(Serialize, ToSchema)]
struct ClientList {
    clients: Vec<ClientBody>,
}

/// A client as submitted; on `PATCH`, what is absent stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ClientInput {
    #[schema(example = "Grafana")]
    name: Option<String>,
    #[schema(example = json!(["https://grafana.example.com/login/generic_oauth"]))]
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    /// Default `true` (creation only).
    confidential: Option<bool>,
    /// `authorization_code`, `refresh_token`, `client_credentials`; default the first two.
    grant_types: Option<Vec<String>>,
    /// `openid`, `profile`, `email`, `offline_access`, `app_data`, `org` and the protected resources' scopes; default the first four.
    scopes: Option<Vec<String>>,
    /// Default `false`: people are asked to consent.
    first_party: Option<bool>,
    /// Default `false`: the client may introspect (`POST /oauth2/introspect`) only the tokens
    /// issued to it; `true` makes it a resource server that may introspect every client's.
    introspect: Option<bool>,
    /// OpenID Connect Back-Channel Logout: where the client hears that a session of its ended,
    /// with a signed `logout_token` (`https`; `http` only for a confidential client); `""`
    /// removes it.
    backchannel_logout_uri: Option<String>,
    /// Default `false`: its logout tokens carry `sid` whenever the session has one anyway.
    backchannel_logout_session_required: Option<bool>,
    /// Default `false`: `/oauth2/authorize` takes only a pushed request (`request_uri`, RFC 9126) of it.
    require_pushed_authorization_requests: Option<bool>,
    /// Default `false`: its token requests must carry a DPoP proof, so its access tokens are always bound (RFC 9449).
    dpop_bound_access_tokens: Option<bool>,
    /// Creation only, for a confidential client that proves itself with `private_key_jwt`
    /// (RFC 7523) instead of a secret: its public keys, a JWK Set (`{"keys": [...]}` of EC, OKP
    /// or RSA keys, at most 10). Such a client gets no secret.
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// Creation only, instead of `jwks`: the `https` URL of its JWK Set, fetched as webhooks are
    /// sent (public addresses only) and kept as its `Cache-Control` says (a minute to a day).
    jwks_uri: Option<String>,
}

impl From<ClientInput> for ClientSpec {
    fn from(i: ClientInput) -> Self {
        ClientSpec {
            name: i.name,
            redirect_uris: i.redirect_uris,
            post_logout_redirect_uris: i.post_logout_redirect_uris,
            confidential: i.confidential,
            grant_types: i.grant_types,
            scopes: i.scopes,
            first_party: i.first_party,
            introspect: i.introspect,
            backchannel_logout_uri: i.backchannel_logout_uri,
            backchannel_logout_session_required: i.backchannel_logout_session_required,
            require_pushed_authorization_requests: i.require_pushed_authorization_requests,
            dpop_bound_access_tokens: i.dpop_bound_access_tokens,
            jwks: i.jwks,
            jwks_uri: i.jwks_uri,
        }
    }
}

#[utoipa::path(
    get, path = "/admin/clients", summary = "Client apps", operation_id = "listClients", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "Every registered client, oldest first", body = ClientList), Errors<(code::Unauthorized, code::Forbidden, code::Unavailable)>)
)]
async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
) -> Result<Json<ClientList>, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    Ok(Json(ClientList { clients: admin.clients().await?.into_iter().map(ClientBody::from).collect() }))
}

#[utoipa::path(
    post, path = "/admin/clients", summary = "Register a client app", operation_id = "createClient", tag = "admin", security(("bearer" = [])),
    request_body = ClientInput,
    responses((status = 201, description = "Registered; a confidential client's `client_secret` is shown this once", body = ClientBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::ValidationFailed, code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    JsonBody(input): JsonBody<ClientInput>,
) -> Result<Response, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    let made = admin.create_client(input.into()).await?;
    Ok((StatusCode::CREATED, Json(ClientBody::from(made))).into_response())
}

#[utoipa::path(
    get, path = "/admin/clients/{id}", summary = "A client app", operation_id = "getClient", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The client_id")),
    responses((status = 200, description = "The client", body = ClientBody), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<ClientBody>, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    Ok(Json(admin.client(&id).await?.into()))
}

#[utoipa::path(
    patch, path = "/admin/clients/{id}", summary = "Change a client app", operation_id = "updateClient", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The client_id")),
    request_body = ClientInput,
    responses((status = 200, description = "The client as changed", body = ClientBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::NotFound, code::ValidationFailed, code::PayloadTooLarge, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<ClientInput>,
) -> Result<Json<ClientBody>, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    Ok(Json(admin.update_client(&id, input.into()).await?.into()))
}

#[utoipa::path(
    delete, path = "/admin/clients/{id}", summary = "Remove a client app", operation_id = "deleteClient", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The client_id")),
    responses((status = 204, description = "Removed; its tokens are refused from the next request"), Errors<(code::Unauthorized, code::Forbidden, code::NotFound, code::Unavailable)>)
)]
async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    admin.delete_client(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/admin/clients/{id}/secret", summary = "Give a client a new secret", operation_id = "rotateClientSecret", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The client_id")),
    responses((status = 200, description = "The client with its new `client_secret`, shown this once; the old one no longer works", body = ClientBody), Errors<(code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn rotate_secret(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<Json<ClientBody>, ApiError> {
    let admin = state.oauth.as_admin(&caller, &client).await?;
    Ok(Json(admin.rotate_client_secret(&id).await?.into()))
}
