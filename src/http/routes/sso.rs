//! Single sign-on through an organization's own identity provider: SAML 2.0, or OpenID Connect
//! (`/sso/oidc/{id}/login` and its `callback`, which work as social login's do).
//!
//! Its admins (`sso:manage`) manage connections under `/orgs/{org}/sso`. A browser logs in at
//! `GET /sso/saml/{id}/login`, which sends it to the identity provider with a cookie binding
//! the login to it; the identity provider posts its answer to `POST /sso/saml/{id}/acs`, which
//! answers, as social login does, with a `303` to the app's `redirect_to` carrying a one-time
//! `code` (or an `error`), never a token. The identity provider reads our metadata at
//! `GET /sso/saml/{id}/metadata`. A login page that asks for the address first learns at
//! `POST /sso/discover` whether it belongs to an identity provider, and which.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::saml_login::{self, ToIdp};
use crate::accounts::sso::{self as sso_rules, OidcInput, SamlInput, fingerprints};
use crate::contract::sso::{Shown, SsoConnectionBody};
use crate::http::browser::{account_page, start_handoff, to_login_elsewhere, with_cookies};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Json as JsonBody, Path, Query, cookie};
use crate::http::pages;
use crate::http::state::AppState;
use crate::model::sso::{AttributeMapping, SsoConnection};

/// The largest body of a metadata upload or an identity provider's answer.
const MAX_SAML_BODY: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/orgs/{org}/sso", get(list))
        .route("/orgs/{org}/sso/saml", post(add))
        .route("/orgs/{org}/sso/oidc", post(add_oidc))
        .route("/orgs/{org}/sso/{id}", get(read).patch(update).delete(remove))
        .route("/sso/discover", post(discover))
        .route("/sso/saml/{id}/metadata", get(metadata))
        .route("/sso/saml/{id}/login", get(login))
        .route("/sso/saml/{id}/acs", post(acs))
        .layer(DefaultBodyLimit::max(MAX_SAML_BODY))
}

/// A connection id as given in a path: one that cannot be an id names none.
fn connection_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound("connection"))
}

/// A connection as shown; `active`: whether its organization's connections take logins.
fn body(state: &AppState, connection: SsoConnection, active: bool) -> SsoConnectionBody {
    let accounts = &state.accounts;
    let shown = Shown {
        saml: accounts.sso_urls(connection.id),
        redirect_uri: accounts.oidc_redirect_uri(connection.id),
        login_url: accounts.sso_login_url(&connection),
        fingerprints: connection.saml().map(fingerprints).unwrap_or_default(),
        active,
    };
    SsoConnectionBody::new(connection, shown)
}

/// Which attributes hold what.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MappingInput {
    /// The attribute holding the address, when the `NameID` is not one.
    #[serde(default)]
    email: Option<String>,
    /// The attribute holding the display name.
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ConnectionInput {
    /// (OpenID Connect) The provider's issuer, exactly as its ID tokens write it (https, and,
    /// like webhooks, never a private or loopback address unless
    /// `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true`).
    #[serde(default)]
    issuer: Option<String>,
    /// (OpenID Connect) The client id registered at the provider.
    #[serde(default)]
    client_id: Option<String>,
    /// (OpenID Connect) The client's secret: kept encrypted, never shown again.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password)]
    client_secret: Option<secrecy::SecretString>,
    /// (SAML) The identity provider's SAML metadata (XML): its entity id, its login URL
    /// (HTTP-Redirect binding, https) and one or two signing certificates, which are pinned.
    /// On a change, a new one replaces them (a certificate rollover).
    #[serde(default)]
    metadata_xml: Option<String>,
    /// (SAML) Where to fetch the metadata instead (https; through the same guard as webhooks, so
    /// never a private or loopback address unless `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true`).
    /// Given again on a change, it is fetched again (a certificate rollover).
    #[serde(default)]
    metadata_url: Option<String>,
    /// Shown to admins; the identity provider's entity id (or issuer) when not given.
    #[serde(default)]
    name: Option<String>,
    /// The role a person joins with at a first login: `member` (the default), `admin` or a
    /// custom role, never `owner`; setting it needs `members:invite` and the role's permissions.
    #[serde(default)]
    default_role: Option<String>,
    /// (SAML) Which attributes hold the address and the name.
    #[serde(default)]
    attribute_mapping: Option<MappingInput>,
    /// (SAML) Whether answers no login of gatehouse's asked for (IdP-initiated) log in; `false` by
    /// default, and safer so: such an answer is bound to no browser.
    #[serde(default)]
    allow_idp_initiated: Option<bool>,
    /// (OpenID Connect) Whether an ID token that does not say the provider verified the
    /// address (`email_verified`) may make a new account at the organization's verified
    /// domains; `false` by default. Such a token never links to, or logs in as, an existing
    /// account.
    #[serde(default)]
    allow_unverified_email: Option<bool>,
}

impl From<ConnectionInput> for sso_rules::ConnectionInput {
    fn from(input: ConnectionInput) -> Self {
        Self {
            name: input.name,
            default_role: input.default_role,
            saml: SamlInput {
                metadata_xml: input.metadata_xml,
                metadata_url: input.metadata_url,
                attribute_mapping: input.attribute_mapping.map(|m| AttributeMapping { email: m.email, name: m.name }),
                allow_idp_initiated: input.allow_idp_initiated,
            },
            oidc: OidcInput {
                issuer: input.issuer,
                client_id: input.client_id,
                client_secret: input.client_secret,
                allow_unverified_email: input.allow_unverified_email,
            },
        }
    }
}

/// An organization's own OpenID Connect provider.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OidcConnectionInput {
    /// The provider's issuer, exactly as its ID tokens write it (https, and, like webhooks,
    /// never a private or loopback address unless `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE=true`). Its
    /// discovery document is read at the first login.
    issuer: String,
    /// The client id registered at the provider, with `redirect_uri` (in the answer) as its
    /// redirect URI.
    client_id: String,
    /// The client's secret (`client_secret_basic`): kept encrypted, never shown again.
    #[schema(value_type = String, format = Password)]
    client_secret: secrecy::SecretString,
    /// Shown to admins; the issuer when not given.
    #[serde(default)]
    name: Option<String>,
    /// As for a SAML connection.
    #[serde(default)]
    default_role: Option<String>,
    /// Whether an ID token that does not say the provider verified the address
    /// (`email_verified`) may make a new account at the organization's verified domains;
    /// `false` by default. Such a token never links to, or logs in as, an existing account.
    #[serde(default)]
    allow_unverified_email: Option<bool>,
}

impl From<OidcConnectionInput> for sso_rules::ConnectionInput {
    fn from(input: OidcConnectionInput) -> Self {
        Self {
            name: input.name,
            default_role: input.default_role,
            saml: SamlInput::default(),
            oidc: OidcInput {
                issuer: Some(input.issuer),
                client_id: Some(input.client_id),
                client_secret: Some(input.client_secret),
                allow_unverified_email: input.allow_unverified_email,
            },
        }
    }
}

#[derive(Serialize, ToSchema)]
struct ConnectionList {
    connections: Vec<SsoConnectionBody>,
}

#[utoipa::path(
    get, path = "/orgs/{org}/sso", summary = "An organization's single sign-on connections", operation_id = "listSsoConnections", tag = "sso", security(("bearer" = [])),
    description = "Needs `sso:manage`.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    responses((status = 200, description = "Its connections", body = ConnectionList), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(org): Path<String>,
) -> Result<Json<ConnectionList>, ApiError> {
    let connections = state.organizations.sso_connections(&caller, &org).await?;
    let active = match connections.first() {
        Some(first) => state.federation.sso_active(first.org_id).await?,
        None => false,
    };
    Ok(Json(ConnectionList { connections: connections.into_iter().map(|c| body(&state, c, active)).collect() }))
}

#[utoipa::path(
    post, path = "/orgs/{org}/sso/saml", summary = "Add a SAML connection", operation_id = "addSamlConnection", tag = "sso", security(("bearer" = [])),
    description = "Needs `sso:manage` with a standing covering `admin`'s permissions (the identity provider speaks for the organization's admins), and, for `default_role`, `members:invite` and every permission the role grants. Reads the identity provider's metadata (`metadata_xml`, or fetched from `metadata_url`) and pins its signing certificates. Answers the URLs to give the identity provider's admins (`sp_entity_id`, `acs_url`, `metadata_url`) and the app (`login_url`). At most 10 an organization.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = ConnectionInput,
    responses((status = 201, description = "Added", body = SsoConnectionBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::SsoMetadataInvalid, code::ValidationFailed, code::PayloadTooLarge, code::Unavailable)>)
)]
async fn add(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<ConnectionInput>,
) -> Result<Response, ApiError> {
    let connection = state.organizations.add_saml_connection(&caller, &org, input.into(), &client).await?;
    Ok((
        StatusCode::CREATED,
        Json(body(&state, connection.clone(), state.federation.sso_active(connection.org_id).await?)),
    )
        .into_response())
}

#[utoipa::path(
    post, path = "/orgs/{org}/sso/oidc", summary = "Add an OpenID Connect connection", operation_id = "addOidcConnection", tag = "sso", security(("bearer" = [])),
    description = "Needs what a SAML connection needs. The organization's own OpenID Connect provider: its people log in as through social login (authorization code with PKCE, the ID token verified against the provider's published keys) and join the organization by the same just-in-time rules as SAML's. Nothing is fetched now: the discovery document is read at the first login, through the same guard as webhooks. Answers the `redirect_uri` to register at the provider and the `login_url` for the app. At most 10 connections an organization.",
    params(("org" = String, Path, description = "The organization's id or slug")),
    request_body = OidcConnectionInput,
    responses((status = 201, description = "Added", body = SsoConnectionBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::ValidationFailed, code::Unavailable)>)
)]
async fn add_oidc(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path(org): Path<String>,
    JsonBody(input): JsonBody<OidcConnectionInput>,
) -> Result<Response, ApiError> {
    let connection = state.organizations.add_oidc_connection(&caller, &org, input.into(), &client).await?;
    Ok((
        StatusCode::CREATED,
        Json(body(&state, connection.clone(), state.federation.sso_active(connection.org_id).await?)),
    )
        .into_response())
}

#[utoipa::path(
    get, path = "/orgs/{org}/sso/{id}", summary = "One single sign-on connection", operation_id = "getSsoConnection", tag = "sso", security(("bearer" = [])),
    description = "Needs `sso:manage`.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("id" = Uuid, Path, description = "The connection's id")),
    responses((status = 200, description = "The connection", body = SsoConnectionBody), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((org, id)): Path<(String, String)>,
) -> Result<Json<SsoConnectionBody>, ApiError> {
    let connection = state.organizations.sso_connection(&caller, &org, connection_id(&id)?).await?;
    Ok(Json(body(&state, connection.clone(), state.federation.sso_active(connection.org_id).await?)))
}

#[utoipa::path(
    patch, path = "/orgs/{org}/sso/{id}", summary = "Change a single sign-on connection", operation_id = "updateSsoConnection", tag = "sso", security(("bearer" = [])),
    description = "Needs what adding one needs (`sso:manage`, a standing covering `admin`'s, and the right to grant its `default_role`, changed or not). What the body gives replaces what the connection had; fields of the other type are refused (`422`). SAML: `metadata_xml` or `metadata_url` (fetched again) replaces the identity provider (give one listing both certificates during a rollover). OpenID Connect: `issuer`, `client_id`, `client_secret`.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("id" = Uuid, Path, description = "The connection's id")),
    request_body = ConnectionInput,
    responses((status = 200, description = "The connection as it is now", body = SsoConnectionBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::SsoMetadataInvalid, code::ValidationFailed, code::PayloadTooLarge, code::Unavailable)>)
)]
async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, id)): Path<(String, String)>,
    JsonBody(input): JsonBody<ConnectionInput>,
) -> Result<Json<SsoConnectionBody>, ApiError> {
    let id = connection_id(&id)?;
    let connection = state.organizations.update_sso_connection(&caller, &org, id, input.into(), &client).await?;
    Ok(Json(body(&state, connection.clone(), state.federation.sso_active(connection.org_id).await?)))
}

#[utoipa::path(
    delete, path = "/orgs/{org}/sso/{id}", summary = "Remove a single sign-on connection", operation_id = "removeSsoConnection", tag = "sso", security(("bearer" = [])),
    description = "Needs `sso:manage`. Logins waiting at the identity provider fail; the accounts it made stay.",
    params(("org" = String, Path, description = "The organization's id or slug"), ("id" = Uuid, Path, description = "The connection's id")),
    responses((status = 204, description = "Removed"), Errors<(code::Unauthorized, code::Forbidden, code::NotAMember, code::NotFound, code::Unavailable)>)
)]
async fn remove(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.organizations.remove_sso_connection(&caller, &org, connection_id(&id)?, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DiscoverInput {
    /// The address the person typed.
    email: String,
    /// Where the login goes on to (checked like every `redirect_to`), added to `login_url`.
    #[serde(default)]
    redirect_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Discovered {
    /// Where to send the browser: the login at the organization's identity provider.
    login_url: String,
}

#[utoipa::path(
    post, path = "/sso/discover", summary = "Where an address logs in (single sign-on)", operation_id = "discoverSso", tag = "sso",
    description = "For a login page that asks for the address first: when an organization verified the address's domain and has a single sign-on connection, its `login_url` (with `redirect_to`, when given); else `404 not_found`. Found or not, the answer takes the same reads; it is budgeted per IP like logins.",
    request_body = DiscoverInput,
    responses((status = 200, description = "The identity provider's login", body = Discovered), Errors<(code::MalformedRequest, code::NotFound, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn discover(
    State(state): State<AppState>,
    Client(client): Client,
    JsonBody(input): JsonBody<DiscoverInput>,
) -> Result<Json<Discovered>, ApiError> {
    let login_url = state.organizations.discover_sso(&input.email, input.redirect_to.as_deref(), &client).await?;
    Ok(Json(Discovered { login_url }))
}

#[utoipa::path(
    get, path = "/sso/saml/{id}/metadata", summary = "The service provider's SAML metadata", operation_id = "samlMetadata", tag = "sso",
    description = "For the identity provider: the entity id (this URL) and the assertion consumer service (HTTP-POST). Assertions are asked to be signed.",
    params(("id" = Uuid, Path, description = "The connection's id")),
    responses((status = 200, description = "The metadata", content_type = "application/samlmetadata+xml"), Errors<(code::NotFound, code::Unavailable)>)
)]
async fn metadata(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let xml = state.federation.saml_metadata(connection_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response())
}

#[derive(Deserialize)]
struct LoginQuery {
    redirect_to: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// The cookie binding a login to this browser, sent back only to the ACS. The identity
/// provider's post back is a cross-site `POST`, which a `SameSite=Lax` cookie would miss: it
/// is `SameSite=None`, hence `Secure` (browsers keep such cookies on https and on localhost).
fn binding_cookie(state: &AppState, id: Uuid, name: &str, value: &str, max_age: u64) -> Option<HeaderValue> {
    let prefix = state.authentication.settings().public_url.path().trim_end_matches('/').to_owned();
    let cookie =
        format!("{name}={value}; Path={prefix}/sso/saml/{id}/acs; Max-Age={max_age}; HttpOnly; SameSite=None; Secure");
    HeaderValue::from_str(&cookie).ok()
}

#[utoipa::path(
    get, path = "/sso/saml/{id}/login", summary = "Log in through an organization's identity provider", operation_id = "beginSamlLogin", tag = "sso",
    description = "Sends the browser to the identity provider (`302`) with a SAML `AuthnRequest` (HTTP-Redirect binding) and a `RelayState`, and sets a cookie binding the login to this browser for 10 minutes (`SameSite=None; Secure`: the answer comes back as a cross-site post), and the `gatehouse_handoff` cookie its hand-off code is bound to. The identity provider posts its answer to `/sso/saml/{id}/acs`.",
    params(("id" = Uuid, Path, description = "The connection's id"),
        ("redirect_to" = Option<String>, Query, description = "Where the browser goes once logged in (with `?code=` to exchange at `POST /auth/exchange`); it must start with a prefix in `GATEHOUSE_REDIRECT_ALLOW`. Without it: `/account`."),
        ("code_challenge" = Option<String>, Query, description = "An app that exchanges the hand-off code itself: base64url(SHA-256(code_verifier))"),
        ("code_challenge_method" = Option<String>, Query, description = "`S256` (the default, and the only one)")),
    responses((status = 302, description = "To the identity provider"), Errors<(code::NotFound, code::ValidationFailed, code::RateLimited, code::Unavailable)>)
)]
async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<LoginQuery>,
) -> Result<Response, ApiError> {
    let id = connection_id(&id)?;
    let (handoff, set) = start_handoff(&state, &headers, query.code_challenge, query.code_challenge_method.as_deref())?;
    let to: ToIdp = state.federation.begin_saml_login(id, query.redirect_to.as_deref(), handoff, &client).await?;
    let max_age = crate::accounts::identities::LOGIN_TTL.as_secs();
    let cookie = binding_cookie(&state, id, &to.cookie_name, to.cookie_value.expose_secret(), max_age);
    Ok(to_login_elsewhere(to.url.as_str(), cookie, set))
}

#[derive(Deserialize, ToSchema)]
struct AcsForm {
    /// base64 of the identity provider's `Response`.
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

#[utoipa::path(
    post, path = "/sso/saml/{id}/acs", summary = "The identity provider's answer (assertion consumer service)", operation_id = "finishSamlLogin", tag = "sso",
    description = "Where the identity provider posts its answer (HTTP-POST binding). The answer must be signed by a pinned certificate (RSA or ECDSA, SHA-256 or stronger), answer a login this browser started here (its `InResponseTo`, single use, 10 minutes), be for this service (`Audience`, `Recipient`, `Destination`) and within its validity (a minute of skew), and not be a replay. Then, by the just-in-time rules, logs in, links or makes the account and its membership, and answers `303` to the login's `redirect_to` (else `/account`) with `code` (exchange it at `POST /auth/exchange`), or `error={code}`. An answer that fails a check answers `400 saml_invalid`, the reason only in the log and the audit trail.",
    params(("id" = Uuid, Path, description = "The connection's id")),
    request_body(content = AcsForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To `redirect_to` (or `/account`) with `code` or `error`"), Errors<(code::NotFound, code::SamlInvalid, code::MalformedRequest, code::RateLimited, code::Unavailable)>)
)]
async fn acs(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = connection_id(&id)?;
    let form: AcsForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::MalformedRequest(format!("The body is not a form: {e}.")))?;
    let saml_response = form.saml_response.filter(|r| !r.is_empty()).ok_or(ApiError::SamlInvalid)?;
    let cookie_name = form.relay_state.as_deref().filter(|r| r.len() <= 512).map(saml_login::binding_cookie);
    let binding = cookie_name.as_deref().and_then(|name| cookie(&headers, name));
    // An unsolicited answer (where the connection takes them) is bound to this browser now. A
    // solicited one's code is bound to the cookie its login set, which this cross-site post
    // does not carry (`SameSite=Lax`): setting one here would replace it.
    let (unsolicited, set) = start_handoff(&state, &headers, None, None)?;
    let accounts = &state.federation;
    let callback = accounts.finish_saml_login(id, &saml_response, binding.as_deref(), unsolicited, &client).await;
    let mut response = if !callback.known_login {
        match callback.outcome {
            Err(error) => ApiError::from(error).into_response(),
            Ok(_) => ApiError::SamlInvalid.into_response(),
        }
    } else {
        let public_url = &accounts.settings().public_url;
        let (name, value) = match callback.outcome {
            Ok(handoff) => ("code", handoff.expose_secret().to_owned()),
            Err(error) => ("error", ApiError::from(error).code_str().to_owned()),
        };
        let to = match &callback.redirect_to {
            Some(to) => to.with_param(name, &value),
            None => account_page(public_url, name, &value),
        };
        let set = set.filter(|_| callback.unsolicited);
        with_cookies(pages::see_other_url(&to), [set])
    };
    // The login is over, whatever came of it: its cookie goes.
    if let Some(cookie) = cookie_name.and_then(|name| binding_cookie(&state, id, &name, "", 0)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
