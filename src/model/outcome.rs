//! What happened: a use case's outcome as one value ([`Outcome`]: kind, account, actor,
//! where the request came from, detail), and the tables that derive from it all that is told of
//! it: the audit trail's row, the webhook events, the metric, and whether the account's cached
//! copy goes stale. [`Effects`] is what a change commits beside its own rows (the outcomes'
//! audit rows and webhook jobs, and the emails), in the same transaction.
//!
//! A new kind of event is one variant here and a row in each table that concerns it.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::audit::AuditEvent;
use super::email::NewEmail;
use super::webhook::{Event, EventType};

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
    /// An operator added a member (`detail.org_id`, `.role`); the account is the member.
    OrgMemberAdded,
    /// A member's role changed (`detail.org_id`, `.role`, `.previous`); the account is the member.
    OrgMemberUpdated,
    /// A member was removed, or left (`detail.org_id`, `.left`); the account is the member.
    OrgMemberRemoved,
}

impl Kind {
    pub const ALL: [Kind; 64] = [
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
        Kind::AdminPasswordResetSent,
        Kind::AdminActivationSent,
        Kind::AdminEmailRetried,
        Kind::AdminKeyRotated,
        Kind::RateLimited,
        Kind::OauthAuthorized,
        Kind::OauthConsented,
        Kind::OauthTokenIssued,
        Kind::OauthCodeReused,
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
            Kind::AdminPasswordResetSent => "admin.password_reset_sent",
            Kind::AdminActivationSent => "admin.activation_sent",
            Kind::AdminEmailRetried => "admin.email_retried",
            Kind::AdminKeyRotated => "admin.key_rotated",
            Kind::RateLimited => "rate_limited",
            Kind::OauthAuthorized => "oauth.authorized",
            Kind::OauthConsented => "oauth.consented",
            Kind::OauthTokenIssued => "oauth.token_issued",
            Kind::OauthCodeReused => "oauth.code_reused",
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
        }
    }

    /// The counter the outcome adds one to, beside the audit row: a name, and a label with its
    /// value where the kind has one.
    fn counter(self) -> Option<&'static str> {
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

/// Where a request came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

/// One outcome of a use case.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The audit row's id (a UUIDv7): fixed when the outcome is made, so a write retried after
    /// a lost answer stores it once.
    pub id: Uuid,
    pub kind: Kind,
    /// The account it happened to, when known.
    pub account_id: Option<Uuid>,
    /// The admin who did it, for admin actions.
    pub actor_id: Option<Uuid>,
    pub origin: Origin,
    /// A small JSON object (never a password, hash or token).
    pub detail: Map<String, Value>,
}

/// A counter to add one to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counter {
    pub name: &'static str,
    /// A label and its value.
    pub label: Option<(&'static str, &'static str)>,
}

impl Outcome {
    pub fn new(kind: Kind) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind,
            account_id: None,
            actor_id: None,
            origin: Origin::default(),
            detail: Map::new(),
        }
    }

    /// The account it happened to.
    pub fn account(mut self, id: Uuid) -> Self {
        self.account_id = Some(id);
        self
    }

    /// The admin who acted.
    pub fn actor(mut self, id: Uuid) -> Self {
        self.actor_id = Some(id);
        self
    }

    pub fn origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Adds the fields of a JSON object to the detail (anything else is ignored).
    pub fn detail(mut self, detail: Value) -> Self {
        if let Value::Object(fields) = detail {
            self.detail.extend(fields);
        }
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.detail.get(key).and_then(Value::as_str)
    }

    /// The audit trail's row.
    pub fn audit(&self) -> AuditEvent {
        let mut event = AuditEvent::new(self.kind.as_str());
        event.id = self.id;
        event.account_id = self.account_id;
        event.actor_id = self.actor_id;
        event.ip = self.origin.ip.clone();
        event.user_agent = self.origin.user_agent.clone();
        event.request_id = self.origin.request_id.clone();
        event.detail = (!self.detail.is_empty()).then(|| Value::Object(self.detail.clone()));
        event
    }

    /// The webhook events it is told as (their names and details are the contract's).
    pub fn webhooks(&self) -> Vec<Event> {
        let Some(account) = self.account_id else { return Vec::new() };
        let event = |kind| Event::new(kind, account);
        let mfa =
            |factor: &str, change: &str| event(EventType::UserMfaChanged).with("factor", factor).with("change", change);
        let revoked = |reason: &str, session: Option<&str>| {
            let event = event(EventType::SessionRevoked).with("reason", reason);
            match session {
                Some(id) => event.with("session_id", id),
                None => event.with("scope", "all"),
            }
        };
        let login = || {
            let mut login = event(EventType::UserLogin);
            for key in ["session_id", "client_id"] {
                if let Some(value) = self.text(key) {
                    login = login.with(key, value);
                }
            }
            login
        };
        let linked = || event(EventType::IdentityLinked).with("provider", self.text("provider").unwrap_or_default());
        match self.kind {
            Kind::Signup | Kind::SignupByEmail | Kind::AdminAccountCreated => vec![event(EventType::UserCreated)],
            Kind::SignupByProvider => vec![event(EventType::UserCreated), linked()],
            Kind::Activation => vec![event(EventType::UserActivated)],
            Kind::LoginSucceeded | Kind::OauthTokenIssued => vec![login()],
            Kind::IdentityLinked => vec![linked()],
            Kind::MfaEnabled => vec![mfa(self.text("method").unwrap_or("totp"), "added")],
            Kind::MfaDisabled => vec![mfa("totp", "removed")],
            Kind::PasskeyAdded => vec![mfa("passkey", "added")],
            Kind::PasskeyRemoved => vec![mfa("passkey", "removed")],
            Kind::AdminMfaReset => vec![mfa("all", "removed")],
            Kind::PasswordChanged | Kind::PasswordReset => vec![event(EventType::UserPasswordChanged)],
            Kind::AccountUpdated | Kind::AdminAccountUpdated | Kind::EmailChanged | Kind::EmailChangeReverted => {
                let mut events = vec![event(EventType::UserUpdated)];
                if self.detail.get("activated") == Some(&Value::Bool(true)) {
                    events.push(event(EventType::UserActivated));
                }
                events
            }
            Kind::AccountDeleted | Kind::AdminAccountDeleted => vec![event(EventType::UserDeleted)],
            Kind::Logout => match self.text("scope") {
                Some("all") => vec![revoked("logout_all", None)],
                _ => vec![revoked("logout", self.text("session_id"))],
            },
            Kind::SessionEnded => vec![revoked("ended", self.text("session_id"))],
            Kind::AdminSessionsEnded => vec![revoked("admin", None)],
            _ => Vec::new(),
        }
    }

    /// The counter it adds one to, if any.
    pub fn counter(&self) -> Option<Counter> {
        let name = self.kind.counter()?;
        let label = match self.kind {
            Kind::Logout => Some((
                "scope",
                match self.text("scope") {
                    Some("all") => "all",
                    Some("browser") => "browser",
                    _ => "session",
                },
            )),
            _ => None,
        };
        Some(Counter { name, label })
    }
}

/// What a change commits beside its own rows, in the same transaction: its outcomes (each an
/// audit row and its webhook jobs) and the emails it sends.
#[derive(Debug, Default)]
pub struct Effects {
    pub outcomes: Vec<Outcome>,
    pub emails: Vec<NewEmail>,
}

impl Effects {
    /// Nothing beside the change itself.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn of(outcome: Outcome) -> Self {
        Self { outcomes: vec![outcome], emails: Vec::new() }
    }

    pub fn and(mut self, outcome: Outcome) -> Self {
        self.outcomes.push(outcome);
        self
    }

    pub fn email(mut self, email: NewEmail) -> Self {
        self.emails.push(email);
        self
    }

    /// The audit rows.
    pub fn audit(&self) -> Vec<AuditEvent> {
        self.outcomes.iter().map(Outcome::audit).collect()
    }

    /// The webhook events, in the order of the outcomes.
    pub fn webhooks(&self) -> Vec<Event> {
        self.outcomes.iter().flat_map(Outcome::webhooks).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty() && self.emails.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    fn told(outcome: &Outcome) -> Vec<(EventType, Value)> {
        outcome.webhooks().into_iter().map(|e| (e.kind, Value::Object(e.detail))).collect()
    }

    #[test]
    fn every_kind_has_its_own_name() {
        let names: HashSet<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
    }

    #[test]
    fn every_change_of_an_account_is_told_to_the_webhooks() {
        let account = Uuid::now_v7();
        for kind in Kind::ALL.into_iter().filter(|k| k.changes_account()) {
            assert!(!Outcome::new(kind).account(account).webhooks().is_empty(), "{kind:?} tells nothing");
        }
        assert!(Outcome::new(Kind::PasswordChanged).webhooks().is_empty(), "no account, nothing to tell");
    }

    #[test]
    fn the_webhook_events_follow_from_the_outcome() {
        let account = Uuid::now_v7();
        let outcome = |kind| Outcome::new(kind).account(account);
        assert_eq!(told(&outcome(Kind::LoginFailed)), []);
        assert_eq!(
            told(&outcome(Kind::Logout).with("scope", "all").with("session_id", "s1")),
            [(EventType::SessionRevoked, json!({ "reason": "logout_all", "scope": "all" }))]
        );
        assert_eq!(
            told(&outcome(Kind::Logout).with("scope", "browser").with("session_id", "s1")),
            [(EventType::SessionRevoked, json!({ "reason": "logout", "session_id": "s1" }))]
        );
        assert_eq!(
            told(&outcome(Kind::AdminAccountUpdated).with("activated", true)),
            [(EventType::UserUpdated, json!({})), (EventType::UserActivated, json!({}))]
        );
        assert_eq!(
            told(&outcome(Kind::SignupByProvider).with("provider", "github").with("active", false)),
            [(EventType::UserCreated, json!({})), (EventType::IdentityLinked, json!({ "provider": "github" }))]
        );
        assert_eq!(
            told(&outcome(Kind::OauthTokenIssued).with("client_id", "app").with("session_id", "s2")),
            [(EventType::UserLogin, json!({ "session_id": "s2", "client_id": "app" }))]
        );
        assert_eq!(
            told(&outcome(Kind::MfaEnabled).with("method", "totp")),
            [(EventType::UserMfaChanged, json!({ "factor": "totp", "change": "added" }))]
        );
        assert_eq!(
            told(&outcome(Kind::AdminMfaReset)),
            [(EventType::UserMfaChanged, json!({ "factor": "all", "change": "removed" }))]
        );
    }

    #[test]
    fn the_audit_row_is_the_outcome() {
        let (account, actor) = (Uuid::now_v7(), Uuid::now_v7());
        let origin = Origin { ip: Some("192.0.2.1".into()), user_agent: Some("curl/8".into()), request_id: None };
        let outcome =
            Outcome::new(Kind::AdminAccountDeleted).account(account).actor(actor).origin(origin).with("email", "a@x");
        let row = outcome.audit();
        assert_eq!((row.id, row.kind.as_str()), (outcome.id, "admin.account_deleted"));
        assert_eq!((row.account_id, row.actor_id), (Some(account), Some(actor)));
        assert_eq!((row.ip.as_deref(), row.user_agent.as_deref()), (Some("192.0.2.1"), Some("curl/8")));
        assert_eq!(row.detail, Some(json!({ "email": "a@x" })));
        assert_eq!(Outcome::new(Kind::Logout).audit().detail, None, "no detail, no empty object");
    }

    #[test]
    fn the_counters_follow_from_the_kind() {
        let logout = Outcome::new(Kind::Logout).with("scope", "browser");
        assert_eq!(
            logout.counter(),
            Some(Counter { name: "gatehouse_logouts_total", label: Some(("scope", "browser")) })
        );
        let signup = Outcome::new(Kind::SignupByEmail);
        assert_eq!(signup.counter(), Some(Counter { name: "gatehouse_signups_total", label: None }));
        assert_eq!(Outcome::new(Kind::LoginFailed).counter(), None);
    }

    #[test]
    fn effects_list_rows_and_events_in_order() {
        let account = Uuid::now_v7();
        let effects = Effects::of(Outcome::new(Kind::PasswordReset).account(account))
            .and(Outcome::new(Kind::AccountDeleted).account(account));
        let kinds: Vec<EventType> = effects.webhooks().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventType::UserPasswordChanged, EventType::UserDeleted]);
        assert_eq!(effects.audit().len(), 2);
        assert!(Effects::none().is_empty() && !effects.is_empty());
    }
}
