//! How an account operation's error becomes the contract's: one arm each.

use super::ApiError;
use crate::accounts;

impl From<accounts::Error> for ApiError {
    fn from(error: accounts::Error) -> Self {
        use accounts::Error as E;
        match error {
            E::Validation(errors) => ApiError::ValidationFailed(errors),
            E::InvalidCredentials => ApiError::InvalidCredentials,
            E::NotActivated => ApiError::AccountNotActivated,
            E::Disabled => ApiError::AccountDisabled,
            E::InvalidCode => ApiError::InvalidCode,
            E::MfaTokenInvalid => ApiError::MfaTokenInvalid,
            E::ReauthenticationRequired => ApiError::ReauthenticationRequired,
            E::MfaEnrolmentRequired => ApiError::MfaEnrolmentRequired,
            E::ApiKeyForbidden => ApiError::ApiKeyForbidden,
            E::ImpersonationForbidden => ApiError::ImpersonationForbidden,
            E::MfaAlreadyEnabled => ApiError::MfaAlreadyEnabled,
            E::MfaNotEnabled => ApiError::MfaNotEnabled,
            E::PasskeysUnavailable => ApiError::PasskeysUnavailable,
            E::WebauthnFailed(why) => ApiError::WebauthnFailed(why),
            E::NotFoundPasskey => ApiError::NotFound("passkey"),
            E::NotFoundClient => ApiError::NotFound("client"),
            E::NotFoundWebhook => ApiError::NotFound("webhook endpoint"),
            E::NotFoundOrg => ApiError::NotFound("organization"),
            E::NotAMember => ApiError::NotAMember,
            E::SlugTaken => ApiError::SlugTaken,
            E::LastOwner => ApiError::LastOwner,
            E::InvitationEmailMismatch => ApiError::InvitationEmailMismatch,
            E::InvitationExpired => ApiError::InvitationExpired,
            E::AlreadyMember => ApiError::AlreadyMember,
            E::RoleTaken => ApiError::RoleTaken,
            E::RoleInUse => ApiError::RoleInUse,
            E::MemberLimitReached => ApiError::MemberLimitReached,
            E::LoginMethodNotAllowed => ApiError::LoginMethodNotAllowed,
            E::NotFoundInvitation => ApiError::NotFound("invitation"),
            E::NotFoundRole => ApiError::NotFound("role"),
            E::NotFoundDomain => ApiError::NotFound("domain"),
            E::DomainExists => ApiError::DomainExists,
            E::DomainTaken => ApiError::DomainTaken,
            E::PublicMailDomain => ApiError::PublicMailDomain,
            E::DomainNotVerified { records } => ApiError::DomainNotVerified(records),
            E::DnsUnavailable => ApiError::DnsUnavailable,
            E::NotFoundConnection => ApiError::NotFound("connection"),
            E::SsoMetadataInvalid(why) => ApiError::SsoMetadataInvalid(why),
            E::SamlInvalid(_) => ApiError::SamlInvalid,
            E::SsoRequired(login_url) => ApiError::SsoRequired { login_url },
            E::SsoConnectionInactive => ApiError::SsoConnectionInactive,
            E::SsoDomainNotVerified => ApiError::SsoDomainNotVerified,
            E::SsoEmailUnverified => ApiError::SsoEmailUnverified,
            E::NotFoundDelivery => ApiError::NotFound("webhook delivery"),
            E::NotFoundScimToken => ApiError::NotFound("SCIM token"),
            E::NotFoundApiKey => ApiError::NotFound("API key"),
            // SCIM's routes answer these in SCIM's own format; elsewhere none arises.
            E::Scim { detail, .. } => ApiError::MalformedRequest(detail),
            E::Forbidden => ApiError::Forbidden,
            E::LastAdmin => ApiError::LastAdmin,
            E::SignupDisabled => ApiError::SignupDisabled,
            E::PasswordlessDisabled => ApiError::PasswordlessDisabled,
            E::UnknownProvider => ApiError::NotFound("provider"),
            E::OidcStateInvalid => ApiError::OidcStateInvalid,
            E::HandoffInvalid => ApiError::HandoffInvalid,
            E::OidcFailed(why) => ApiError::OidcFailed(why),
            E::ProviderUnavailable(why) => ApiError::ProviderUnavailable(why),
            E::IdentityNotLinked => ApiError::IdentityNotLinked,
            E::IdentityTaken => ApiError::IdentityTaken,
            E::ProviderEmailMissing => ApiError::ProviderEmailMissing,
            E::LastWayIn => ApiError::LastWayIn,
            E::NotFoundIdentity => ApiError::NotFound("identity"),
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
