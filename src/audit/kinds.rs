//! The names of the events, as stored in `kind`.

pub const SIGNUP: &str = "signup";
/// A sign-up attempt with an address that belongs to an account already.
pub const SIGNUP_EXISTING_EMAIL: &str = "signup.existing_email";
pub const ACTIVATION: &str = "activation";
pub const ACTIVATION_RESEND_REQUESTED: &str = "activation.resend_requested";
pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
pub const LOGIN_FAILED: &str = "login.failed";
/// A login refused by the lockout, before the password was checked.
pub const LOGIN_LOCKED: &str = "login.locked";
/// A right password of an account with a second factor: the login waits for it.
pub const LOGIN_MFA_REQUIRED: &str = "login.mfa_required";
/// A login link and code were asked for (`detail.email` when no account has the address).
pub const EMAIL_LOGIN_REQUESTED: &str = "login.email_requested";
/// A wrong code of a login by email.
pub const EMAIL_LOGIN_FAILED: &str = "login.email_failed";
/// An account was made by a sign-up link or code.
pub const SIGNUP_BY_EMAIL: &str = "signup.by_email";
/// A login through a provider (`detail.provider`).
pub const LOGIN_SOCIAL: &str = "login.social";
/// A provider's answer that was refused (`detail.provider`, `detail.reason`).
pub const LOGIN_SOCIAL_FAILED: &str = "login.social_failed";
/// An account was made by a login through a provider.
pub const SIGNUP_BY_PROVIDER: &str = "signup.by_provider";
/// An identity at a provider was linked (`detail.automatic` when by a trusted address).
pub const IDENTITY_LINKED: &str = "identity.linked";
pub const IDENTITY_UNLINKED: &str = "identity.unlinked";
pub const LOGOUT: &str = "logout";
/// A second factor was enabled (`detail.method`).
pub const MFA_ENABLED: &str = "mfa.enabled";
/// A second factor was removed by its owner.
pub const MFA_DISABLED: &str = "mfa.disabled";
/// A wrong, replayed or spent second-factor code.
pub const MFA_FAILED: &str = "mfa.failed";
pub const MFA_RECOVERY_CODES_RENEWED: &str = "mfa.recovery_codes_renewed";
/// An admin (or an operator) removed every second factor of an account.
pub const ADMIN_MFA_RESET: &str = "admin.mfa_reset";
pub const PASSKEY_ADDED: &str = "passkey.added";
pub const PASSKEY_REMOVED: &str = "passkey.removed";
/// A synced passkey presented other backup flags than stored; accepted.
pub const PASSKEY_BACKUP_CHANGED: &str = "passkey.backup_changed";
/// A session was authenticated afresh (a step-up).
pub const REAUTHENTICATED: &str = "session.reauthenticated";
pub const SESSION_ENDED: &str = "session.ended";
/// A spent refresh token presented again: the session was ended.
pub const REFRESH_REUSED: &str = "refresh.reused";
pub const PASSWORD_CHANGED: &str = "password.changed";
pub const PASSWORD_RESET_REQUESTED: &str = "password.reset_requested";
pub const PASSWORD_RESET: &str = "password.reset";
pub const EMAIL_CHANGE_REQUESTED: &str = "email.change_requested";
pub const EMAIL_CHANGED: &str = "email.changed";
pub const EMAIL_CHANGE_REVERTED: &str = "email.change_reverted";
pub const ACCOUNT_UPDATED: &str = "account.updated";
pub const ACCOUNT_DELETED: &str = "account.deleted";
pub const ADMIN_ACCOUNT_UPDATED: &str = "admin.account_updated";
pub const ADMIN_ACCOUNT_DELETED: &str = "admin.account_deleted";
pub const ADMIN_ACCOUNT_CREATED: &str = "admin.account_created";
pub const ADMIN_SESSIONS_ENDED: &str = "admin.sessions_ended";
/// An admin (or an operator at the command line) had a password-reset link sent.
pub const ADMIN_PASSWORD_RESET_SENT: &str = "admin.password_reset_sent";
/// An admin (or an operator) had the activation link sent again.
pub const ADMIN_ACTIVATION_SENT: &str = "admin.activation_sent";
/// An admin (or an operator) requeued a failed email.
pub const ADMIN_EMAIL_RETRIED: &str = "admin.email_retried";
/// An operator added a signing key.
pub const ADMIN_KEY_ROTATED: &str = "admin.key_rotated";
pub const RATE_LIMITED: &str = "rate_limited";
/// A client app was let in to an account (`detail.client_id`, `detail.scopes`): a code issued.
pub const OAUTH_AUTHORIZED: &str = "oauth.authorized";
/// A person agreed to share scopes with a client (`detail.client_id`, `detail.scopes`).
pub const OAUTH_CONSENTED: &str = "oauth.consented";
/// A client redeemed a code: its session started (`detail.client_id`, `detail.session_id`).
pub const OAUTH_TOKEN_ISSUED: &str = "oauth.token_issued";
/// A spent authorization code presented again: the session it started was ended.
pub const OAUTH_CODE_REUSED: &str = "oauth.code_reused";
/// An admin (or an operator) registered, changed, deleted a client or gave it a new secret.
pub const ADMIN_CLIENT_CREATED: &str = "admin.client_created";
pub const ADMIN_CLIENT_UPDATED: &str = "admin.client_updated";
pub const ADMIN_CLIENT_DELETED: &str = "admin.client_deleted";
pub const ADMIN_CLIENT_SECRET_ROTATED: &str = "admin.client_secret_rotated";
/// An admin (or an operator) registered, changed or deleted a webhook endpoint
/// (`detail.webhook_id`, `.url`, `.events`), or replayed a delivery (`detail.event_id`).
pub const ADMIN_WEBHOOK_CREATED: &str = "admin.webhook_created";
pub const ADMIN_WEBHOOK_UPDATED: &str = "admin.webhook_updated";
pub const ADMIN_WEBHOOK_DELETED: &str = "admin.webhook_deleted";
pub const ADMIN_WEBHOOK_REPLAYED: &str = "admin.webhook_replayed";
/// Accounts were imported (`detail.lines`, `.imported`, `.existing`, `.bad`).
pub const ADMIN_USERS_IMPORTED: &str = "admin.users_imported";
