//! `POST /admin/users/{key}/impersonate`: an admin acting as an account, for support.
//!
//! Who may call it: an active admin with a recent login (a step-up; and not an admin who is
//! impersonating someone, or an API key). What it trusts: the admin's own session, read at the
//! request. What the token it gives may do: what the account may, except credentials, second
//! factors, the address, keys, deletion and admin routes (`403 impersonation_forbidden`, decided
//! from the session, which a token cannot forge).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/users/{key}/impersonate", post(impersonate))
}

#[derive(Deserialize, ToSchema)]
struct ImpersonationRequest {
    /// Why, in 1 to 500 characters: kept in the audit trail and told to the account's owner.
    #[schema(example = "Ticket 4411: the invoice page is blank for this customer")]
    reason: String,
}

#[derive(Serialize, ToSchema)]
struct ImpersonationAnswer {
    /// An access token of the account's, with `act: {"sub": <the admin's id>}`; no refresh token.
    access_token: String,
    /// `Bearer`.
    token_type: &'static str,
    /// Seconds it lives: 15 minutes at most.
    expires_in: u64,
    /// Its session, listed among the account's (`impersonated_by`) and ended like any of them.
    session_id: Uuid,
    /// The account acted as.
    account_id: Uuid,
}

#[utoipa::path(
    post, path = "/admin/users/{key}/impersonate", summary = "Act as an account (support)", operation_id = "impersonateUser", tag = "admin", security(("bearer" = [])),
    description = "A step-up is required of the admin (`403 reauthentication_required` otherwise). Gives an access token of the account's (15 minutes at most, never refreshed) whose `act` claim names the admin; gatehouse refuses it for password, address, second-factor, passkey and key changes, deleting the account and every admin route (`403 impersonation_forbidden`). The session is listed among the account's with `impersonated_by`; the audit trail records `admin.impersonated` with the reason, and the owner is emailed unless `GATEHOUSE_IMPERSONATION_NOTICE=false`. Only an active account other than the admin's own can be impersonated.",
    params(("key" = String, Path, description = "The account's id, username or email")),
    request_body = ImpersonationRequest,
    responses((status = 200, description = "The account's access token", body = ImpersonationAnswer), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::ImpersonationForbidden, code::ApiKeyForbidden, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn impersonate(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
    JsonBody(request): JsonBody<ImpersonationRequest>,
) -> Result<Response, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let begun = admin.impersonate(&key, &request.reason).await?;
    let answer = ImpersonationAnswer {
        access_token: begun.access_token,
        token_type: "Bearer",
        expires_in: begun.expires_in,
        session_id: begun.session_id,
        account_id: begun.account_id,
    };
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response())
}
