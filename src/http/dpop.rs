//! How a request presents a client's access token: as a bearer token (`Authorization:
//! Bearer`), or bound to a key (`Authorization: DPoP` with one `DPoP` proof header, RFC 9449);
//! and the `DPoP` challenge of a refusal, which names the proof algorithms taken.

use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::extract::bearer;
use super::state::AppState;
use crate::accounts::oauth::OAuthError;
use crate::accounts::oauth::dpop::Possession;
use crate::tokens::dpop::ALGORITHMS;

/// A token and, with the DPoP scheme, its proof (`None` when the header is missing, repeated or
/// not text: the proof check then refuses it).
#[derive(Clone, Copy, Debug)]
pub struct Presented<'a> {
    pub token: &'a str,
    pub dpop: bool,
    proof: Option<&'a str>,
}

impl<'a> Presented<'a> {
    /// What the proof must be about, for the DPoP scheme: this request, at `url`.
    pub fn possession(&self, method: &'a str, url: &'a str) -> Option<Possession<'a>> {
        self.dpop.then_some(Possession { proof: self.proof, method, url })
    }
}

/// The token a request presents, if any; `Err` when `Authorization` is there but unusable.
pub fn presented(parts: &Parts) -> Option<Result<Presented<'_>, ()>> {
    if let Some(token) = dpop_token(parts) {
        let proof = proof(&parts.headers).and_then(Result::ok);
        return Some(Ok(Presented { token, dpop: true, proof }));
    }
    bearer(parts).map(|sent| sent.map(|token| Presented { token, dpop: false, proof: None }))
}

/// The `DPoP` header, if any; `Err` when it is given more than once or is not text.
pub fn proof(headers: &HeaderMap) -> Option<Result<&str, ()>> {
    let mut all = headers.get_all("dpop").iter();
    let first = all.next()?;
    if all.next().is_some() {
        return Some(Err(()));
    }
    Some(first.to_str().map_err(|_| ()))
}

/// The proof sent to an endpoint of the authorization server (the token endpoint, the pushed
/// request's), if any; a repeated or unreadable `DPoP` header is `invalid_dpop_proof`.
pub fn sent_proof(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    proof(headers).transpose().map_err(|()| OAuthError::refused("invalid_dpop_proof", "send one DPoP header, as text"))
}

/// With nonces asked for, an answer of the authorization server names the one to use next
/// (RFC 9449 section 8.1).
pub fn with_nonce(state: &AppState, response: &mut Response) {
    if let Some(nonce) = state.oauth.dpop_nonce().and_then(|nonce| HeaderValue::from_str(&nonce).ok()) {
        response.headers_mut().insert("dpop-nonce", nonce);
    }
}

/// The token of `Authorization: DPoP <token>`, if that is the header's scheme.
fn dpop_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("dpop") && !token.trim().is_empty()).then(|| token.trim())
}

/// Adds RFC 9449's challenge to a refusal, beside any `Bearer` one: `DPoP algs="…"`, with
/// `error` when a token was refused.
pub fn challenge(response: &mut Response, error: Option<&str>) {
    let error = error.map(|error| format!("error=\"{error}\", ")).unwrap_or_default();
    if let Ok(value) = HeaderValue::from_str(&format!("DPoP {error}algs=\"{}\"", ALGORITHMS.join(" "))) {
        response.headers_mut().append(header::WWW_AUTHENTICATE, value);
    }
}
