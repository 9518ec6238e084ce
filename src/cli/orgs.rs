//! `gatehouse org create|list|show|add-member|remove-member|domains|domain-holder|release-domain`:
//! organizations at the command line, as the operator. The operator adds members directly;
//! through the API they come by invitation. It sees which organization holds a domain and takes
//! a claim back (verifying stays DNS's, through the API). A running server sees a change at its
//! next request.

use clap::Subcommand;

use super::answer::{explain, print_json};
use super::table::Table;
use crate::accounts::Organizations;
use crate::accounts::admin::Admin;
use crate::accounts::orgs::NewOrg;
use crate::contract::org::{DomainBody, OrgBody};
use crate::model::domain::DomainName;

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
    /// An organization's domains: verified or not, the role they join people with, the TXT
    /// record that proves each.
    Domains {
        org: String,
        #[arg(long)]
        json: bool,
    },
    /// Which organization verified a domain, if one did.
    DomainHolder { domain: String },
    /// Take an organization's claim of a domain back, verified or not (its members stay):
    /// another organization may then verify it.
    ReleaseDomain { org: String, domain: String },
}

pub async fn run(admin: &Admin<'_, Organizations>, command: OrgCommand, database: &str) -> anyhow::Result<()> {
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
        OrgCommand::Domains { org, json } => {
            let (_, domains) = admin.org_domains_of(&org).await.map_err(|e| explain(e, || missing(&org)))?;
            if json {
                return print_json(&domains.into_iter().map(DomainBody::from).collect::<Vec<_>>());
            }
            let mut table = Table::with_header(["DOMAIN", "VERIFIED", "AUTO-JOIN", "TXT RECORD"]);
            for d in &domains {
                let verified = d.verified_at.map_or_else(|| "no".to_owned(), |at| at.to_rfc3339());
                let record = format!(
                    "{} = {}",
                    DomainName::parse(&d.domain).map(|n| n.challenge_name()).unwrap_or_default(),
                    d.challenge
                );
                table.row([d.domain.as_str(), &verified, d.auto_join_role.as_deref().unwrap_or("-"), &record]);
            }
            print!("{table}");
            Ok(())
        }
        OrgCommand::DomainHolder { domain } => {
            match admin.domain_holder(&domain).await.map_err(|e| explain(e, String::new))? {
                Some((org, claim)) => println!(
                    "{} is verified by {} ({}) since {}",
                    claim.domain,
                    org.slug,
                    org.id,
                    claim.verified_at.map(|at| at.to_rfc3339()).unwrap_or_default()
                ),
                None => println!("no organization has verified {domain}"),
            }
            Ok(())
        }
        OrgCommand::ReleaseDomain { org, domain } => {
            let no_claim = || format!("no such organization, or it does not claim {domain}");
            admin.release_domain(&org, &domain).await.map_err(|e| explain(e, no_claim))?;
            println!("{org} no longer claims {domain} in {database}");
            Ok(())
        }
    }
}
