//! The OpenAPI 3.1 description, generated from the handlers' annotations and the response
//! types; served at `/openapi.json`, rendered at `/docs` by Redoc (embedded in the binary, no
//! CDN). `openapi.json` at the repository root is a committed copy; a test fails when the two
//! drift apart (`UPDATE_OPENAPI=1 cargo test openapi` rewrites it).

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AppState;
use super::routes;

#[derive(OpenApi, Debug)]
#[openapi(
    info(
        title = "gatehouse",
        description = "Self-hosted user accounts and authentication: sign-up with email confirmation, login with \
EdDSA-signed access tokens checked against a live session, refresh, logout, profiles, password change and reset, \
and admin access to every account.\n\nEvery error is an RFC 9457 `application/problem+json` document with a stable \
`code`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        routes::root::hello,
        routes::root::protected,
        routes::users::sign_up,
        routes::users::me,
        routes::users::read,
        routes::users::replace,
        routes::users::patch,
        routes::users::delete,
        routes::activation::follow_link,
        routes::activation::activate,
        routes::activation::resend,
        routes::auth::log_in,
        routes::auth::refresh,
        routes::auth::log_out,
        routes::auth::sessions,
        routes::auth::end_session,
        routes::password::change,
        routes::password::forgot,
        routes::password::form,
        routes::password::reset,
        routes::email::request,
        routes::email::follow_confirm,
        routes::email::confirm,
        routes::email::follow_revert,
        routes::email::revert,
        routes::events::list,
        routes::admin::list_users,
        routes::admin::create_user,
        routes::admin::user_sessions,
        routes::admin::end_user_sessions,
        routes::admin::send_password_reset,
        routes::admin::resend_activation,
        routes::admin::list_outbox,
        routes::admin::retry_email,
        routes::wellknown::jwks,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
    ),
    components(schemas(Problem, ProblemCode, FieldProblem)),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Sign-up and the account: read, edit, delete"),
        (name = "activation", description = "Confirming the email address"),
        (name = "sessions", description = "Login, refresh, logout and the session list"),
        (name = "passwords", description = "Change, forgot, reset"),
        (name = "keys", description = "Public keys for verifying access tokens"),
        (name = "admin", description = "For admins: accounts, sessions, the outbox and the audit trail"),
        (name = "service", description = "Greeting, the protected resource, health"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        scheme.description = Some("The `access_token` from `POST /auth` (EdDSA-signed JWT).".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every error answer (RFC 9457).
#[derive(ToSchema, Debug)]
#[allow(dead_code)]
#[schema(example = json!({
    "type": "urn:gatehouse:problem:validation_failed", "title": "Validation failed", "status": 422,
    "detail": "a password has at least 8 characters", "code": "validation_failed",
    "errors": [{"field": "password", "message": "a password has at least 8 characters"}]
}))]
pub struct Problem {
    /// `urn:gatehouse:problem:{code}`.
    #[schema(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    /// What went wrong and what to do, for a person.
    detail: String,
    code: ProblemCode,
    /// Only with `validation_failed`: each field's problem.
    errors: Option<Vec<FieldProblem>>,
}

/// The stable machine-readable error codes.
#[derive(ToSchema, Debug)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub enum ProblemCode {
    MalformedRequest,
    TokenInvalid,
    Unauthorized,
    InvalidCredentials,
    AccountNotActivated,
    AccountDisabled,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    EmailTaken,
    UsernameTaken,
    TokenExpired,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
    RateLimited,
    Unavailable,
    InternalError,
}

/// One field's problem in a `validation_failed` answer.
#[derive(ToSchema, Debug)]
#[allow(dead_code)]
pub struct FieldProblem {
    field: String,
    message: String,
}

/// The body of `POST /user`. Any other top-level field is kept in `data`.
#[derive(ToSchema, Debug)]
#[allow(dead_code)]
#[schema(example = json!({"email": "ann@example.com", "password": "correct horse battery staple", "username": "ann", "phone": "+49 30 1234"}))]
pub struct SignUpRequest {
    email: String,
    /// 8 to 1024 characters, not a common password, not the email or username.
    #[schema(format = Password)]
    password: String,
    username: Option<String>,
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    data: Option<serde_json::Value>,
}

/// The editable fields of an account. Other top-level fields are kept in `data`.
#[derive(ToSchema, Debug)]
#[allow(dead_code)]
#[schema(example = json!({"name": "Ann Lee", "data": {"city": "Berlin"}}))]
pub struct ProfileEdit {
    username: Option<String>,
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    data: Option<serde_json::Value>,
    /// Admins only: `user` or `admin`.
    role: Option<String>,
    /// Admins only: `pending`, `active` or `disabled`.
    status: Option<String>,
}

/// The document as pretty JSON, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes"))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .route("/docs/redoc.standalone.js", get(redoc))
}

async fn openapi_json() -> Response {
    let mut response = json().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>gatehouse API</title></head>
<body><redoc spec-url="openapi.json"></redoc><script src="docs/redoc.standalone.js"></script></body></html>
"#;

async fn docs() -> Response {
    let mut response = DOCS_PAGE.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    // Redoc styles itself inline and renders its search index in a blob worker.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             font-src 'self' data:; connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

async fn redoc() -> Response {
    let mut response = include_bytes!("../../assets/redoc.standalone.js").as_slice().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_openapi_json_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
        let generated = format!("{}\n", json());
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi.json is out of date with the code: run `UPDATE_OPENAPI=1 cargo test --lib openapi` and commit it"
        );
    }

    #[test]
    fn every_route_of_the_contract_is_described() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
        let paths = doc["paths"].as_object().unwrap();
        for (path, method) in [
            ("/", "get"),
            ("/user", "post"),
            ("/user", "get"),
            ("/user/{key}", "get"),
            ("/user/{key}", "put"),
            ("/user/{key}", "patch"),
            ("/user/{key}", "delete"),
            ("/activate", "get"),
            ("/activate", "post"),
            ("/activate/resend", "post"),
            ("/auth", "post"),
            ("/auth", "delete"),
            ("/auth/refresh", "post"),
            ("/auth/sessions", "get"),
            ("/auth/sessions/{id}", "delete"),
            ("/protected", "get"),
            ("/password/change", "post"),
            ("/password/forgot", "post"),
            ("/password/reset", "get"),
            ("/password/reset", "post"),
            ("/.well-known/jwks.json", "get"),
            ("/healthz", "get"),
            ("/readyz", "get"),
        ] {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not described");
        }
        let codes = doc["components"]["schemas"]["ProblemCode"]["enum"].as_array().unwrap();
        for code in ["malformed_request", "token_invalid", "invalid_credentials", "email_taken", "validation_failed"] {
            assert!(codes.iter().any(|c| c == code), "{code} missing");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }
}
