//! Bulk import. Each account is written as a sign-up writes it ([`new_account`]: the account,
//! its address marker and its username's claim, each on condition that it is new), many to a
//! transaction; when some conditions fail, the accounts they belong to are left out and the
//! rest written again, so an account whose address or username is taken is skipped, as on SQL.
//! Unlike SQL, an import is not one transaction: a failure part way leaves the transactions
//! written before it, which importing the same accounts again completes.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::new_account;
use super::items::{Write, WriteError, names, s, sdk_error, text};
use super::plan::Plan;
use super::{DynamoStore, MAX_TRANSACTION};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::Account;
use crate::store::accounts::NewAccount;
use crate::store::error::{StoreError, StoreResult};
use crate::store::import::ImportStore;

/// How many times a batch is written again when a concurrent transaction met it.
const ATTEMPTS: usize = 8;

/// The format a stored hash is counted under, as SQL names it.
fn hash_format(hash: &str) -> String {
    const NAMED: [(&str, &str); 4] =
        [("$argon2", "$argon2"), ("$2", "$2b$"), ("$scrypt$", "$scrypt$"), ("$firebase-scrypt$", "$firebase-scrypt$")];
    if let Some((_, name)) = NAMED.iter().find(|(prefix, _)| hash.starts_with(prefix)) {
        return (*name).to_owned();
    }
    if hash.starts_with("$pbkdf2-") || hash.starts_with("pbkdf2") {
        return "pbkdf2_".to_owned();
    }
    hash.chars().take(1).collect()
}

/// One account's writes, built.
struct Planned {
    id: Uuid,
    writes: Vec<TransactWriteItem>,
}

fn planned(plan: Plan<Account>, id: Uuid) -> StoreResult<Planned> {
    let writes = plan.writes.into_iter().map(Write::build).collect::<StoreResult<Vec<_>>>()?;
    Ok(Planned { id, writes })
}

impl DynamoStore {
    /// Writes `batch` in one transaction, leaving out the accounts whose conditions fail
    /// (address or username taken) until the rest is written: the ids written.
    async fn import_batch(&self, mut batch: Vec<Planned>) -> StoreResult<Vec<Uuid>> {
        let mut conflicts = 0;
        while !batch.is_empty() {
            let writes: Vec<TransactWriteItem> = batch.iter().flat_map(|p| p.writes.iter().cloned()).collect();
            match self.transact(writes).await {
                Ok(()) => return Ok(batch.iter().map(|p| p.id).collect()),
                Err(WriteError::Store(error)) => return Err(error),
                Err(WriteError::Conflict) => {
                    conflicts += 1;
                    if conflicts == ATTEMPTS {
                        return Err(StoreError::Unavailable(anyhow::anyhow!("import: kept meeting concurrent writes")));
                    }
                }
                Err(failed) => {
                    let mut first = 0;
                    batch.retain(|p| {
                        let taken = (first..first + p.writes.len()).any(|index| failed.failed(index));
                        first += p.writes.len();
                        !taken
                    });
                }
            }
        }
        Ok(Vec::new())
    }
}

#[async_trait]
impl ImportStore for DynamoStore {
    async fn import_accounts(&self, accounts: &[NewAccount]) -> StoreResult<Vec<Uuid>> {
        timed!(DB, "import_accounts", async {
            // Of accounts of the import sharing an address or a username, the first goes in
            // (one transaction may not write an item twice).
            let (mut emails, mut usernames) = (HashSet::new(), HashSet::new());
            let mut batches: Vec<Vec<Planned>> = vec![Vec::new()];
            let (mut items, mut admin) = (0, false);
            for account in accounts {
                let username = account.username.as_ref().map(|u| u.to_ascii_lowercase());
                if emails.contains(&account.email_normalized)
                    || username.as_ref().is_some_and(|u| usernames.contains(u))
                {
                    continue;
                }
                emails.insert(account.email_normalized.clone());
                usernames.extend(username);
                let one = planned(new_account(&self.tables, account)?, account.id)?;
                // An active admin joins the admin set, one item a transaction writes once.
                let is_admin = crate::model::account::is_active_admin(account.role, account.status);
                if items + one.writes.len() > MAX_TRANSACTION || (is_admin && admin) {
                    batches.push(Vec::new());
                    (items, admin) = (0, false);
                }
                items += one.writes.len();
                admin |= is_admin;
                if let Some(batch) = batches.last_mut() {
                    batch.push(one);
                }
            }
            let mut inserted = Vec::new();
            for batch in batches {
                inserted.extend(self.import_batch(batch).await?);
            }
            Ok(inserted)
        })
    }

    async fn replace_password_hash(&self, id: Uuid, old: &str, new: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        timed!(DB, "replace_password_hash", async {
            // On condition of the account's version, at which its hash was `old`.
            let replaced = self
                .change_account(id, |read| {
                    if read.password_hash != old {
                        return Ok(None);
                    }
                    let mut account = read.account.clone();
                    account.updated_at = now;
                    Ok(Some(Plan::new(&self.tables, &read, &account, new, ())?))
                })
                .await?;
            Ok(replaced.is_some())
        })
    }

    async fn foreign_hash_prefixes(&self, current_prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        timed!(DB, "foreign_hash_prefixes", async {
            // Every account through the account list's index (it lags a write by a moment: a
            // count for a gauge), only the hashes not of the current prefix read back.
            let filter = "NOT begins_with(#hash, :current)";
            let pages = self
                .client
                .query()
                .table_name(&self.tables.main)
                .index_name("listing")
                .key_condition_expression("#by_pk = :accounts")
                .filter_expression(filter)
                .projection_expression("#hash")
                .set_expression_attribute_names(names(&["#by_pk", filter]))
                .expression_attribute_values(":accounts", s("A"))
                .expression_attribute_values(":current", s(current_prefix))
                .into_paginator()
                .items()
                .send();
            let found: Vec<_> = pages.try_collect().await.map_err(sdk_error)?;
            let mut counts = std::collections::BTreeMap::<String, u64>::new();
            for account in &found {
                *counts.entry(hash_format(text(account, "hash")?)).or_default() += 1;
            }
            Ok(counts.into_iter().collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::hash_format;

    #[test]
    fn hashes_are_counted_under_the_formats_sql_names() {
        let cases = [
            ("$argon2id$v=19$m=1", "$argon2"),
            ("$2y$10$abc", "$2b$"),
            ("$scrypt$ln=1", "$scrypt$"),
            ("$firebase-scrypt$x", "$firebase-scrypt$"),
            ("$pbkdf2-sha256$1", "pbkdf2_"),
            ("pbkdf2_sha256$1", "pbkdf2_"),
            ("!nopassword", "!"),
            ("", ""),
        ];
        for (hash, format) in cases {
            assert_eq!(hash_format(hash), format, "{hash}");
        }
    }
}
