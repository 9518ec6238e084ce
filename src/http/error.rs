//! The one HTTP error type. Each variant is one of the contract's `code`s; one exhaustive match
//! gives its status, and every error leaves as RFC 9457 problem+json. Unexpected errors are
//! logged once, with their cause chain, inside the request's span; the client hears only
//! "internal error".

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::{self, FieldError};

#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not valid JSON or form data, or a field is mistyped.
    MalformedRequest(String),
    /// 400 `malformed_request`: required fields are missing; `errors[]` names each.
    MissingFields(Vec<String>),
    /// 400: an activation, reset or refresh token is unknown or spent.
    TokenInvalid,
    /// 401: no token, or a bad, expired or revoked one.
    Unauthorized { token_sent: bool },
    /// 401 `unauthorized`: an `Authorization` header that is not `Bearer <token>` (a bare token,
    /// another scheme).
    NotBearer,
    /// 401: wrong email, username or password (one answer for all three).
    InvalidCredentials,
    /// 403: right password, account still pending.
    AccountNotActivated,
    /// 403: right password, account disabled.
    AccountDisabled,
    /// 403: right password; the second factor is next (`mfa_token`, `methods`).
    MfaRequired { mfa_token: String, methods: Vec<&'static str> },
    /// 401: a wrong, replayed or spent second-factor code.
    InvalidCode,
    /// 401: the `mfa_token` is unknown, spent, expired or out of attempts.
    MfaTokenInvalid,
    /// 403: the session must authenticate afresh (`POST /auth/reauthenticate`).
    ReauthenticationRequired,
    /// 403: the account must enrol a second factor before anything else.
    MfaEnrolmentRequired,
    /// 409
    MfaAlreadyEnabled,
    /// 409
    MfaNotEnabled,
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 403 `forbidden`: the change would leave no active admin.
    LastAdmin,
    /// 403: sign-up is closed.
    SignupDisabled,
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

/// Every error answer: RFC 9457 problem details, `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:gatehouse:problem:validation_failed", "title": "Validation failed", "status": 422,
    "detail": "a password has at least 8 characters", "code": "validation_failed",
    "errors": [{"field": "password", "message": "a password has at least 8 characters"}]
}))]
pub struct Problem<'a> {
    /// `urn:gatehouse:problem:{code}`.
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    /// What went wrong and what to do, for a person.
    detail: String,
    code: Code,
    /// With `validation_failed`, and with `malformed_request` for missing fields: each field's
    /// problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<ProblemField<'a>>>,
    /// With `mfa_required`: the token `POST /auth/mfa` takes with the second factor (single
    /// use, 5 minutes, 5 wrong codes at most).
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_token: Option<&'a str>,
    /// With `mfa_required`: the second factors the account can finish the login with
    /// (`totp`, `recovery_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    methods: Option<&'a [&'static str]>,
}

/// One field's problem in a `validation_failed` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FieldProblem)]
struct ProblemField<'a> {
    field: &'a str,
    message: &'a str,
}

/// The contract's error codes, each with its status, title and what it means: the one table
/// that the problem answers, the OpenAPI description (`ProblemCode`, and each route's error
/// responses) and `docs/API.md` follow.
macro_rules! codes {
    ($($name:ident = $code:literal, $status:ident, $title:literal, $meaning:literal;)*) => {
        /// A stable machine-readable error code (the `code` of a problem answer).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Code { $($name),* }

        impl Serialize for Code {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl utoipa::PartialSchema for Code {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{ObjectBuilder, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("The stable machine-readable error codes."))
                    .enum_values(Some(Code::ALL.iter().map(|code| code.as_str())))
                    .into()
            }
        }

        impl ToSchema for Code {
            fn name() -> std::borrow::Cow<'static, str> {
                "ProblemCode".into()
            }
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$name),*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$name => $code),* }
            }

            pub fn status(self) -> StatusCode {
                match self { $(Code::$name => StatusCode::$status),* }
            }

            pub fn title(self) -> &'static str {
                match self { $(Code::$name => $title),* }
            }

            /// When a client gets it, for the API description.
            pub fn meaning(self) -> &'static str {
                match self { $(Code::$name => $meaning),* }
            }
        }

        /// One type per code, so that a route's OpenAPI attribute can name the errors it
        /// answers with: `responses((status = 200, …), Errors<(code::Unauthorized, code::Unavailable)>)`.
        pub mod code {
            $(
                #[doc = $meaning]
                #[derive(Debug)]
                pub struct $name;

                impl super::Codes for $name {
                    fn collect(codes: &mut Vec<super::Code>) {
                        codes.push(super::Code::$name);
                    }
                }
            )*
        }
    };
}

codes! {
    MalformedRequest = "malformed_request", BAD_REQUEST, "Malformed request",
        "the body is not valid JSON or form data, or a field is missing or of the wrong type";
    TokenInvalid = "token_invalid", BAD_REQUEST, "Invalid token",
        "the activation, reset, refresh or email-change token is unknown or already spent";
    Unauthorized = "unauthorized", UNAUTHORIZED, "Unauthorized",
        "no access token, or a malformed, expired, tampered or revoked one";
    InvalidCredentials = "invalid_credentials", UNAUTHORIZED, "Invalid credentials",
        "wrong email, username or password (one answer for all)";
    AccountNotActivated = "account_not_activated", FORBIDDEN, "Account not activated",
        "right password, but the account is still pending its email confirmation";
    AccountDisabled = "account_disabled", FORBIDDEN, "Account disabled",
        "right password, but an admin has disabled the account";
    MfaRequired = "mfa_required", FORBIDDEN, "Second factor required",
        "right password; finish the login at `POST /auth/mfa` with the problem's `mfa_token` and one of its `methods`";
    InvalidCode = "invalid_code", UNAUTHORIZED, "Invalid code",
        "the second-factor code is wrong, was already used (a TOTP code works once), or the recovery code is spent";
    MfaTokenInvalid = "mfa_token_invalid", UNAUTHORIZED, "Invalid mfa_token",
        "the `mfa_token` is unknown, used, older than 5 minutes or out of attempts; log in again";
    ReauthenticationRequired = "reauthentication_required", FORBIDDEN, "Reauthentication required",
        "this change needs a fresh authentication of the session (and its second factor, if the account has one): `POST /auth/reauthenticate`, then retry";
    MfaEnrolmentRequired = "mfa_enrolment_required", FORBIDDEN, "Second factor enrolment required",
        "`GATEHOUSE_MFA_REQUIRED` covers this account and it has no second factor yet: enrol one (`POST /mfa/totp`, then `/mfa/totp/confirm`) with this session first";
    MfaAlreadyEnabled = "mfa_already_enabled", CONFLICT, "Second factor already enabled",
        "the account has a confirmed authenticator already; remove it first to enrol another";
    MfaNotEnabled = "mfa_not_enabled", CONFLICT, "No second factor",
        "the account has no second factor (or no enrolment waiting for confirmation)";
    Forbidden = "forbidden", FORBIDDEN, "Forbidden",
        "authenticated, but not allowed: another user's account, an admin route, or the last active admin";
    SignupDisabled = "signup_disabled", FORBIDDEN, "Sign-up disabled",
        "sign-up is closed here (`GATEHOUSE_SIGNUP=closed`): accounts are created by admins";
    NotFound = "not_found", NOT_FOUND, "Not found",
        "no such route, or (for admins) no such account, session or email";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed",
        "the path does not support this method";
    EmailTaken = "email_taken", CONFLICT, "Email taken",
        "another account has this email address";
    UsernameTaken = "username_taken", CONFLICT, "Username taken",
        "another account has this username";
    TokenExpired = "token_expired", GONE, "Link expired",
        "the link is past its expiry; ask for a new one";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "Payload too large",
        "the request body is over 64 KiB";
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "Unsupported media type",
        "the body's content type is not one this route reads";
    ValidationFailed = "validation_failed", UNPROCESSABLE_ENTITY, "Validation failed",
        "well-formed input that breaks a rule; `errors[]` names each field";
    RateLimited = "rate_limited", TOO_MANY_REQUESTS, "Too many requests",
        "too many attempts; wait for `Retry-After` seconds";
    Unavailable = "unavailable", SERVICE_UNAVAILABLE, "Service unavailable",
        "the database, the session store or the hashing pool cannot serve now; nothing was half-written";
    InternalError = "internal_error", INTERNAL_SERVER_ERROR, "Internal error",
        "a bug on the server's side; it has been logged";
}

/// Codes a route can answer with, as named in its OpenAPI attribute: one code type, or a tuple
/// of them.
pub trait Codes {
    fn collect(codes: &mut Vec<Code>);
}

macro_rules! tuple_codes {
    ($($t:ident),+) => {
        impl<$($t: Codes),+> Codes for ($($t,)+) {
            fn collect(codes: &mut Vec<Code>) {
                $($t::collect(codes);)+
            }
        }
    };
}
tuple_codes!(A);
tuple_codes!(A, B);
tuple_codes!(A, B, C);
tuple_codes!(A, B, C, D);
tuple_codes!(A, B, C, D, E);
tuple_codes!(A, B, C, D, E, F);
tuple_codes!(A, B, C, D, E, F, G);
tuple_codes!(A, B, C, D, E, F, G, H);
tuple_codes!(A, B, C, D, E, F, G, H, I);
tuple_codes!(A, B, C, D, E, F, G, H, I, J);
tuple_codes!(A, B, C, D, E, F, G, H, I, J, K);
tuple_codes!(A, B, C, D, E, F, G, H, I, J, K, L);

/// The error responses of a route, for its OpenAPI attribute: one problem+json response per
/// status, whose description lists the codes it may carry and what each means.
#[derive(Debug)]
pub struct Errors<T>(std::marker::PhantomData<T>);

impl<T: Codes> utoipa::IntoResponses for Errors<T> {
    fn responses() -> std::collections::BTreeMap<String, utoipa::openapi::RefOr<utoipa::openapi::response::Response>> {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let mut codes = Vec::new();
        T::collect(&mut codes);
        let mut by_status: std::collections::BTreeMap<u16, Vec<Code>> = std::collections::BTreeMap::new();
        for code in codes {
            by_status.entry(code.status().as_u16()).or_default().push(code);
        }
        by_status
            .into_iter()
            .map(|(status, codes)| {
                let description =
                    codes.iter().map(|c| format!("`{}`: {}", c.as_str(), c.meaning())).collect::<Vec<_>>().join("; ");
                let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
                let response = ResponseBuilder::new()
                    .description(description)
                    .content("application/problem+json", content)
                    .build();
                (status.to_string(), response.into())
            })
            .collect()
    }
}

impl ApiError {
    /// The contract code of each variant.
    fn code(&self) -> Code {
        use ApiError::*;
        match self {
            MalformedRequest(_) | MissingFields(_) => Code::MalformedRequest,
            TokenInvalid => Code::TokenInvalid,
            Unauthorized { .. } | NotBearer => Code::Unauthorized,
            InvalidCredentials => Code::InvalidCredentials,
            AccountNotActivated => Code::AccountNotActivated,
            AccountDisabled => Code::AccountDisabled,
            MfaRequired { .. } => Code::MfaRequired,
            InvalidCode => Code::InvalidCode,
            MfaTokenInvalid => Code::MfaTokenInvalid,
            ReauthenticationRequired => Code::ReauthenticationRequired,
            MfaEnrolmentRequired => Code::MfaEnrolmentRequired,
            MfaAlreadyEnabled => Code::MfaAlreadyEnabled,
            MfaNotEnabled => Code::MfaNotEnabled,
            Forbidden | LastAdmin => Code::Forbidden,
            SignupDisabled => Code::SignupDisabled,
            NotFound(_) => Code::NotFound,
            MethodNotAllowed => Code::MethodNotAllowed,
            EmailTaken => Code::EmailTaken,
            UsernameTaken => Code::UsernameTaken,
            TokenExpired => Code::TokenExpired,
            PayloadTooLarge => Code::PayloadTooLarge,
            UnsupportedMediaType(_) => Code::UnsupportedMediaType,
            ValidationFailed(_) => Code::ValidationFailed,
            RateLimited { .. } => Code::RateLimited,
            Unavailable(..) => Code::Unavailable,
            Internal(_) => Code::InternalError,
        }
    }

    fn detail(&self) -> String {
        use ApiError::*;
        match self {
            MalformedRequest(why) => why.clone(),
            MissingFields(fields) => {
                let named: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
                format!("Missing: {}.", named.join(", "))
            }
            TokenInvalid => "The token is unknown or has already been used.".into(),
            Unauthorized { token_sent: false } => "Send an access token: Authorization: Bearer <token>.".into(),
            Unauthorized { token_sent: true } => {
                "The access token is invalid, expired or revoked; log in again.".into()
            }
            NotBearer => "Send the access token with the Bearer scheme: Authorization: Bearer <token>.".into(),
            InvalidCredentials => "The email, username or password is wrong.".into(),
            AccountNotActivated => {
                "The account is not activated yet: follow the link in the confirmation email.".into()
            }
            AccountDisabled => "The account has been disabled by an administrator.".into(),
            MfaRequired { .. } => {
                "The password is right; send a code from your authenticator (or a recovery code) with the mfa_token to POST /auth/mfa.".into()
            }
            InvalidCode => "The code is wrong or has been used already.".into(),
            MfaTokenInvalid => "The mfa_token is unknown, used, expired or out of attempts; log in again.".into(),
            ReauthenticationRequired => {
                "Confirm it is you: POST /auth/reauthenticate with your password, or a code if the account has a second factor, then retry.".into()
            }
            MfaEnrolmentRequired => {
                "This account needs a second factor: enrol an authenticator app (POST /mfa/totp, then POST /mfa/totp/confirm) first.".into()
            }
            MfaAlreadyEnabled => "An authenticator is enabled already; remove it before enrolling another.".into(),
            MfaNotEnabled => "The account has no second factor (or no enrolment to confirm).".into(),
            Forbidden => "You are not allowed to do this.".into(),
            LastAdmin => "This is the last active admin: make another admin first.".into(),
            SignupDisabled => "Sign-up is closed here: ask an administrator for an account.".into(),
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
        let code = self.code();
        let (status, title) = (code.status(), code.title());
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
            ApiError::MissingFields(fields) => {
                Some(fields.iter().map(|field| ProblemField { field, message: "is required" }).collect())
            }
            _ => None,
        };
        let problem = Problem {
            kind: format!("urn:gatehouse:problem:{}", code.as_str()),
            title,
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors,
            mfa_token: None,
            methods: None,
        };
        let problem = match &self {
            ApiError::MfaRequired { mfa_token, methods } => {
                Problem { mfa_token: Some(mfa_token), methods: Some(methods), ..problem }
            }
            _ => problem,
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
            ApiError::NotBearer => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer realm="gatehouse", error="invalid_request""#),
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
            E::MfaRequired(challenge) => {
                use secrecy::ExposeSecret;
                ApiError::MfaRequired {
                    mfa_token: challenge.mfa_token.expose_secret().to_owned(),
                    methods: challenge.methods,
                }
            }
            E::InvalidCode => ApiError::InvalidCode,
            E::MfaTokenInvalid => ApiError::MfaTokenInvalid,
            E::ReauthenticationRequired => ApiError::ReauthenticationRequired,
            E::MfaEnrolmentRequired => ApiError::MfaEnrolmentRequired,
            E::MfaAlreadyEnabled => ApiError::MfaAlreadyEnabled,
            E::MfaNotEnabled => ApiError::MfaNotEnabled,
            E::Forbidden => ApiError::Forbidden,
            E::LastAdmin => ApiError::LastAdmin,
            E::SignupDisabled => ApiError::SignupDisabled,
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
