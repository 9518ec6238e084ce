//! `gatehouse import FILE` and `gatehouse import status`: accounts moved in from another system
//! (see [`crate::accounts::import`]), and how many still have the password hash they came with.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::answer::{Refused, explain, print_json};
use super::table::Table;
use crate::accounts::admin::Admin;
use crate::accounts::import::{ImportOptions, ImportReport};
use crate::passwords::foreign::FirebaseProject;

/// Import accounts, or count those still on an imported password hash.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ImportArgs {
    #[command(subcommand)]
    command: Option<ImportCommand>,
    /// The accounts: JSON Lines, or CSV with a header (`email`, `username`, `name`, `data`,
    /// `app_data`, `status`, `email_verified`, `created_at`, `password_hash`, `password_salt`).
    file: Option<PathBuf>,
    /// Stop at the first bad line instead of reporting it and going on.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    firebase: FirebaseArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// A Firebase project's password hash parameters (its console shows them), for the lines with
/// a `password_salt`.
#[derive(Args, Debug)]
struct FirebaseArgs {
    /// `base64_signer_key`.
    #[arg(long, requires_all = ["firebase_salt_separator", "firebase_rounds", "firebase_mem_cost"])]
    firebase_signer_key: Option<String>,
    /// `base64_salt_separator`.
    #[arg(long)]
    firebase_salt_separator: Option<String>,
    #[arg(long)]
    firebase_rounds: Option<u32>,
    #[arg(long)]
    firebase_mem_cost: Option<u32>,
}

#[derive(Subcommand, Debug)]
enum ImportCommand {
    /// How many accounts still have the password hash they were imported with, by format.
    Status {
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(admin: &Admin<'_>, args: ImportArgs, database: &str) -> anyhow::Result<()> {
    let ImportArgs { command, file, strict, firebase, json } = args;
    if let Some(ImportCommand::Status { json }) = command {
        return status(admin, json).await;
    }
    let Some(path) = file else {
        return Err(
            Refused("name the file to import: gatehouse import FILE (or gatehouse import status)".into()).into()
        );
    };
    let input = std::fs::File::open(&path).map_err(|e| Refused(format!("cannot open {}: {e}", path.display())))?;
    let firebase = match firebase {
        FirebaseArgs {
            firebase_signer_key: Some(signer_key),
            firebase_salt_separator: Some(salt_separator),
            firebase_rounds: Some(rounds),
            firebase_mem_cost: Some(mem_cost),
        } => Some(FirebaseProject { signer_key, salt_separator, rounds, mem_cost }),
        _ => None,
    };
    let options = ImportOptions { strict, firebase };
    let terminal = std::io::stderr().is_terminal() && !json;
    let progress = |report: &ImportReport| {
        if terminal {
            eprint!(
                "\r{} lines read, {} imported, {} already there, {} bad",
                report.lines,
                report.imported,
                report.existing,
                report.bad.len()
            );
            let _ = std::io::stderr().flush();
        }
    };
    let report = admin
        .import(std::io::BufReader::with_capacity(1 << 20, input), &options, progress)
        .await
        .map_err(|e| explain(e, || "the import was refused".into()))?;
    if terminal {
        eprintln!();
    }
    if json {
        let bad: Vec<_> = report.bad.iter().map(|b| serde_json::json!({ "line": b.line, "error": b.why })).collect();
        let body = serde_json::json!({ "lines": report.lines, "imported": report.imported, "existing": report.existing, "bad": bad });
        return print_json(&body);
    }
    for bad in &report.bad {
        println!("line {}: {}", bad.line, bad.why);
    }
    println!(
        "{} lines: {} accounts imported, {} already there (left alone), {} bad, into {database}",
        report.lines,
        report.imported,
        report.existing,
        report.bad.len()
    );
    Ok(())
}

async fn status(admin: &Admin<'_>, json: bool) -> anyhow::Result<()> {
    let counts = admin.foreign_hashes().await.map_err(|e| explain(e, String::new))?;
    if json {
        let body: serde_json::Map<String, serde_json::Value> =
            counts.iter().map(|(format, n)| ((*format).to_owned(), (*n).into())).collect();
        return print_json(&body);
    }
    if counts.is_empty() {
        println!("every account with a password has gatehouse's own hash");
        return Ok(());
    }
    let mut table = Table::with_header(["FORMAT", "ACCOUNTS"]);
    for (format, n) in &counts {
        table.row([*format, &n.to_string()]);
    }
    print!("{table}");
    println!("each is replaced with gatehouse's Argon2id at the account's next successful login");
    Ok(())
}
