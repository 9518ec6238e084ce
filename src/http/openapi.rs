//! The OpenAPI 3.1 description, generated from the handlers' annotations and the response
//! types; served at `/openapi.json`, rendered at `/docs` by Redoc (embedded in the binary, no
//! CDN). `openapi.json` at the repository root is a committed copy; a test fails when the two
//! drift apart (`UPDATE_OPENAPI=1 cargo test openapi` rewrites it; the TypeScript client's types follow
//! with `npm run generate` in `clients/typescript`).

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::error::Problem;
use super::routes;

/// The description's introduction, which Redoc shows first.
const GETTING_STARTED: &str = "Self-hosted user accounts and authentication: sign-up with email confirmation, \
login with signed access tokens checked against a live session, refresh, logout, profiles, password change and \
reset, and admin access to every account.

## Getting started: authenticate like this

1. **Sign up**: `POST /user` with `{\"email\", \"password\"}` (and optionally `username`, `name`, `data`, or any \
other top-level field, which is kept in `data`). The account is `pending`; a confirmation email is on its way.
2. **Confirm**: follow the link in the email (`GET /activate?token=…`), or `POST /activate` with `{\"token\"}`.
3. **Log in**: `POST /auth` with `{\"email\" or \"username\", \"password\"}` (JSON, or a form). The answer holds \
an `access_token` (a JWT, 15 minutes by default) and a `refresh_token`.
4. **Call**: send `Authorization: Bearer <access_token>` to any route marked with a lock, e.g. `GET /user` or \
`GET /protected`. Logging out (`DELETE /auth`) ends the session: the token is refused from the very next request.
5. **Stay logged in**: before the access token expires, `POST /auth/refresh` with `{\"refresh_token\"}` gives a new \
pair; each refresh token works once. The session itself ends 24 hours after login.

Other services can verify access tokens offline with the keys at `/.well-known/jwks.json`; only gatehouse knows \
at once that a session has ended.

Every error is an RFC 9457 `application/problem+json` document with a stable `code` (the `ProblemCode` schema \
lists them all); a `validation_failed` answer names each field in `errors[]`.";

#[derive(OpenApi, Debug)]
#[openapi(
    info(title = "gatehouse", description = GETTING_STARTED, license(name = "MIT OR Apache-2.0")),
    paths(
        routes::users::sign_up,
        routes::activation::follow_link,
        routes::activation::activate,
        routes::activation::resend,
        routes::auth::log_in,
        routes::auth::refresh,
        routes::auth::log_out,
        routes::auth::sessions,
        routes::auth::end_session,
        routes::passwordless::request,
        routes::passwordless::page,
        routes::passwordless::verify,
        routes::passwordless::exchange,
        routes::social::providers,
        routes::social::exchange,
        routes::social::begin,
        routes::social::callback,
        routes::social::list,
        routes::social::link,
        routes::social::unlink,
        routes::admin::user_identities,
        routes::mfa::complete_login,
        routes::mfa::reauthenticate,
        routes::mfa::status,
        routes::mfa::begin_totp,
        routes::mfa::confirm_totp,
        routes::mfa::disable_totp,
        routes::mfa::new_recovery_codes,
        routes::mfa::admin_reset,
        routes::orgs::create,
        routes::orgs::list,
        routes::orgs::read,
        routes::orgs::update,
        routes::orgs::remove,
        routes::orgs::members,
        routes::orgs::set_role,
        routes::orgs::remove_member,
        routes::orgs::switch,
        routes::org_roles::list,
        routes::org_roles::create,
        routes::org_roles::update,
        routes::org_roles::remove,
        routes::org_domains::list,
        routes::org_domains::add,
        routes::org_domains::read,
        routes::org_domains::verify,
        routes::org_domains::update,
        routes::org_domains::remove,
        routes::sso::list,
        routes::sso::add,
        routes::sso::add_oidc,
        routes::sso::read,
        routes::sso::update,
        routes::sso::remove,
        routes::sso::discover,
        routes::sso::metadata,
        routes::sso::login,
        routes::sso::acs,
        routes::sso_oidc::login,
        routes::sso_oidc::callback,
        routes::api_keys::list,
        routes::api_keys::create,
        routes::api_keys::revoke,
        routes::api_keys::org_list,
        routes::api_keys::org_create,
        routes::api_keys::org_revoke,
        routes::scim::list_tokens,
        routes::scim::create_token,
        routes::scim::revoke_token,
        routes::invitations::invite,
        routes::invitations::org_list,
        routes::invitations::revoke,
        routes::invitations::mine,
        routes::invitations::accept,
        routes::invitations::accept_mine,
        routes::invitations::page,
        routes::orgs::admin_list,
        routes::orgs::admin_read,
        routes::passkeys::registration_options,
        routes::passkeys::register,
        routes::passkeys::list,
        routes::passkeys::remove,
        routes::passkeys::request_options,
        routes::passkeys::log_in,
        routes::users::me,
        routes::users::replace_mine,
        routes::users::patch_mine,
        routes::users::delete_mine,
        routes::users::read,
        routes::users::replace,
        routes::users::patch,
        routes::users::delete,
        routes::root::hello,
        routes::root::protected,
        routes::email::request,
        routes::email::follow_confirm,
        routes::email::confirm,
        routes::email::follow_revert,
        routes::email::revert,
        routes::password::change,
        routes::password::forgot,
        routes::password::form,
        routes::password::reset,
        routes::admin::list_users,
        routes::admin::create_user,
        routes::import::import,
        routes::import::status,
        routes::admin::user_sessions,
        routes::admin::end_user_sessions,
        routes::admin::send_password_reset,
        routes::admin::resend_activation,
        routes::admin::list_outbox,
        routes::admin::retry_email,
        routes::events::list,
        routes::forward::forward,
        routes::forward::protected_resource,
        routes::oauth::authorize,
        routes::oauth::token,
        routes::par::push,
        routes::oauth::userinfo,
        routes::oauth::revoke,
        routes::oauth::introspect,
        routes::oauth::logout,
        routes::device::device_authorization,
        routes::device::show,
        routes::registration::register,
        routes::registration::read,
        routes::registration::replace,
        routes::registration::remove,
        routes::registration::create_token,
        routes::registration::list_tokens,
        routes::registration::delete_token,
        routes::impersonation::impersonate,
        routes::clients::list,
        routes::clients::create,
        routes::clients::read,
        routes::clients::update,
        routes::clients::remove,
        routes::clients::rotate_secret,
        routes::webhooks::list,
        routes::webhooks::create,
        routes::webhooks::read,
        routes::webhooks::update,
        routes::webhooks::remove,
        routes::webhooks::deliveries,
        routes::webhooks::replay,
        routes::wellknown::jwks,
        routes::wellknown::openid_configuration,
        routes::wellknown::authorization_server_metadata,
        routes::health::healthz,
        routes::health::readyz,
        routes::health::metrics,
        openapi_json,
        docs,
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    tags(
        (name = "sign-up", description = "Creating an account"),
        (name = "activation", description = "Confirming the email address"),
        (name = "login", description = "Login, refresh, logout and the session list"),
        (name = "social", description = "Social login (OpenID Connect providers and GitHub) and linked identities"),
        (name = "mfa", description = "Second factors: an authenticator app (TOTP), recovery codes and passkeys"),
        (name = "account", description = "Your account: read, edit, delete, change the email address"),
        (name = "password", description = "Change, forgot, reset"),
        (name = "organizations", description = "Organizations: members and their roles, read live at every request"),
        (name = "sso", description = "Enterprise single sign-on: an organization's own SAML 2.0 identity provider, its people made and joined just in time"),
        (name = "api-keys", description = "API keys (`gh_…`) for scripts and agents, an account's or an organization's: bearer tokens wherever an access token is, shown once, revoked at the next request"),
        (name = "scim", description = "SCIM 2.0 provisioning by an organization's identity provider: its tokens here; the protocol itself (RFC 7643/7644) at `/scim/v2` (`Users`, `Groups`), with a SCIM token, describes itself at `/scim/v2/ServiceProviderConfig`, `/scim/v2/Schemas` and `/scim/v2/ResourceTypes` (see docs/API.md)"),
        (name = "admin", description = "For admins: accounts, sessions, the outbox and the audit trail"),
        (name = "oidc-provider", description = "gatehouse as the OpenID Connect provider of other apps: authorization code with PKCE, refresh, client credentials"),
        (name = "forward-auth", description = "The check a reverse proxy (nginx, Caddy, Traefik) asks before passing a request to an app"),
        (name = "keys", description = "Public keys for verifying access tokens"),
        (name = "service", description = "Health, metrics and this description"),
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

/// The document as pretty JSON, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serializes"))
}

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .route("/docs/redoc.standalone.js", get(redoc))
}

#[utoipa::path(
    get, path = "/openapi.json", summary = "This description", operation_id = "getOpenApi", tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 description of the API", content_type = "application/json"))
)]
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

#[utoipa::path(
    get, path = "/docs", summary = "The API reference", operation_id = "getApiDocs", tag = "service",
    responses((status = 200, description = "This description rendered as a page (no external resources)", content_type = "text/html"))
)]
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
            "openapi.json is out of date with the code: run `UPDATE_OPENAPI=1 cargo test --lib openapi`, then `npm run generate` in clients/typescript, and commit both"
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
            ("/user", "put"),
            ("/user", "patch"),
            ("/user", "delete"),
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
            ("/auth/email", "post"),
            ("/auth/email/verify", "get"),
            ("/auth/email/verify", "post"),
            ("/auth/exchange", "post"),
            ("/.well-known/jwks.json", "get"),
            ("/.well-known/openid-configuration", "get"),
            ("/.well-known/oauth-authorization-server", "get"),
            ("/.well-known/oauth-protected-resource", "get"),
            ("/healthz", "get"),
            ("/readyz", "get"),
            ("/openapi.json", "get"),
            ("/docs", "get"),
        ] {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not described");
        }
        let codes = doc["components"]["schemas"]["ProblemCode"]["enum"].as_array().unwrap();
        for code in ["malformed_request", "token_invalid", "invalid_credentials", "email_taken", "validation_failed"] {
            assert!(codes.iter().any(|c| c == code), "{code} missing");
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    }

    #[test]
    fn every_operation_has_a_unique_operation_id_and_a_declared_tag() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let tags: Vec<&str> = doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_default();
                assert!(
                    id.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !id.contains('_'),
                    "{method} {path}: operationId {id:?} is not a camelCase name"
                );
                assert!(ids.insert(id.to_owned()), "{method} {path}: operationId {id} is used twice");
                let tag = operation["tags"][0].as_str().unwrap_or_default();
                assert!(tags.contains(&tag), "{method} {path}: tag {tag:?} is not declared");
            }
        }
    }

    #[test]
    fn error_responses_come_from_the_code_table() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let login = &doc["paths"]["/auth"]["post"]["responses"];
        let forbidden = login["403"]["description"].as_str().unwrap();
        assert!(
            forbidden.contains("`account_not_activated`") && forbidden.contains("`account_disabled`"),
            "{forbidden}"
        );
        assert_eq!(
            login["401"]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        let codes = doc["components"]["schemas"]["ProblemCode"]["enum"].as_array().unwrap();
        assert_eq!(codes.len(), crate::http::error::Code::ALL.len());
    }
}
