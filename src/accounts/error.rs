//! Every way an account operation can fail, and how the store's and the hashing pool's errors
//! become one of them.

use std::time::Duration;

use crate::model::account::FieldError;
use crate::passwords::HashError;
use crate::store::StoreError;

/// Every way an account operation can fail. The HTTP layer maps each to the contract's code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the input breaks a rule")]
    Validation(Vec<FieldError>),
    #[error("wrong email, username or password")]
    InvalidCredentials,
    #[error("the account is not activated yet")]
    NotActivated,
    #[error("the account is disabled")]
    Disabled,
    #[error("the code is wrong or already used")]
    InvalidCode,
    #[error("the mfa_token is unknown, used, expired or out of attempts")]
    MfaTokenInvalid,
    #[error("a fresh authentication of this session is required")]
    ReauthenticationRequired,
    #[error("this account must enrol a second factor first")]
    MfaEnrolmentRequired,
    #[error("an API key may not do this")]
    ApiKeyForbidden,
    #[error("not while an admin impersonates the account")]
    ImpersonationForbidden,
    #[error("a second factor is enabled already")]
    MfaAlreadyEnabled,
    #[error("no second factor is enabled (or pending confirmation)")]
    MfaNotEnabled,
    #[error("passkeys are off: no domain to bind them to")]
    PasskeysUnavailable,
    #[error("the WebAuthn answer was refused: {0}")]
    WebauthnFailed(&'static str),
    #[error("no such passkey")]
    NotFoundPasskey,
    #[error("no such social login provider")]
    UnknownProvider,
    #[error("the social login's state is unknown, used, expired or from another browser")]
    OidcStateInvalid,
    #[error("the hand-off code was not presented by the browser or client that started its login")]
    HandoffInvalid,
    #[error("the provider's answer was refused: {0}")]
    OidcFailed(String),
    #[error("the provider is unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("no account is linked to this identity, and its address belongs to an account")]
    IdentityNotLinked,
    #[error("this identity is linked to another account")]
    IdentityTaken,
    #[error("the provider gave no email address")]
    ProviderEmailMissing,
    #[error("this identity is the account's last way in")]
    LastWayIn,
    #[error("no such linked identity")]
    NotFoundIdentity,
    #[error("no such client")]
    NotFoundClient,
    #[error("no such organization")]
    NotFoundOrg,
    #[error("the caller is not a member of the organization")]
    NotAMember,
    #[error("the slug belongs to another organization")]
    SlugTaken,
    #[error("the organization's last owner cannot be demoted or removed")]
    LastOwner,
    #[error("the invitation is addressed to another address")]
    InvitationEmailMismatch,
    #[error("the invitation has expired")]
    InvitationExpired,
    #[error("the account is a member already")]
    AlreadyMember,
    #[error("the organization has a role of this name")]
    RoleTaken,
    #[error("members hold the role or invitations offer it")]
    RoleInUse,
    #[error("the organization has as many members as it may")]
    MemberLimitReached,
    #[error("the organization does not take this way of logging in")]
    LoginMethodNotAllowed,
    #[error("no such invitation")]
    NotFoundInvitation,
    #[error("no such role")]
    NotFoundRole,
    #[error("the organization claims no such domain")]
    NotFoundDomain,
    #[error("the organization claims this domain already")]
    DomainExists,
    #[error("another organization verified this domain")]
    DomainTaken,
    #[error("a public mail service's domain cannot be claimed")]
    PublicMailDomain,
    #[error("the domain's TXT record does not hold the challenge ({records} TXT records found)")]
    DomainNotVerified { records: usize },
    #[error("DNS could not be asked")]
    DnsUnavailable,
    #[error("the organization has no such single sign-on connection")]
    NotFoundConnection,
    #[error("the identity provider's metadata is not usable: {0}")]
    SsoMetadataInvalid(String),
    #[error("the identity provider's answer was refused: {0}")]
    SamlInvalid(String),
    /// The organization that verified the address's domain requires its identity provider:
    /// its login URL.
    #[error("the account's organization requires its single sign-on")]
    SsoRequired(String),
    #[error("the connection's organization has verified no domain: it takes no logins")]
    SsoConnectionInactive,
    #[error("the organization's identity provider speaks only for addresses at the domains it verified")]
    SsoDomainNotVerified,
    #[error("the identity provider did not say it verified the address, and the connection takes no such logins")]
    SsoEmailUnverified,
    #[error("no such SCIM token")]
    NotFoundScimToken,
    #[error("no such API key")]
    NotFoundApiKey,
    /// A SCIM request refused, in SCIM's terms (RFC 7644 §3.12): its status, `scimType` and
    /// detail.
    #[error("SCIM request refused ({status}): {detail}")]
    Scim { status: u16, scim_type: Option<&'static str>, detail: String },
    #[error("no such webhook endpoint")]
    NotFoundWebhook,
    #[error("no such webhook delivery")]
    NotFoundDelivery,
    #[error("not allowed")]
    Forbidden,
    #[error("sign-up is closed: accounts are created by admins")]
    SignupDisabled,
    #[error("login by email is off")]
    PasswordlessDisabled,
    #[error("the last active admin cannot be demoted, disabled or deleted")]
    LastAdmin,
    #[error("no such account")]
    NotFound,
    #[error("no such session")]
    SessionNotFound,
    #[error("the email address belongs to another account")]
    EmailTaken,
    #[error("the username belongs to another account")]
    UsernameTaken,
    #[error("the token is unknown or already spent")]
    TokenInvalid,
    #[error("the link has expired")]
    TokenExpired,
    #[error("the access token is missing, invalid, expired or revoked")]
    Unauthorized,
    #[error("too many attempts; retry after {retry_after:?}")]
    RateLimited { retry_after: Duration },
    #[error("too many password checks are waiting")]
    Busy,
    #[error("a backing service is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl Error {
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        Error::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::EmailTaken => Error::EmailTaken,
            StoreError::UsernameTaken => Error::UsernameTaken,
            StoreError::LastAdmin => Error::LastAdmin,
            StoreError::SlugTaken => Error::SlugTaken,
            StoreError::LastOwner => Error::LastOwner,
            StoreError::Conflict => Error::Unexpected(anyhow::anyhow!("a unique key was taken by a concurrent write")),
            StoreError::Unavailable(cause) => Error::Unavailable(cause),
            StoreError::Other(cause) => Error::Unexpected(cause),
        }
    }
}

impl From<HashError> for Error {
    fn from(error: HashError) -> Self {
        match error {
            HashError::Busy => Error::Busy,
            HashError::Stopped => Error::Unavailable(anyhow::anyhow!("the hashing pool has stopped")),
            HashError::Failed(why) => Error::Unexpected(anyhow::anyhow!(why)),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
