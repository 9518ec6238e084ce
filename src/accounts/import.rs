//! Moving in: accounts from another system, read from JSON Lines or CSV with a header, each
//! line checked like an admin's creation and its password hash kept as it was made (see
//! [`crate::passwords::foreign`]); nothing is hashed during the import. Lines go in by
//! batches, each one transaction, and a line whose address or username an account already has
//! is left alone, so an import stopped half-way is finished by running it again, and a file
//! imported twice changes nothing. A bad line is reported with its number and skipped, or, with
//! `strict`, stops the import before its batch is written.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::admin::Admin;
use super::new_account::{NewProfile, Submitted};
use super::{Error, FieldError, Result};
use crate::model::account::{AccountData, Role, Status};
use crate::model::outcome::Kind;
use crate::passwords::foreign::{self, FirebaseProject};
use crate::store::NewAccount;

/// Lines written per transaction.
pub const BATCH: usize = 1_000;

/// How to read an import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The first bad line stops the import (the lines before its batch stay imported).
    pub strict: bool,
    /// The settings of the Firebase project the hashes with a `password_salt` come from.
    pub firebase: Option<FirebaseProject>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines read, blank ones and the CSV header left out.
    pub lines: u64,
    pub imported: u64,
    /// Lines whose address or username an account already had: left alone.
    pub existing: u64,
    pub bad: Vec<BadLine>,
}

/// A line that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    /// Its number in the file, from 1.
    pub line: u64,
    pub why: String,
}

/// One account as a line gives it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    email: String,
    username: Option<String>,
    name: Option<String>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    app_data: Value,
    /// `active` (the default), `pending` or `disabled`.
    status: Option<String>,
    #[serde(default)]
    email_verified: bool,
    created_at: Option<DateTime<Utc>>,
    password_hash: Option<String>,
    /// Firebase's per-user salt, which its export keeps apart from the hash.
    password_salt: Option<String>,
}

/// The lines of an import, JSON Lines or CSV (told apart by the first character).
enum Lines<R> {
    Json(std::io::Lines<R>),
    Csv { rows: csv::StringRecordsIntoIter<R>, header: Vec<String> },
}

impl<R: BufRead> Lines<R> {
    fn open(mut input: R) -> Result<Self> {
        let starts = input.fill_buf().map_err(unreadable)?.iter().find(|b| !b.is_ascii_whitespace()).copied();
        if starts == Some(b'{') || starts.is_none() {
            return Ok(Self::Json(input.lines()));
        }
        let mut reader = csv::ReaderBuilder::new().flexible(false).trim(csv::Trim::All).from_reader(input);
        let header = reader.headers().map_err(|e| Error::field("file", format!("the CSV header: {e}")))?;
        let header = header.iter().map(str::to_owned).collect();
        Ok(Self::Csv { rows: reader.into_records(), header })
    }

    /// The next line's number and its fields as JSON, or why it cannot be read.
    fn next_line(&mut self, read: &mut u64) -> Option<(u64, std::result::Result<Value, String>)> {
        match self {
            Self::Json(lines) => loop {
                let line = lines.next()?;
                *read += 1;
                match line {
                    Ok(text) if text.trim().is_empty() => continue,
                    Ok(text) => {
                        return Some((*read, serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))));
                    }
                    Err(e) => return Some((*read, Err(format!("unreadable: {e}")))),
                }
            },
            Self::Csv { rows, header } => {
                let row = rows.next()?;
                let line = row.as_ref().ok().and_then(|r| r.position()).map_or(*read + 2, |p| p.line());
                *read = line;
                Some((line, row.map_err(|e| format!("not CSV: {e}")).and_then(|row| csv_fields(header, &row))))
            }
        }
    }
}

/// A CSV row as the JSON object a line would be: empty cells left out, `data` and `app_data`
/// read as JSON, `email_verified` as a yes or no.
fn csv_fields(header: &[String], row: &csv::StringRecord) -> std::result::Result<Value, String> {
    let mut fields = Map::new();
    for (name, cell) in header.iter().zip(row.iter()).filter(|(_, cell)| !cell.is_empty()) {
        let value = match name.as_str() {
            "data" | "app_data" => serde_json::from_str(cell).map_err(|e| format!("{name} is not JSON: {e}"))?,
            "email_verified" => match cell.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Value::Bool(true),
                "false" | "0" | "no" => Value::Bool(false),
                _ => return Err(format!("email_verified is {cell:?}, not true or false")),
            },
            _ => Value::String(cell.to_owned()),
        };
        fields.insert(name.clone(), value);
    }
    Ok(Value::Object(fields))
}

fn unreadable(error: std::io::Error) -> Error {
    Error::field("file", format!("the file cannot be read: {error}"))
}

/// The account a line describes, or every reason it cannot be one.
fn account(fields: Value, options: &ImportOptions, now: DateTime<Utc>) -> std::result::Result<NewAccount, String> {
    let record: Record = serde_json::from_value(fields).map_err(|e| e.to_string())?;
    let submitted = Submitted {
        email: &record.email,
        username: record.username.as_deref(),
        name: record.name.as_deref(),
        data: AccountData::parse_field(record.data, "data"),
        app_data: AccountData::parse_field(record.app_data, "app_data"),
        password: None,
    };
    let mut problems = Vec::new();
    let profile = NewProfile::parse(submitted).map_err(|errors| problems.extend(errors.iter().map(describe))).ok();
    let status = match record.status.as_deref() {
        None => Some(Status::Active),
        Some(given) => Status::parse(given),
    };
    if status.is_none() {
        problems.push("status: active, pending or disabled".into());
    }
    let hash = match &record.password_hash {
        Some(hash) => foreign::stored_form(hash, record.password_salt.as_deref(), options.firebase.as_ref())
            .map_err(|why| problems.push(format!("password_hash: {why}")))
            .ok(),
        None => Some(crate::passwords::NO_PASSWORD.to_owned()),
    };
    let (Some(profile), Some(status), Some(hash), true) = (profile, status, hash, problems.is_empty()) else {
        return Err(problems.join("; "));
    };
    let mut account =
        profile.account(hash, Role::User, status, record.email_verified, record.created_at.unwrap_or(now));
    account.id = Uuid::now_v7();
    Ok(account)
}

fn describe(error: &FieldError) -> String {
    format!("{}: {}", error.field, error.message)
}

/// Publishes `gatehouse_imported_password_hashes{format}`: the accounts still on a hash they
/// were imported with (see [`Admin::foreign_hashes`]). Housekeeping calls it.
pub async fn count_imported_hashes(store: &dyn crate::store::ports::AccountPorts) {
    match foreign_hashes(store).await {
        Ok(counts) => {
            for format in ["argon2", "bcrypt", "scrypt", "firebase-scrypt", "pbkdf2", "none", "unknown"] {
                let n = counts.iter().find(|(f, _)| *f == format).map_or(0, |(_, n)| *n);
                ::metrics::gauge!("gatehouse_imported_password_hashes", "format" => format).set(n as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "counting the imported password hashes failed; will try again"),
    }
}

/// The accounts on a hash gatehouse did not make at its current settings, by format.
async fn foreign_hashes(store: &dyn crate::store::ports::AccountPorts) -> Result<Vec<(&'static str, u64)>> {
    let prefixes = store.foreign_hash_prefixes(crate::passwords::CURRENT_PREFIX).await?;
    let mut counts: std::collections::BTreeMap<&'static str, u64> = std::collections::BTreeMap::new();
    for (prefix, n) in prefixes {
        let format = match foreign::Format::of(&prefix) {
            Some(format) => format.name(),
            None if prefix.starts_with(crate::passwords::NO_PASSWORD) => "none",
            None => "unknown",
        };
        *counts.entry(format).or_default() += n;
    }
    Ok(counts.into_iter().collect())
}

impl Admin<'_> {
    /// Imports the accounts `input` holds; `progress` hears of each batch written.
    pub async fn import(
        &self,
        input: impl BufRead,
        options: &ImportOptions,
        mut progress: impl FnMut(&ImportReport),
    ) -> Result<ImportReport> {
        self.require_recent().await?;
        if let Some(project) = &options.firebase {
            project.check().map_err(|why| Error::field("firebase", why))?;
        }
        let mut lines = Lines::open(input)?;
        let (mut report, mut read, mut batch) = (ImportReport::default(), 0, Vec::with_capacity(BATCH));
        let now = Utc::now();
        loop {
            let next = lines.next_line(&mut read);
            let done = next.is_none();
            if let Some((line, fields)) = next {
                report.lines += 1;
                match fields.and_then(|fields| account(fields, options, now)) {
                    Ok(account) => batch.push(account),
                    Err(why) if options.strict => {
                        return Err(Error::field(
                            "file",
                            format!("line {line}: {why} (nothing from its batch was written)"),
                        ));
                    }
                    Err(why) => report.bad.push(BadLine { line, why }),
                }
            }
            if batch.len() == BATCH || (done && !batch.is_empty()) {
                let inserted = self.service().store.import_accounts(&batch).await?;
                report.imported += inserted.len() as u64;
                report.existing += (batch.len() - inserted.len()) as u64;
                batch.clear();
                progress(&report);
            }
            if done {
                break;
            }
        }
        let detail = json!({ "lines": report.lines, "imported": report.imported, "existing": report.existing, "bad": report.bad.len() });
        self.audit(self.outcome(Kind::AdminUsersImported, None).detail(detail)).await?;
        tracing::info!(
            imported = report.imported,
            existing = report.existing,
            bad = report.bad.len(),
            "accounts imported"
        );
        Ok(report)
    }

    /// How many accounts are still on a hash gatehouse did not make at its current settings,
    /// by format (`argon2` counts Argon2 hashes of other parameters; `none`, accounts without
    /// a password).
    pub async fn foreign_hashes(&self) -> Result<Vec<(&'static str, u64)>> {
        foreign_hashes(self.service().store.as_ref()).await
    }
}
