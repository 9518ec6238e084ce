//! The operator commands: `user list|show|disable|enable|promote|demote|delete|reset-password|
//! end-sessions`, `keys list|rotate` and `outbox list|retry`. Each acts through the [`Admin`]
//! capability an operator holds (`Accounts::as_operator`), which also writes the audit trail;
//! this module parses, confirms and prints: an aligned table or a sentence by default, one JSON
//! document with `--json`, its field names those of the HTTP API.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;
use uuid::Uuid;

use super::answer::{Refused, explain, print_json};
use super::table::{Table, shorten};
use crate::accounts::admin::{Admin, MAX_PAGE, parse_role, parse_status};
use crate::accounts::{Error, KEY_RELOAD_EVERY};
use crate::app::Services;
use crate::contract::{AccountBody, AccountReport, KeyBody, OutboxEmail, OutboxPage, UserPage};
use crate::model::account::{Account, Role, Status};
use crate::model::admin::{AccountQuery, OutboxQuery};
use crate::tokens::jwt::KEY_PUBLISH_DELAY;

const DEFAULT_LIMIT: u32 = 50;

/// The account commands besides `user create`.
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// List accounts, newest first.
    List {
        /// Only accounts whose email, username or name contains this text, in any case.
        #[arg(long, value_name = "TEXT")]
        q: Option<String>,
        /// Only accounts with this status: pending, active or disabled.
        #[arg(long, value_parser = status_arg)]
        status: Option<Status>,
        /// Only accounts with this role: user or admin.
        #[arg(long, value_parser = role_arg)]
        role: Option<Role>,
        /// At most this many accounts, 1 to 500.
        #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
        limit: u32,
        /// Start after this account: the cursor the previous page ended with.
        #[arg(long, value_name = "ID")]
        cursor: Option<Uuid>,
        /// Print one JSON object, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Show an account and how many live sessions it has.
    Show(Target),
    /// Disable an account and end its sessions; it can no longer log in.
    Disable(Target),
    /// Make an account active again.
    Enable(Target),
    /// Make an account an administrator.
    Promote(Target),
    /// Make an administrator an ordinary user.
    Demote(Target),
    /// Replace an account's app_data: the JSON object only admins write (plan, tenant,
    /// permissions), which the user can read and which its next access token carries. `{}`
    /// empties it.
    SetAppData {
        #[command(flatten)]
        target: Target,
        /// A JSON object, e.g. '{"plan": "pro"}'.
        #[arg(value_name = "JSON", value_parser = json_arg)]
        app_data: serde_json::Value,
    },
    /// Delete an account and everything of it, for good.
    Delete {
        #[command(flatten)]
        target: Target,
        /// Do not ask to type the account's email first (needed when standard input is not a
        /// terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Email an account a link to choose a new password.
    ResetPassword(Target),
    /// End every session of an account: its tokens are refused from the next request on.
    EndSessions(Target),
}

/// The account a command acts on.
#[derive(Args, Debug)]
pub struct Target {
    /// The account's id, email or username.
    #[arg(value_name = "KEY")]
    key: String,
    /// Print the account as JSON, for scripts.
    #[arg(long)]
    json: bool,
}

/// The signing keys.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Every signing key: when it was made, whether it signs and whether it is published.
    List {
        /// Print one JSON array, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Add a signing key: published at once, signing after a delay; the old key keeps verifying.
    Rotate,
}

/// The email outbox.
#[derive(Subcommand, Debug)]
pub enum OutboxCommand {
    /// Emails queued, sent and failed, newest first (never their contents).
    List {
        /// Only emails in this state.
        #[arg(long, value_parser = ["queued", "sending", "sent", "failed"])]
        status: Option<String>,
        /// Only emails to this address.
        #[arg(long, value_name = "ADDR")]
        recipient: Option<String>,
        /// At most this many emails, 1 to 500.
        #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_PAGE)))]
        limit: u32,
        /// Start after this email: the cursor the previous page ended with.
        #[arg(long, value_name = "ID")]
        cursor: Option<Uuid>,
        /// Print one JSON object, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Queue a failed email again.
    Retry {
        /// The email's id, as `outbox list` shows it.
        id: Uuid,
    },
}

/// One operator command.
#[derive(Debug)]
pub enum Operation {
    User(UserCommand),
    Keys(KeysCommand),
    Outbox(OutboxCommand),
    Client(super::clients::ClientCommand),
    Webhook(super::webhooks::WebhookCommand),
    Org(super::orgs::OrgCommand),
    Import(super::import::ImportArgs),
}

fn no_account(key: &str) -> impl FnOnce(Error) -> anyhow::Error + '_ {
    move |error| explain(error, || format!("no such account: {key}"))
}

fn status_arg(value: &str) -> Result<Status, String> {
    parse_status(value).map_err(|e| e.message)
}

fn role_arg(value: &str) -> Result<Role, String> {
    parse_role(value).map_err(|e| e.message)
}

fn json_arg(value: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(value).map_err(|e| format!("not JSON ({e}); quote it, e.g. '{{\"plan\": \"pro\"}}'"))
}

/// Runs one operator command as the operator. `access_token_ttl` is how long the tokens an
/// old key signed stay valid.
/// Runs an operator command. `database` names where it acts, for the confirmations of the
/// commands that write.
pub async fn run(
    services: &Services,
    access_token_ttl: Duration,
    database: &str,
    operation: Operation,
) -> anyhow::Result<()> {
    let admin = services.capabilities.accounts.as_operator();
    match operation {
        Operation::User(command) => user(&admin, command, database).await,
        Operation::Client(command) => {
            super::clients::run(&services.capabilities.oauth.as_operator(), command, database).await
        }
        Operation::Webhook(command) => super::webhooks::run(&admin, command, database).await,
        Operation::Org(command) => {
            super::orgs::run(&services.capabilities.organizations.as_operator(), command, database).await
        }
        Operation::Import(args) => super::import::run(&admin, args, database).await,
        Operation::Keys(KeysCommand::List { json }) => list_keys(&admin, json).await,
        Operation::Keys(KeysCommand::Rotate) => {
            rotate_key(&admin, access_token_ttl).await?;
            println!("(database {database})");
            Ok(())
        }
        Operation::Outbox(OutboxCommand::List { status, recipient, limit, cursor, json }) => {
            let recipient = recipient.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
            let query = OutboxQuery { status, recipient, before: cursor, limit: one_more(limit) };
            list_outbox(&admin, query, limit, json).await
        }
        Operation::Outbox(OutboxCommand::Retry { id }) => {
            let entry = admin.retry_email(id).await.map_err(|e| explain(e, || format!("no such email: {id}")))?;
            println!(
                "queued the {} email to {} again ({id}) in {database}; the running server sends it",
                entry.kind, entry.recipient
            );
            Ok(())
        }
    }
}

async fn user(admin: &Admin<'_>, command: UserCommand, database: &str) -> anyhow::Result<()> {
    let report =
        |account: &Account, json: bool, done: &str| report(account, json, &format!("{done} (database {database})"));
    match command {
        UserCommand::List { q, status, role, limit, cursor, json } => {
            let query =
                AccountQuery { q, status, role, before: cursor, limit: one_more(limit), ..AccountQuery::default() };
            list_users(admin, query, limit, json).await
        }
        UserCommand::Show(target) => show_user(admin, &target).await,
        UserCommand::Disable(target) => {
            let account = admin.set_status(&target.key, Status::Disabled).await.map_err(no_account(&target.key))?;
            report(&account, target.json, &format!("{} is disabled; its sessions have ended", who(&account)))
        }
        UserCommand::Enable(target) => {
            let account = admin.set_status(&target.key, Status::Active).await.map_err(no_account(&target.key))?;
            report(&account, target.json, &format!("{} is active", who(&account)))
        }
        UserCommand::Promote(target) => {
            let account = admin.set_role(&target.key, Role::Admin).await.map_err(no_account(&target.key))?;
            report(&account, target.json, &format!("{} is an admin", who(&account)))
        }
        UserCommand::Demote(target) => {
            let account = admin.set_role(&target.key, Role::User).await.map_err(no_account(&target.key))?;
            report(&account, target.json, &format!("{} is an ordinary user", who(&account)))
        }
        UserCommand::SetAppData { target, app_data } => {
            let account = admin.set_app_data(&target.key, app_data).await.map_err(no_account(&target.key))?;
            let done = format!("set the app_data of {} to {}", who(&account), Value::Object(account.app_data.clone()));
            report(&account, target.json, &done)
        }
        UserCommand::Delete { target, yes } => {
            // After a confirmation, the account confirmed is the one deleted, by its id.
            let key = if yes { target.key.clone() } else { confirm_deletion(admin, &target.key).await?.to_string() };
            let account = admin.delete_user(&key).await.map_err(no_account(&target.key))?;
            report(&account, target.json, &format!("deleted {}", who(&account)))
        }
        UserCommand::ResetPassword(target) => {
            let account = admin.send_password_reset(&target.key).await.map_err(no_account(&target.key))?;
            let done = format!("queued a password-reset link for {}; the running server sends it", who(&account));
            report(&account, target.json, &done)
        }
        UserCommand::EndSessions(target) => {
            let account = admin.find_user(&target.key).await.map_err(no_account(&target.key))?;
            let ended = admin.end_sessions(&account.id.to_string()).await.map_err(no_account(&target.key))?;
            if target.json {
                let report =
                    AccountReport { account: account.into(), live_sessions: None, sessions_ended: Some(ended) };
                return print_json(&report);
            }
            println!("ended {} of {} (database {database})", plural(ended, "session"), who(&account));
            Ok(())
        }
    }
}

/// Asks, on the terminal, for the email of the account about to be deleted; its id when typed.
async fn confirm_deletion(admin: &Admin<'_>, key: &str) -> anyhow::Result<Uuid> {
    if !std::io::stdin().is_terminal() {
        return Err(Refused("not deleted: standard input is not a terminal to confirm on; add --yes".into()).into());
    }
    let account = admin.find_user(key).await.map_err(no_account(key))?;
    eprint!("This deletes {} for good. Type its email to confirm: ", who(&account));
    std::io::stderr().flush()?;
    let mut typed = String::new();
    std::io::stdin().lock().read_line(&mut typed)?;
    if typed.trim().to_lowercase() != account.email.to_lowercase() {
        return Err(Refused("not deleted: that is not the account's email".into()).into());
    }
    Ok(account.id)
}

async fn list_users(admin: &Admin<'_>, query: AccountQuery, limit: u32, json: bool) -> anyhow::Result<()> {
    let crate::accounts::admin::UserPage { mut users, total } =
        admin.list_users(&query).await.map_err(|e| explain(e, || "no such account".into()))?;
    let next_cursor = if cut(&mut users, limit) { users.last().map(|a| a.id) } else { None };
    if json {
        let users = users.into_iter().map(AccountBody::from).collect();
        return print_json(&UserPage { users, next_cursor: next_cursor.map(|id| id.to_string()), total });
    }
    if users.is_empty() {
        println!("no accounts match");
        return Ok(());
    }
    let mut table = Table::with_header(["ID", "EMAIL", "USERNAME", "ROLE", "STATUS", "CREATED (UTC)"]);
    for a in &users {
        table.row([
            a.id.to_string(),
            a.email.clone(),
            a.username.clone().unwrap_or_else(|| "-".into()),
            a.role.as_str().into(),
            a.status.as_str().into(),
            minute(a.created_at),
        ]);
    }
    print!("{table}");
    let shown = match total {
        Some(total) => format!("{} of {}", users.len(), plural(total, "account")),
        None => plural(users.len() as u64, "account"),
    };
    match next_cursor {
        Some(id) => println!("{shown}; the next page: --cursor {id}"),
        None => println!("{shown}"),
    }
    Ok(())
}

async fn show_user(admin: &Admin<'_>, target: &Target) -> anyhow::Result<()> {
    let account = admin.find_user(&target.key).await.map_err(no_account(&target.key))?;
    let sessions = admin.sessions(&account.id.to_string()).await.map_err(no_account(&target.key))?.len();
    if target.json {
        let live_sessions = Some(sessions as u64);
        return print_json(&AccountReport { account: account.into(), live_sessions, sessions_ended: None });
    }
    let a = &account;
    let mut table = Table::pairs();
    table
        .row(["id", &a.id.to_string()])
        .row(["email", &a.email])
        .row(["username", a.username.as_deref().unwrap_or("-")])
        .row(["name", a.name.as_deref().unwrap_or("-")])
        .row(["role", a.role.as_str()])
        .row(["status", a.status.as_str()])
        .row(["email verified", yes_no(a.email_verified)])
        .row(["created", &format!("{} UTC", minute(a.created_at))])
        .row(["updated", &format!("{} UTC", minute(a.updated_at))])
        .row(["live sessions", &sessions.to_string()])
        .row(["data", &Value::Object(a.data.clone()).to_string()])
        .row(["app_data", &Value::Object(a.app_data.clone()).to_string()]);
    print!("{table}");
    Ok(())
}

async fn list_keys(admin: &Admin<'_>, json: bool) -> anyhow::Result<()> {
    let keys = admin.keys().await.map_err(|e| explain(e, || "no signing keys".into()))?;
    if json {
        return print_json(&keys.into_iter().map(KeyBody::from).collect::<Vec<_>>());
    }
    let mut table = Table::with_header(["KID", "ALGORITHM", "CREATED (UTC)", "SIGNS", "PUBLISHED"]);
    for key in &keys {
        let created = minute(key.created_at);
        let signs = match (key.signing, key.signs_id_tokens) {
            (true, true) => "access and ID tokens",
            (true, false) => "access tokens",
            (false, true) => "ID tokens",
            (false, false) => "no",
        };
        table.row([key.kid.as_str(), key.algorithm.name(), &created, signs, yes_no(key.published)]);
    }
    print!("{table}");
    Ok(())
}

async fn rotate_key(admin: &Admin<'_>, access_token_ttl: Duration) -> anyhow::Result<()> {
    let keys = admin.rotate_key().await.map_err(|e| explain(e, || "no signing keys".into()))?;
    for (key, signs) in keys.iter().zip(["access tokens", "ID tokens"]) {
        println!("added {} signing key {} for {signs}", key.algorithm, key.kid);
    }
    let Some(key) = keys.first() else { return Ok(()) };
    let signs_from = key.created_at + chrono::Duration::from_std(KEY_PUBLISH_DELAY)?;
    println!(
        "running servers publish the new keys within {} and sign with them from {} UTC, {} after they were made",
        humantime::format_duration(KEY_RELOAD_EVERY),
        second(signs_from),
        humantime::format_duration(KEY_PUBLISH_DELAY),
    );
    println!(
        "the old keys keep verifying the tokens they signed until those expire (at most {} later)",
        humantime::format_duration(access_token_ttl),
    );
    Ok(())
}

async fn list_outbox(admin: &Admin<'_>, query: OutboxQuery, limit: u32, json: bool) -> anyhow::Result<()> {
    let mut emails = admin.outbox(&query).await.map_err(|e| explain(e, || "no such email".into()))?;
    let next_cursor = if cut(&mut emails, limit) { emails.last().map(|e| e.id) } else { None };
    if json {
        let emails = emails.into_iter().map(OutboxEmail::from).collect();
        return print_json(&OutboxPage { emails, next_cursor: next_cursor.map(|id| id.to_string()) });
    }
    if emails.is_empty() {
        println!("no emails match");
        return Ok(());
    }
    let mut table =
        Table::with_header(["ID", "KIND", "RECIPIENT", "STATUS", "ATTEMPTS", "CREATED (UTC)", "LAST ERROR"]);
    for e in &emails {
        table.row([
            e.id.to_string(),
            e.kind.clone(),
            e.recipient.clone(),
            e.status.clone(),
            e.attempts.to_string(),
            minute(e.created_at),
            e.last_error.as_deref().map_or_else(|| "-".into(), |error| shorten(error, 60)),
        ]);
    }
    print!("{table}");
    if let Some(id) = next_cursor {
        println!("the next page: --cursor {id}");
    }
    Ok(())
}

/// How many to ask for: one more than a page, whose coming back says there is a next page.
fn one_more(limit: u32) -> u32 {
    limit.saturating_add(1)
}

/// Cuts `items` to a page of `limit`; whether a next page follows.
fn cut<T>(items: &mut Vec<T>, limit: u32) -> bool {
    let limit = limit as usize;
    let more = items.len() > limit;
    items.truncate(limit);
    more
}

fn report(account: &Account, json: bool, done: &str) -> anyhow::Result<()> {
    if json {
        return print_json(&AccountBody::from(account.clone()));
    }
    println!("{done}");
    Ok(())
}

/// How an account is named in a confirmation.
fn who(account: &Account) -> String {
    format!("{} ({})", account.email, account.id)
}

fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn second(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn plural(n: u64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}
