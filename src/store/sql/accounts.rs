//! The `accounts` table: insert (with the first link and its email), find by id, email or
//! username, profile updates and password changes, deletion; and the last-admin guard, inside
//! the transaction of any change that could remove the last active admin.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::orgs::release_owned_orgs;
use super::outbox::insert_effects;
use super::tokens::insert_token;
use super::{ACCOUNT_COLUMNS, Dialect, Exec, Row, SqlStore, Transaction, account_from_row, args, read_account, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::{Account, AccountKey, Credentials, Role, Status, is_active_admin};
use crate::model::outcome::Effects;
use crate::store::accounts::{AccountStore, NewAccount, ProfileChange};
use crate::store::error::{StoreError, StoreResult};
use crate::store::tokens::NewOneTimeToken;

/// The last-admin guard, inside the transaction of a change that leaves account `id` no longer
/// an active admin: [`StoreError::LastAdmin`] when it is one now and no other is.
///
/// It locks every active admin first, in id order, then the account itself, so two guards
/// (two admins demoting each other) queue instead of deadlocking, and the admins it counts
/// stay admins until the transaction ends; a locking read sees the latest committed rows, so
/// an admin demoted meanwhile is not counted. `NO KEY UPDATE` (PostgreSQL) is the strength of
/// an ordinary update: it does not hold back an admin's new session, which only references the
/// row. On SQLite the write transaction alone serializes the guards.
pub(super) async fn refuse_last_admin(tx: &mut impl Exec, id: Uuid) -> StoreResult<()> {
    let admins = tx
        .fetch_all(
            sql!("SELECT id FROM accounts WHERE role = 'admin' AND status = 'active' ORDER BY id FOR NO KEY UPDATE"),
            args![],
        )
        .await?;
    let target =
        tx.fetch_optional(sql!("SELECT role, status FROM accounts WHERE id = ? FOR NO KEY UPDATE"), args![id]).await?;
    let Some(target) = target else { return Ok(()) };
    let (role, status) = (Role::parse(&target.text("role")?), Status::parse(&target.text("status")?));
    let target_is_active_admin = role.zip(status).is_some_and(|(role, status)| is_active_admin(role, status));
    let others = admins.iter().map(|row| row.id("id")).filter(|admin| !matches!(admin, Ok(a) if *a == id)).count();
    if target_is_active_admin && others == 0 {
        return Err(StoreError::LastAdmin);
    }
    Ok(())
}

/// Claims a username (lower case) for `account_id` for good, inside the transaction that gives
/// it: a name once given never goes to another account, even after its holder changed it or
/// was deleted (`username_claims`). `UsernameTaken` when it is another account's.
pub(super) async fn claim_username<E: Exec>(
    tx: &mut E,
    username_normalized: &str,
    account_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    tx.execute(
        sql!(
            "INSERT INTO username_claims (username_normalized, account_id, claimed_at) VALUES (?, ?, ?) {}",
            <E::Dialect as Dialect>::skip_duplicates("username_normalized")
        ),
        args![username_normalized, account_id, now],
    )
    .await?;
    let holder = tx
        .fetch_optional(
            sql!("SELECT account_id FROM username_claims WHERE username_normalized = ?"),
            args![username_normalized],
        )
        .await?;
    match holder.map(|row| row.id("account_id")).transpose()? {
        Some(holder) if holder == account_id => Ok(()),
        _ => Err(StoreError::UsernameTaken),
    }
}

/// Inserts an account row, inside a transaction.
pub(super) async fn insert_account_row(tx: &mut impl Exec, account: &NewAccount) -> StoreResult<()> {
    let username_normalized = account.username.as_ref().map(|u| u.to_ascii_lowercase());
    let username_normalized = username_normalized.as_deref();
    tx.execute(
        sql!(
            "INSERT INTO accounts (id, email, email_normalized, username, username_normalized, name, data,
                                   app_data, password_hash, role, status, email_verified, created_at,
                                   updated_at, locale)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        args![
            account.id,
            &account.email,
            &account.email_normalized,
            &account.username,
            username_normalized,
            &account.name,
            &account.data,
            &account.app_data,
            &account.password_hash,
            account.role.as_str(),
            account.status.as_str(),
            account.email_verified,
            account.now,
            account.now,
            account.locale.map(|l| l.as_str()),
        ],
    )
    .await?;
    if let Some(username) = username_normalized {
        claim_username(tx, username, account.id, account.now).await?;
    }
    Ok(())
}

#[async_trait]
impl<D: Dialect> AccountStore for SqlStore<D> {
    async fn insert_account(
        &self,
        account: &NewAccount,
        link: Option<&NewOneTimeToken>,
        effects: &Effects,
    ) -> StoreResult<Account> {
        timed!(
            DB,
            "insert_account",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                insert_account_row(&mut tx, account).await?;
                if let Some(token) = link {
                    insert_token(&mut tx, token).await?;
                }
                insert_effects(&mut tx, effects).await?;
                let stored = read_account(&mut tx, account.id).await?;
                tx.commit().await?;
                stored.map(|c| c.account).ok_or_else(|| anyhow::anyhow!("the inserted account was not found").into())
            })
        )
    }

    async fn find_account(&self, key: &AccountKey) -> StoreResult<Option<Credentials>> {
        timed!(DB, "find_account", async {
            if let Some(found) = self.db.find_account_in_place(key) {
                return found;
            }
            let row = match key {
                AccountKey::Id(id) => {
                    let sql = sql!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?");
                    self.db.pool().fetch_optional(sql, args![*id]).await?
                }
                AccountKey::Email(email) => {
                    let sql = sql!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE email_normalized = ?");
                    self.db.pool().fetch_optional(sql, args![email.to_lowercase().as_str()]).await?
                }
                AccountKey::Username(name) => {
                    let sql = sql!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE username_normalized = ?");
                    self.db.pool().fetch_optional(sql, args![name.to_ascii_lowercase().as_str()]).await?
                }
            };
            row.as_ref().map(account_from_row).transpose()
        })
    }

    async fn update_profile(
        &self,
        id: Uuid,
        change: &ProfileChange,
        effects: &Effects,
    ) -> StoreResult<Option<Account>> {
        let username_normalized = change.username.as_ref().map(|u| u.to_ascii_lowercase());
        let stays_active_admin = is_active_admin(change.role, change.status);
        let claimed = username_normalized.as_deref();
        let values = args![
            &change.username,
            username_normalized.as_deref(),
            &change.name,
            &change.data,
            &change.app_data,
            change.role.as_str(),
            change.status.as_str(),
            change.locale.map(|l| l.as_str()),
            change.now,
            id,
        ];
        timed!(
            DB,
            "update_profile",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                if change.status == Status::Active {
                    // An admin activating a pending account vouches for the address, not for the
                    // logins whoever signed up linked: those go. (A plain read first: a locking
                    // one before the update's own lock would make concurrent updates deadlock.)
                    let pending = sql!("SELECT 1 AS pending FROM accounts WHERE id = ? AND status = 'pending'");
                    if tx.fetch_optional(pending, args![id]).await?.is_some() {
                        tx.execute(sql!("DELETE FROM identities WHERE account_id = ?"), args![id]).await?;
                    }
                }
                // The row lock this update takes makes its condition hold at the moment of the
                // write: an active admin is left alone unless it stays one.
                let mut guarded = values.to_vec();
                guarded.push(stays_active_admin.into());
                let mut updated = tx
                    .execute(
                        sql!(
                            "UPDATE accounts SET username = ?, username_normalized = ?, name = ?, data = ?,
                                                 app_data = ?, role = ?, status = ?, locale = ?, updated_at = ?
                             WHERE id = ? AND (? OR NOT (role = 'admin' AND status = 'active'))"
                        ),
                        &guarded,
                    )
                    .await?;
                if updated == 0 && !stays_active_admin {
                    // No such account, or an active admin about to be demoted or disabled.
                    refuse_last_admin(&mut tx, id).await?;
                    updated = tx
                        .execute(
                            sql!(
                                "UPDATE accounts SET username = ?, username_normalized = ?, name = ?, data = ?,
                                                     app_data = ?, role = ?, status = ?, locale = ?, updated_at = ?
                                 WHERE id = ?"
                            ),
                            values,
                        )
                        .await?;
                }
                if updated == 0 {
                    return Ok(None);
                }
                if let Some(username) = claimed {
                    claim_username(&mut tx, username, id, change.now).await?;
                }
                // The status is now whoever wrote it last: SCIM enables again only an account it
                // disabled itself, so its mark goes with any other write of the status.
                let unmark =
                    sql!("UPDATE scim_users SET disabled_account = ? WHERE account_id = ? AND disabled_account = ?");
                tx.execute(unmark, args![false, id, true]).await?;
                insert_effects(&mut tx, effects).await?;
                let stored = read_account(&mut tx, id).await?;
                tx.commit().await?;
                Ok(stored.map(|c| c.account))
            })
        )
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str, now: DateTime<Utc>, effects: &Effects) -> StoreResult<()> {
        timed!(
            DB,
            "set_password_hash",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.execute(
                    sql!("UPDATE accounts SET password_hash = ?, updated_at = ? WHERE id = ?"),
                    args![hash, now, id],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await
            })
        )
    }

    async fn delete_account(&self, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_account",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                refuse_last_admin(&mut tx, id).await?;
                release_owned_orgs(&mut tx, id).await?;
                // Told before it goes (the event carries the account as it was), once its row is
                // locked, so a change racing the deletion is told first or not at all.
                tx.lock(sql!("SELECT 1 FROM accounts WHERE id = ? FOR UPDATE"), args![id]).await?;
                insert_effects(&mut tx, effects).await?;
                let deleted = tx.execute(sql!("DELETE FROM accounts WHERE id = ?"), args![id]).await?;
                if deleted == 0 {
                    // Nothing changed, so nothing is told: dropping the transaction undoes the events.
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            })
        )
    }
}
