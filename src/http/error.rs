//! The one HTTP error type. Each variant is one of the contract's `code`s; one exhaustive match
//! gives its status, and every error leaves as RFC 9457 problem+json. Unexpected errors are
//! logged once, with their cause chain, inside the request's span; the client hears only
//! "internal error".

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::accounts::{self, FieldError};

#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not valid JSON or form data, or a field is missing or mistyped.
    MalformedRequest(String),
    /// 400: an activation, reset or refresh token is unknown or spent.
    TokenInvalid,
    /// 401: no token, or a bad, expired or revoked one.
    Unauthorized { token_sent: bool },
    /// 401: wrong email, username or password (one answer for all three).
    InvalidCredentials,
    /// 403: right password, account still pending.
    AccountNotActivated,
    /// 403: right password, account disabled.
    AccountDisabled,
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 403 `forbidden`: the change would leave no active admin.
    LastAdmin,
    /// 404: no such route, account or session.
    NotFound(&'static str),
    /// 405
    MethodNotAllowed,
    /// 409
    EmailTaken,
    /// 409
    UsernameTaken,
    /// 410: the link has expired.
    TokenExpired,
    /// 413: the body is over 64 KiB.
    PayloadTooLarge,
    /// 415
    UnsupportedMediaType(String),
    /// 422: well-formed input that breaks a rule.
    ValidationFailed(Vec<FieldError>),
    /// 429: too many requests; try again after the delay.
    RateLimited { retry_after: std::time::Duration },
    /// 503: the database, the session store or the hashing pool cannot serve now.
    Unavailable(String, Option<anyhow::Error>),
    /// 500: a bug. Never the client's doing.
    Internal(anyhow::Error),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<ProblemField<'a>>>,
}

#[derive(Serialize)]
struct ProblemField<'a> {
    field: &'a str,
    message: &'a str,
}

impl ApiError {
    /// Status, stable code and short title of each variant.
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            MalformedRequest(_) => (StatusCode::BAD_REQUEST, "malformed_request", "Malformed request"),
            TokenInvalid => (StatusCode::BAD_REQUEST, "token_invalid", "Invalid token"),
            Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials", "Invalid credentials"),
            AccountNotActivated => (StatusCode::FORBIDDEN, "account_not_activated", "Account not activated"),
            AccountDisabled => (StatusCode::FORBIDDEN, "account_disabled", "Account disabled"),
            Forbidden | LastAdmin => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed"),
            EmailTaken => (StatusCode::CONFLICT, "email_taken", "Email taken"),
            UsernameTaken => (StatusCode::CONFLICT, "username_taken", "Username taken"),
            TokenExpired => (StatusCode::GONE, "token_expired", "Link expired"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "Payload too large"),
            UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
            }
            ValidationFailed(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", "Validation failed"),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests"),
            Unavailable(..) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable"),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "Internal error"),
        }
    }

    fn detail(&self) -> String {
        use ApiError::*;
        match self {
            MalformedRequest(why) => why.clone(),
            TokenInvalid => "The token is unknown or has already been used.".into(),
            Unauthorized { token_sent: false } => "Send an access token: Authorization: Bearer <token>.".into(),
            Unauthorized { token_sent: true } => {
                "The access token is invalid, expired or revoked; log in again.".into()
            }
            InvalidCredentials => "The email, username or password is wrong.".into(),
            AccountNotActivated => {
                "The account is not activated yet: follow the link in the confirmation email.".into()
            }
            AccountDisabled => "The account has been disabled by an administrator.".into(),
            Forbidden => "You are not allowed to do this.".into(),
            LastAdmin => "This is the last active admin: make another admin first.".into(),
            NotFound(what) => format!("No such {what}."),
            MethodNotAllowed => "This path does not support this method.".into(),
            EmailTaken => "An account with this email address exists already.".into(),
            UsernameTaken => "An account with this username exists already.".into(),
            TokenExpired => "The link has expired; ask for a new one.".into(),
            PayloadTooLarge => "The request body is larger than 64 KiB.".into(),
            UnsupportedMediaType(why) => why.clone(),
            ValidationFailed(errors) => errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "),
            RateLimited { retry_after } => {
                format!("Too many attempts; try again in {} second(s).", retry_after_seconds(*retry_after))
            }
            Unavailable(why, _) => why.clone(),
            Internal(_) => "Something went wrong on our side; it has been logged.".into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = %format!("{cause:#}"), "request failed"),
            ApiError::Unavailable(why, Some(cause)) => {
                tracing::warn!(error = %format!("{cause:#}"), "{why}");
            }
            _ => {}
        }
        let errors = match &self {
            ApiError::ValidationFailed(errors) => {
                Some(errors.iter().map(|e| ProblemField { field: e.field, message: &e.message }).collect())
            }
            _ => None,
        };
        let problem = Problem {
            kind: format!("urn:gatehouse:problem:{code}"),
            title,
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match &self {
            ApiError::Unauthorized { token_sent: true } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="gatehouse", error="invalid_token""#),
                );
            }
            ApiError::Unauthorized { token_sent: false } | ApiError::InvalidCredentials => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer realm="gatehouse""#));
            }
            ApiError::Unavailable(..) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::RateLimited { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds(*retry_after)));
            }
            _ => {}
        }
        response
    }
}

/// Whole seconds, rounded up: a client that waits this long is let through.
fn retry_after_seconds(delay: std::time::Duration) -> u64 {
    delay.as_millis().div_ceil(1000).max(1) as u64
}

impl From<accounts::Error> for ApiError {
    fn from(error: accounts::Error) -> Self {
        use accounts::Error as E;
        match error {
            E::Validation(errors) => ApiError::ValidationFailed(errors),
            E::InvalidCredentials => ApiError::InvalidCredentials,
            E::NotActivated => ApiError::AccountNotActivated,
            E::Disabled => ApiError::AccountDisabled,
            E::Forbidden => ApiError::Forbidden,
            E::LastAdmin => ApiError::LastAdmin,
            E::NotFound => ApiError::NotFound("account"),
            E::SessionNotFound => ApiError::NotFound("session"),
            E::EmailTaken => ApiError::EmailTaken,
            E::UsernameTaken => ApiError::UsernameTaken,
            E::TokenInvalid => ApiError::TokenInvalid,
            E::TokenExpired => ApiError::TokenExpired,
            E::Unauthorized => ApiError::Unauthorized { token_sent: true },
            E::RateLimited { retry_after } => ApiError::RateLimited { retry_after },
            E::Busy => {
                ApiError::Unavailable("Too many logins are being checked right now; try again shortly.".into(), None)
            }
            E::Unavailable(cause) => {
                ApiError::Unavailable("A backing service is unavailable; try again shortly.".into(), Some(cause))
            }
            E::Unexpected(cause) => ApiError::Internal(cause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(error: ApiError) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
        let response = error.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), headers)
    }

    #[tokio::test]
    async fn problems_carry_the_contract_fields() {
        let (status, json, headers) = body(ApiError::EmailTaken).await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        for key in ["type", "title", "status", "detail", "code"] {
            assert!(json.get(key).is_some(), "{key} missing in {json}");
        }
        assert_eq!(json["code"], "email_taken");
        assert_eq!(json["status"], 409);
        assert!(json.get("errors").is_none());
    }

    #[tokio::test]
    async fn validation_problems_list_their_fields() {
        let (status, json, _) = body(ApiError::ValidationFailed(vec![FieldError::new("email", "bad")])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(json["errors"][0]["field"], "email");
        assert_eq!(json["errors"][0]["message"], "bad");
    }

    #[tokio::test]
    async fn unauthorized_says_how_to_authenticate() {
        let (_, _, headers) = body(ApiError::Unauthorized { token_sent: false }).await;
        assert_eq!(headers[header::WWW_AUTHENTICATE], r#"Bearer realm="gatehouse""#);
        let (_, _, headers) = body(ApiError::Unauthorized { token_sent: true }).await;
        assert_eq!(headers[header::WWW_AUTHENTICATE], r#"Bearer realm="gatehouse", error="invalid_token""#);
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let (status, json, _) = body(ApiError::Internal(anyhow::anyhow!("secret table xyz is broken"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!json.to_string().contains("xyz"));
    }
}
