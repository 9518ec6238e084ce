//! Webhooks' values: the event types (their names are the contract's), an event about an
//! account, a registered endpoint and a delivery as the log shows it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a webhook tells of. The names are the contract's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserActivated,
    UserUpdated,
    UserDeleted,
    UserLogin,
    UserPasswordChanged,
    UserMfaChanged,
    SessionRevoked,
    IdentityLinked,
    OrganizationCreated,
    OrganizationUpdated,
    OrganizationDeleted,
    MemberAdded,
    MemberUpdated,
    MemberRemoved,
    InvitationCreated,
    InvitationAccepted,
    InvitationRevoked,
    ApiKeyCreated,
    ApiKeyRevoked,
}

impl EventType {
    pub const ALL: [EventType; 20] = [
        EventType::UserCreated,
        EventType::UserActivated,
        EventType::UserUpdated,
        EventType::UserDeleted,
        EventType::UserLogin,
        EventType::UserPasswordChanged,
        EventType::UserMfaChanged,
        EventType::SessionRevoked,
        EventType::IdentityLinked,
        EventType::OrganizationCreated,
        EventType::OrganizationUpdated,
        EventType::OrganizationDeleted,
        EventType::MemberAdded,
        EventType::MemberUpdated,
        EventType::MemberRemoved,
        EventType::InvitationCreated,
        EventType::InvitationAccepted,
        EventType::InvitationRevoked,
        EventType::ApiKeyCreated,
        EventType::ApiKeyRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserActivated => "user.activated",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeleted => "user.deleted",
            EventType::UserLogin => "user.login",
            EventType::UserPasswordChanged => "user.password_changed",
            EventType::UserMfaChanged => "user.mfa_changed",
            EventType::SessionRevoked => "session.revoked",
            EventType::IdentityLinked => "identity.linked",
            EventType::OrganizationCreated => "organization.created",
            EventType::OrganizationUpdated => "organization.updated",
            EventType::OrganizationDeleted => "organization.deleted",
            EventType::MemberAdded => "member.added",
            EventType::MemberUpdated => "member.updated",
            EventType::MemberRemoved => "member.removed",
            EventType::InvitationCreated => "invitation.created",
            EventType::InvitationAccepted => "invitation.accepted",
            EventType::InvitationRevoked => "invitation.revoked",
            EventType::ApiKeyCreated => "api_key.created",
            EventType::ApiKeyRevoked => "api_key.revoked",
        }
    }

    pub fn parse(name: &str) -> Option<EventType> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// Something that happened to an account, to be told to the endpoints that receive its type.
/// The store adds the account as it stands in the same transaction (before a deletion, after
/// any other change), and the event's id (a UUIDv7: the `webhook-id`, and the order of the
/// account's events) and time, taken there, after the change locked the account's row: so two
/// changes of one account racing each other are told in the order they committed.
#[derive(Clone, Debug)]
pub struct Event {
    pub kind: EventType,
    pub account_id: Uuid,
    /// Details beside the account (a JSON object: the provider linked, the factor changed…);
    /// never a secret.
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl Event {
    pub fn new(kind: EventType, account_id: Uuid) -> Self {
        Self { kind, account_id, detail: serde_json::Map::new() }
    }

    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }

    /// What a delivery of the event keeps: its details, and as `account` the account as the
    /// change left it, in the account's own form (the delivery worker writes it as the API shows
    /// it when it sends, as it does for the jobs of every earlier release).
    pub fn payload(&self, account: &crate::model::account::Account) -> serde_json::Result<String> {
        let mut data = self.detail.clone();
        data.insert("account".into(), serde_json::to_value(account)?);
        Ok(serde_json::Value::Object(data).to_string())
    }
}

/// Whether an endpoint receives events of `kind`: enabled, and subscribed to it (its event
/// types as stored, space-separated).
pub fn receives(enabled: bool, events: &str, kind: EventType) -> bool {
    enabled && events.split_whitespace().any(|name| name == kind.as_str())
}

/// A registered endpoint (its secret is kept apart, sealed).
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    Queued,
    Sending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(name: &str) -> Option<DeliveryStatus> {
        [Self::Queued, Self::Sending, Self::Delivered, Self::Failed].into_iter().find(|s| s.as_str() == name)
    }
}

/// One event owed to one endpoint, as the delivery log shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub kind: String,
    pub account_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    /// The HTTP status of the last answer, when there was one.
    pub last_response_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// An endpoint just registered, with its secret: shown this once.
#[derive(Debug)]
pub struct EndpointWithSecret {
    pub endpoint: Endpoint,
    pub secret: secrecy::SecretString,
}
