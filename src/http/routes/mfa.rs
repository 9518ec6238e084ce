//! Second factors: TOTP enrolment and removal, recovery codes (`/mfa/…`), the second step of a
//! login (`POST /auth/mfa`), step-up (`POST /auth/reauthenticate`) and the admin's reset
//! (`DELETE /admin/users/{key}/mfa`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::{Proof, SecondFactor};
use crate::contract::TokenBody;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{self, Auth, Client, EnrollingAuth, JsonOrForm, Path, credential};
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/mfa", get(status))
        .route("/mfa/totp", post(begin_totp).delete(disable_totp))
        .route("/mfa/totp/confirm", post(confirm_totp))
        .route("/mfa/recovery-codes", post(new_recovery_codes))
        .route("/auth/mfa", post(complete_login))
        .route("/auth/reauthenticate", post(reauthenticate))
        .route("/admin/users/{key}/mfa", delete(admin_reset))
}

/// The caller's second factors.
#[derive(Serialize, ToSchema)]
struct MfaStatus {
    /// A confirmed authenticator app.
    totp: bool,
    /// Unspent recovery codes.
    recovery_codes: u32,
    /// Passkeys (see `GET /webauthn/credentials`).
    passkeys: u32,
}

#[utoipa::path(
    get, path = "/mfa", summary = "Your second factors", operation_id = "getMfa", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, description = "Which factors the account has", body = MfaStatus), Errors<(code::Unauthorized, code::Unavailable)>)
)]
async fn status(
    State(state): State<AppState>,
    EnrollingAuth(caller): EnrollingAuth,
) -> Result<Json<MfaStatus>, ApiError> {
    let factors = state.authentication.factors(&caller).await?;
    Ok(Json(MfaStatus { totp: factors.totp, recovery_codes: factors.recovery_codes, passkeys: factors.passkeys }))
}

#[derive(Deserialize, ToSchema)]
struct PasswordBody {
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

/// A TOTP enrolment begun.
#[derive(Serialize, ToSchema)]
struct EnrolmentBody {
    /// The secret, base32, for typing into the app.
    secret: String,
    /// `otpauth://totp/…` (SHA-1, 6 digits, 30 s), for a QR code.
    otpauth_uri: String,
    /// The same URI as a QR code: an SVG image in a `data:` URI, ready for an `<img src>`.
    otpauth_qr: String,
}

#[utoipa::path(
    post, path = "/mfa/totp", summary = "Start enrolling an authenticator app", operation_id = "beginTotp", tag = "mfa", security(("bearer" = [])),
    description = "Checks the password and returns a new secret for the app. The factor counts only once `POST /mfa/totp/confirm` has a code from it; starting again replaces an unconfirmed secret.",
    request_body = PasswordBody,
    responses((status = 200, description = "The secret and its URI", body = EnrolmentBody), Errors<(code::MalformedRequest, code::Unauthorized, code::InvalidCredentials, code::MfaAlreadyEnabled, code::UnsupportedMediaType, code::Unavailable)>)
)]
async fn begin_totp(
    State(state): State<AppState>,
    EnrollingAuth(caller): EnrollingAuth,
    extract::Json(body): extract::Json<PasswordBody>,
) -> Result<Json<EnrolmentBody>, ApiError> {
    let enrolment = state.authentication.begin_totp(&caller, body.password).await?;
    let otpauth_uri = enrolment.otpauth_uri.expose_secret();
    Ok(Json(EnrolmentBody {
        secret: enrolment.secret.expose_secret().to_owned(),
        otpauth_qr: qr_data_uri(otpauth_uri),
        otpauth_uri: otpauth_uri.to_owned(),
    }))
}

/// `data` as a QR code (medium error correction), an SVG image in a base64 `data:` URI. Drawn
/// here rather than in the page so the page needs no QR library and the secret never leaves
/// this answer (no image URL that would carry it).
fn qr_data_uri(data: &str) -> String {
    use base64::Engine as _;
    use qrcode::render::svg;
    // An otpauth URI is far below the largest QR code, so encoding cannot fail for it; an
    // empty image is the harmless answer if it ever did (the secret is in the answer as text).
    let svg = qrcode::QrCode::with_error_correction_level(data, qrcode::EcLevel::M)
        .map(|code| code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build())
        .unwrap_or_default();
    format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg))
}

#[derive(Deserialize, ToSchema)]
struct CodeBody {
    /// Six digits from the app.
    #[schema(value_type = String, example = "123456")]
    code: SecretString,
}

/// A new set of recovery codes, shown this once.
#[derive(Serialize, ToSchema)]
struct RecoveryCodes {
    /// Ten single-use codes; only their hashes are kept.
    recovery_codes: Vec<String>,
}

#[utoipa::path(
    post, path = "/mfa/totp/confirm", summary = "Confirm the authenticator app", operation_id = "confirmTotp", tag = "mfa", security(("bearer" = [])),
    description = "With a code from the app, the factor is on: logins need it from now on, this session counts as authenticated with it, and ten recovery codes come back, shown this once.",
    request_body = CodeBody,
    responses((status = 200, description = "The recovery codes", body = RecoveryCodes), Errors<(code::MalformedRequest, code::Unauthorized, code::InvalidCode, code::MfaNotEnabled, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn confirm_totp(
    State(state): State<AppState>,
    EnrollingAuth(caller): EnrollingAuth,
    Client(client): Client,
    extract::Json(body): extract::Json<CodeBody>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = state.authentication.confirm_totp(&caller, body.code, &client).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// One proof: the password, a code from the app, a recovery code, or a passkey's answer.
#[derive(Deserialize, ToSchema)]
struct ProofBody {
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
    #[schema(value_type = Option<String>, example = "123456")]
    code: Option<SecretString>,
    #[schema(value_type = Option<String>, example = "abcd-efgh-jkmn")]
    recovery_code: Option<SecretString>,
    /// A passkey's answer to `POST /auth/webauthn/options` (sent with the bearer token).
    #[schema(value_type = Option<Object>)]
    webauthn: Option<serde_json::Value>,
}

impl ProofBody {
    fn into_proof(self) -> Result<Proof, ApiError> {
        match (self.password, self.code, self.recovery_code, self.webauthn) {
            (Some(password), None, None, None) => Ok(Proof::Password(password)),
            (None, Some(code), None, None) => Ok(Proof::Factor(SecondFactor::Totp(code))),
            (None, None, Some(code), None) => Ok(Proof::Factor(SecondFactor::RecoveryCode(code))),
            (None, None, None, Some(answer)) => {
                Ok(Proof::Factor(SecondFactor::Webauthn(Box::new(credential(answer)?))))
            }
            _ => Err(ApiError::MalformedRequest(
                "Send exactly one of `password`, `code`, `recovery_code` and `webauthn`.".into(),
            )),
        }
    }
}

#[utoipa::path(
    delete, path = "/mfa/totp", summary = "Remove the authenticator app", operation_id = "disableTotp", tag = "mfa", security(("bearer" = [])),
    description = "Removes the app and the recovery codes. Send a `code` from the app (or a `recovery_code`); the `password` alone does it only from a session that logged in with the second factor.",
    request_body = ProofBody,
    responses((status = 204, description = "Removed; the owner is told by email"), Errors<(code::MalformedRequest, code::Unauthorized, code::InvalidCredentials, code::InvalidCode, code::ReauthenticationRequired, code::MfaNotEnabled, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn disable_totp(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    extract::Json(body): extract::Json<ProofBody>,
) -> Result<StatusCode, ApiError> {
    state.authentication.disable_totp(&caller, body.into_proof()?, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/mfa/recovery-codes", summary = "Make a new set of recovery codes", operation_id = "newRecoveryCodes", tag = "mfa", security(("bearer" = [])),
    description = "A step-up: the session must have authenticated with its second factor within `GATEHOUSE_REAUTH_WINDOW` (see `POST /auth/reauthenticate`). The old codes stop working.",
    responses((status = 200, description = "The new codes, shown this once", body = RecoveryCodes), Errors<(code::Unauthorized, code::ReauthenticationRequired, code::MfaNotEnabled, code::Unavailable)>)
)]
async fn new_recovery_codes(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let recovery_codes = state.authentication.new_recovery_codes(&caller, &client).await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// The second step of a login.
#[derive(Deserialize, ToSchema)]
struct MfaLoginBody {
    /// From the `mfa_required` answer of `POST /auth`.
    #[schema(value_type = String)]
    mfa_token: SecretString,
    /// Six digits from the app…
    #[schema(value_type = Option<String>, example = "123456")]
    code: Option<SecretString>,
    /// …or one recovery code…
    #[schema(value_type = Option<String>, example = "abcd-efgh-jkmn")]
    recovery_code: Option<SecretString>,
    /// …or a passkey's answer to `POST /auth/webauthn/options` with this `mfa_token`.
    #[schema(value_type = Option<Object>)]
    webauthn: Option<serde_json::Value>,
    /// An organization's id or slug to start the session in, as at `POST /auth`.
    org: Option<String>,
}

#[utoipa::path(
    post, path = "/auth/mfa", summary = "Finish a login with the second factor", operation_id = "loginMfa", tag = "login",
    description = "Takes the `mfa_token` of the `mfa_required` answer and a `code` from the app or a `recovery_code`. A TOTP code works once: the same code again (even within its 30 seconds) is refused. Five wrong codes spend the `mfa_token`; wrong codes also slow further attempts for the account.",
    request_body(content((MfaLoginBody = "application/json"), (MfaLoginBody = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "A token pair; the access token carries `aal` 2 and `amr` with `mfa`", body = TokenBody), Errors<(code::MalformedRequest, code::InvalidCode, code::MfaTokenInvalid, code::AccountDisabled, (code::NotAMember, code::NotFound, code::LoginMethodNotAllowed), code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn complete_login(
    State(state): State<AppState>,
    Client(client): Client,
    body: JsonOrForm<MfaLoginBody>,
) -> Result<Json<TokenBody>, ApiError> {
    let MfaLoginBody { mfa_token, code, recovery_code, webauthn, org } = body.value;
    let factor = match (code, recovery_code, webauthn) {
        (Some(code), None, None) => SecondFactor::Totp(code),
        (None, Some(code), None) => SecondFactor::RecoveryCode(code),
        (None, None, Some(answer)) => SecondFactor::Webauthn(Box::new(credential(answer)?)),
        _ => {
            return Err(ApiError::MalformedRequest(
                "Send the `mfa_token` with one of `code`, `recovery_code` and `webauthn`.".into(),
            ));
        }
    };
    let pair = state.authentication.complete_login(mfa_token.expose_secret(), factor, org.as_deref(), client).await?;
    Ok(Json(pair.into()))
}

/// A fresh access token after a step-up.
#[derive(Serialize, ToSchema)]
struct ReauthenticatedBody {
    /// Carries the session's new `aal` and `amr`.
    access_token: String,
    #[schema(value_type = String, example = "Bearer")]
    token_type: &'static str,
    expires_in: u64,
}

#[utoipa::path(
    post, path = "/auth/reauthenticate", summary = "Authenticate this session afresh (step-up)", operation_id = "reauthenticate", tag = "login", security(("bearer" = [])),
    description = "With the `password`, a `code` or a `recovery_code`: the session counts as freshly authenticated for `GATEHOUSE_REAUTH_WINDOW`; a code also raises it to `aal` 2. Returns an access token that says so; the refresh token stays.",
    request_body = ProofBody,
    responses((status = 200, description = "A new access token", body = ReauthenticatedBody), Errors<(code::MalformedRequest, code::Unauthorized, code::InvalidCredentials, code::InvalidCode, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn reauthenticate(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    extract::Json(body): extract::Json<ProofBody>,
) -> Result<Json<ReauthenticatedBody>, ApiError> {
    let fresh = state.authentication.reauthenticate(&caller, body.into_proof()?, &client).await?;
    Ok(Json(ReauthenticatedBody {
        access_token: fresh.access_token,
        token_type: "Bearer",
        expires_in: fresh.expires_in,
    }))
}

#[utoipa::path(
    delete, path = "/admin/users/{key}/mfa", summary = "Remove every second factor of an account", operation_id = "resetUserMfa", tag = "admin", security(("bearer" = [])),
    description = "For a user who lost the authenticator and the recovery codes. Audited; the user is told by email.",
    params(("key" = String, Path, description = "The account's id, username or email")),
    responses((status = 204, description = "Removed"), Errors<(code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::NotFound, code::MfaNotEnabled, code::Unavailable)>)
)]
async fn admin_reset(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.accounts.as_admin(&caller, &client).await?.reset_mfa(&key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::qr_data_uri;

    #[test]
    fn the_qr_code_is_an_svg_data_uri() {
        let uri = qr_data_uri("otpauth://totp/gatehouse:ann%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=gatehouse");
        let encoded = uri.strip_prefix("data:image/svg+xml;base64,").expect(&uri);
        let svg = String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
        // Dark modules are drawn as a path; a code this size has hundreds of them.
        assert!(svg.len() > 2_000, "{} bytes", svg.len());
    }
}
