//! Extractors that answer in the app's own error format: JSON bodies, JSON-or-form bodies,
//! query strings, path segments, the bearer token (required or optional), and where the
//! request came from.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;
use crate::accounts::{self, Caller, ClientInfo, FieldError};

/// The kinds of body a handler accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &HeaderMap) -> Option<Result<BodyKind, String>> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let parsed = value.to_str().ok().and_then(|v| v.parse::<mime::Mime>().ok());
    Some(match parsed {
        Some(m) if m.type_() == mime::APPLICATION && (m.subtype() == mime::JSON || m.suffix() == Some(mime::JSON)) => {
            Ok(BodyKind::Json)
        }
        Some(m) if m.essence_str() == "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        _ => Err(format!("Content-Type {:?} is not supported", value.to_str().unwrap_or("(binary)"))),
    })
}

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::MalformedRequest(format!("The body could not be read: {rejection}"))
        }
    })
}

/// Reads and parses a body of an accepted kind. An empty body without a content type is a
/// malformed request (nothing was sent), any other unaccepted type is 415.
async fn parse_body<T: Body, S: Send + Sync>(
    req: Request,
    state: &S,
    accept_form: bool,
) -> Result<(T, BodyKind), ApiError> {
    let kind = body_kind(req.headers());
    let bytes = read_body(req, state).await?;
    let expected =
        if accept_form { "application/json or application/x-www-form-urlencoded" } else { "application/json" };
    let kind = match kind {
        None if bytes.is_empty() => return Err(ApiError::MalformedRequest(format!("Send a body as {expected}."))),
        None => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Send the body as {expected}, with that Content-Type."
            )));
        }
        Some(Err(why)) => return Err(ApiError::UnsupportedMediaType(format!("{why}; send {expected}."))),
        Some(Ok(BodyKind::Form)) if !accept_form => {
            return Err(ApiError::UnsupportedMediaType(format!("This endpoint takes {expected}.")));
        }
        Some(Ok(kind)) => kind,
    };
    let value = match kind {
        BodyKind::Json => parse_json(&bytes)?,
        BodyKind::Form => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes)
                .map_err(|_| ApiError::MalformedRequest("The form body is not valid URL-encoded text.".into()))?;
            let fields = pairs.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
            fit(serde_json::Value::Object(fields))?
        }
    };
    Ok((value, kind))
}

/// Parses a JSON body: a syntax error, a missing field and a mistyped one each get their own
/// answer, in gatehouse's words, and every missing field is named at once.
pub fn parse_json<T: Body>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::MalformedRequest(format!("The body is not valid JSON (line {}, column {}).", e.line(), e.column()))
    })?;
    fit(value)
}

/// What a request body is deserialized into: anything with an OpenAPI schema, whose required
/// fields are named when some are missing.
pub trait Body: DeserializeOwned + utoipa::PartialSchema {}

impl<T: DeserializeOwned + utoipa::PartialSchema> Body for T {}

/// A body that is any JSON object (sign-up, profile edits): its fields are the handler's to
/// read.
#[derive(Debug, serde::Deserialize)]
#[serde(transparent)]
pub struct Object(pub serde_json::Map<String, serde_json::Value>);

impl utoipa::PartialSchema for Object {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new().into()
    }
}

/// Fits a parsed body to its type.
fn fit<T: Body>(value: serde_json::Value) -> Result<T, ApiError> {
    let missing: Vec<String> = required_fields::<T>()
        .into_iter()
        .filter(|field| value.get(field).is_none_or(serde_json::Value::is_null))
        .collect();
    if !missing.is_empty() && value.is_object() {
        return Err(ApiError::MissingFields(missing));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        if field.is_empty() || field == "." {
            return ApiError::MalformedRequest(format!("The body must be {}.", expectation(&inner.to_string())));
        }
        ApiError::MalformedRequest(format!("The field `{field}` must be {}.", expectation(&inner.to_string())))
    })
}

/// The fields a body's schema marks required.
fn required_fields<T: utoipa::PartialSchema>() -> Vec<String> {
    use utoipa::openapi::{RefOr, schema::Schema};
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.required,
        _ => Vec::new(),
    }
}

/// What a value should have been, from the parser's complaint: a string, a number…
fn expectation(complaint: &str) -> &'static str {
    let expected = complaint.split("expected ").nth(1).unwrap_or_default();
    if expected.starts_with("a string") || expected.starts_with("a borrowed string") {
        "a string"
    } else if expected.starts_with("a boolean") {
        "true or false"
    } else if ["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64", "usize"]
        .iter()
        .any(|n| expected.starts_with(n))
    {
        "a number"
    } else if expected.starts_with("a sequence") {
        "an array"
    } else if expected.starts_with("a map") || expected.starts_with("struct") {
        "a JSON object"
    } else {
        "of another type"
    }
}

/// A JSON body, with rejections as problem+json.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: Body, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        parse_body(req, state, false).await.map(|(value, _)| Json(value))
    }
}

/// A JSON or `application/x-www-form-urlencoded` body; `kind` says which arrived.
#[derive(Debug)]
pub struct JsonOrForm<T> {
    pub value: T,
    pub kind: BodyKind,
}

impl<T: Body, S: Send + Sync> FromRequest<S> for JsonOrForm<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        parse_body(req, state, true).await.map(|(value, kind)| JsonOrForm { value, kind })
    }
}

/// An `application/x-www-form-urlencoded` body as its pairs, in order, a name repeated as
/// often as it was sent (RFC 8707's `resource`): for bodies that are an authorization request.
#[derive(Debug)]
pub struct FormPairs(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for FormPairs {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let expected = "application/x-www-form-urlencoded";
        match body_kind(req.headers()) {
            Some(Ok(BodyKind::Form)) => {}
            Some(Ok(BodyKind::Json) | Err(_)) | None => {
                return Err(ApiError::UnsupportedMediaType(format!("This endpoint takes {expected}.")));
            }
        }
        let bytes = read_body(req, state).await?;
        serde_urlencoded::from_bytes(&bytes)
            .map(FormPairs)
            .map_err(|_| ApiError::MalformedRequest("The form body is not valid URL-encoded text.".into()))
    }
}

/// A query string (`?token=…`), with rejections (a repeated or mistyped parameter) as
/// problem+json `malformed_request` instead of axum's plain text.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|rejection| {
                ApiError::MalformedRequest(format!("The query string is not valid: {}.", rejection.body_text()))
            })
    }
}

/// Path parameters (`/user/{key}`), with rejections (a segment that is not UTF-8 once
/// percent-decoded) as problem+json `malformed_request` instead of axum's plain text.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| {
                ApiError::MalformedRequest(format!("The path is not valid: {}.", rejection.body_text()))
            })
    }
}

/// The bearer token from `Authorization`, if any; `Err` when the header is there but unusable.
pub(crate) fn bearer(parts: &Parts) -> Option<Result<&str, ()>> {
    let value = parts.headers.get(header::AUTHORIZATION)?;
    let Ok(value) = value.to_str() else { return Some(Err(())) };
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Some(Err(()));
    }
    Some(Ok(token.trim()))
}

/// The bearer token a route requires; 401 without one.
fn required_bearer(parts: &Parts) -> Result<&str, ApiError> {
    match bearer(parts) {
        None => Err(ApiError::Unauthorized { token_sent: false }),
        Some(Err(())) => Err(ApiError::NotBearer),
        Some(Ok(token)) => Ok(token),
    }
}

fn record_caller(caller: &Caller) {
    tracing::Span::current().record("account_id", tracing::field::display(caller.account_id));
}

/// A caller with a valid token and a live session; 401 otherwise.
#[derive(Debug, Clone)]
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = required_bearer(parts)?;
        let caller = state.authentication.authenticate(token).await?;
        record_caller(&caller);
        Ok(Auth(caller))
    }
}

/// As [`Auth`], for the routes an enrolment-only session may use too (enrolling a second
/// factor, the session list, logout).
#[derive(Debug, Clone)]
pub struct EnrollingAuth(pub Caller);

impl FromRequestParts<AppState> for EnrollingAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = required_bearer(parts)?;
        let caller = state.authentication.authenticate_enrolling(token).await?;
        record_caller(&caller);
        Ok(EnrollingAuth(caller))
    }
}

/// As [`Auth`], for routes that use only the caller's ids: the session store reads the session
/// alone, not the account with it.
#[derive(Debug, Clone)]
pub struct SessionAuth(pub Caller);

impl FromRequestParts<AppState> for SessionAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = required_bearer(parts)?;
        let caller = state.authentication.authenticate_session(token).await?;
        record_caller(&caller);
        Ok(SessionAuth(caller))
    }
}

/// A caller if a valid token was sent. A missing or invalid token means anonymous; an
/// unreachable session store is still an error (nobody is let in on a guess).
#[derive(Debug, Clone)]
pub struct MaybeAuth(pub Option<Caller>);

impl FromRequestParts<AppState> for MaybeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(Ok(token)) = bearer(parts) else { return Ok(MaybeAuth(None)) };
        match state.authentication.authenticate(token).await {
            Ok(caller) => {
                record_caller(&caller);
                Ok(MaybeAuth(Some(caller)))
            }
            Err(accounts::Error::Unauthorized) => Ok(MaybeAuth(None)),
            Err(other) => Err(other.into()),
        }
    }
}

/// The cookie that marks a device that has logged in to an account before.
pub const DEVICE_COOKIE: &str = "gatehouse_device";

/// Where the request came from: the client IP (through trusted proxies), the user agent, the
/// request id, and the device token if the client holds one.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| state.edge.proxies.client(addr.ip(), &parts.headers))
            .map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().filter(|c| !c.is_control()).collect());
        let request_id =
            parts.headers.get(super::middleware::REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let locale = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::i18n::Locale::from_accept_language);
        let device = cookie(&parts.headers, DEVICE_COOKIE);
        Ok(Client(ClientInfo { ip, user_agent, request_id, device, locale }))
    }
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty() && value.len() <= 128)
}

/// Whether the client prefers an HTML page (a browser following a link).
pub fn wants_html(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let html = accept.find("text/html");
    let json = accept.find("application/json");
    match (html, json) {
        (Some(h), Some(j)) => h < j,
        (Some(_), None) => true,
        _ => false,
    }
}

/// A WebAuthn credential as `PublicKeyCredential.toJSON()` gives it, read into `T`.
pub fn credential<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| {
        ApiError::MalformedRequest(format!("The `credential` is not a WebAuthn credential as browsers send it: {e}."))
    })
}

/// Items per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: u32 = 50;

/// A list's `limit` (1 to 500; [`DEFAULT_PAGE`] when absent), or the default with its problem
/// noted.
pub fn page_limit(text: Option<&str>, errors: &mut Vec<FieldError>) -> u32 {
    match text.map(|t| t.trim().parse::<u32>()) {
        None => DEFAULT_PAGE,
        Some(Ok(n)) if (1..=crate::accounts::admin::MAX_PAGE).contains(&n) => n,
        Some(_) => {
            errors.push(FieldError::new("limit", "limit is a whole number from 1 to 500"));
            DEFAULT_PAGE
        }
    }
}

/// A list's `cursor` (the `next_cursor` of the previous page), or nothing with its problem noted.
pub fn page_cursor(text: Option<&str>, errors: &mut Vec<FieldError>) -> Option<uuid::Uuid> {
    let parsed = text.map(|t| uuid::Uuid::parse_str(t.trim()));
    if let Some(Err(_)) = parsed {
        errors.push(FieldError::new("cursor", "cursor is the next_cursor of a previous page"));
    }
    parsed.and_then(Result::ok)
}

/// A page from the items a list read with one more than `limit` asked for: the first `limit`,
/// and the cursor of the next page (the last item's, by `cursor`) when the extra one came back.
pub fn page_of<T>(mut items: Vec<T>, limit: u32, cursor: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if items.len() <= limit {
        return (items, None);
    }
    items.truncate(limit);
    let next = items.last().map(cursor);
    (items, next)
}
