//! The device authorization grant (RFC 8628): `POST /oauth2/device_authorization`, where a
//! device gets its codes, and `/device`, where a person enters the short one, logs in (any way
//! in, with a second factor where the account has one) and approves or denies. The device
//! then polls `/oauth2/token` (`routes/oauth.rs`).
//!
//! Who may call what, and what is trusted: the endpoint takes a registered client allowed the
//! grant (a public client by its `client_id` alone, as at the token endpoint); the page trusts
//! only the browser session's cookie, the form token bound to the browser, and the code typed,
//! which is looked up under budgets per IP and per account and void after a few showings.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::accounts::Error;
use crate::http::browser::{browser_caller, form_posted_here, form_token, go_to, with_cookies};
use crate::http::client_auth::{ClientFields, calling_client, oauth_error};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Client, JsonOrForm, Query};
use crate::http::pages;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth2/device_authorization", post(device_authorization))
        .route("/device", get(show).post(decide))
}

#[derive(Deserialize, utoipa::ToSchema)]
struct DeviceAuthorizationForm {
    /// Space-separated; `openid` when absent. Each must be one the client is registered for.
    scope: Option<String>,
    #[serde(flatten)]
    client: ClientFields,
}

#[derive(Serialize, utoipa::ToSchema)]
struct DeviceAuthorizationAnswer {
    /// For the device only: it polls the token endpoint with it.
    device_code: String,
    /// For the person: eight letters, shown `WDJB-MJHT`.
    #[schema(example = "WDJB-MJHT")]
    user_code: String,
    /// `/device` of the public URL.
    verification_uri: String,
    /// `/device?user_code=…`, for a QR code or a link.
    verification_uri_complete: String,
    /// Seconds the codes live (600).
    expires_in: u64,
    /// Seconds to wait between polls (5).
    interval: u64,
}

#[utoipa::path(
    post, path = "/oauth2/device_authorization", summary = "Device authorization (RFC 8628)", operation_id = "oauthDeviceAuthorization", tag = "oidc-provider",
    description = "A device without a handy browser (a CLI, a TV) asks for codes: the person enters `user_code` at `verification_uri` (or opens `verification_uri_complete`), logs in and approves; meanwhile the device polls `/oauth2/token` with `grant_type=urn:ietf:params:oauth:grant-type:device_code` and `device_code` every `interval` seconds. The client must be registered with that grant type; it authenticates as at the token endpoint (a public client sends `client_id` alone). Errors are RFC 6749's.",
    request_body(content((DeviceAuthorizationForm = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "The codes", body = DeviceAuthorizationAnswer), (status = 400, description = "invalid_scope, unauthorized_client (not registered for the device grant); or `malformed_request`: a body that is not a form"), (status = 401, description = "invalid_client"), Errors<(code::PayloadTooLarge, code::UnsupportedMediaType, code::RateLimited, code::Unavailable)>)
)]
async fn device_authorization(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<DeviceAuthorizationForm>,
) -> Response {
    let form = body.value;
    let (app, basic) = match calling_client(&state, &headers, form.client, "/oauth2/device_authorization").await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    match state.oauth.device_authorization(app, form.scope.as_deref(), &client).await {
        Ok(codes) => {
            let answer = DeviceAuthorizationAnswer {
                device_code: codes.device_code,
                user_code: codes.user_code,
                verification_uri: codes.verification_uri,
                verification_uri_complete: codes.verification_uri_complete,
                expires_in: codes.expires_in,
                interval: codes.interval,
            };
            ([(header::CACHE_CONTROL, "no-store")], Json(answer)).into_response()
        }
        Err(error) => oauth_error(error, basic),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
struct DeviceQuery {
    /// The code the device shows (case, spaces and dashes do not matter).
    user_code: Option<String>,
}

/// To the login page, and back here with the code.
fn log_in_first(state: &AppState, code: &str) -> Response {
    let issuer = state.authentication.settings().public_url_issuer();
    let mut back = url::Url::parse(&format!("{issuer}/device")).expect("the public URL parses");
    back.query_pairs_mut().append_pair("user_code", code);
    let mut login = url::Url::parse(&format!("{issuer}/login")).expect("the public URL parses");
    login.query_pairs_mut().append_pair("next", back.as_str());
    go_to(login.as_str())
}

/// A refusal of the code, on the entry page: a budget spent, or a code not waiting.
fn refused(code: &str, error: Error) -> Response {
    match error {
        Error::RateLimited { retry_after } => {
            let why = pages::explain(&ApiError::from(Error::RateLimited { retry_after }));
            let mut page = pages::device_entry(code, Some(&why), StatusCode::TOO_MANY_REQUESTS);
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(value) = seconds.parse() {
                page.headers_mut().insert(header::RETRY_AFTER, value);
            }
            page
        }
        other => ApiError::from(other).into_response(),
    }
}

#[utoipa::path(
    get, path = "/device", summary = "The device grant's page", operation_id = "devicePage", tag = "oidc-provider",
    description = "Without `user_code`: a form to enter it. With it and no browser session: to `/login` and back. Logged in: the client's name and the scopes it asks, with Allow and Deny (posted back here with the page's form token). Each code entered is taken from budgets per client IP and per account (`GATEHOUSE_RATE_LIMIT_USER_CODE`); a code is shown a few times at most.",
    params(DeviceQuery),
    responses((status = 200, description = "The entry or approval page", content_type = "text/html"), (status = 303, description = "To `/login`, and back"), (status = 400, description = "A code that is not waiting: the entry page again", content_type = "text/html"), (status = 429, description = "Too many codes entered: the entry page with the wait", content_type = "text/html"))
)]
async fn show(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Query(query): Query<DeviceQuery>,
) -> Response {
    let code = query.user_code.unwrap_or_default();
    let code = code.trim();
    if code.is_empty() {
        return pages::device_entry("", None, StatusCode::OK);
    }
    let caller = match browser_caller(&state, &headers).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return log_in_first(&state, code),
        Err(error) => return error.into_response(),
    };
    match state.oauth.device_request(code, &caller, &client).await {
        Ok(Some(request)) => {
            let who = match state.authentication.me(&caller).await {
                Ok(account) => account.email,
                Err(error) => return ApiError::from(error).into_response(),
            };
            let (form, set) = form_token(&state, &headers);
            let page = pages::device_approval(&form, &request.user_code, &request.client, &request.scopes, &who);
            with_cookies(page, [set])
        }
        Ok(None) => pages::device_entry(code, Some(&pages::t("page-device.unknown")), StatusCode::BAD_REQUEST),
        Err(error) => refused(code, error),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
struct DeviceForm {
    form: String,
    user_code: String,
    /// `allow` or `deny`.
    decision: String,
}

/// The approval page's answer.
async fn decide(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<DeviceForm>,
) -> Response {
    let DeviceForm { form, user_code, decision } = body.value;
    if !form_posted_here(&state, &headers, &form) {
        return pages::form_expired();
    }
    let caller = match browser_caller(&state, &headers).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return log_in_first(&state, &user_code),
        Err(error) => return error.into_response(),
    };
    let approve = match decision.as_str() {
        "allow" => true,
        "deny" => false,
        _ => return ApiError::from(Error::field("decision", "allow or deny")).into_response(),
    };
    match state.oauth.decide_device(&user_code, &caller, approve, &client).await {
        Ok(true) => pages::device_done(approve),
        Ok(false) => pages::device_entry(&user_code, Some(&pages::t("page-device.unknown")), StatusCode::BAD_REQUEST),
        Err(error) => refused(&user_code, error),
    }
}
