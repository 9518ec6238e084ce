//! An organization's claimed domains (`org_domains`) and the accounts its verified domains
//! joined (`org_auto_joins`). Every change locks the organization's row first, as the member
//! guard does. Two organizations verifying one domain at once: the unique `verified_domain`
//! lets one through.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::invitations::offer_stands;
use super::org_roles::{lock_org, read_role};
use super::orgs::read_membership;
use super::outbox::insert_effects;
use super::{Built, Dialect, Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::domain::DomainName;
use crate::model::org::builtin_permissions;
use crate::model::outcome::Effects;
use crate::store::error::{StoreError, StoreResult};
use crate::store::org_domains::{AutoJoin, AutoJoinChange, AutoJoined, DomainVerification, OrgDomain, OrgDomainStore};

const COLUMNS: &str = "org_id, domain, challenge, verified_at, auto_join_role, auto_join_by, created_at";

fn domain_from_row(row: &impl Row) -> StoreResult<OrgDomain> {
    Ok(OrgDomain {
        org_id: row.id("org_id")?,
        domain: row.text("domain")?,
        challenge: row.text("challenge")?,
        verified_at: row.opt_time("verified_at")?,
        auto_join_role: row.opt_text("auto_join_role")?,
        auto_join_by: row.opt_id("auto_join_by")?,
        created_at: row.time("created_at")?,
    })
}

/// Only a well-formed name is looked up (on every database alike, whatever its collation:
/// MariaDB/MySQL would match `EXAMPLE.com ` to `example.com`, and PostgreSQL refuses NUL).
fn well_formed(domain: &str) -> bool {
    DomainName::parse(domain).is_ok_and(|parsed| parsed.as_str() == domain)
}

async fn read_claim(tx: &mut impl Exec, org_id: Uuid, domain: &str) -> StoreResult<Option<OrgDomain>> {
    if !well_formed(domain) {
        return Ok(None);
    }
    let row = tx
        .fetch_optional(
            sql!("SELECT {COLUMNS} FROM org_domains WHERE org_id = ? AND domain = ?"),
            args![org_id, domain],
        )
        .await?;
    row.as_ref().map(domain_from_row).transpose()
}

#[async_trait]
impl<D: Dialect> OrgDomainStore for SqlStore<D> {
    async fn org_domains(&self, org_id: Uuid) -> StoreResult<Vec<OrgDomain>> {
        timed!(DB, "org_domains", async {
            let rows = self
                .db
                .pool()
                .fetch_all(sql!("SELECT {COLUMNS} FROM org_domains WHERE org_id = ? ORDER BY domain"), args![org_id])
                .await?;
            rows.iter().map(domain_from_row).collect()
        })
    }

    async fn find_org_domain(&self, org_id: Uuid, domain: &str) -> StoreResult<Option<OrgDomain>> {
        timed!(DB, "find_org_domain", async { read_claim(&mut self.db.pool(), org_id, domain).await })
    }

    async fn insert_org_domain(&self, claim: &OrgDomain, max: usize, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "insert_org_domain",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, claim.org_id).await?;
                let counted = sql!("SELECT COUNT(*) AS n FROM org_domains WHERE org_id = ?");
                let held = tx.fetch_optional(counted, args![claim.org_id]).await?.map_or(Ok(0), |r| r.count("n"))?;
                if held >= max as u64 || read_claim(&mut tx, claim.org_id, &claim.domain).await?.is_some() {
                    return Ok(false);
                }
                let inserted = tx
                    .execute(
                        sql!(
                            "INSERT INTO org_domains (org_id, domain, challenge, auto_join_role, auto_join_by, created_at)
                             VALUES (?, ?, ?, ?, ?, ?)"
                        ),
                        args![
                            claim.org_id,
                            &claim.domain,
                            &claim.challenge,
                            claim.auto_join_role.as_deref(),
                            claim.auto_join_by,
                            claim.created_at
                        ],
                    )
                    .await;
                match inserted {
                    Err(StoreError::Conflict) => return Ok(false),
                    other => other?,
                };
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn verify_org_domain(
        &self,
        org_id: Uuid,
        domain: &str,
        now: DateTime<Utc>,
        effects: &Effects,
    ) -> StoreResult<DomainVerification> {
        timed!(
            DB,
            "verify_org_domain",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                let Some(claim) = read_claim(&mut tx, org_id, domain).await? else {
                    return Ok(DomainVerification::NotFound);
                };
                if claim.verified_at.is_some() {
                    return Ok(DomainVerification::Verified(claim));
                }
                let holder = sql!("SELECT org_id FROM org_domains WHERE verified_domain = ?");
                if tx.fetch_optional(holder, args![domain]).await?.is_some() {
                    return Ok(DomainVerification::Taken);
                }
                let marked = tx
                    .execute(
                        sql!("UPDATE org_domains SET verified_domain = ?, verified_at = ? WHERE org_id = ? AND domain = ?"),
                        args![domain, now, org_id, domain],
                    )
                    .await;
                match marked {
                    Err(StoreError::Conflict) => return Ok(DomainVerification::Taken),
                    other => other?,
                };
                insert_effects(&mut tx, effects).await?;
                let verified = read_claim(&mut tx, org_id, domain).await?;
                tx.commit().await?;
                let verified = verified.ok_or_else(|| anyhow::anyhow!("the verified domain was not found"))?;
                Ok(DomainVerification::Verified(verified))
            })
        )
    }

    async fn set_auto_join(
        &self,
        org_id: Uuid,
        domain: &str,
        role: Option<&str>,
        by: Option<Uuid>,
        effects: &Effects,
    ) -> StoreResult<AutoJoinChange> {
        timed!(
            DB,
            "set_auto_join",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                if read_claim(&mut tx, org_id, domain).await?.is_none() {
                    return Ok(AutoJoinChange::NotFound);
                }
                if let Some(role) = role
                    && builtin_permissions(role).is_none()
                    && read_role(&mut tx, org_id, role).await?.is_none()
                {
                    return Ok(AutoJoinChange::UnknownRole);
                }
                tx.execute(
                    sql!("UPDATE org_domains SET auto_join_role = ?, auto_join_by = ? WHERE org_id = ? AND domain = ?"),
                    args![role, by.filter(|_| role.is_some()), org_id, domain],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                let changed = read_claim(&mut tx, org_id, domain).await?;
                tx.commit().await?;
                let changed = changed.ok_or_else(|| anyhow::anyhow!("the changed domain was not found"))?;
                Ok(AutoJoinChange::Done(changed))
            })
        )
    }

    async fn delete_org_domain(&self, org_id: Uuid, domain: &str, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "delete_org_domain",
            self.retrying(|| async move {
                if !well_formed(domain) {
                    return Ok(false);
                }
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, org_id).await?;
                let deleted = tx
                    .execute(sql!("DELETE FROM org_domains WHERE org_id = ? AND domain = ?"), args![org_id, domain])
                    .await?;
                if deleted == 0 {
                    return Ok(false);
                }
                insert_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            })
        )
    }

    async fn verified_domain(&self, domain: &str) -> StoreResult<Option<OrgDomain>> {
        timed!(DB, "verified_domain", async {
            if !well_formed(domain) {
                return Ok(None);
            }
            let row = self
                .db
                .pool()
                .fetch_optional(sql!("SELECT {COLUMNS} FROM org_domains WHERE verified_domain = ?"), args![domain])
                .await?;
            row.as_ref().map(domain_from_row).transpose()
        })
    }

    async fn auto_joined(&self, org_id: Uuid) -> StoreResult<Vec<(Uuid, DateTime<Utc>)>> {
        timed!(DB, "auto_joined", async {
            let query = sql!(
                "SELECT account_id, joined_at FROM org_auto_joins WHERE org_id = ? ORDER BY joined_at, account_id"
            );
            let rows = self.db.pool().fetch_all(query, args![org_id]).await?;
            rows.iter().map(|row| Ok((row.id("account_id")?, row.time("joined_at")?))).collect()
        })
    }

    async fn remember_auto_join(&self, org_id: Uuid, account_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        timed!(DB, "remember_auto_join", async {
            let mut insert = Built::new("INSERT INTO org_auto_joins (org_id, account_id, joined_at) VALUES ");
            insert.push("(?, ?, ?)", &[org_id.into(), account_id.into(), at.into()]);
            insert.push(&format!(" {}", D::skip_duplicates("org_id")), &[]);
            insert.execute(&mut self.db.pool()).await?;
            Ok(())
        })
    }

    async fn auto_join_offer(&self, domain: &str, account_id: Uuid) -> StoreResult<Option<OrgDomain>> {
        timed!(DB, "auto_join_offer", async {
            if !well_formed(domain) {
                return Ok(None);
            }
            let row = self
                .db
                .pool()
                .fetch_optional(
                    sql!(
                        "SELECT {COLUMNS} FROM org_domains d
                         WHERE d.verified_domain = ? AND d.auto_join_role IS NOT NULL
                           AND NOT EXISTS (SELECT 1 FROM org_auto_joins j WHERE j.org_id = d.org_id AND j.account_id = ?)"
                    ),
                    args![domain, account_id],
                )
                .await?;
            row.as_ref().map(domain_from_row).transpose()
        })
    }

    async fn auto_join(&self, join: &AutoJoin<'_>, effects: &Effects) -> StoreResult<AutoJoined> {
        timed!(
            DB,
            "auto_join",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                lock_org(&mut tx, join.org_id).await?;
                // The domain still offers the role, and its offer is still worth its maker's word.
                let claim = read_claim(&mut tx, join.org_id, join.domain).await?;
                let Some(claim) = claim
                    .filter(|claim| claim.verified_at.is_some() && claim.auto_join_role.as_deref() == Some(join.role))
                else {
                    return Ok(AutoJoined::No);
                };
                if !offer_stands(&mut tx, join.org_id, claim.auto_join_by, join.role).await? {
                    return Ok(AutoJoined::No);
                }
                let before = sql!("SELECT account_id FROM org_auto_joins WHERE org_id = ? AND account_id = ?");
                if tx.fetch_optional(before, args![join.org_id, join.account_id]).await?.is_some() {
                    return Ok(AutoJoined::No);
                }
                let member = sql!("SELECT role FROM memberships WHERE org_id = ? AND account_id = ? FOR UPDATE");
                let is_member = tx.fetch_optional(member, args![join.org_id, join.account_id]).await?.is_some();
                if !is_member {
                    let counted = sql!("SELECT COUNT(*) AS n FROM memberships WHERE org_id = ?");
                    let members =
                        tx.fetch_optional(counted, args![join.org_id]).await?.map_or(Ok(0), |r| r.count("n"))?;
                    if members >= join.member_limit {
                        return Ok(AutoJoined::No);
                    }
                }
                tx.execute(
                    sql!("INSERT INTO org_auto_joins (org_id, account_id, joined_at) VALUES (?, ?, ?)"),
                    args![join.org_id, join.account_id, join.now],
                )
                .await?;
                if is_member {
                    tx.commit().await?;
                    return Ok(AutoJoined::No);
                }
                tx.execute(
                    sql!("INSERT INTO memberships (org_id, account_id, role, joined_at) VALUES (?, ?, ?, ?)"),
                    args![join.org_id, join.account_id, join.role, join.now],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                let joined = read_membership(&mut tx, join.org_id, join.account_id).await?;
                tx.commit().await?;
                let joined = joined.ok_or_else(|| anyhow::anyhow!("the joined membership was not found"))?;
                Ok(AutoJoined::Joined(Box::new(joined)))
            })
        )
    }
}
