//! What gatehouse's browser pages share: the form cookie and its tokens, the same-origin check
//! of a posted form, the hand-off cookie of a login by link or provider, the browser session's
//! cookie (who it names, and how it is ended), where a login may go on, and the `303` that
//! sends the browser there. Route files take these from here and never from each other.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::accounts::browser::SESSION_COOKIE;
use crate::accounts::{Caller, Error, HandoffBinding, HandoffProof};
use crate::contract::TokenBody;
use crate::http::error::{ApiError, tokens};
use crate::http::extract::cookie;
use crate::http::state::AppState;
use crate::tokens::opaque::{OpaqueToken, TokenHash};

/// The cookie the forms of gatehouse's pages are bound to.
pub const FORM_COOKIE: &str = "gatehouse_form";

/// The cookie a browser login (by an emailed link, or through a provider) is bound to: its
/// hand-off code opens nothing in a browser without it (see
/// [`crate::accounts::HandoffProof`]). One value per browser, kept while logins start, so that
/// logins in two tabs do not undo each other.
pub const HANDOFF_COOKIE: &str = "gatehouse_handoff";
/// Long enough for an emailed link (10 minutes) and its hand-off code (2 more).
const HANDOFF_COOKIE_AGE: u64 = 30 * 60;

/// What a browser login starting now binds its hand-off code to: this browser's hand-off
/// cookie (made now if it has none), and the S256 `challenge` an API client sent, which its
/// exchange answers with the verifier instead. With the header that (re)sets the cookie.
pub(crate) fn start_handoff(
    state: &AppState,
    headers: &HeaderMap,
    challenge: Option<String>,
    method: Option<&str>,
) -> Result<(HandoffBinding, Option<HeaderValue>), ApiError> {
    if method.is_some_and(|m| m != "S256") {
        let why = "code_challenge_method is S256 (the only one taken)";
        return Err(ApiError::from(Error::field("code_challenge_method", why)));
    }
    if challenge.as_deref().is_some_and(|c| !crate::tokens::pkce::plausible_challenge(c)) {
        let why = "code_challenge is base64url(SHA-256(code_verifier)): 43 characters";
        return Err(ApiError::from(Error::field("code_challenge", why)));
    }
    let value = cookie(headers, HANDOFF_COOKIE)
        .filter(|v| crate::tokens::opaque::plausible(v))
        .unwrap_or_else(|| OpaqueToken::generate().secret.expose_secret().to_owned());
    let binding = HandoffBinding { browser: Some(TokenHash::of(&value)), challenge };
    Ok((binding, state.edge.cookie(HANDOFF_COOKIE, &value, HANDOFF_COOKIE_AGE, false)))
}

/// What this request proves of the start of a hand-off code's login: the browser's hand-off
/// cookie, and the verifier an API client sends.
pub(crate) fn handoff_proof(headers: &HeaderMap, verifier: Option<SecretString>) -> HandoffProof {
    HandoffProof { browser: cookie(headers, HANDOFF_COOKIE).map(SecretString::from), verifier }
}

/// The form cookie this browser holds, or a new one with the header that sets it.
pub(crate) fn form_binding(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, FORM_COOKIE) {
        Some(value) => (value, None),
        None => {
            let value = OpaqueToken::generate().secret.expose_secret().to_owned();
            let set = state.edge.cookie(FORM_COOKIE, &value, 86_400, false);
            (value, set)
        }
    }
}

/// The form token for this browser, and the cookie to set when it had none.
pub(crate) fn form_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let (binding, set) = form_binding(state, headers);
    (state.authentication.form_token(&binding), set)
}

/// Whether a posted form is one of our pages' own, from this browser.
pub(crate) fn form_posted_here(state: &AppState, headers: &HeaderMap, token: &str) -> bool {
    same_origin(headers, &state.edge.origin)
        && cookie(headers, FORM_COOKIE).is_some_and(|binding| state.authentication.form_token_valid(&binding, token))
}

/// Adds `Set-Cookie` headers to an answer.
pub(crate) fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = Option<HeaderValue>>) -> Response {
    for value in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// A `302` sending the browser to another server's login (a provider, an identity provider),
/// setting `binding` (the cookie binding that login to this browser, required) and `also`.
pub(crate) fn to_login_elsewhere(location: &str, binding: Option<HeaderValue>, also: Option<HeaderValue>) -> Response {
    match (HeaderValue::from_str(location), binding) {
        (Ok(location), Some(binding)) => {
            let to = (StatusCode::FOUND, [(header::LOCATION, location), (header::SET_COOKIE, binding)]).into_response();
            with_cookies(to, [also])
        }
        _ => ApiError::Internal(anyhow::anyhow!("a login's URL or its binding cookie is not a header value"))
            .into_response(),
    }
}

/// The live browser session this request's cookie names, if any.
pub(crate) async fn browser_caller(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else { return Ok(None) };
    match state.authentication.browser_caller(&value).await {
        Ok(caller) => Ok(Some(caller)),
        Err(Error::Unauthorized | Error::MfaEnrolmentRequired) => Ok(None),
        Err(other) => Err(other.into()),
    }
}

/// `next` if a login may go on there: gatehouse's own pages (under the public URL), or an
/// address `GATEHOUSE_REDIRECT_ALLOW` lists. Anything else is dropped, never followed.
pub(crate) fn checked_next(state: &AppState, next: Option<&str>) -> Option<String> {
    let next = next?;
    let url = url::Url::parse(next).ok()?;
    let public = state.authentication.settings().public_url.as_str();
    let own = url.as_str().starts_with(public) || format!("{}/", url.as_str()) == public;
    (own || state.accounts.policy().redirects.check(next).is_ok()).then(|| url.to_string())
}

/// Sends the browser on (`303`).
pub(crate) fn go_to(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => ApiError::Internal(anyhow::anyhow!("a checked address is not a header value")).into_response(),
    }
}

/// Ends the browser session the request's cookie names, if it is live.
pub(crate) async fn end_browser_session(
    state: &AppState,
    headers: &HeaderMap,
    client: &crate::accounts::ClientInfo,
) -> Result<(), ApiError> {
    if let Some(caller) = browser_caller(state, headers).await? {
        state.authentication.log_out_browser(&caller, client).await?;
    }
    Ok(())
}

/// The headers that remove the browser-session cookie, wherever it was set.
pub(crate) fn clear_session_cookies(state: &AppState) -> [Option<HeaderValue>; 2] {
    [state.edge.cookie(SESSION_COOKIE, "", 0, false), state.edge.cookie(SESSION_COOKIE, "", 0, true)]
}

/// Whether a form post comes from gatehouse's own page: browsers send `Origin` (or
/// `Sec-Fetch-Site`) with every form post; a request without either is not a cross-site one.
/// `Origin: null` names no origin (a browser sends it when the page's referrer policy is
/// `no-referrer`, or from a sandboxed frame): then `Sec-Fetch-Site` decides, and without it the
/// post is refused.
pub(crate) fn same_origin(headers: &HeaderMap, origin: &str) -> bool {
    let sent = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).filter(|sent| *sent != "null");
    if let Some(sent) = sent {
        return sent == origin;
    }
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => !headers.contains_key(header::ORIGIN),
    }
}

/// The account page under the public URL (which may have a path prefix), with `name=value` (the
/// hand-off code, say) in its query.
pub fn account_page(public_url: &url::Url, name: &str, value: &str) -> url::Url {
    let mut page = public_url.clone();
    let path = format!("{}/account", public_url.path().trim_end_matches('/'));
    page.set_path(&path);
    page.set_query(None);
    page.query_pairs_mut().append_pair(name, value);
    page
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExchangeBody {
    /// The `code` the redirect that ended a browser login carried.
    #[schema(value_type = String)]
    code: SecretString,
    /// The verifier of the `code_challenge` the login was started with (an app that exchanges
    /// the code itself). Without it, the request must come from the browser that started the
    /// login (its `gatehouse_handoff` cookie).
    #[schema(value_type = Option<String>)]
    code_verifier: Option<SecretString>,
}

/// A browser login's hand-off `code` exchanged for its token pair (`POST /auth/exchange`, and
/// `POST /auth/oidc/exchange` after a provider): bound to the browser's hand-off cookie or
/// the verifier the body carries; `403 mfa_required` for the second step.
pub(crate) async fn exchange_handoff(
    state: &AppState,
    client: crate::accounts::ClientInfo,
    headers: &HeaderMap,
    body: ExchangeBody,
) -> Result<TokenBody, ApiError> {
    let ExchangeBody { code, code_verifier } = body;
    let proof = handoff_proof(headers, code_verifier);
    Ok(tokens(state.authentication.exchange_handoff(code.expose_secret(), &proof, client).await?)?.into())
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::{account_page, same_origin};

    #[test]
    fn the_account_page_keeps_the_public_urls_path_prefix() {
        let at = |public: &str| account_page(&url::Url::parse(public).unwrap(), "code", "c0de").to_string();
        assert_eq!(at("https://id.example.com"), "https://id.example.com/account?code=c0de");
        assert_eq!(at("https://example.com/auth/"), "https://example.com/auth/account?code=c0de");
        assert_eq!(at("https://example.com/auth"), "https://example.com/auth/account?code=c0de");
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (name.parse().unwrap(), HeaderValue::from_static(value))).collect()
    }

    #[test]
    fn a_form_post_is_ours_by_its_origin_or_else_by_its_fetch_site() {
        let ours = "https://id.example.com";
        assert!(same_origin(&headers(&[("origin", "https://id.example.com")]), ours));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example")]), ours));
        assert!(!same_origin(&headers(&[("origin", "https://evil.example"), ("sec-fetch-site", "same-origin")]), ours));
        // What browsers send from a page whose referrer policy is no-referrer.
        assert!(same_origin(&headers(&[("origin", "null"), ("sec-fetch-site", "same-origin")]), ours));
        assert!(!same_origin(&headers(&[("origin", "null"), ("sec-fetch-site", "cross-site")]), ours));
        assert!(!same_origin(&headers(&[("origin", "null")]), ours));
        assert!(!same_origin(&headers(&[("sec-fetch-site", "cross-site")]), ours));
        assert!(same_origin(&headers(&[]), ours), "not a browser's cross-site post");
    }
}

/// The cookie binding a login at a provider to this browser: sent back only to the provider's
/// callback (`callback`, under the public URL's path), never readable by scripts;
/// `SameSite=Lax`, since the provider's redirect back is a cross-site navigation.
pub fn provider_binding_cookie(
    state: &AppState,
    callback: &str,
    name: &str,
    value: &str,
    max_age: u64,
) -> Option<HeaderValue> {
    let prefix = state.authentication.settings().public_url.path().trim_end_matches('/').to_owned();
    let secure = if state.edge.https { "; Secure" } else { "" };
    let cookie = format!("{name}={value}; Path={prefix}{callback}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&cookie).ok()
}

/// What a provider's callback answers: a `303` to the login's `redirect_to` (else `/account`)
/// with `code`, `linked={linked}` or `error` (and `error_description`); a problem when the
/// `state` named no login. The login's binding cookie (`cookie_name`, at `callback`) goes.
pub fn provider_callback_answer(
    state: &AppState,
    callback: crate::accounts::identities::Callback,
    linked: &str,
    cookie_name: Option<String>,
    callback_path: &str,
) -> Response {
    use crate::accounts::identities::Outcome;
    let mut response = if !callback.known_login {
        match callback.outcome {
            Err(error) => ApiError::from(error).into_response(),
            Ok(_) => ApiError::OidcStateInvalid.into_response(),
        }
    } else {
        let public_url = &state.authentication.settings().public_url;
        let (name, value, description) = match callback.outcome {
            Ok(Outcome::LoggedIn(handoff)) => ("code", handoff.expose_secret().to_owned(), None),
            Ok(Outcome::Linked) => ("linked", linked.to_owned(), None),
            Err(error) => {
                let error = ApiError::from(error);
                ("error", error.code_str().to_owned(), Some(error.detail()))
            }
        };
        let mut to = match &callback.redirect_to {
            Some(to) => to.with_param(name, &value),
            None => account_page(public_url, name, &value),
        };
        if let Some(description) = description {
            to.query_pairs_mut().append_pair("error_description", &description);
        }
        crate::http::pages::see_other_url(&to)
    };
    // The login is over, whatever came of it: its cookie goes.
    if let Some(cookie) = cookie_name.and_then(|name| provider_binding_cookie(state, callback_path, &name, "", 0)) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// What a provider's callback carries in its query (its `code` is never shown by `Debug`).
#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

impl std::fmt::Debug for CallbackQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackQuery").field("error", &self.error).field("iss", &self.iss).finish_non_exhaustive()
    }
}

impl CallbackQuery {
    /// The answer, with the value of the login's binding cookie as this browser sent it.
    pub fn answer<'a>(&'a self, binding: Option<&'a str>) -> crate::accounts::identities::ProviderAnswer<'a> {
        crate::accounts::identities::ProviderAnswer {
            state: self.state.as_deref(),
            code: self.code.as_deref(),
            error: self.error.as_deref(),
            iss: self.iss.as_deref(),
            binding,
        }
    }

    /// The name of the cookie binding the login its `state` names.
    pub fn binding_cookie(&self) -> Option<String> {
        self.state.as_deref().map(crate::accounts::identities::binding_cookie)
    }
}
