//! `gatehouse org create|list|show|add-member|remove-member`: organizations at the command line,
//! as the operator. The operator adds members directly; through the API they come by invitation.
//! A running server sees a change at its next request.

use clap::Subcommand;

use super::answer::{explain, print_json};
use super::table::Table;
use crate::accounts::admin::Admin;
use crate::accounts::orgs::NewOrg;
use crate::contract::org::OrgBody;

/// Organizations.
#[derive(Subcommand, Debug)]
pub enum OrgCommand {
    /// Create an organization owned by an account.
    Create {
        #[arg(long)]
        name: String,
        /// Made from the name when absent.
        #[arg(long)]
        slug: Option<String>,
        /// The owner: an account's email, username or id.
        #[arg(long)]
        owner: String,
        #[arg(long)]
        json: bool,
    },
    /// Every organization, newest first.
    List {
        /// Only those whose name or slug holds this.
        #[arg(long)]
        q: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One organization (by id or slug), with its member count.
    Show {
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Add an account (email, username or id) to an organization.
    AddMember {
        org: String,
        account: String,
        /// owner, admin or member.
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Remove an account from an organization (never its last owner).
    RemoveMember { org: String, account: String },
}

pub async fn run(admin: &Admin<'_>, command: OrgCommand, database: &str) -> anyhow::Result<()> {
    let missing = |what: &str| format!("no such organization or account: {what}");
    match command {
        OrgCommand::Create { name, slug, owner, json } => {
            let new = NewOrg { name, slug, data: None };
            let org = admin.create_org_for(&owner, new).await.map_err(|e| explain(e, || missing(&owner)))?;
            if json {
                return print_json(&OrgBody::from(org));
            }
            println!("created organization {} ({}) owned by {owner} in {database}", org.slug, org.id);
            Ok(())
        }
        OrgCommand::List { q, limit, json } => {
            let orgs = admin.orgs(q.as_deref(), None, limit).await.map_err(|e| explain(e, String::new))?;
            if json {
                return print_json(&orgs.into_iter().map(OrgBody::from).collect::<Vec<_>>());
            }
            let mut table = Table::with_header(["ID", "SLUG", "NAME"]);
            for org in &orgs {
                table.row([org.id.to_string().as_str(), &org.slug, &org.name]);
            }
            print!("{table}");
            Ok(())
        }
        OrgCommand::Show { org, json } => {
            let found = admin.find_org(&org).await.map_err(|e| explain(e, || missing(&org)))?;
            if json {
                return print_json(&serde_json::json!({"org": OrgBody::from(found.org), "members": found.members}));
            }
            let mut table = Table::with_header(["FIELD", "VALUE"]);
            table.row(["id", found.org.id.to_string().as_str()]);
            table.row(["slug", &found.org.slug]);
            table.row(["name", &found.org.name]);
            table.row(["members", found.members.to_string().as_str()]);
            print!("{table}");
            Ok(())
        }
        OrgCommand::AddMember { org, account, role } => {
            let added = admin.add_member(&org, &account, &role).await.map_err(|e| explain(e, || missing(&account)))?;
            match added {
                true => println!("added {account} to {org} as {role} in {database}"),
                false => println!("{account} is a member of {org} already; its role is unchanged"),
            }
            Ok(())
        }
        OrgCommand::RemoveMember { org, account } => {
            admin.remove_member(&org, &account).await.map_err(|e| explain(e, || missing(&account)))?;
            println!("removed {account} from {org} in {database}");
            Ok(())
        }
    }
}
