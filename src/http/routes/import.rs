//! `POST /admin/users/import`: accounts moved in from another system, as JSON Lines or CSV in
//! the body (see [`crate::accounts::import`]); and `GET /admin/users/import`, how many
//! accounts still have the password hash they came with.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::accounts::import::ImportOptions;
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Query};
use crate::http::state::AppState;
use crate::passwords::foreign::FirebaseProject;

/// The largest import one request may carry; larger files go through `gatehouse import`.
pub const MAX_IMPORT_BYTES: usize = 64 << 20;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/users/import", post(import).get(status).layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Stop at the first bad line (the batches before it stay imported) instead of reporting it.
    strict: Option<bool>,
}

/// A line that was not imported.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadLineBody {
    /// Its number in the file, from 1.
    line: u64,
    error: String,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportBody {
    /// Lines read (blank ones and the CSV header left out).
    lines: u64,
    imported: u64,
    /// Lines whose address or username an account already had: left alone.
    existing: u64,
    bad: Vec<BadLineBody>,
}

/// The Firebase project of the hashes with a `password_salt`, from the
/// `Gatehouse-Firebase-Project` header: `signer_key=…, salt_separator=…, rounds=…, mem_cost=…`.
fn firebase(headers: &HeaderMap) -> Result<Option<FirebaseProject>, ApiError> {
    let Some(value) = headers.get("gatehouse-firebase-project") else { return Ok(None) };
    let refused = || {
        ApiError::MalformedRequest(
            "Gatehouse-Firebase-Project is `signer_key=…, salt_separator=…, rounds=…, mem_cost=…` (base64 key and separator)."
                .into(),
        )
    };
    let text = value.to_str().map_err(|_| refused())?;
    // The first `=` of each pair ends its name; base64's padding stays with the value.
    let field = |name: &str| {
        text.split(',').filter_map(|pair| pair.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v.trim())
    };
    let (Some(key), Some(separator), Some(rounds), Some(mem_cost)) =
        (field("signer_key"), field("salt_separator"), field("rounds"), field("mem_cost"))
    else {
        return Err(refused());
    };
    Ok(Some(FirebaseProject {
        signer_key: key.to_owned(),
        salt_separator: separator.to_owned(),
        rounds: rounds.parse().map_err(|_| refused())?,
        mem_cost: mem_cost.parse().map_err(|_| refused())?,
    }))
}

#[utoipa::path(
    post, path = "/admin/users/import", summary = "Import accounts", operation_id = "importUsers", tag = "admin", security(("bearer" = [])),
    description = "JSON Lines (`application/x-ndjson`) or CSV with a header (`text/csv`), one account per line: `email`, `username`, `name`, `data`, `app_data`, `status` (`active` by default), `email_verified`, `created_at` (RFC 3339), `password_hash` (bcrypt, Argon2, scrypt, PBKDF2 in passlib's, PHC or Django's form; absent: no password) and, for Firebase's scrypt, `password_salt` with the project in the `Gatehouse-Firebase-Project` header (`signer_key=…, salt_separator=…, rounds=…, mem_cost=…`). Nothing is hashed: each imported hash is replaced with Argon2id at the account's first successful login. A line whose address or username an account already has is left alone, so importing the same file again changes nothing; a bad line is reported with its number and skipped (with `strict=true`, it stops the import: `422`). At most 64 MiB; `gatehouse import FILE` takes any size.",
    params(ImportQuery),
    request_body(content = String, content_type = "application/x-ndjson"),
    responses((status = 200, description = "What was imported", body = ImportBody), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ReauthenticationRequired, code::PayloadTooLarge, code::UnsupportedMediaType, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn import(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportBody>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media = media.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if !["application/x-ndjson", "application/jsonl", "application/json-lines", "text/csv"].contains(&media.as_str()) {
        return Err(ApiError::UnsupportedMediaType(
            "Send the accounts as JSON Lines (Content-Type: application/x-ndjson) or CSV (text/csv).".into(),
        ));
    }
    let options = ImportOptions { strict: query.strict.unwrap_or(false), firebase: firebase(&headers)? };
    let report = admin.import(&body[..], &options, |_| {}).await?;
    let bad = report.bad.into_iter().map(|b| BadLineBody { line: b.line, error: b.why }).collect();
    Ok(Json(ImportBody { lines: report.lines, imported: report.imported, existing: report.existing, bad }))
}

#[utoipa::path(
    get, path = "/admin/users/import", summary = "Accounts still on an imported password hash", operation_id = "importStatus", tag = "admin", security(("bearer" = [])),
    description = "How many accounts still have a password hash gatehouse did not make at its current settings, by format (`bcrypt`, `argon2` for other parameters, `scrypt`, `firebase-scrypt`, `pbkdf2`; `none` for accounts without a password). Each is replaced at the account's next successful login.",
    responses((status = 200, description = "`{\"bcrypt\": 120, \"none\": 3}`", body = Object), Errors<(code::Unauthorized, code::Forbidden, code::Unavailable)>)
)]
pub async fn status(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
) -> Result<Json<serde_json::Map<String, serde_json::Value>>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let counts = admin.foreign_hashes().await?;
    Ok(Json(counts.into_iter().map(|(format, n)| (format.to_owned(), n.into())).collect()))
}
