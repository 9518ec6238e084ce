//! The one HTTP error type. Each variant is one of the contract's `code`s; one exhaustive match
//! gives its status, and every error leaves as RFC 9457 problem+json. Unexpected errors are
//! logged once, with their cause chain, inside the request's span; the client hears only
//! "internal error".

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::accounts::{self, FieldError};

mod codes;
mod from_accounts;

pub use self::codes::{Code, Codes, Errors, code};

#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not valid JSON or form data, or a field is mistyped.
    MalformedRequest(String),
    /// 400 `malformed_request`: required fields are missing; `errors[]` names each.
    MissingFields(Vec<String>),
    /// 400: an activation, reset or refresh token is unknown or spent.
    TokenInvalid,
    /// 401: no token, or a bad, expired or revoked one.
    Unauthorized {
        token_sent: bool,
    },
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
    MfaRequired {
        mfa_token: String,
        methods: Vec<&'static str>,
    },
    /// 401: a wrong, replayed or spent second-factor code.
    InvalidCode,
    /// 401: the `mfa_token` is unknown, spent, expired or out of attempts.
    MfaTokenInvalid,
    /// 403: the session must authenticate afresh (`POST /auth/reauthenticate`).
    ReauthenticationRequired,
    /// 403: the account must enrol a second factor before anything else.
    MfaEnrolmentRequired,
    /// 403: an API key may not do this (manage keys, change credentials, delete the account).
    ApiKeyForbidden,
    /// 403: not while an admin impersonates the account.
    ImpersonationForbidden,
    /// 409
    MfaAlreadyEnabled,
    /// 409
    MfaNotEnabled,
    /// 409: passkeys are off (no domain to bind them to).
    PasskeysUnavailable,
    /// 400: a WebAuthn answer was refused, and why.
    WebauthnFailed(&'static str),
    /// 403: authenticated, but not allowed.
    Forbidden,
    /// 403 `forbidden`: the change would leave no active admin.
    LastAdmin,
    /// 403: sign-up is closed.
    SignupDisabled,
    /// 403: login by email is off.
    PasswordlessDisabled,
    /// 400: a social login's `state` is unknown, spent, expired or from another browser.
    OidcStateInvalid,
    /// 400: a hand-off code presented by a browser or client other than the one that started
    /// its login.
    HandoffInvalid,
    /// 400: the provider's answer did not prove an identity, and why.
    OidcFailed(String),
    /// 502: the provider cannot be reached.
    ProviderUnavailable(String),
    /// 409: the identity is new and its address belongs to an account: log in and link.
    IdentityNotLinked,
    /// 409: the identity is linked to another account.
    IdentityTaken,
    /// 422: the provider gave no (usable) email address for a new account.
    ProviderEmailMissing,
    /// 409: the identity is the account's last way in.
    LastWayIn,
    /// 404: no such route, account or session.
    NotFound(&'static str),
    /// 405
    MethodNotAllowed,
    /// 403: not (or no longer) a member of the organization.
    NotAMember,
    /// 409: another organization has the slug.
    SlugTaken,
    /// 409: the change would leave an organization without an owner.
    LastOwner,
    InvitationEmailMismatch,
    InvitationExpired,
    AlreadyMember,
    RoleTaken,
    RoleInUse,
    MemberLimitReached,
    LoginMethodNotAllowed,
    DomainExists,
    DomainTaken,
    PublicMailDomain,
    /// 422: the challenge is not published; how many TXT records were found.
    DomainNotVerified(usize),
    DnsUnavailable,
    /// 422: why the metadata is not usable (the admin's own document).
    SsoMetadataInvalid(String),
    /// 400: the reason goes to the log and the audit trail, never to the browser.
    SamlInvalid,
    /// 403: the organization that verified the address's domain requires its identity provider
    /// (`login_url`).
    SsoRequired {
        login_url: String,
    },
    /// 403: the connection's organization has verified no domain.
    SsoConnectionInactive,
    /// 403: the address is at no domain the organization verified.
    SsoDomainNotVerified,
    /// 403: the ID token does not say the address is verified.
    SsoEmailUnverified,
    /// 409
    EmailTaken,
    /// 409
    UsernameTaken,
    /// 410: the link has expired.
    TokenExpired,
    /// 413: the body is over what the route takes (64 KiB; 1 MiB for SAML, 64 MiB for an import).
    PayloadTooLarge,
    /// 415
    UnsupportedMediaType(String),
    /// 422: well-formed input that breaks a rule.
    ValidationFailed(Vec<FieldError>),
    /// 429: too many requests; try again after the delay.
    RateLimited {
        retry_after: std::time::Duration,
    },
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
    /// (`totp`, `webauthn`, `recovery_code`).
    #[serde(skip_serializing_if = "Option::is_none")]
    methods: Option<&'a [&'static str]>,
    /// With `sso_required`: where to log in instead (the organization's identity provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    login_url: Option<&'a str>,
}

/// One field's problem in a `validation_failed` answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FieldProblem)]
struct ProblemField<'a> {
    field: &'a str,
    message: &'a str,
}

impl ApiError {
    /// The contract's code, as in the problem's `code`.
    pub fn code_str(&self) -> &'static str {
        self.code().as_str()
    }

    /// The answer's status.
    pub fn status(&self) -> axum::http::StatusCode {
        self.code().status()
    }

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
            ApiKeyForbidden => Code::ApiKeyForbidden,
            ImpersonationForbidden => Code::ImpersonationForbidden,
            MfaAlreadyEnabled => Code::MfaAlreadyEnabled,
            MfaNotEnabled => Code::MfaNotEnabled,
            PasskeysUnavailable => Code::PasskeysUnavailable,
            WebauthnFailed(_) => Code::WebauthnFailed,
            Forbidden | LastAdmin => Code::Forbidden,
            SignupDisabled => Code::SignupDisabled,
            PasswordlessDisabled => Code::PasswordlessDisabled,
            OidcStateInvalid => Code::OidcStateInvalid,
            HandoffInvalid => Code::HandoffInvalid,
            OidcFailed(_) => Code::OidcFailed,
            ProviderUnavailable(_) => Code::ProviderUnavailable,
            IdentityNotLinked => Code::IdentityNotLinked,
            IdentityTaken => Code::IdentityTaken,
            ProviderEmailMissing => Code::ProviderEmailMissing,
            LastWayIn => Code::LastWayIn,
            NotFound(_) => Code::NotFound,
            MethodNotAllowed => Code::MethodNotAllowed,
            EmailTaken => Code::EmailTaken,
            UsernameTaken => Code::UsernameTaken,
            NotAMember => Code::NotAMember,
            SlugTaken => Code::SlugTaken,
            LastOwner => Code::LastOwner,
            InvitationEmailMismatch => Code::InvitationEmailMismatch,
            InvitationExpired => Code::InvitationExpired,
            AlreadyMember => Code::AlreadyMember,
            RoleTaken => Code::RoleTaken,
            RoleInUse => Code::RoleInUse,
            MemberLimitReached => Code::MemberLimitReached,
            LoginMethodNotAllowed => Code::LoginMethodNotAllowed,
            DomainExists => Code::DomainExists,
            DomainTaken => Code::DomainTaken,
            PublicMailDomain => Code::PublicMailDomain,
            DomainNotVerified(_) => Code::DomainNotVerified,
            DnsUnavailable => Code::DnsUnavailable,
            SsoMetadataInvalid(_) => Code::SsoMetadataInvalid,
            SamlInvalid => Code::SamlInvalid,
            SsoRequired { .. } => Code::SsoRequired,
            SsoConnectionInactive => Code::SsoConnectionInactive,
            SsoDomainNotVerified => Code::SsoDomainNotVerified,
            SsoEmailUnverified => Code::SsoEmailUnverified,
            TokenExpired => Code::TokenExpired,
            PayloadTooLarge => Code::PayloadTooLarge,
            UnsupportedMediaType(_) => Code::UnsupportedMediaType,
            ValidationFailed(_) => Code::ValidationFailed,
            RateLimited { .. } => Code::RateLimited,
            Unavailable(..) => Code::Unavailable,
            Internal(_) => Code::InternalError,
        }
    }

    pub fn detail(&self) -> String {
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
            ApiKeyForbidden => {
                "An API key may not do this: managing keys, changing credentials, second factors or the address, and deleting the account take a login.".into()
            }
            ImpersonationForbidden => {
                "An admin acting as this account may not do this: credentials, second factors, the address, keys, deleting the account and admin routes are the owner's own.".into()
            }
            MfaAlreadyEnabled => "An authenticator is enabled already; remove it before enrolling another.".into(),
            MfaNotEnabled => "The account has no second factor (or no enrolment to confirm).".into(),
            PasskeysUnavailable => {
                "Passkeys are off here: they need a domain name (GATEHOUSE_WEBAUTHN_RP_ID), not an IP address.".into()
            }
            WebauthnFailed(why) => format!("The passkey's answer was refused: {why}."),
            Forbidden => "You are not allowed to do this.".into(),
            LastAdmin => "This is the last active admin: make another admin first.".into(),
            SignupDisabled => "Sign-up is closed here: ask an administrator for an account.".into(),
            PasswordlessDisabled => "Login by an emailed link or code is off here; log in with your password.".into(),
            OidcStateInvalid => "This login is unknown, already finished, too old, or was started in another browser; start it again.".into(),
            HandoffInvalid => "This login was started in another browser, or by another app: start it again here (an app sends the code_verifier of the code_challenge it started the login with).".into(),
            OidcFailed(why) => format!("The provider's answer was refused: {why}."),
            // What failed (addresses, connection errors) is logged and audited, not shown.
            ProviderUnavailable(_) => "The provider cannot be reached now; try again later.".into(),
            IdentityNotLinked => "No account is linked to this login. If you have an account here, log in and link it from your account settings.".into(),
            IdentityTaken => "This login is linked to another account already.".into(),
            ProviderEmailMissing => "The provider gave no email address, which a new account needs; make one available to this site at the provider, or sign up with your address.".into(),
            LastWayIn => "This is the account's last way in: add a passkey or another login, or confirm your email address, first.".into(),
            NotFound(what) => format!("No such {what}."),
            MethodNotAllowed => "This path does not support this method.".into(),
            EmailTaken => "An account with this email address exists already.".into(),
            UsernameTaken => "An account with this username exists already.".into(),
            NotAMember => "You are not a member of this organization.".into(),
            SlugTaken => "Another organization has this slug; choose another.".into(),
            LastOwner => "This is the organization's last owner: make another member an owner first.".into(),
            InvitationEmailMismatch => "This invitation was sent to another address. Log in with that address (confirmed) to accept it.".into(),
            InvitationExpired => "This invitation has expired; ask the organization for a new one.".into(),
            AlreadyMember => "This account is a member of the organization already.".into(),
            RoleTaken => "The organization has a role of this name already.".into(),
            RoleInUse => "Members hold this role or invitations offer it; change those first.".into(),
            MemberLimitReached => "The organization has as many members as it may have.".into(),
            LoginMethodNotAllowed => "This organization does not take this way of logging in; log in another way to enter it.".into(),
            DomainExists => "The organization claims this domain already.".into(),
            DomainTaken => "Another organization verified this domain.".into(),
            PublicMailDomain => "Anyone may have an address at this mail service, so no organization can claim its domain.".into(),
            DomainNotVerified(0) => "No TXT record was found at the challenge's name; publish it and ask again once DNS carries it.".into(),
            DomainNotVerified(n) => format!("{n} TXT record(s) found at the challenge's name, none holding the challenge's value."),
            DnsUnavailable => "DNS could not be asked now; try again later.".into(),
            SsoMetadataInvalid(why) => format!("The identity provider's metadata is not usable: {why}."),
            SamlInvalid => "The identity provider's answer was refused; the reason is in gatehouse's log and audit trail.".into(),
            SsoRequired { .. } => "Your organization requires you to log in through its identity provider: go to login_url.".into(),
            SsoConnectionInactive => "This single sign-on connection takes no logins until its organization verifies a domain.".into(),
            SsoDomainNotVerified => "This organization's identity provider logs in only addresses at the domains the organization verified; log in another way.".into(),
            SsoEmailUnverified => "The identity provider did not say it verified this address, so no account is made or linked from this login; ask the organization's IT.".into(),
            TokenExpired => "The link has expired; ask for a new one.".into(),
            PayloadTooLarge => "The request body is larger than this route takes: 64 KiB (a SAML metadata or answer: 1 MiB; an import: 64 MiB).".into(),
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
            login_url: None,
        };
        let problem = match &self {
            ApiError::MfaRequired { mfa_token, methods } => {
                Problem { mfa_token: Some(mfa_token), methods: Some(methods), ..problem }
            }
            ApiError::SsoRequired { login_url } => Problem { login_url: Some(login_url), ..problem },
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

/// The token pair a login step ended with, or the API's `403 mfa_required` for the second step,
/// with its `mfa_token` and the methods the account offers.
pub fn tokens(step: accounts::LoginStep) -> Result<accounts::TokenPair, ApiError> {
    use secrecy::ExposeSecret;
    match step {
        accounts::LoginStep::Session(pair) => Ok(*pair),
        accounts::LoginStep::SecondFactor(challenge) => Err(ApiError::MfaRequired {
            mfa_token: challenge.mfa_token.expose_secret().to_owned(),
            methods: challenge.methods,
        }),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

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
