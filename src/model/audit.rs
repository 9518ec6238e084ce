//! One security event as the audit trail keeps it (texts cut to what every backend keeps), and
//! the filter an admin lists events by.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One security event.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEvent {
    /// UUIDv7: sorts by time; the pagination cursor.
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// What happened, like `login.failed` (the names of `Kind` in outcome.rs).
    pub kind: String,
    /// The account it happened to, when known.
    pub account_id: Option<Uuid>,
    /// The admin who did it, for admin actions.
    pub actor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// A small JSON object with the details (never a password, hash or token).
    pub detail: Option<serde_json::Value>,
}

/// The longest `kind`, `ip` and `request_id` the stores keep, in bytes (the MySQL columns).
pub const SHORT_TEXT_MAX: usize = 64;
/// The longest `user_agent` the stores keep, in bytes.
pub const USER_AGENT_MAX: usize = 512;

impl AuditEvent {
    /// An event of `kind` happening now, with a fresh id.
    pub fn new(kind: &str) -> Self {
        Self {
            id: Uuid::now_v7(),
            at: to_micros(Utc::now()),
            kind: kind.to_owned(),
            account_id: None,
            actor_id: None,
            ip: None,
            user_agent: None,
            request_id: None,
            detail: None,
        }
    }

    /// The account the event happened to.
    pub fn account(mut self, id: Uuid) -> Self {
        self.account_id = Some(id);
        self
    }

    /// The admin who acted.
    pub fn actor(mut self, id: Uuid) -> Self {
        self.actor_id = Some(id);
        self
    }

    /// Where the request came from.
    pub fn client(mut self, ip: Option<String>, user_agent: Option<String>, request_id: Option<String>) -> Self {
        self.ip = ip;
        self.user_agent = user_agent;
        self.request_id = request_id;
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The event as every store keeps it: the time at the microsecond, text cut to the column
    /// sizes (at a character boundary), and no NUL characters (PostgreSQL cannot store them in
    /// TEXT or JSONB), so that an odd user agent or login name never costs the event.
    pub fn storable(&self) -> AuditEvent {
        let text = |value: &str, max: usize| clip(&value.replace('\0', ""), max).to_owned();
        AuditEvent {
            id: self.id,
            at: to_micros(self.at),
            kind: text(&self.kind, SHORT_TEXT_MAX),
            account_id: self.account_id,
            actor_id: self.actor_id,
            ip: self.ip.as_deref().map(|ip| text(ip, SHORT_TEXT_MAX)),
            user_agent: self.user_agent.as_deref().map(|agent| text(agent, USER_AGENT_MAX)),
            request_id: self.request_id.as_deref().map(|id| text(id, SHORT_TEXT_MAX)),
            detail: self.detail.as_ref().map(without_nul),
        }
    }
}

/// A time at the microsecond, the precision every backend keeps.
fn to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn without_nul(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(s.replace('\0', "")),
        Value::Array(items) => Value::Array(items.iter().map(without_nul).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.replace('\0', ""), without_nul(v))).collect()),
        other => other.clone(),
    }
}

/// Which events to list: newest first, before `before` (the previous page's last id).
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub account_id: Option<Uuid>,
    /// An exact kind (`login.failed`) or a prefix ending in `.` (`login.`).
    pub kind: Option<String>,
    pub ip: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before: Option<Uuid>,
    pub limit: u32,
}

impl EventFilter {
    /// Whether an event passes the filter (all but `limit`): the stores say the same in SQL.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        let kind = match self.kind.as_deref() {
            None => true,
            Some(prefix) if prefix.ends_with('.') => event.kind.starts_with(prefix),
            Some(kind) => event.kind == kind,
        };
        kind && self.account_id.is_none_or(|id| event.account_id == Some(id))
            && self.ip.as_deref().is_none_or(|ip| event.ip.as_deref() == Some(ip))
            && self.since.is_none_or(|since| event.at >= since)
            && self.until.is_none_or(|until| event.at < until)
            && self.before.is_none_or(|before| event.id < before)
    }
}
