//! The kinds of outcome: each one's name in the audit trail, its counter, and whether it
//! changes the account's row.

/// What happened. Its name (`as_str`) is the audit trail's `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Signup,
    /// A sign-up attempt with an address that belongs to an account already.
    SignupExistingEmail,
    Activation,
    ActivationResendRequested,
    LoginSucceeded,
    LoginFailed,
    /// A login refused by the lockout, before the password was checked.
    LoginLocked,
    /// A right password of an account with a second factor: the login waits for it.
    LoginMfaRequired,
    /// A login link and code were asked for (`detail.email` when no account has the address).
    EmailLoginRequested,
    /// A wrong code of a login by email.
    EmailLoginFailed,
    /// An account was made by a sign-up link or code.
    SignupByEmail,
    /// A login through a provider (`detail.provider`).
    LoginSocial,
    /// A provider's answer that was refused (`detail.provider`, `detail.reason`).
    LoginSocialFailed,
    /// An account was made by a login through a provider.
    SignupByProvider,
    /// An identity at a provider was linked (`detail.automatic` when by a trusted address).
    IdentityLinked,
    IdentityUnlinked,
    Logout,
    /// A second factor was enabled (`detail.method`).
    MfaEnabled,
    /// A second factor was removed by its owner.
    MfaDisabled,
    /// A wrong, replayed or spent second-factor code.
    MfaFailed,
    MfaRecoveryCodesRenewed,
    /// An admin (or an operator) removed every second factor of an account.
    AdminMfaReset,
    PasskeyAdded,
    PasskeyRemoved,
    /// A synced passkey presented other backup flags than stored; accepted.
    PasskeyBackupChanged,
    /// A session was authenticated afresh (a step-up).
    Reauthenticated,
    SessionEnded,
    /// A spent refresh token presented again: the session was ended.
    RefreshReused,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailChangeRequested,
    EmailChanged,
    EmailChangeReverted,
    AccountUpdated,
    AccountDeleted,
    AdminAccountUpdated,
    AdminAccountDeleted,
    AdminAccountCreated,
    AdminSessionsEnded,
    /// An admin began acting as the account (`detail.reason`, `.session_id`, `.expires_at`).
    AdminImpersonated,
    /// An admin (or an operator at the command line) had a password-reset link sent.
    AdminPasswordResetSent,
    /// An admin (or an operator) had the activation link sent again.
    AdminActivationSent,
    /// An admin (or an operator) requeued a failed email.
    AdminEmailRetried,
    /// An operator added a signing key.
    AdminKeyRotated,
    RateLimited,
    /// A client app was let in to an account (`detail.client_id`, `detail.scopes`): a code issued.
    OauthAuthorized,
    /// A person agreed to share scopes with a client (`detail.client_id`, `detail.scopes`).
    OauthConsented,
    /// A client redeemed a code: its session started (`detail.client_id`, `detail.session_id`).
    OauthTokenIssued,
    /// A spent authorization code presented again: the session it started was ended.
    OauthCodeReused,
    /// A person denied a device's request on `/device` (`detail.client_id`, `detail.scopes`);
    /// an approval is `OauthAuthorized` with `detail.grant` the device grant.
    OauthDeviceDenied,
    /// A client registered itself (RFC 7591), or changed or removed itself with its
    /// registration access token (RFC 7592) (`detail.client_id`, `.name`, …).
    OauthClientRegistered,
    OauthClientRegistrationUpdated,
    OauthClientRegistrationDeleted,
    /// An admin issued or withdrew an initial access token for client registration
    /// (`detail.token_id`, `.name`, `.uses`).
    AdminRegistrationTokenCreated,
    AdminRegistrationTokenDeleted,
    /// An admin (or an operator) registered, changed, deleted a client or gave it a new secret.
    AdminClientCreated,
    AdminClientUpdated,
    AdminClientDeleted,
    AdminClientSecretRotated,
    /// An admin (or an operator) registered, changed or deleted a webhook endpoint
    /// (`detail.webhook_id`, `.url`, `.events`), or replayed a delivery (`detail.event_id`).
    AdminWebhookCreated,
    AdminWebhookUpdated,
    AdminWebhookDeleted,
    AdminWebhookReplayed,
    /// Accounts were imported (`detail.lines`, `.imported`, `.existing`, `.bad`).
    AdminUsersImported,
    /// An organization was created (`detail.org_id`, `.slug`); the account is its first owner.
    OrgCreated,
    /// An organization's name, slug or data changed (`detail.org_id`, `.changed`).
    OrgUpdated,
    /// An organization was deleted with its memberships (`detail.org_id`, `.slug`).
    OrgDeleted,
    /// An operator added a member, or its verified address's domain joined it (`detail.org_id`,
    /// `.role`, and `.via`: `domain` with `.domain`); the account is the member.
    OrgMemberAdded,
    /// A member's role changed (`detail.org_id`, `.role`, `.previous`); the account is the member.
    OrgMemberUpdated,
    /// A member was removed, or left (`detail.org_id`, `.left`); the account is the member.
    OrgMemberRemoved,
    /// An organization defined a role (`detail.org_id`, `.role`, `.permissions`).
    OrgRoleCreated,
    /// A custom role's permissions changed (`detail.org_id`, `.role`, `.permissions`, `.previous`).
    OrgRoleUpdated,
    /// A custom role was removed (`detail.org_id`, `.role`).
    OrgRoleDeleted,
    /// An address was invited (`detail.org_id`, `.invitation_id`, `.email`, `.role`); the
    /// account is the inviter's.
    InvitationCreated,
    /// An invitation was accepted; the account is the new member.
    InvitationAccepted,
    /// A pending invitation was revoked; the account is the revoker's.
    InvitationRevoked,
    /// A session's active organization changed (`detail.session_id`, `.org_id`: none when cleared).
    OrgSwitched,
    /// An organization claimed a domain (`detail.org_id`, `.domain`, `.auto_join_role`).
    OrgDomainAdded,
    /// An organization's domain was verified by its DNS record (`detail.org_id`, `.domain`).
    OrgDomainVerified,
    /// A domain's auto-join role was set or cleared (`detail.org_id`, `.domain`, `.auto_join_role`).
    OrgDomainUpdated,
    /// An organization gave up a domain (`detail.org_id`, `.domain`).
    OrgDomainRemoved,
    /// An organization added a single sign-on connection (`detail.org_id`, `.connection_id`, `.type`).
    OrgSsoAdded,
    /// A single sign-on connection's settings changed (`detail.org_id`, `.connection_id`, `.fields`).
    OrgSsoUpdated,
    /// A single sign-on connection was removed (`detail.org_id`, `.connection_id`).
    OrgSsoRemoved,
    /// An organization made a SCIM token (`detail.org_id`, `.token_id`, `.name`).
    OrgScimTokenAdded,
    /// A SCIM token was revoked (`detail.org_id`, `.token_id`).
    OrgScimTokenRemoved,
    /// The organization's SCIM client made a group (`detail.org_id`, `.group_id`, `.name`).
    OrgGroupAdded,
    /// A group's name or members changed (`detail.org_id`, `.group_id`, `.name`).
    OrgGroupUpdated,
    /// A group was deleted (`detail.org_id`, `.group_id`).
    OrgGroupRemoved,
    /// An API key was made (`detail.key_id`, `.name`, `.scopes`; `.org_id` for an
    /// organization's key, the account being the member who made it).
    ApiKeyCreated,
    /// An API key was revoked (`detail.key_id`; `.org_id` for an organization's key).
    ApiKeyRevoked,
}

impl Kind {
    pub const ALL: [Kind; 92] = [
        Kind::Signup,
        Kind::SignupExistingEmail,
        Kind::Activation,
        Kind::ActivationResendRequested,
        Kind::LoginSucceeded,
        Kind::LoginFailed,
        Kind::LoginLocked,
        Kind::LoginMfaRequired,
        Kind::EmailLoginRequested,
        Kind::EmailLoginFailed,
        Kind::SignupByEmail,
        Kind::LoginSocial,
        Kind::LoginSocialFailed,
        Kind::SignupByProvider,
        Kind::IdentityLinked,
        Kind::IdentityUnlinked,
        Kind::Logout,
        Kind::MfaEnabled,
        Kind::MfaDisabled,
        Kind::MfaFailed,
        Kind::MfaRecoveryCodesRenewed,
        Kind::AdminMfaReset,
        Kind::PasskeyAdded,
        Kind::PasskeyRemoved,
        Kind::PasskeyBackupChanged,
        Kind::Reauthenticated,
        Kind::SessionEnded,
        Kind::RefreshReused,
        Kind::PasswordChanged,
        Kind::PasswordResetRequested,
        Kind::PasswordReset,
        Kind::EmailChangeRequested,
        Kind::EmailChanged,
        Kind::EmailChangeReverted,
        Kind::AccountUpdated,
        Kind::AccountDeleted,
        Kind::AdminAccountUpdated,
        Kind::AdminAccountDeleted,
        Kind::AdminAccountCreated,
        Kind::AdminSessionsEnded,
        Kind::AdminImpersonated,
        Kind::AdminPasswordResetSent,
        Kind::AdminActivationSent,
        Kind::AdminEmailRetried,
        Kind::AdminKeyRotated,
        Kind::RateLimited,
        Kind::OauthAuthorized,
        Kind::OauthConsented,
        Kind::OauthTokenIssued,
        Kind::OauthCodeReused,
        Kind::OauthDeviceDenied,
        Kind::OauthClientRegistered,
        Kind::OauthClientRegistrationUpdated,
        Kind::OauthClientRegistrationDeleted,
        Kind::AdminRegistrationTokenCreated,
        Kind::AdminRegistrationTokenDeleted,
        Kind::AdminClientCreated,
        Kind::AdminClientUpdated,
        Kind::AdminClientDeleted,
        Kind::AdminClientSecretRotated,
        Kind::AdminWebhookCreated,
        Kind::AdminWebhookUpdated,
        Kind::AdminWebhookDeleted,
        Kind::AdminWebhookReplayed,
        Kind::AdminUsersImported,
        Kind::OrgCreated,
        Kind::OrgUpdated,
        Kind::OrgDeleted,
        Kind::OrgMemberAdded,
        Kind::OrgMemberUpdated,
        Kind::OrgMemberRemoved,
        Kind::OrgRoleCreated,
        Kind::OrgRoleUpdated,
        Kind::OrgRoleDeleted,
        Kind::InvitationCreated,
        Kind::InvitationAccepted,
        Kind::InvitationRevoked,
        Kind::OrgSwitched,
        Kind::OrgDomainAdded,
        Kind::OrgDomainVerified,
        Kind::OrgDomainUpdated,
        Kind::OrgDomainRemoved,
        Kind::OrgSsoAdded,
        Kind::OrgSsoUpdated,
        Kind::OrgSsoRemoved,
        Kind::OrgScimTokenAdded,
        Kind::OrgScimTokenRemoved,
        Kind::OrgGroupAdded,
        Kind::OrgGroupUpdated,
        Kind::OrgGroupRemoved,
        Kind::ApiKeyCreated,
        Kind::ApiKeyRevoked,
    ];
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Signup => "signup",
            Kind::SignupExistingEmail => "signup.existing_email",
            Kind::Activation => "activation",
            Kind::ActivationResendRequested => "activation.resend_requested",
            Kind::LoginSucceeded => "login.succeeded",
            Kind::LoginFailed => "login.failed",
            Kind::LoginLocked => "login.locked",
            Kind::LoginMfaRequired => "login.mfa_required",
            Kind::EmailLoginRequested => "login.email_requested",
            Kind::EmailLoginFailed => "login.email_failed",
            Kind::SignupByEmail => "signup.by_email",
            Kind::LoginSocial => "login.social",
            Kind::LoginSocialFailed => "login.social_failed",
            Kind::SignupByProvider => "signup.by_provider",
            Kind::IdentityLinked => "identity.linked",
            Kind::IdentityUnlinked => "identity.unlinked",
            Kind::Logout => "logout",
            Kind::MfaEnabled => "mfa.enabled",
            Kind::MfaDisabled => "mfa.disabled",
            Kind::MfaFailed => "mfa.failed",
            Kind::MfaRecoveryCodesRenewed => "mfa.recovery_codes_renewed",
            Kind::AdminMfaReset => "admin.mfa_reset",
            Kind::PasskeyAdded => "passkey.added",
            Kind::PasskeyRemoved => "passkey.removed",
            Kind::PasskeyBackupChanged => "passkey.backup_changed",
            Kind::Reauthenticated => "session.reauthenticated",
            Kind::SessionEnded => "session.ended",
            Kind::RefreshReused => "refresh.reused",
            Kind::PasswordChanged => "password.changed",
            Kind::PasswordResetRequested => "password.reset_requested",
            Kind::PasswordReset => "password.reset",
            Kind::EmailChangeRequested => "email.change_requested",
            Kind::EmailChanged => "email.changed",
            Kind::EmailChangeReverted => "email.change_reverted",
            Kind::AccountUpdated => "account.updated",
            Kind::AccountDeleted => "account.deleted",
            Kind::AdminAccountUpdated => "admin.account_updated",
            Kind::AdminAccountDeleted => "admin.account_deleted",
            Kind::AdminAccountCreated => "admin.account_created",
            Kind::AdminSessionsEnded => "admin.sessions_ended",
            Kind::AdminImpersonated => "admin.impersonated",
            Kind::AdminPasswordResetSent => "admin.password_reset_sent",
            Kind::AdminActivationSent => "admin.activation_sent",
            Kind::AdminEmailRetried => "admin.email_retried",
            Kind::AdminKeyRotated => "admin.key_rotated",
            Kind::RateLimited => "rate_limited",
            Kind::OauthAuthorized => "oauth.authorized",
            Kind::OauthConsented => "oauth.consented",
            Kind::OauthTokenIssued => "oauth.token_issued",
            Kind::OauthCodeReused => "oauth.code_reused",
            Kind::OauthDeviceDenied => "oauth.device_denied",
            Kind::OauthClientRegistered => "oauth.client_registered",
            Kind::OauthClientRegistrationUpdated => "oauth.client_registration_updated",
            Kind::OauthClientRegistrationDeleted => "oauth.client_registration_deleted",
            Kind::AdminRegistrationTokenCreated => "admin.registration_token_created",
            Kind::AdminRegistrationTokenDeleted => "admin.registration_token_deleted",
            Kind::AdminClientCreated => "admin.client_created",
            Kind::AdminClientUpdated => "admin.client_updated",
            Kind::AdminClientDeleted => "admin.client_deleted",
            Kind::AdminClientSecretRotated => "admin.client_secret_rotated",
            Kind::AdminWebhookCreated => "admin.webhook_created",
            Kind::AdminWebhookUpdated => "admin.webhook_updated",
            Kind::AdminWebhookDeleted => "admin.webhook_deleted",
            Kind::AdminWebhookReplayed => "admin.webhook_replayed",
            Kind::AdminUsersImported => "admin.users_imported",
            Kind::OrgCreated => "org.created",
            Kind::OrgUpdated => "org.updated",
            Kind::OrgDeleted => "org.deleted",
            Kind::OrgMemberAdded => "org.member_added",
            Kind::OrgMemberUpdated => "org.member_updated",
            Kind::OrgMemberRemoved => "org.member_removed",
            Kind::OrgRoleCreated => "org.role_created",
            Kind::OrgRoleUpdated => "org.role_updated",
            Kind::OrgRoleDeleted => "org.role_deleted",
            Kind::InvitationCreated => "invitation.created",
            Kind::InvitationAccepted => "invitation.accepted",
            Kind::InvitationRevoked => "invitation.revoked",
            Kind::OrgSwitched => "session.org_switched",
            Kind::OrgDomainAdded => "org.domain_added",
            Kind::OrgDomainVerified => "org.domain_verified",
            Kind::OrgDomainUpdated => "org.domain_updated",
            Kind::OrgDomainRemoved => "org.domain_removed",
            Kind::OrgSsoAdded => "org.sso_added",
            Kind::OrgSsoUpdated => "org.sso_updated",
            Kind::OrgSsoRemoved => "org.sso_removed",
            Kind::OrgScimTokenAdded => "org.scim_token_added",
            Kind::OrgScimTokenRemoved => "org.scim_token_removed",
            Kind::OrgGroupAdded => "org.group_added",
            Kind::OrgGroupUpdated => "org.group_updated",
            Kind::OrgGroupRemoved => "org.group_removed",
            Kind::ApiKeyCreated => "api_key.created",
            Kind::ApiKeyRevoked => "api_key.revoked",
        }
    }

    /// The counter the outcome adds one to, beside the audit row: a name, and a label with its
    /// value where the kind has one.
    pub(super) fn counter(self) -> Option<&'static str> {
        match self {
            Kind::Signup | Kind::SignupByEmail | Kind::SignupByProvider => Some("gatehouse_signups_total"),
            Kind::Activation => Some("gatehouse_activations_total"),
            Kind::Logout => Some("gatehouse_logouts_total"),
            _ => None,
        }
    }

    /// Whether the outcome changed the account's row: the session store's copy of it is stale.
    pub fn changes_account(self) -> bool {
        matches!(
            self,
            Kind::Activation
                | Kind::PasswordChanged
                | Kind::PasswordReset
                | Kind::AccountUpdated
                | Kind::AdminAccountUpdated
                | Kind::EmailChanged
                | Kind::EmailChangeReverted
                | Kind::AccountDeleted
                | Kind::AdminAccountDeleted
        )
    }
}
