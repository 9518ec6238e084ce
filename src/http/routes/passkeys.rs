//! Passkeys (WebAuthn): registration (`/webauthn/register…`), the caller's list
//! (`/webauthn/credentials`), and login with a passkey (`/auth/webauthn…`). Options go out as
//! webauthn-rs serialises them (`{"publicKey": …}`, binary fields base64url); answers come back
//! as browsers' `PublicKeyCredential.toJSON()` gives them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use crate::accounts::passkeys::PasskeyInfo;
use crate::contract::{TokenBody, rfc3339};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{self, Auth, Client, EnrollingAuth, MaybeAuth, Path, credential};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webauthn/register/options", post(registration_options))
        .route("/webauthn/register", post(register))
        .route("/webauthn/credentials", get(list))
        .route("/webauthn/credentials/{id}", delete(remove))
        .route("/auth/webauthn/options", post(request_options))
        .route("/auth/webauthn", post(log_in))
}

/// A passkey as its owner sees it.
#[derive(Serialize, ToSchema)]
struct PasskeyBody {
    id: Uuid,
    name: String,
    /// The passkey may be synced to other devices (a password manager, a platform account).
    backup_eligible: bool,
    /// It is synced now.
    backup_state: bool,
    created_at: String,
    last_used_at: Option<String>,
}

impl From<PasskeyInfo> for PasskeyBody {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            name: p.name,
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
            created_at: rfc3339(&p.created_at),
            last_used_at: p.last_used_at.as_ref().map(rfc3339),
        }
    }
}

#[utoipa::path(
    post, path = "/webauthn/register/options", summary = "Options for a new passkey", operation_id = "passkeyRegistrationOptions", tag = "mfa", security(("bearer" = [])),
    description = "A step-up. Creation options for `navigator.credentials.create` (`PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey)`): a discoverable credential with user verification, no attestation; the account's passkeys are excluded. Valid 5 minutes, once.",
    responses((status = 200, description = "`{\"publicKey\": {…}}`", body = Object), Errors<(code::Unauthorized, code::ReauthenticationRequired, code::PasskeysUnavailable, code::Unavailable)>)
)]
async fn registration_options(
    State(state): State<AppState>,
    EnrollingAuth(caller): EnrollingAuth,
) -> Result<Json<Value>, ApiError> {
    let options = state.authentication.passkey_registration_options(&caller).await?;
    Ok(Json(serde_json::to_value(options).map_err(|e| ApiError::Internal(e.into()))?))
}

#[derive(Deserialize, ToSchema)]
struct RegisterBody {
    /// What `navigator.credentials.create` gave, as `toJSON()` serialises it.
    #[schema(value_type = Object)]
    credential: Value,
    /// A name to tell the passkey by (at most 64 characters).
    name: Option<String>,
}

#[utoipa::path(
    post, path = "/webauthn/register", summary = "Add the passkey", operation_id = "registerPasskey", tag = "mfa", security(("bearer" = [])),
    request_body = RegisterBody,
    responses((status = 201, description = "The passkey; it logs in without a password and serves as a second factor", body = PasskeyBody), Errors<(code::MalformedRequest, code::Unauthorized, code::WebauthnFailed, code::ValidationFailed, code::PasskeysUnavailable, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn register(
    State(state): State<AppState>,
    EnrollingAuth(caller): EnrollingAuth,
    Client(client): Client,
    extract::Json(body): extract::Json<RegisterBody>,
) -> Result<(StatusCode, Json<PasskeyBody>), ApiError> {
    let answer: RegisterPublicKeyCredential = credential(body.credential)?;
    let passkey = state.authentication.register_passkey(&caller, &answer, body.name, &client).await?;
    Ok((StatusCode::CREATED, Json(passkey.into())))
}

#[derive(Serialize, ToSchema)]
struct PasskeyList {
    credentials: Vec<PasskeyBody>,
}

#[utoipa::path(
    get, path = "/webauthn/credentials", summary = "Your passkeys", operation_id = "listPasskeys", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, description = "Oldest first", body = PasskeyList), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn list(State(state): State<AppState>, Auth(caller): Auth) -> Result<Json<PasskeyList>, ApiError> {
    let credentials = state.authentication.passkeys(&caller).await?.into_iter().map(PasskeyBody::from).collect();
    Ok(Json(PasskeyList { credentials }))
}

#[utoipa::path(
    delete, path = "/webauthn/credentials/{id}", summary = "Remove one of your passkeys", operation_id = "deletePasskey", tag = "mfa", security(("bearer" = [])),
    description = "A step-up; the owner is told by email.",
    params(("id" = String, Path, description = "A passkey id from `GET /webauthn/credentials`")),
    responses((status = 204, description = "Removed"), Errors<(code::Unauthorized, code::ReauthenticationRequired, code::NotFound, code::Unavailable)>)
)]
async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("passkey"))?;
    state.authentication.delete_passkey(&caller, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
struct OptionsBody {
    /// For the second step of a password login: the `mfa_token` of the `mfa_required` answer.
    #[schema(value_type = Option<String>)]
    mfa_token: Option<secrecy::SecretString>,
}

#[utoipa::path(
    post, path = "/auth/webauthn/options", summary = "Options for logging in with a passkey", operation_id = "passkeyRequestOptions", tag = "login", security((), ("bearer" = [])),
    description = "Request options for `navigator.credentials.get` (`PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey)`), user verification required, valid 5 minutes, once. With `{}`: a passwordless login with any passkey of this site (answer at `POST /auth/webauthn`). With `{\"mfa_token\"}`: the second step of a password login, with the account's passkeys (answer at `POST /auth/mfa` as `webauthn`). With a bearer token: a step-up with the caller's passkeys (answer at `POST /auth/reauthenticate` as `webauthn`).",
    request_body = OptionsBody,
    responses((status = 200, description = "`{\"publicKey\": {…}}`", body = Object), Errors<(code::MalformedRequest, code::MfaTokenInvalid, code::WebauthnFailed, code::PasskeysUnavailable, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn request_options(
    State(state): State<AppState>,
    MaybeAuth(caller): MaybeAuth,
    Client(client): Client,
    extract::Json(body): extract::Json<OptionsBody>,
) -> Result<Json<Value>, ApiError> {
    use secrecy::ExposeSecret;
    let account = match (body.mfa_token, caller) {
        (Some(token), _) => Some(state.authentication.mfa_token_account(token.expose_secret()).await?),
        (None, Some(caller)) => Some(caller.account_id),
        (None, None) => None,
    };
    let options = state.authentication.passkey_request_options(account, &client).await?;
    Ok(Json(serde_json::to_value(options).map_err(|e| ApiError::Internal(e.into()))?))
}

#[derive(Deserialize, ToSchema)]
struct PasskeyLoginBody {
    /// What `navigator.credentials.get` gave, as `toJSON()` serialises it.
    #[schema(value_type = Object)]
    credential: Value,
}

#[utoipa::path(
    post, path = "/auth/webauthn", summary = "Log in with a passkey", operation_id = "loginPasskey", tag = "login",
    description = "Answers `POST /auth/webauthn/options` (`{}`). The session is at `aal` 2 (`amr` `hwk` or `swk`, `user`, `mfa`): a passkey with user verification is two factors.",
    request_body = PasskeyLoginBody,
    responses((status = 200, description = "A token pair", body = TokenBody), Errors<(code::MalformedRequest, code::InvalidCredentials, code::AccountNotActivated, code::AccountDisabled, code::PasskeysUnavailable, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn log_in(
    State(state): State<AppState>,
    Client(client): Client,
    extract::Json(body): extract::Json<PasskeyLoginBody>,
) -> Result<Json<TokenBody>, ApiError> {
    let answer: PublicKeyCredential = credential(body.credential)?;
    Ok(Json(state.authentication.log_in_with_passkey(&answer, client).await?.into()))
}
