//! Bulk import into `accounts`: one multi-row `INSERT` per batch that skips rows colliding with
//! an existing account (any unique key) or naming a username once given to another account
//! (`username_claims`), and which rows went in read back by their new ids; their usernames are
//! claimed in the same transaction.

use async_trait::async_trait;

use super::{Arg, Built, Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::store::accounts::NewAccount;
use crate::store::error::StoreResult;
use crate::store::import::ImportStore;

/// Values per imported row.
const VALUES_PER_ROW: usize = 15;

#[async_trait]
impl<D: Dialect> ImportStore for SqlStore<D> {
    async fn import_accounts(&self, accounts: &[NewAccount]) -> StoreResult<Vec<uuid::Uuid>> {
        timed!(DB, "import_accounts", async {
            let per_insert = (D::MAX_PARAMETERS / VALUES_PER_ROW).clamp(1, 2_000);
            let normalized: Vec<Option<String>> =
                accounts.iter().map(|a| a.username.as_ref().map(|u| u.to_ascii_lowercase())).collect();
            let mut tx = self.db.begin().await?;
            // Names once given to an account are never given to another: such rows are skipped.
            // (One look-up per name: MySQL hands a binary-collated column back as bytes, so the
            // names are asked for, not read back.)
            let mut claimed = std::collections::HashSet::new();
            for name in normalized.iter().flatten() {
                let sql = sql!("SELECT 1 AS claimed FROM username_claims WHERE username_normalized = ?");
                if tx.fetch_optional(sql, args![name.as_str()]).await?.is_some() {
                    claimed.insert(name.clone());
                }
            }
            let (accounts, normalized): (Vec<&NewAccount>, Vec<Option<String>>) = accounts
                .iter()
                .zip(normalized)
                .filter(|(_, name)| name.as_ref().is_none_or(|name| !claimed.contains(name)))
                .unzip();
            for (batch, usernames) in accounts.chunks(per_insert).zip(normalized.chunks(per_insert)) {
                let mut insert = Built::new(
                    "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name, data,
                                           app_data, password_hash, role, status, email_verified, locale,
                                           created_at, updated_at)
                     VALUES ",
                );
                for (i, (account, username)) in batch.iter().zip(usernames).enumerate() {
                    let values: [Arg<'_>; VALUES_PER_ROW] = [
                        account.id.into(),
                        (&account.email).into(),
                        (&account.email_normalized).into(),
                        (&account.username).into(),
                        username.as_deref().into(),
                        (&account.name).into(),
                        (&account.data).into(),
                        (&account.app_data).into(),
                        (&account.password_hash).into(),
                        account.role.as_str().into(),
                        account.status.as_str().into(),
                        account.email_verified.into(),
                        account.locale.map(|l| l.as_str()).into(),
                        account.now.into(),
                        account.now.into(),
                    ];
                    let row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
                    insert.push(if i == 0 { "" } else { ", " }, &[]).push(row, &values);
                }
                insert.push(&format!(" {}", D::skip_duplicates("id")), &[]);
                insert.execute(&mut tx).await?;
            }
            // Which went in: the ids are new (UUIDv7), so an id found is a row this import wrote.
            let mut inserted = Vec::new();
            for batch in accounts.chunks(per_insert) {
                let mut select = Built::new("SELECT id, username, created_at FROM accounts WHERE id IN (");
                for (i, account) in batch.iter().enumerate() {
                    select.push(if i == 0 { "?" } else { ", ?" }, &[account.id.into()]);
                }
                select.push(")", &[]);
                for row in select.fetch_all(&mut tx).await? {
                    let id = row.id("id")?;
                    if let Some(name) = row.opt_text("username")? {
                        let name = name.to_ascii_lowercase();
                        super::accounts::claim_username(&mut tx, &name, id, row.time("created_at")?).await?;
                    }
                    inserted.push(id);
                }
            }
            tx.commit().await?;
            Ok(inserted)
        })
    }

    async fn replace_password_hash(
        &self,
        id: uuid::Uuid,
        old: &str,
        new: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool> {
        timed!(DB, "replace_password_hash", async {
            let sql = sql!("UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?");
            Ok(self.db.pool().execute(sql, args![new, now, id, old]).await? == 1)
        })
    }

    async fn foreign_hash_prefixes(&self, current_prefix: &str) -> StoreResult<Vec<(String, u64)>> {
        timed!(DB, "foreign_hash_prefixes", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT CASE WHEN password_hash LIKE '$argon2%' THEN '$argon2'
                                     WHEN password_hash LIKE '$2%' THEN '$2b$'
                                     WHEN password_hash LIKE '$scrypt$%' THEN '$scrypt$'
                                     WHEN password_hash LIKE '$firebase-scrypt$%' THEN '$firebase-scrypt$'
                                     WHEN password_hash LIKE '$pbkdf2-%' OR password_hash LIKE 'pbkdf2%' THEN 'pbkdf2_'
                                     ELSE SUBSTR(password_hash, 1, 1) END AS prefix,
                                COUNT(*) AS n
                           FROM accounts WHERE password_hash NOT LIKE ? GROUP BY 1"
                    ),
                    args![format!("{current_prefix}%").as_str()],
                )
                .await?;
            rows.iter().map(|row| Ok((row.text("prefix")?, u64::try_from(row.int("n")?).unwrap_or_default()))).collect()
        })
    }
}
