//! The hosted login of the browser session (`GET|POST /login`) and its logout (`POST /logout`):
//! the password (then a second factor), a link by email, or a provider; HTML forms that work
//! without JavaScript, each carrying a token bound to a cookie of this
//! browser (`gatehouse_form`), and checked for coming from gatehouse's own origin. A login sets
//! `gatehouse_session` (see [`crate::accounts::browser`]) and goes on to `next`: the
//! authorization request of a client app, or the page of an app behind a forward-auth proxy.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::accounts::browser::SESSION_COOKIE;
use crate::accounts::email_login::EmailProof;
use crate::accounts::{Error, LoginId, LoginStep, SecondFactor, TokenPair};
use crate::http::browser::{
    browser_caller, checked_next, clear_session_cookies, end_browser_session, form_posted_here, form_token, go_to,
    handoff_proof, start_handoff, with_cookies,
};
use crate::http::error::ApiError;
use crate::http::extract::{Client, JsonOrForm, Query};
use crate::http::pages;
use crate::http::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/login", get(show).post(submit)).route("/logout", post(log_out))
}

/// `next` of the login page: as [`checked_next`] allows it, and when it is an authorization
/// request of ours, only if that request names a registered client and redirect URI. The page's
/// policy lets its forms lead to where `next` leads (the client's redirect URI), so nobody may
/// widen it by naming an address in a request that would be refused anyway.
pub(crate) async fn login_next(state: &AppState, next: Option<&str>) -> Option<String> {
    let next = checked_next(state, next)?;
    let url = url::Url::parse(&next).ok()?;
    let authorize = format!("{}/oauth2/authorize", state.authentication.settings().public_url_issuer());
    if url.as_str().split('?').next() != Some(authorize.as_str()) {
        return Some(next);
    }
    match state.oauth.authorization_is_registered(url.query().unwrap_or_default()).await {
        Ok(true) => Some(next),
        Ok(false) => None,
        Err(error) => {
            tracing::warn!(%error, "an authorization request could not be checked; the login goes on without it");
            None
        }
    }
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
    /// Fills in the login field (an authorization request's `login_hint`).
    login_hint: Option<String>,
    /// Back from a login by email or through a provider started here: its hand-off code.
    code: Option<SecretString>,
    /// Back from one that failed: its error code, shown as this page's own sentence for it (a
    /// description in the URL is anyone's to write, and is never shown).
    error: Option<String>,
}

/// This page's own address with `next`: where a login by email or through a provider started
/// here comes back to (`GATEHOUSE_REDIRECT_ALLOW` always allows it).
fn back_here(state: &AppState, next: Option<&str>) -> String {
    let mut page = url::Url::parse(&format!("{}/login", state.authentication.settings().public_url_issuer()))
        .unwrap_or_else(|_| state.authentication.settings().public_url.clone());
    if let Some(next) = next {
        page.query_pairs_mut().append_pair("next", next);
    }
    page.to_string()
}

/// The ways in the page offers beside the password: each provider, a link by email, a passkey,
/// and whether an organization's identity provider may be where an address logs in.
async fn other_ways(state: &AppState, next: Option<&str>) -> pages::OtherWays {
    let back = back_here(state, next);
    let issuer = state.authentication.settings().public_url_issuer();
    let providers = state
        .authentication
        .providers()
        .into_iter()
        .filter_map(|(name, label)| {
            let mut start = url::Url::parse(&format!("{issuer}/auth/oidc/{name}")).ok()?;
            start.query_pairs_mut().append_pair("redirect_to", &back);
            Some((label, start.to_string()))
        })
        .collect();
    let (email, passkeys) = (state.accounts.policy().passwordless, state.authentication.passkeys_available());
    // Asked again at each page, so a connection added a moment ago shows (a failed read: the
    // password form, as before any connection).
    let sso = state.organizations.sso_anywhere().await.unwrap_or(false);
    pages::OtherWays { providers, email, passkeys, sso }
}

/// The login form; with no `next` and a live session, who is logged in; back from a login by
/// email or through a provider, its end.
async fn show(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    let next = login_next(&state, query.next.as_deref()).await;
    let (form, set) = form_token(&state, &headers);
    let ways = other_ways(&state, next.as_deref()).await;
    if let Some(code) = &query.code {
        let client_again = client.clone();
        let proof = handoff_proof(&headers, None);
        let response = match state.authentication.exchange_handoff(code.expose_secret(), &proof, client).await {
            Ok(LoginStep::Session(pair)) => logged_in(&state, &headers, &client_again, *pair, next.as_deref()).await,
            Ok(LoginStep::SecondFactor(challenge)) => second_step(&form, next.as_deref(), &challenge),
            Err(error) => refused(&form, next.as_deref(), "", error, &ways),
        };
        return with_cookies(response, [set]);
    }
    if let Some(error) = &query.error {
        let why = pages::explain_code(error);
        let page = pages::login_form(&form, next.as_deref(), "", Some(&why), StatusCode::OK, &ways);
        return with_cookies(page, [set]);
    }
    if next.is_none() {
        match browser_caller(&state, &headers).await {
            Ok(Some(caller)) => {
                let who = match state.authentication.me(&caller).await {
                    Ok(account) => account.email,
                    Err(error) => return ApiError::from(error).into_response(),
                };
                return with_cookies(pages::signed_in(&form, &who), [set]);
            }
            Ok(None) => {}
            Err(error) => return error.into_response(),
        }
    }
    let hint = query.login_hint.filter(|h| h.len() <= 254 && !h.chars().any(char::is_control)).unwrap_or_default();
    with_cookies(pages::login_form(&form, next.as_deref(), &hint, None, StatusCode::OK, &ways), [set])
}

#[derive(Deserialize, utoipa::ToSchema)]
struct LoginForm {
    form: String,
    next: Option<String>,
    login: Option<String>,
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
    /// The second step: the token of the first, and a code.
    #[schema(value_type = Option<String>)]
    mfa_token: Option<SecretString>,
    #[schema(value_type = Option<String>)]
    code: Option<SecretString>,
    /// "Email me a link" to this address instead.
    email_link: Option<String>,
    /// Then the code that email carries, with the address (`email`) it was sent to.
    #[schema(value_type = Option<String>)]
    email_code: Option<SecretString>,
    email: Option<String>,
    /// A passkey's answer (`credential.toJSON()` as JSON) to the options of
    /// `POST /auth/webauthn/options`: a login, or with `mfa_token` its second step.
    passkey: Option<String>,
    /// The second step offered the passkey: a wrong code offers it again.
    with_passkey: Option<String>,
}

/// Either step of the login, or a link by email; a wrong answer shows its form again with the
/// reason.
async fn submit(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<LoginForm>,
) -> Response {
    let LoginForm {
        form,
        next,
        login,
        password,
        mfa_token,
        code,
        email_link,
        email_code,
        email,
        passkey,
        with_passkey,
    } = body.value;
    if !form_posted_here(&state, &headers, &form) {
        return pages::form_expired();
    }
    let next = login_next(&state, next.as_deref()).await;
    let ways = other_ways(&state, next.as_deref()).await;
    let login = login.unwrap_or_default();
    if let Some(address) = email_link {
        let back = back_here(&state, next.as_deref());
        let (binding, set) = match start_handoff(&state, &headers, None, None) {
            Ok(started) => started,
            Err(error) => return error.into_response(),
        };
        let sent = match state.authentication.request_email_login(&address, Some(back.as_str()), binding, &client).await
        {
            Ok(()) => pages::email_link_sent(&form, next.as_deref(), address.trim(), None, StatusCode::OK),
            Err(error) => refused(&form, next.as_deref(), &address, error, &ways),
        };
        return with_cookies(sent, [set]);
    }
    let client_again = client.clone();
    if let (Some(code), Some(email)) = (email_code, email) {
        let proof = EmailProof::Code { email: email.clone(), code };
        return match state.authentication.log_in_by_email(proof, client).await {
            Ok(LoginStep::Session(pair)) => logged_in(&state, &headers, &client_again, *pair, next.as_deref()).await,
            Ok(LoginStep::SecondFactor(challenge)) => second_step(&form, next.as_deref(), &challenge),
            Err(error @ Error::InvalidCode) => {
                let error = ApiError::from(error);
                pages::email_link_sent(&form, next.as_deref(), &email, Some(&pages::explain(&error)), error.status())
            }
            Err(error) => refused(&form, next.as_deref(), &email, error, &ways),
        };
    }
    if let Some(answer) = passkey {
        let outcome = match (serde_json::from_str(&answer), &mfa_token) {
            (Err(_), _) => Err(Error::WebauthnFailed("the browser's answer is not a passkey's")),
            (Ok(credential), Some(token)) => {
                let factor = SecondFactor::Webauthn(Box::new(credential));
                state.authentication.complete_login(token.expose_secret(), factor, None, client).await
            }
            (Ok(credential), None) => state.authentication.log_in_with_passkey(&credential, client).await,
        };
        return match (outcome, mfa_token) {
            (Ok(pair), _) => logged_in(&state, &headers, &client_again, pair, next.as_deref()).await,
            (Err(error @ Error::WebauthnFailed(_)), Some(token)) => {
                let error = ApiError::from(error);
                let page = pages::second_factor_form;
                page(&form, next.as_deref(), token.expose_secret(), true, Some(&pages::explain(&error)), error.status())
            }
            (Err(error), _) => refused(&form, next.as_deref(), "", error, &ways),
        };
    }
    if let (Some(mfa_token), Some(code)) = (mfa_token, code) {
        let factor = match code.expose_secret().trim() {
            totp if totp.len() == 6 && totp.bytes().all(|b| b.is_ascii_digit()) => SecondFactor::Totp(totp.into()),
            recovery => SecondFactor::RecoveryCode(recovery.into()),
        };
        return match state.authentication.complete_login(mfa_token.expose_secret(), factor, None, client).await {
            Ok(pair) => logged_in(&state, &headers, &client_again, pair, next.as_deref()).await,
            Err(error @ Error::InvalidCode) => {
                let error = ApiError::from(error);
                let (token, offered) = (mfa_token.expose_secret(), with_passkey.is_some() && ways.passkeys);
                let page = pages::second_factor_form;
                page(&form, next.as_deref(), token, offered, Some(&pages::explain(&error)), error.status())
            }
            Err(error) => refused(&form, next.as_deref(), "", error, &ways),
        };
    }
    if password.is_none() && ways.sso && !login.trim().is_empty() {
        return address_first(&state, &form, next.as_deref(), &login, &client, &ways).await;
    }
    let id = LoginId::from_fields(Some(login.clone()), None);
    let (Some(id), Some(password)) = (id, password) else {
        let why = pages::t("page-login.missing");
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return pages::login_form(&form, next.as_deref(), &login, Some(&why), status, &ways);
    };
    match state.authentication.log_in(id, password, None, client).await {
        Ok(LoginStep::Session(pair)) => logged_in(&state, &headers, &client_again, *pair, next.as_deref()).await,
        Ok(LoginStep::SecondFactor(challenge)) => second_step(&form, next.as_deref(), &challenge),
        Err(error) => refused(&form, next.as_deref(), &login, error, &ways),
    }
}

/// The address, given first: on to its organization's identity provider when it has one (back
/// here with a code), else the whole form with the address filled in.
async fn address_first(
    state: &AppState,
    form: &str,
    next: Option<&str>,
    login: &str,
    client: &crate::accounts::ClientInfo,
    ways: &pages::OtherWays,
) -> Response {
    let back = back_here(state, next);
    match state.organizations.discover_sso(login, Some(&back), client).await {
        Ok(login_url) => pages::to_identity_provider(&login_url),
        Err(error @ Error::RateLimited { .. }) => refused(form, next, login, error, ways),
        // No identity provider for it (or a username, which never has one): its password.
        Err(_) => pages::login_form(form, next, login.trim(), None, StatusCode::OK, ways),
    }
}

/// The second step's form, offering the passkey when the account has one.
fn second_step(form: &str, next: Option<&str>, challenge: &crate::accounts::MfaChallenge) -> Response {
    let passkey = challenge.methods.contains(&"webauthn");
    pages::second_factor_form(form, next, challenge.mfa_token.expose_secret(), passkey, None, StatusCode::OK)
}

/// The login form again, saying why; a failure of the server's answers as on the API.
fn refused(form: &str, next: Option<&str>, login: &str, error: Error, ways: &pages::OtherWays) -> Response {
    let error = ApiError::from(error);
    if error.status().is_server_error() {
        return error.into_response();
    }
    let mut response = pages::login_form(form, next, login, Some(&pages::explain(&error)), error.status(), ways);
    if let ApiError::RateLimited { retry_after } = &error {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
    }
    response
}

/// Sets the browser-session cookie and goes on to `next` (or to the login page, which then
/// says who is logged in). A browser session already there is replaced (see
/// [`crate::accounts::Core::replace_browser_session`]).
async fn logged_in(
    state: &AppState,
    headers: &HeaderMap,
    client: &crate::accounts::ClientInfo,
    pair: TokenPair,
    next: Option<&str>,
) -> Response {
    let value = state.authentication.browser_cookie(pair.session_id, pair.account.id);
    if let Err(Error::MfaEnrolmentRequired) = state.authentication.browser_caller(&value).await {
        return pages::link_problem(StatusCode::FORBIDDEN, "second-factor-first");
    }
    if let Ok(Some(previous)) = browser_caller(state, headers).await
        && previous.session_id() != Some(pair.session_id)
        && let Err(error) =
            state.authentication.replace_browser_session(&previous, pair.session_id, pair.account.id, client).await
    {
        tracing::warn!(%error, "could not end the browser session this login replaces");
    }
    let max_age = state.authentication.settings().session_ttl.as_secs();
    let login_page = format!("{}/login", state.authentication.settings().public_url_issuer());
    let cookie = state.edge.cookie(SESSION_COOKIE, &value, max_age, true);
    with_cookies(go_to(next.unwrap_or(&login_page)), [cookie])
}

#[derive(Deserialize, utoipa::ToSchema)]
struct LogoutForm {
    form: String,
    next: Option<String>,
}

/// Ends the browser session (and the client sessions granted through it).
async fn log_out(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: JsonOrForm<LogoutForm>,
) -> Response {
    if !form_posted_here(&state, &headers, &body.value.form) {
        return pages::form_expired();
    }
    if let Err(error) = end_browser_session(&state, &headers, &client).await {
        return error.into_response();
    }
    let next = checked_next(&state, body.value.next.as_deref());
    with_cookies(pages::signed_out(next.as_deref()), clear_session_cookies(&state))
}
