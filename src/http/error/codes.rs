//! The contract's error codes: one table gives each its status, title and meaning, from which
//! the problem answers, the OpenAPI description (`ProblemCode`, each route's error responses)
//! and `docs/API.md` follow.

use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

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
        "the second-factor code is wrong, was already used (a TOTP code works once), or the recovery code is spent; or the emailed login code is wrong, used, expired or out of tries";
    MfaTokenInvalid = "mfa_token_invalid", UNAUTHORIZED, "Invalid mfa_token",
        "the `mfa_token` is unknown, used, older than 5 minutes or out of attempts; log in again";
    ReauthenticationRequired = "reauthentication_required", FORBIDDEN, "Reauthentication required",
        "this change needs a fresh authentication of the session (and its second factor, if the account has one): `POST /auth/reauthenticate`, then retry";
    MfaEnrolmentRequired = "mfa_enrolment_required", FORBIDDEN, "Second factor enrolment required",
        "`GATEHOUSE_MFA_REQUIRED` covers this account and it has no second factor yet: enrol one (`POST /mfa/totp`, then `/mfa/totp/confirm`) with this session first";
    ApiKeyForbidden = "api_key_forbidden", FORBIDDEN, "Not with an API key",
        "an API key may not manage keys, change the account's credentials, second factors or address, or delete the account: use a login's access token";
    ImpersonationForbidden = "impersonation_forbidden", FORBIDDEN, "Not while impersonating",
        "an admin acting as the account may not change its credentials, second factors or address, manage its keys, delete it or use admin routes";
    MfaAlreadyEnabled = "mfa_already_enabled", CONFLICT, "Second factor already enabled",
        "the account has a confirmed authenticator already; remove it first to enrol another";
    MfaNotEnabled = "mfa_not_enabled", CONFLICT, "No second factor",
        "the account has no second factor (or no enrolment waiting for confirmation)";
    PasskeysUnavailable = "passkeys_unavailable", CONFLICT, "Passkeys unavailable",
        "passkeys are off: the public URL's host is an IP address; the operator sets `GATEHOUSE_WEBAUTHN_RP_ID` (a domain)";
    WebauthnFailed = "webauthn_failed", BAD_REQUEST, "WebAuthn answer refused",
        "the authenticator's answer did not verify: unknown, used or expired options, another origin, or no user verification";
    Forbidden = "forbidden", FORBIDDEN, "Forbidden",
        "authenticated, but not allowed: another user's account, an admin route, or the last active admin";
    NotAMember = "not_a_member", FORBIDDEN, "Not a member",
        "the caller is not (or no longer) a member of the organization; a removal acts at the next request, whatever token the caller holds";
    SignupDisabled = "signup_disabled", FORBIDDEN, "Sign-up disabled",
        "sign-up is closed here (`GATEHOUSE_SIGNUP=closed`): accounts are created by admins";
    PasswordlessDisabled = "passwordless_disabled", FORBIDDEN, "Login by email disabled",
        "login by an emailed link or code is off here (`GATEHOUSE_PASSWORDLESS=off`)";
    OidcStateInvalid = "oidc_state_invalid", BAD_REQUEST, "Social login state invalid",
        "the provider's callback names a login that is unknown, finished, older than 10 minutes, or started in another browser (its binding cookie is missing); start the login again";
    HandoffInvalid = "handoff_invalid", BAD_REQUEST, "Hand-off code from elsewhere",
        "a browser login's hand-off code was presented by a browser other than the one that started the login (its `gatehouse_handoff` cookie), or by a client without the `code_verifier` of the `code_challenge` it started the login with; the code is spent, nothing else changes; start the login again";
    OidcFailed = "oidc_failed", BAD_REQUEST, "Social login refused",
        "the provider's answer does not prove an identity: it refused, or the code, or the ID token's signature, issuer, audience, nonce or expiry, did not verify";
    ProviderUnavailable = "provider_unavailable", BAD_GATEWAY, "Provider unavailable",
        "the identity provider cannot be reached, or answered outside its protocol; try again later";
    IdentityNotLinked = "identity_not_linked", CONFLICT, "Identity not linked",
        "no account is linked to this identity and its address belongs to an account that cannot be linked by itself: log in to it and link the provider (`POST /user/identities/{provider}`)";
    IdentityTaken = "identity_taken", CONFLICT, "Identity taken",
        "this identity at the provider is linked to another account";
    ProviderEmailMissing = "provider_email_missing", UNPROCESSABLE_ENTITY, "Provider gave no email",
        "a new account needs an email address and the provider gave none (a GitHub account without a public or verified address, say)";
    LastWayIn = "last_way_in", CONFLICT, "Last way in",
        "the identity is the account's only way in (no other identity, no passkey, and an unconfirmed address): add one first";
    NotFound = "not_found", NOT_FOUND, "Not found",
        "no such route, or (for admins) no such account, session or email";
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED, "Method not allowed",
        "the path does not support this method";
    EmailTaken = "email_taken", CONFLICT, "Email taken",
        "another account has this email address";
    UsernameTaken = "username_taken", CONFLICT, "Username taken",
        "another account has, or once had, this username: a username once given is never given to another account";
    SlugTaken = "slug_taken", CONFLICT, "Slug taken",
        "another organization has this slug; choose another";
    LastOwner = "last_owner", CONFLICT, "Last owner",
        "the change would leave the organization without an owner: make another member an owner first";
    InvitationEmailMismatch = "invitation_email_mismatch", FORBIDDEN, "Invitation is for another address",
        "the invitation was sent to another address than the caller's verified one: log in with the invited address (confirm it first)";
    InvitationExpired = "invitation_expired", GONE, "Invitation expired",
        "the invitation is past its expiry (`GATEHOUSE_INVITATION_TTL`); ask for a new one";
    AlreadyMember = "already_member", CONFLICT, "Already a member",
        "the address belongs to an account that is a member of the organization already";
    RoleTaken = "role_exists", CONFLICT, "Role exists",
        "the organization has a role of this name already (the built-in owner, admin and member among them)";
    RoleInUse = "role_in_use", CONFLICT, "Role in use",
        "members hold the role, or pending invitations offer it: give them another role (or revoke the invitations) first";
    LoginMethodNotAllowed = "login_method_not_allowed", FORBIDDEN, "Login method not allowed",
        "the organization's policy does not take the way this session was started (`login_methods`): log in another way to enter it";
    MemberLimitReached = "member_limit_reached", CONFLICT, "Member limit reached",
        "the organization has as many members as `GATEHOUSE_ORG_MEMBER_LIMIT` allows";
    DomainExists = "domain_exists", CONFLICT, "Domain claimed already",
        "the organization claims this domain already: verify it, or remove it first";
    DomainTaken = "domain_taken", CONFLICT, "Domain taken",
        "another organization verified this domain: one organization at most holds a domain";
    PublicMailDomain = "public_mail_domain", UNPROCESSABLE_ENTITY, "Public mail domain",
        "anyone may have an address at this mail service (gmail.com, outlook.com…), so no organization can claim it";
    DomainNotVerified = "domain_verification_failed", UNPROCESSABLE_ENTITY, "Domain not verified",
        "no TXT record at `_gatehouse-challenge.<domain>` holds the challenge: publish it (`challenge.value`), wait for DNS to carry it, then ask again";
    DnsUnavailable = "dns_unavailable", SERVICE_UNAVAILABLE, "DNS unavailable",
        "the DNS servers did not answer (`GATEHOUSE_DNS_RESOLVER`); try again later";
    SsoMetadataInvalid = "sso_metadata_invalid", UNPROCESSABLE_ENTITY, "Identity provider metadata not usable",
        "the SAML metadata is not an identity provider's with an HTTP-Redirect login URL (https) and a signing certificate (RSA 2048+ or EC P-256/P-384); `detail` says what is missing";
    SsoRequired = "sso_required", FORBIDDEN, "Single sign-on required",
        "the organization that verified the address's domain requires its identity provider: log in at the problem's `login_url` (a password, email link, passkey or social login is refused; its owners keep their ways in)";
    SsoConnectionInactive = "sso_connection_inactive", FORBIDDEN, "Connection not active",
        "the connection's organization has verified no domain (`POST /orgs/{org}/domains/{domain}/verify`): until one is, its connections send no browser to their identity provider and take no answer from it";
    SsoDomainNotVerified = "sso_domain_not_verified", FORBIDDEN, "Address outside the organization's domains",
        "an organization's identity provider logs in, links and makes accounts only for addresses at domains the organization verified: log in another way";
    SsoEmailUnverified = "sso_email_unverified", FORBIDDEN, "Address not verified by the identity provider",
        "the ID token does not say the provider verified the address (`email_verified`): no account is made from it unless the connection allows it (`allow_unverified_email`), and none is ever linked";
    SamlInvalid = "saml_invalid", BAD_REQUEST, "SAML answer refused",
        "the identity provider's answer failed a check (signature, audience, validity, the request it answers, a replay…); the reason is in gatehouse's log and audit trail (`login.social_failed`), never in the answer";
    TokenExpired = "token_expired", GONE, "Link expired",
        "the link is past its expiry; ask for a new one";
    PayloadTooLarge = "payload_too_large", PAYLOAD_TOO_LARGE, "Payload too large",
        "the request body is over what the route takes (64 KiB; SAML 1 MiB; an import 64 MiB)";
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
