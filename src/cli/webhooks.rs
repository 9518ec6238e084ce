//! `gatehouse webhook create|list|show|update|delete|deliveries|replay`: the webhook registry
//! and each endpoint's delivery log at the command line, as the operator. A running server
//! sees a change at its next delivery.

use clap::Subcommand;
use uuid::Uuid;

use super::answer::{Refused, explain, print_json};
use super::table::Table;
use crate::accounts::admin::Admin;
use crate::accounts::webhooks::WebhookSpec;
use crate::contract::{DeliveryBody, WebhookBody};
use crate::model::webhook::DeliveryStatus;

/// The webhook endpoints.
#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Register an endpoint; its signing secret is printed this once.
    Create {
        #[arg(long)]
        url: String,
        /// An event it receives (repeat for more), like user.created.
        #[arg(long = "event", value_name = "TYPE", required = true)]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Print the endpoint as JSON, as the HTTP API shows it.
        #[arg(long)]
        json: bool,
    },
    /// Every endpoint.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One endpoint.
    Show {
        id: Uuid,
        #[arg(long)]
        json: bool,
    },
    /// Change an endpoint: what is not given stays.
    Update {
        id: Uuid,
        #[arg(long)]
        url: Option<String>,
        /// The events it receives, all of them (repeat).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
        /// Hold deliveries back (they wait) or send them again.
        #[arg(long, value_name = "true|false")]
        enabled: Option<bool>,
    },
    /// Remove an endpoint and every delivery still owed to it.
    Delete {
        id: Uuid,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
    /// The endpoint's delivery log, newest first.
    Deliveries {
        id: Uuid,
        /// Only deliveries in this state: queued, sending, delivered, failed.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Send a delivered or failed delivery again, with the same webhook-id.
    Replay { id: Uuid, event_id: Uuid },
}

pub async fn run(admin: &Admin<'_>, command: WebhookCommand, database: &str) -> anyhow::Result<()> {
    let missing = |id: &Uuid| format!("no such webhook endpoint: {id}");
    match command {
        WebhookCommand::Create { url, events, description, json } => {
            let spec = WebhookSpec { url: Some(url), events: Some(events), description, enabled: None };
            let body = WebhookBody::from(admin.create_webhook(spec).await.map_err(|e| explain(e, String::new))?);
            if json {
                return print_json(&body);
            }
            let shown = serde_json::to_value(&body)?;
            println!("registered webhook endpoint {} in {database}", shown["id"].as_str().unwrap_or_default());
            println!("secret: {}", shown["secret"].as_str().unwrap_or_default());
            println!("(shown this once; give it to the receiver's Standard Webhooks library)");
            Ok(())
        }
        WebhookCommand::List { json } => {
            let endpoints = admin.webhooks().await.map_err(|e| explain(e, String::new))?;
            if json {
                return print_json(&endpoints.into_iter().map(WebhookBody::from).collect::<Vec<_>>());
            }
            let mut table = Table::with_header(["ID", "URL", "ENABLED", "EVENTS"]);
            for e in &endpoints {
                let events: Vec<&str> = e.events.iter().map(|t| t.as_str()).collect();
                table.row([e.id.to_string().as_str(), &e.url, if e.enabled { "yes" } else { "no" }, &events.join(" ")]);
            }
            print!("{table}");
            Ok(())
        }
        WebhookCommand::Show { id, json } => {
            let endpoint = admin.webhook(id).await.map_err(|e| explain(e, || missing(&id)))?;
            print_json_or_pairs(WebhookBody::from(endpoint), json)
        }
        WebhookCommand::Update { id, url, events, description, enabled } => {
            let events = (!events.is_empty()).then_some(events);
            let spec = WebhookSpec { url, events, description, enabled };
            let endpoint = admin.update_webhook(id, spec).await.map_err(|e| explain(e, || missing(&id)))?;
            print_json_or_pairs(WebhookBody::from(endpoint), false)
        }
        WebhookCommand::Delete { id, yes } => {
            if !yes {
                let why =
                    format!("this removes webhook endpoint {id} and what is still owed to it; add --yes to confirm");
                return Err(Refused(why).into());
            }
            let endpoint = admin.delete_webhook(id).await.map_err(|e| explain(e, || missing(&id)))?;
            println!("deleted webhook endpoint {} ({}) from {database}", endpoint.id, endpoint.url);
            Ok(())
        }
        WebhookCommand::Deliveries { id, status, limit, json } => {
            let status = match status.as_deref().map(DeliveryStatus::parse) {
                Some(None) => return Err(Refused("--status is queued, sending, delivered or failed".into()).into()),
                status => status.flatten(),
            };
            let found =
                admin.webhook_deliveries(id, status, None, limit).await.map_err(|e| explain(e, || missing(&id)))?;
            let bodies: Vec<DeliveryBody> = found.into_iter().map(DeliveryBody::from).collect();
            if json {
                return print_json(&bodies);
            }
            let mut table = Table::with_header(["ID", "TYPE", "STATUS", "ATTEMPTS", "LAST ANSWER", "OCCURRED"]);
            for body in bodies {
                let d = serde_json::to_value(&body)?;
                let text = |key: &str| match &d[key] {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".into(),
                    other => other.to_string(),
                };
                let answer = match d["last_response_status"].as_u64() {
                    Some(status) => status.to_string(),
                    None => text("last_error"),
                };
                table.row([text("id"), text("type"), text("status"), text("attempts"), answer, text("occurred_at")]);
            }
            print!("{table}");
            Ok(())
        }
        WebhookCommand::Replay { id, event_id } => {
            admin
                .replay_webhook(id, event_id)
                .await
                .map_err(|e| explain(e, || format!("no such delivery: {event_id}")))?;
            println!("delivery {event_id} queued again; a running server sends it within seconds");
            Ok(())
        }
    }
}

fn print_json_or_pairs(body: WebhookBody, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&body);
    }
    let shown = serde_json::to_value(&body)?;
    let mut table = Table::pairs();
    for key in ["id", "url", "events", "description", "enabled", "created_at", "updated_at"] {
        let value = match &shown[key] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join(" "),
            other => other.to_string(),
        };
        table.row([key.to_owned(), value]);
    }
    print!("{table}");
    Ok(())
}
