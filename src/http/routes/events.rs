//! The audit trail for admins (`GET /admin/events`): newest first, filtered, a page at a time.
//! The cursor is the id of the last event of the previous page (a UUIDv7, so the next page is
//! simply the events with smaller ids); clients pass `next_cursor` back as it came. It is
//! `null` on the last page.

use std::net::IpAddr;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::accounts::FieldError;
use crate::audit::{AuditEvent, EventFilter, SHORT_TEXT_MAX};
use crate::http::error::{ApiError, Errors, code};
use crate::http::extract::{Auth, Client, Query};
use crate::http::state::AppState;

/// Events per page unless `limit` says otherwise, and the most `limit` may ask for.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 500;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/events", get(list))
}

/// The filters, as sent; each is checked by [`filter`].
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events about this account (its id).
    #[param(value_type = Option<Uuid>)]
    account: Option<String>,
    /// An exact kind (`login.failed`), or a prefix ending in a dot (`login.`).
    #[param(example = "login.")]
    kind: Option<String>,
    /// Only events from this client IP address.
    #[param(example = "192.0.2.7")]
    ip: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    until: Option<String>,
    /// Events per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEventPage)]
pub struct EventPage {
    pub events: Vec<EventBody>,
    /// Pass it as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One security event.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = AuditEvent, example = json!({
    "id": "0193b5d2-7c1e-7a4b-9d3e-2f1a6c8b9e01", "at": "2026-01-02T03:04:05.678901Z", "kind": "login.failed",
    "account_id": "0193b5d2-7c1e-7a4b-9d3e-2f1a6c8b9e02", "actor_id": null, "ip": "192.0.2.7",
    "user_agent": "Mozilla/5.0", "request_id": "0193b5d2-7c1e-7a4b-9d3e-2f1a6c8b9e03",
    "detail": {"login": "ann@example.com"}
}))]
pub struct EventBody {
    /// UUIDv7.
    pub id: Uuid,
    /// RFC 3339, UTC, to the microsecond.
    pub at: String,
    /// What happened: `signup`, `login.failed`, `password.reset`, `admin.account_updated`, …
    pub kind: String,
    /// The account it happened to, when known.
    pub account_id: Option<Uuid>,
    /// The admin who did it, for admin actions.
    pub actor_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `X-Request-Id` of the request that caused it.
    pub request_id: Option<String>,
    /// Details of the event (never a password, hash or token).
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<AuditEvent> for EventBody {
    fn from(event: AuditEvent) -> Self {
        Self {
            id: event.id,
            at: event.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            kind: event.kind,
            account_id: event.account_id,
            actor_id: event.actor_id,
            ip: event.ip,
            user_agent: event.user_agent,
            request_id: event.request_id,
            detail: event.detail,
        }
    }
}

#[utoipa::path(
    get, path = "/admin/events", summary = "The audit trail", operation_id = "listEvents", tag = "admin", security(("bearer" = [])),
    description = "Security events (sign-ups, logins, password and email changes, admin actions, refusals), newest first. Filters combine; page with `cursor`.",
    params(EventQuery),
    responses((status = 200, description = "A page of events", body = EventPage), Errors<(code::MalformedRequest, code::Unauthorized, code::Forbidden, code::ValidationFailed, code::Unavailable)>)
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Client(client): Client,
    Query(query): Query<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let admin = state.accounts.as_admin(&caller, &client).await?;
    let filter = filter(query)?;
    let page = filter.limit as usize;
    // One more than a page: whether it comes back says whether there is a next page.
    let mut events = admin.events(&EventFilter { limit: filter.limit + 1, ..filter }).await?;
    let next_cursor = if events.len() > page {
        events.truncate(page);
        events.last().map(|last| last.id.to_string())
    } else {
        None
    };
    Ok(Json(EventPage { events: events.into_iter().map(EventBody::from).collect(), next_cursor }))
}

/// Checks every parameter, reporting all that are wrong at once.
fn filter(query: EventQuery) -> Result<EventFilter, ApiError> {
    let mut errors = Vec::new();
    let mut check = |field: &'static str, ok: bool, message: &str| {
        if !ok {
            errors.push(FieldError::new(field, message));
        }
    };

    let account_id = query.account.as_deref().map(|text| Uuid::parse_str(text.trim()));
    check("account", !matches!(account_id, Some(Err(_))), "account is an account id (a UUID)");

    let kind = query.kind.filter(|kind| !kind.is_empty());
    let kind_ok = kind.as_deref().is_none_or(|kind| {
        kind.len() <= SHORT_TEXT_MAX
            && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._".contains(&b))
    });
    check("kind", kind_ok, "kind is an event kind like login.failed, or a prefix ending in a dot like login.");

    let ip = query.ip.as_deref().map(|text| text.trim().parse::<IpAddr>());
    check("ip", !matches!(ip, Some(Err(_))), "ip is an IPv4 or IPv6 address");

    let since = query.since.as_deref().map(time);
    check("since", !matches!(since, Some(Err(_))), "since is an RFC 3339 time, like 2026-01-02T03:04:05Z");
    let until = query.until.as_deref().map(time);
    check("until", !matches!(until, Some(Err(_))), "until is an RFC 3339 time, like 2026-01-02T03:04:05Z");
    if let (Some(Ok(since)), Some(Ok(until))) = (&since, &until) {
        check("until", since < until, "until is after since");
    }

    let limit = query.limit.as_deref().map_or(Ok(DEFAULT_LIMIT), |text| text.trim().parse::<u32>());
    let limit_ok = limit.as_ref().is_ok_and(|n| (1..=MAX_LIMIT).contains(n));
    check("limit", limit_ok, "limit is a whole number from 1 to 500");

    let before = query.cursor.as_deref().map(|text| Uuid::parse_str(text.trim()));
    check("cursor", !matches!(before, Some(Err(_))), "cursor is the next_cursor of a previous page");

    match (account_id.transpose(), ip.transpose(), since.transpose(), until.transpose(), limit, before.transpose()) {
        (Ok(account_id), Ok(ip), Ok(since), Ok(until), Ok(limit), Ok(before)) if errors.is_empty() => {
            Ok(EventFilter { account_id, kind, ip: ip.map(|ip| ip.to_string()), since, until, before, limit })
        }
        _ => Err(ApiError::ValidationFailed(errors)),
    }
}

fn time(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text.trim()).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> EventQuery {
        let text = serde_urlencoded::to_string(pairs).unwrap();
        serde_urlencoded::from_str(&text).unwrap()
    }

    fn fields(result: Result<EventFilter, ApiError>) -> Vec<&'static str> {
        match result {
            Err(ApiError::ValidationFailed(errors)) => errors.iter().map(|e| e.field).collect(),
            other => panic!("expected a validation failure, got {other:?}"),
        }
    }

    #[test]
    fn no_parameters_mean_the_newest_fifty_of_everything() {
        let filter = filter(EventQuery::default()).unwrap();
        assert_eq!(filter.limit, 50);
        assert!(filter.account_id.is_none() && filter.kind.is_none() && filter.before.is_none());
    }

    #[test]
    fn every_parameter_is_parsed() {
        let id = Uuid::now_v7();
        let filter = filter(query(&[
            ("account", &id.to_string()),
            ("kind", "login."),
            ("ip", "2001:db8:0:0::1"),
            ("since", "2026-01-02T03:04:05+01:00"),
            ("until", "2026-01-03T00:00:00Z"),
            ("limit", "500"),
            ("cursor", &id.to_string()),
        ]))
        .unwrap();
        assert_eq!(filter.account_id, Some(id));
        assert_eq!(filter.kind.as_deref(), Some("login."));
        assert_eq!(filter.ip.as_deref(), Some("2001:db8::1"), "the address in its canonical form");
        assert_eq!(filter.since.unwrap().to_rfc3339(), "2026-01-02T02:04:05+00:00");
        assert_eq!(filter.limit, 500);
        assert_eq!(filter.before, Some(id));
    }

    #[test]
    fn bad_parameters_are_all_reported() {
        let result = filter(query(&[
            ("account", "ann@example.com"),
            ("kind", "LOGIN%"),
            ("ip", "localhost"),
            ("since", "yesterday"),
            ("until", "2026-13-01T00:00:00Z"),
            ("limit", "0"),
            ("cursor", "abc"),
        ]));
        assert_eq!(fields(result), ["account", "kind", "ip", "since", "until", "limit", "cursor"]);
    }

    #[test]
    fn limits_outside_one_to_five_hundred_are_refused() {
        for limit in ["501", "-1", "ten", "4294967296"] {
            assert_eq!(fields(filter(query(&[("limit", limit)]))), ["limit"], "{limit}");
        }
        assert_eq!(filter(query(&[("limit", "1")])).unwrap().limit, 1);
    }

    #[test]
    fn until_must_be_after_since() {
        let result = filter(query(&[("since", "2026-01-02T00:00:00Z"), ("until", "2026-01-01T00:00:00Z")]));
        assert_eq!(fields(result), ["until"]);
    }
}
