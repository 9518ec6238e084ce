//! Invitations to organizations (`org_invitations`): one pending per organization and
//! address; accepting one spends it in the transaction that makes the membership, after the
//! organization's row is locked (as every change of its members is), so the member limit holds
//! and two acceptances of one link cannot both join.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::org_roles::custom_roles;
use super::orgs::read_membership;
use super::outbox::insert_effects;
use super::{Exec, Row, SqlStore, Transaction, args, sql};
use crate::metrics::{DATABASE as DB, timed};
use crate::model::org::{self as org, Maker, OrgPolicy, Organization};
use crate::model::outcome::Effects;
use crate::store::error::StoreResult;
use crate::store::invitations::{
    Acceptance, Acceptor, Addressed, Invitation, InvitationKey, InvitationStore, NewInvitation,
};

const COLUMNS: &str = "i.id, i.org_id, i.email, i.role, i.invited_by, i.created_at, i.expires_at";
const ORG_COLUMNS: &str = "o.id AS o_id, o.name, o.slug, o.data, o.policy, o.created_at AS o_created_at, o.updated_at";

fn invitation_from_row(row: &impl Row) -> StoreResult<Invitation> {
    Ok(Invitation {
        id: row.id("id")?,
        org_id: row.id("org_id")?,
        email: row.text("email")?,
        role: row.text("role")?,
        invited_by: row.opt_id("invited_by")?,
        created_at: row.time("created_at")?,
        expires_at: row.time("expires_at")?,
    })
}

/// The organization of a row that also holds an invitation (its columns renamed where they
/// would clash).
fn inviting_org(row: &impl Row) -> StoreResult<Organization> {
    Ok(Organization {
        id: row.id("o_id")?,
        name: row.text("name")?,
        slug: row.text("slug")?,
        data: row.object("data")?,
        policy: OrgPolicy::from_stored(row.opt_json("policy")?),
        created_at: row.time("o_created_at")?,
        updated_at: row.time("updated_at")?,
    })
}

async fn read_invitation(tx: &mut impl Exec, id: Uuid) -> StoreResult<Option<Invitation>> {
    let row = tx.fetch_optional(sql!("SELECT {COLUMNS} FROM org_invitations i WHERE i.id = ?"), args![id]).await?;
    row.as_ref().map(invitation_from_row).transpose()
}

/// Whether an offer of `offered` (an invitation's role, a domain's auto-join role) is still
/// worth the word of the member who made it, read in the transaction that takes it up after
/// the organization's row is locked: the role still exists, and its maker (when an account made
/// it; `None`: an operator or a gatehouse admin) is still a member who may invite and holds
/// every permission the role grants now (only an owner offers `owner`). A removed, suspended or
/// demoted maker's offers, and a role widened since, are void.
pub(super) async fn offer_stands(
    tx: &mut impl Exec,
    org_id: Uuid,
    made_by: Option<Uuid>,
    offered: &str,
) -> StoreResult<bool> {
    let custom = custom_roles(tx, org_id).await?;
    let role = match made_by {
        None => None,
        Some(maker) => {
            let role_of = sql!(
                "SELECT role FROM memberships WHERE org_id = ? AND account_id = ? AND suspended_at IS NULL FOR UPDATE"
            );
            Some(tx.fetch_optional(role_of, args![org_id, maker]).await?.map(|row| row.text("role")).transpose()?)
        }
    };
    let maker = match &role {
        None => Maker::Unrecorded,
        Some(None) => Maker::Gone,
        Some(Some(role)) => Maker::Member(role),
    };
    Ok(org::offer_stands(offered, maker, &custom))
}

#[async_trait]
impl<D: super::Dialect> InvitationStore for SqlStore<D> {
    async fn insert_invitation(&self, invitation: &NewInvitation, effects: &Effects) -> StoreResult<Invitation> {
        timed!(
            DB,
            "insert_invitation",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                tx.lock(sql!("SELECT id FROM organizations WHERE id = ? FOR UPDATE"), args![invitation.org_id]).await?;
                tx.execute(
                    sql!("DELETE FROM org_invitations WHERE org_id = ? AND email = ?"),
                    args![invitation.org_id, &invitation.email],
                )
                .await?;
                tx.execute(
                    sql!(
                        "INSERT INTO org_invitations (id, org_id, email, role, hash, invited_by, created_at, expires_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    args![
                        invitation.id,
                        invitation.org_id,
                        &invitation.email,
                        &invitation.role,
                        &invitation.hash,
                        invitation.invited_by,
                        invitation.created_at,
                        invitation.expires_at
                    ],
                )
                .await?;
                insert_effects(&mut tx, effects).await?;
                let stored = read_invitation(&mut tx, invitation.id).await?;
                tx.commit().await?;
                stored.ok_or_else(|| anyhow::anyhow!("the inserted invitation was not found").into())
            })
        )
    }

    async fn org_invitations(&self, org_id: Uuid, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
        timed!(DB, "org_invitations", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT {COLUMNS} FROM org_invitations i WHERE i.org_id = ? AND i.expires_at > ?
                         ORDER BY i.created_at DESC, i.id DESC"
                    ),
                    args![org_id, now],
                )
                .await?;
            rows.iter().map(invitation_from_row).collect()
        })
    }

    async fn invitations_to(&self, email: &str, now: DateTime<Utc>) -> StoreResult<Vec<Addressed>> {
        timed!(DB, "invitations_to", async {
            let rows = self
                .db
                .pool()
                .fetch_all(
                    sql!(
                        "SELECT {COLUMNS}, {ORG_COLUMNS} FROM org_invitations i JOIN organizations o ON o.id = i.org_id
                         WHERE i.email = ? AND i.expires_at > ? ORDER BY i.created_at DESC, i.id DESC"
                    ),
                    args![email, now],
                )
                .await?;
            let addressed: StoreResult<Vec<Addressed>> = rows
                .iter()
                .map(|row| Ok(Addressed { invitation: invitation_from_row(row)?, org: inviting_org(row)? }))
                .collect();
            // Exactly this address: MariaDB/MySQL's collation would also match other letter
            // cases, accents and trailing spaces.
            Ok(addressed?.into_iter().filter(|a| a.invitation.email == email).collect())
        })
    }

    async fn find_invitation(&self, key: InvitationKey<'_>) -> StoreResult<Option<(Invitation, Organization)>> {
        timed!(DB, "find_invitation", async {
            let mut pool = self.db.pool();
            let row = match key {
                InvitationKey::Token(hash) => {
                    let by_hash = sql!(
                        "SELECT {COLUMNS}, {ORG_COLUMNS} FROM org_invitations i JOIN organizations o ON o.id = i.org_id
                         WHERE i.hash = ?"
                    );
                    pool.fetch_optional(by_hash, args![hash]).await?
                }
                InvitationKey::Id(id) => {
                    let by_id = sql!(
                        "SELECT {COLUMNS}, {ORG_COLUMNS} FROM org_invitations i JOIN organizations o ON o.id = i.org_id
                         WHERE i.id = ?"
                    );
                    pool.fetch_optional(by_id, args![id]).await?
                }
            };
            row.as_ref().map(|row| Ok((invitation_from_row(row)?, inviting_org(row)?))).transpose()
        })
    }

    async fn revoke_invitation(&self, org_id: Uuid, id: Uuid, effects: &Effects) -> StoreResult<bool> {
        timed!(
            DB,
            "revoke_invitation",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let deleted = tx
                    .execute(sql!("DELETE FROM org_invitations WHERE org_id = ? AND id = ?"), args![org_id, id])
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

    async fn accept_invitation(
        &self,
        key: InvitationKey<'_>,
        acceptor: Acceptor<'_>,
        now: DateTime<Utc>,
        member_limit: u64,
        effects: &Effects,
    ) -> StoreResult<Acceptance> {
        timed!(
            DB,
            "accept_invitation",
            self.retrying(|| async move {
                let mut tx = self.db.begin().await?;
                let id = match key {
                    InvitationKey::Id(id) => Some(id),
                    InvitationKey::Token(hash) => {
                        let by_hash = sql!("SELECT id FROM org_invitations WHERE hash = ?");
                        tx.fetch_optional(by_hash, args![hash]).await?.map(|row| row.id("id")).transpose()?
                    }
                };
                let Some(id) = id else { return Ok(Acceptance::NotFound) };
                let org_of = sql!("SELECT org_id FROM org_invitations WHERE id = ?");
                let Some(row) = tx.fetch_optional(org_of, args![id]).await? else {
                    return Ok(Acceptance::NotFound);
                };
                let org_id = row.id("org_id")?;
                // The organization's row first, as every change of its members locks it; then
                // the invitation, read again: a concurrent acceptance has spent it by now.
                tx.lock(sql!("SELECT id FROM organizations WHERE id = ? FOR UPDATE"), args![org_id]).await?;
                let invitation = tx
                    .fetch_optional(
                        sql!("SELECT {COLUMNS} FROM org_invitations i WHERE i.id = ? FOR UPDATE"),
                        args![id],
                    )
                    .await?;
                let Some(invitation) = invitation.as_ref().map(invitation_from_row).transpose()? else {
                    return Ok(Acceptance::NotFound);
                };
                if invitation.email != acceptor.email {
                    return Ok(Acceptance::EmailMismatch);
                }
                if invitation.expires_at <= now {
                    return Ok(Acceptance::Expired);
                }
                if !offer_stands(&mut tx, org_id, invitation.invited_by, &invitation.role).await? {
                    return Ok(Acceptance::NotFound);
                }
                let member =
                    sql!("SELECT suspended_at FROM memberships WHERE org_id = ? AND account_id = ? FOR UPDATE");
                let held = tx.fetch_optional(member, args![org_id, acceptor.account_id]).await?;
                // A suspended member's membership is the organization's SCIM client's to lift:
                // an invitation does not.
                if held.as_ref().map(|row| row.opt_time("suspended_at")).transpose()?.flatten().is_some() {
                    return Ok(Acceptance::NotFound);
                }
                if held.is_none() {
                    let counted = sql!("SELECT COUNT(*) AS n FROM memberships WHERE org_id = ?");
                    let members = tx.fetch_optional(counted, args![org_id]).await?.map_or(Ok(0), |r| r.count("n"))?;
                    if members >= member_limit {
                        return Ok(Acceptance::Full);
                    }
                    tx.execute(
                        sql!("INSERT INTO memberships (org_id, account_id, role, joined_at) VALUES (?, ?, ?, ?)"),
                        args![org_id, acceptor.account_id, &invitation.role, now],
                    )
                    .await?;
                }
                tx.execute(sql!("DELETE FROM org_invitations WHERE id = ?"), args![invitation.id]).await?;
                insert_effects(&mut tx, effects).await?;
                let joined = read_membership(&mut tx, org_id, acceptor.account_id).await?;
                tx.commit().await?;
                let joined = joined.ok_or_else(|| anyhow::anyhow!("the accepted membership was not found"))?;
                Ok(Acceptance::Joined(Box::new(joined)))
            })
        )
    }
}
