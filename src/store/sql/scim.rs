//! SCIM provisioning (`scim_tokens`, `scim_users`, `scim_groups`, `scim_group_members`), and
//! the two columns of `memberships` it keeps: `suspended_at` and `group_names`. Every change
//! locks the organization's row first, as the member guard does, so an organization's member
//! changes take turns; a membership's `group_names` is rewritten in the transaction that
//! changes its groups, so the `org` claim reads them with the membership.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::accounts::insert_account_row;
use super::org_roles::lock_org;
use super::outbox::insert_effects;
use super::{Built, Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::account::{Role, Status};
use crate::model::org::directory_spares;
use crate::model::outcome::Effects;
use crate::model::scim::{MAX_GROUP_NAME_BYTES, MAX_MEMBER_GROUPS};
use crate::store::error::{StoreError, StoreResult};
use crate::store::scim::{
    NewScimToken, Page, Provision, Provisioned as Provisioning, ScimStore, ScimToken, ScimUser, ScimUserChange,
    ScimUserFilter, UserWrite,
};
use crate::tokens::opaque::TokenHash;

const TOKEN_COLUMNS: &str = "id, org_id, name, created_at, last_used_at";
const USER_COLUMNS: &str = "s.org_id, s.account_id, s.user_name, s.external_id, s.created_account, s.disabled_account, s.attributes, \
                            s.created_at, s.updated_at, a.email, a.name, m.suspended_at";
const USERS: &str = "FROM scim_users s JOIN memberships m ON m.org_id = s.org_id AND m.account_id = s.account_id \
                     JOIN accounts a ON a.id = s.account_id WHERE s.org_id = ?";

fn token_from_row(row: &impl Row) -> StoreResult<ScimToken> {
    Ok(ScimToken {
        id: row.id("id")?,
        org_id: row.id("org_id")?,
        name: row.text("name")?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

fn user_from_row(row: &impl Row) -> StoreResult<ScimUser> {
    Ok(ScimUser {
        org_id: row.id("org_id")?,
        account_id: row.id("account_id")?,
        user_name: row.text("user_name")?,
        external_id: row.opt_text("external_id")?,
        email: row.text("email")?,
        name: row.opt_text("name")?,
        active: row.opt_time("suspended_at")?.is_none(),
        created_account: row.bool("created_account")?,
        disabled_account: row.bool("disabled_account")?,
        attributes: row.opt_text("attributes")?.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

/// A provisioned member as a change's transaction reads it, locked.
enum Current<R> {
    Member(R),
    Missing,
    /// The organization's owner, or a server admin's account: promoted since it was
    /// provisioned, and no longer SCIM's to change.
    Protected,
}

/// Reads the provisioned member, after the organization's row is locked, with the roles that
/// decide whether SCIM may still change it: a promotion that committed a moment ago counts.
async fn provisioned<E: Exec>(
    tx: &mut E,
    org_id: Uuid,
    account_id: Uuid,
) -> StoreResult<Current<<E::Dialect as Dialect>::Row>> {
    let current = tx
        .fetch_optional(
            sql!(
                "SELECT s.disabled_account, m.suspended_at, m.role, a.status, a.role AS account_role FROM scim_users s
                 JOIN memberships m ON m.org_id = s.org_id AND m.account_id = s.account_id
                 JOIN accounts a ON a.id = s.account_id
                 WHERE s.org_id = ? AND s.account_id = ? FOR UPDATE"
            ),
            args![org_id, account_id],
        )
        .await?;
    let Some(current) = current else { return Ok(Current::Missing) };
    let account_role = Role::parse(&current.text("account_role")?).unwrap_or(Role::User);
    if directory_spares(&current.text("role")?, account_role) {
        return Ok(Current::Protected);
    }
    Ok(Current::Member(current))
}

/// A page cut from every match (few: those of one `externalId`).
pub(super) fn exact_page<T>(all: Vec<T>, offset: u64, limit: u32) -> Page<T> {
    let total = all.len() as u64;
    let items = all.into_iter().skip(usize::try_from(offset).unwrap_or(usize::MAX)).take(limit as usize).collect();
    Page { items, total }
}

/// The key a `userName` or a group's name is unique and found by: its lower case.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

/// Rewrites the membership's `group_names` from its groups, in their names' order; `false`
/// (and nothing written) when they are more, or longer, than a token may carry.
pub(super) async fn refresh_group_names(tx: &mut impl Exec, org_id: Uuid, account_id: Uuid) -> StoreResult<bool> {
    let rows = tx
        .fetch_all(
            sql!(
                "SELECT g.display_name FROM scim_group_members gm JOIN scim_groups g ON g.id = gm.group_id
                 WHERE gm.org_id = ? AND gm.account_id = ? ORDER BY g.display_key"
            ),
            args![org_id, account_id],
        )
        .await?;
    let names = rows.iter().map(|row| row.text("display_name")).collect::<StoreResult<Vec<_>>>()?;
    let bytes: usize = names.iter().map(String::len).sum();
    if names.len() > MAX_MEMBER_GROUPS || bytes > MAX_GROUP_NAME_BYTES {
        return Ok(false);
    }
    let stored = (!names.is_empty()).then(|| serde_json::Value::from(names).to_string());
    tx.execute(
        sql!("UPDATE memberships SET group_names = ? WHERE org_id = ? AND account_id = ?"),
        args![stored.as_deref(), org_id, account_id],
    )
    .await?;
    Ok(true)
}

#[async_trait]
impl<D: Dialect> ScimStore for SqlStore<D> {
    async fn insert_scim_token(&self, new: &NewScimToken, max: usize, effects: &Effects) -> StoreResult<bool> {
        let token = &new.token;
        timed!(
            DB,
            "insert_scim_token",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, token.org_id).await?;
                let counted = sql!("SELECT COUNT(*) AS n FROM scim_tokens WHERE org_id = ?");
                let held = tx.fetch_optional(counted, args![token.org_id]).await?.map_or(Ok(0), |r| r.count("n"))?;
                if held >= max as u64 {
                    return Ok(false);
                }
                tx.execute(
                    sql!("INSERT INTO scim_tokens (id, org_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)"),
                    args![token.id, token.org_id, &token.name, &new.hash, token.created_at],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn scim_tokens(&self, org_id: Uuid) -> StoreResult<Vec<ScimToken>> {
        let tokens = self.scim_tokens_with_hashes(org_id).await?;
        Ok(tokens.into_iter().map(|new| new.token).collect())
    }

    async fn scim_tokens_with_hashes(&self, org_id: Uuid) -> StoreResult<Vec<NewScimToken>> {
        timed!(DB, "scim_tokens_with_hashes", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!("SELECT {TOKEN_COLUMNS}, hash FROM scim_tokens WHERE org_id = ? ORDER BY created_at, id"),
                    args![org_id],
                )
                .await?;
            rows.iter().map(|row| Ok(NewScimToken { token: token_from_row(row)?, hash: row.hash("hash")? })).collect()
        })
    }

    async fn scim_token_by_hash(&self, hash: &TokenHash) -> StoreResult<Option<ScimToken>> {
        timed!(DB, "scim_token_by_hash", async {
            let row = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT {TOKEN_COLUMNS} FROM scim_tokens WHERE hash = ?"), args![hash])
                .await?;
            row.as_ref().map(token_from_row).transpose()
        })
    }

    async fn scim_token_used(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "scim_token_used", async {
            self.db
                .pool()
                .execute(sql!("UPDATE scim_tokens SET last_used_at = ? WHERE id = ?"), args![now, id])
                .await?;
            Ok(())
        })
    }

    async fn delete_scim_token(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_scim_token",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let deleted =
                    tx.execute(sql!("DELETE FROM scim_tokens WHERE id = ? AND org_id = ?"), args![id, org_id]).await?;
                if deleted != 1 {
                    return Ok(false);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn scim_user(&self, org_id: Uuid, account_id: Uuid) -> StoreResult<Option<ScimUser>> {
        timed!(DB, "scim_user", async {
            let row = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT {USER_COLUMNS} {USERS} AND s.account_id = ?"), args![org_id, account_id])
                .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    async fn scim_users(
        &self,
        org_id: Uuid,
        filter: &ScimUserFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<Page<ScimUser>> {
        let user_name = filter.user_name.as_deref().map(name_key);
        let email = filter.email.as_deref().map(str::to_lowercase);
        timed!(DB, "scim_users", async {
            let filtered = |columns: &str| {
                let mut query = Built::new(format!("SELECT {columns} {USERS}"));
                query.push("", &[org_id.into()]);
                if let Some(key) = user_name.as_deref() {
                    query.and("s.user_name_key = ?", key);
                }
                if let Some(external_id) = filter.external_id.as_deref() {
                    query.and("s.external_id = ?", external_id);
                }
                if let Some(email) = email.as_deref() {
                    query.and("a.email_normalized = ?", email);
                }
                query
            };
            let mut pool = self.db.pool();
            if let Some(exact) = filter.external_id.as_deref() {
                // MariaDB/MySQL match `externalId` in their collation (in any case); the few
                // rows matched are held to the exact value here, on every database alike.
                let mut all = filtered(USER_COLUMNS);
                all.push(" ORDER BY s.created_at, s.account_id LIMIT 1000", &[]);
                let users =
                    all.fetch_all(&mut pool).await?.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
                let users: Vec<ScimUser> =
                    users.into_iter().filter(|u| u.external_id.as_deref() == Some(exact)).collect();
                return Ok(exact_page(users, offset, limit));
            }
            let total = filtered("COUNT(*) AS n").fetch_optional(&mut pool).await?.map_or(Ok(0), |r| r.count("n"))?;
            let mut page = filtered(USER_COLUMNS);
            let offset = i64::try_from(offset).unwrap_or(i64::MAX);
            page.push(
                " ORDER BY s.created_at, s.account_id LIMIT ? OFFSET ?",
                &[i64::from(limit).into(), offset.into()],
            );
            let rows = page.fetch_all(&mut pool).await?;
            Ok(Page { items: rows.iter().map(user_from_row).collect::<StoreResult<_>>()?, total })
        })
    }

    async fn provision_scim_user(
        &self,
        p: &Provision<'_>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Provisioning> {
        let key = name_key(p.user_name);
        let key = key.as_str();
        let attributes = serde_json::Value::Object(p.attributes.clone()).to_string();
        let attributes = attributes.as_str();
        timed!(
            DB,
            "provision_scim_user",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, p.org_id).await?;
                let taken = sql!(
                    "SELECT account_id FROM scim_users WHERE org_id = ? AND (user_name_key = ? OR account_id = ?)"
                );
                if tx.fetch_optional(taken, args![p.org_id, key, p.account_id]).await?.is_some() {
                    return Ok(Provisioning::UserNameTaken);
                }
                if let Some(account) = p.new_account {
                    match insert_account_row(&mut tx, account).await {
                        Err(StoreError::EmailTaken) => return Ok(Provisioning::EmailTaken),
                        other => other?,
                    }
                }
                let suspended_at = (!p.active).then_some(p.now);
                let member = sql!("SELECT role FROM memberships WHERE org_id = ? AND account_id = ? FOR UPDATE");
                if tx.fetch_optional(member, args![p.org_id, p.account_id]).await?.is_some() {
                    tx.execute(
                        sql!("UPDATE memberships SET suspended_at = ? WHERE org_id = ? AND account_id = ?"),
                        args![suspended_at, p.org_id, p.account_id],
                    )
                    .await?;
                } else {
                    let counted = sql!("SELECT COUNT(*) AS n FROM memberships WHERE org_id = ?");
                    let held = tx.fetch_optional(counted, args![p.org_id]).await?.map_or(Ok(0), |r| r.count("n"))?;
                    if held >= member_limit {
                        return Ok(Provisioning::MemberLimit);
                    }
                    tx.execute(
                        sql!(
                            "INSERT INTO memberships (org_id, account_id, role, joined_at, suspended_at)
                             VALUES (?, ?, ?, ?, ?)"
                        ),
                        args![p.org_id, p.account_id, p.role, p.now, suspended_at],
                    )
                    .await?;
                }
                tx.execute(
                    sql!(
                        "INSERT INTO scim_users (org_id, account_id, user_name, user_name_key, external_id,
                                                 created_account, disabled_account, attributes, created_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        p.org_id,
                        p.account_id,
                        p.user_name,
                        key,
                        p.external_id,
                        p.created_account,
                        p.disabled_account,
                        attributes,
                        p.now,
                        p.now
                    ],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(Provisioning::Done)
            })
        )
    }

    async fn update_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        change: &ScimUserChange<'_>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        let key = name_key(change.user_name);
        let key = key.as_str();
        let attributes = serde_json::Value::Object(change.attributes.clone()).to_string();
        let attributes = attributes.as_str();
        timed!(
            DB,
            "update_scim_user",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                let current = match provisioned(&mut tx, org_id, account_id).await? {
                    Current::Member(row) => row,
                    Current::Missing => return Ok(UserWrite::NotFound),
                    Current::Protected => return Ok(UserWrite::Protected),
                };
                let holder = sql!(
                    "SELECT account_id FROM scim_users WHERE org_id = ? AND user_name_key = ? AND account_id <> ?"
                );
                if tx.fetch_optional(holder, args![org_id, key, account_id]).await?.is_some() {
                    return Ok(UserWrite::UserNameTaken);
                }
                let mut disabled_account = current.bool("disabled_account")?;
                let status = current.text("status")?;
                match change.account_enabled {
                    Some(false) if status != Status::Disabled.as_str() => {
                        tx.execute(
                            sql!("UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?"),
                            args![Status::Disabled.as_str(), change.now, account_id],
                        )
                        .await?;
                        disabled_account = true;
                    }
                    Some(true) if disabled_account => {
                        if status == Status::Disabled.as_str() {
                            tx.execute(
                                sql!("UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?"),
                                args![Status::Active.as_str(), change.now, account_id],
                            )
                            .await?;
                        }
                        disabled_account = false;
                    }
                    _ => {}
                }
                if let Some((name, email)) = change.profile {
                    tx.execute(
                        sql!(
                            "UPDATE accounts SET name = ?, email = ?, email_normalized = ?, updated_at = ? WHERE id = ?"
                        ),
                        args![name, email, email.to_lowercase().as_str(), change.now, account_id],
                    )
                    .await?;
                }
                let suspended_at = match (change.active, current.opt_time("suspended_at")?) {
                    (true, _) => None,
                    (false, Some(since)) => Some(since),
                    (false, None) => Some(change.now),
                };
                tx.execute(
                    sql!("UPDATE memberships SET suspended_at = ? WHERE org_id = ? AND account_id = ?"),
                    args![suspended_at, org_id, account_id],
                )
                .await?;
                tx.execute(
                    sql!(
                        "UPDATE scim_users SET user_name = ?, user_name_key = ?, external_id = ?, disabled_account = ?,
                                               attributes = ?, updated_at = ?
                         WHERE org_id = ? AND account_id = ?"
                    ),
                    args![
                        change.user_name,
                        key,
                        change.external_id,
                        disabled_account,
                        attributes,
                        change.now,
                        org_id,
                        account_id
                    ],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(UserWrite::Done)
            })
        )
    }

    async fn deprovision_scim_user(
        &self,
        org_id: Uuid,
        account_id: Uuid,
        disable_account: bool,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<UserWrite> {
        timed!(
            DB,
            "deprovision_scim_user",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                match provisioned(&mut tx, org_id, account_id).await? {
                    Current::Member(_) => {}
                    Current::Missing => return Ok(UserWrite::NotFound),
                    Current::Protected => return Ok(UserWrite::Protected),
                }
                let deleted = tx
                    .execute(
                        sql!(
                            "DELETE FROM memberships WHERE org_id = ? AND account_id = ?
                               AND EXISTS (SELECT 1 FROM scim_users s WHERE s.org_id = ? AND s.account_id = ?)"
                        ),
                        args![org_id, account_id, org_id, account_id],
                    )
                    .await?;
                if deleted != 1 {
                    return Ok(UserWrite::NotFound);
                }
                if disable_account {
                    tx.execute(
                        sql!("UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?"),
                        args![Status::Disabled.as_str(), now, account_id],
                    )
                    .await?;
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(UserWrite::Done)
            })
        )
    }
}
