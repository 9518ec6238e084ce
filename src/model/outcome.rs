//! What happened: a use case's outcome as one value ([`Outcome`]: kind, account, actor,
//! where the request came from, detail), and the tables that derive from it all that is told of
//! it: the audit trail's row, the webhook events, the metric, and whether the account's cached
//! copy goes stale. [`Effects`] is what a change commits beside its own rows (the outcomes'
//! audit rows and webhook jobs, and the emails), in the same transaction.
//!
//! A new kind of event is one variant of [`Kind`] (`outcome/kind.rs`) and a row in each table
//! that concerns it.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::audit::AuditEvent;
use super::email::NewEmail;
use super::webhook::{Event, EventType};

mod kind;
pub use self::kind::Kind;

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
        // An organization's events carry what names it and what changed, beside the account
        // (the member's, or for the organization's own events the one who acted).
        let org = |kind| {
            let mut event = event(kind);
            for key in ["org_id", "slug", "role", "previous", "left", "invitation_id", "email", "changed"] {
                if let Some(value) = self.detail.get(key) {
                    event = event.with(key, value.clone());
                }
            }
            event
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
            Kind::OrgCreated => vec![org(EventType::OrganizationCreated)],
            Kind::OrgUpdated => vec![org(EventType::OrganizationUpdated)],
            Kind::OrgDeleted => vec![org(EventType::OrganizationDeleted)],
            Kind::OrgMemberAdded => vec![org(EventType::MemberAdded)],
            Kind::OrgMemberUpdated => vec![org(EventType::MemberUpdated)],
            Kind::OrgMemberRemoved => vec![org(EventType::MemberRemoved)],
            Kind::InvitationCreated => vec![org(EventType::InvitationCreated)],
            Kind::InvitationAccepted => vec![org(EventType::InvitationAccepted), org(EventType::MemberAdded)],
            Kind::InvitationRevoked => vec![org(EventType::InvitationRevoked)],
            Kind::ApiKeyCreated | Kind::ApiKeyRevoked => {
                let kind =
                    if self.kind == Kind::ApiKeyCreated { EventType::ApiKeyCreated } else { EventType::ApiKeyRevoked };
                let mut event = event(kind);
                for key in ["key_id", "name", "scopes", "org_id"] {
                    if let Some(value) = self.detail.get(key) {
                        event = event.with(key, value.clone());
                    }
                }
                vec![event]
            }
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
