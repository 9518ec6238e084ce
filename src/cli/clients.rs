//! `gatehouse client create|list|show|rotate-secret|delete`: the client registry at the command
//! line, as the operator. A running server sees a change at its next request.

use clap::Subcommand;

use super::answer::{Refused, explain, print_json};
use super::table::Table;
use crate::accounts::AuthorizationServer;
use crate::accounts::admin::Admin;
use crate::accounts::oauth::clients::ClientSpec;
use crate::contract::ClientBody;

/// The OpenID Connect client apps.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a client app; a confidential one's secret is printed this once.
    Create {
        #[arg(long)]
        name: String,
        /// A redirect URI (repeat for more); exact, except a loopback one's port.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may send the browser (repeat for more).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (a SPA, a native app): no secret.
        #[arg(long)]
        public: bool,
        /// A grant type (repeat): authorization_code, refresh_token, client_credentials,
        /// urn:ietf:params:oauth:grant-type:device_code.
        #[arg(long = "grant-type", value_name = "GRANT")]
        grant_types: Vec<String>,
        /// A scope it may ask for (repeat): openid, profile, email, offline_access, app_data.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Trusted: people are not asked to consent.
        #[arg(long)]
        first_party: bool,
        /// A resource server: it may introspect every client's tokens, not only its own.
        #[arg(long)]
        introspect: bool,
        /// Where it hears that a session of its ended (OpenID Connect Back-Channel Logout).
        #[arg(long, value_name = "URL")]
        backchannel_logout_uri: Option<String>,
        /// It proves itself with `private_key_jwt`, by the keys of the JWK Set at this https URL,
        /// instead of a secret (none is made).
        #[arg(long, value_name = "URL", conflicts_with = "public")]
        jwks_uri: Option<String>,
        /// Print the client as JSON, as the HTTP API shows it.
        #[arg(long)]
        json: bool,
    },
    /// Every registered client.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One client.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Give a confidential client a new secret (printed this once); the old one stops working.
    RotateSecret { id: String },
    /// Remove a client: its tokens are refused from the next request.
    Delete {
        id: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

fn some(list: Vec<String>) -> Option<Vec<String>> {
    (!list.is_empty()).then_some(list)
}

pub async fn run(admin: &Admin<'_, AuthorizationServer>, command: ClientCommand, database: &str) -> anyhow::Result<()> {
    let missing = |id: &str| format!("no such client: {id}");
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            grant_types,
            scopes,
            first_party,
            introspect,
            backchannel_logout_uri,
            jwks_uri,
            json,
        } => {
            let spec = ClientSpec {
                name: Some(name),
                redirect_uris: Some(redirect_uris),
                post_logout_redirect_uris: Some(post_logout_redirect_uris),
                confidential: Some(!public),
                grant_types: some(grant_types),
                scopes: some(scopes),
                first_party: Some(first_party),
                introspect: Some(introspect),
                backchannel_logout_uri,
                backchannel_logout_session_required: None,
                require_pushed_authorization_requests: None,
                dpop_bound_access_tokens: None,
                jwks: None,
                jwks_uri,
            };
            let made = admin.create_client(spec).await.map_err(|e| explain(e, String::new))?;
            let body = ClientBody::from(made);
            if json {
                return print_json(&body);
            }
            let shown = serde_json::to_value(&body)?;
            println!("registered client {} in {database}", shown["client_id"].as_str().unwrap_or_default());
            if let Some(secret) = shown["client_secret"].as_str() {
                println!("client_secret: {secret}");
                println!("(shown this once; only its hash is kept)");
            }
            Ok(())
        }
        ClientCommand::List { json } => {
            let clients = admin.clients().await.map_err(|e| explain(e, String::new))?;
            if json {
                return print_json(&clients.into_iter().map(ClientBody::from).collect::<Vec<_>>());
            }
            let mut table = Table::with_header(["CLIENT ID", "NAME", "KIND", "GRANTS", "REDIRECT URIS"]);
            for c in &clients {
                let kind = match (c.confidential, c.first_party) {
                    (true, true) => "confidential, first-party",
                    (true, false) => "confidential",
                    (false, true) => "public, first-party",
                    (false, false) => "public",
                };
                table.row([c.id.as_str(), &c.name, kind, &c.grant_types.join(" "), &c.redirect_uris.join(" ")]);
            }
            print!("{table}");
            Ok(())
        }
        ClientCommand::Show { id, json } => {
            let client = admin.client(&id).await.map_err(|e| explain(e, || missing(&id)))?;
            if json {
                return print_json(&ClientBody::from(client));
            }
            let mut table = Table::pairs();
            table.row(["client_id", client.id.as_str()]);
            table.row(["name", client.name.as_str()]);
            table.row(["confidential", if client.confidential { "yes" } else { "no" }]);
            table.row(["first_party", if client.first_party { "yes" } else { "no" }]);
            table.row(["introspect", if client.introspect { "yes" } else { "no" }]);
            table.row(["grant_types", &client.grant_types.join(" ")]);
            table.row(["scopes", &client.scopes.join(" ")]);
            table.row(["redirect_uris", &client.redirect_uris.join(" ")]);
            table.row(["post_logout_redirect_uris", &client.post_logout_redirect_uris.join(" ")]);
            print!("{table}");
            Ok(())
        }
        ClientCommand::RotateSecret { id } => {
            let made = admin.rotate_client_secret(&id).await.map_err(|e| explain(e, || missing(&id)))?;
            let body = serde_json::to_value(ClientBody::from(made))?;
            println!("client_secret: {}", body["client_secret"].as_str().unwrap_or_default());
            println!("(shown this once; the old secret no longer works; database {database})");
            Ok(())
        }
        ClientCommand::Delete { id, yes } => {
            if !yes {
                return Err(
                    Refused(format!("this removes client {id} and ends its access; add --yes to confirm")).into()
                );
            }
            let client = admin.delete_client(&id).await.map_err(|e| explain(e, || missing(&id)))?;
            println!("deleted client {} ({}) from {database}", client.id, client.name);
            Ok(())
        }
    }
}
