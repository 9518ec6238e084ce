//! `GET /.well-known/jwks.json`: the public keys that verify access tokens.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::http::state::AppState;
use crate::tokens::jwt::Jwk;

pub fn router() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

#[derive(Serialize, utoipa::ToSchema)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[utoipa::path(
    get, path = "/.well-known/jwks.json", summary = "Token-verification keys (JWKS)", operation_id = "getJwks", tag = "keys",
    responses((status = 200, description = "The public keys that verify access tokens", body = Jwks))
)]
async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(Jwks { keys: state.accounts.keys().jwks() }).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
