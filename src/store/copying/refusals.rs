//! What stops a copy before it writes anything: what the source holds that would be lost, and
//! a target in use.

use chrono::{DateTime, Utc};

use super::orgs::all_orgs;
use crate::model::admin::{AccountQuery, OutboxQuery};
use crate::model::audit::EventFilter;
use crate::model::webhook::DeliveryStatus;
use crate::store::Store;
use crate::store::webhooks::DeliveryQuery;

/// What `from` holds that this copy does not carry (see the module documentation), each said.
pub(super) async fn not_carried(from: &dyn Store, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
    let mut refusals = Vec::new();
    let mut waiting = 0;
    for status in ["queued", "sending"] {
        let query = OutboxQuery { status: Some(status.to_owned()), limit: 1_000, ..OutboxQuery::default() };
        waiting += from.list_outbox(&query).await?.len();
    }
    if waiting > 0 {
        refusals.push(format!(
            "{waiting}{} emails wait to be sent: start gatehouse (or run `gatehouse work`) until `gatehouse outbox \
             list --status queued` shows none, then stop it and copy",
            if waiting >= 1_000 { " or more" } else { "" }
        ));
    }
    let mut deliveries = 0;
    for endpoint in from.endpoints().await? {
        for status in [DeliveryStatus::Queued, DeliveryStatus::Sending] {
            let query = DeliveryQuery { endpoint_id: endpoint.id, status: Some(status), before: None, limit: 1_000 };
            deliveries += from.deliveries(&query).await?.len();
        }
    }
    if deliveries > 0 {
        refusals.push(format!(
            "{deliveries} webhook deliveries wait to be sent: start gatehouse (or run `gatehouse work`) until \
             `gatehouse webhook deliveries ID` shows none queued or sending for any endpoint, then stop it and copy"
        ));
    }
    let tokens = from.list_initial_tokens(now).await?.len();
    if tokens > 0 {
        refusals.push(format!(
            "the source has {tokens} live client registration tokens, which are not copied: withdraw them \
             (`DELETE /admin/registration-tokens/{{id}}`) and issue new ones after the move"
        ));
    }
    let mut invitations = 0;
    for org in &all_orgs(from).await? {
        invitations += from.org_invitations(org.id, now).await?.len();
    }
    if invitations > 0 {
        refusals.push(format!(
            "the source has {invitations} live organization invitations, which are not copied: revoke them and \
             invite again after the move"
        ));
    }
    Ok(refusals)
}

/// What `to` holds already: a copy goes into an empty store only.
pub(super) async fn not_empty(to: &dyn Store) -> anyhow::Result<Vec<String>> {
    let mut held = Vec::new();
    if !to.list_accounts(&AccountQuery { limit: 1, ..AccountQuery::default() }).await?.is_empty() {
        held.push("accounts");
    }
    if !to.signing_keys().await?.is_empty() || to.sealing_key().await?.is_some() {
        held.push("keys");
    }
    if !to.list_events(&EventFilter { limit: 1, ..EventFilter::default() }).await?.is_empty() {
        held.push("audit events");
    }
    if !to.list_orgs(None, None, 1).await?.is_empty() {
        held.push("organizations");
    }
    Ok(match held.is_empty() {
        true => Vec::new(),
        false => vec![format!(
            "the target already holds {}: copy into tables or a database that `gatehouse migrate` just made, and \
             that no server has used",
            held.join(", ")
        )],
    })
}
