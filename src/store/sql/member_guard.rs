//! The last-owner guard: what a change of one membership may do, judged inside its
//! transaction.

use uuid::Uuid;

use super::org_roles::custom_roles;
use super::{Exec, Row, args, sql};
use crate::model::org::{Held, MemberChange, OWNER, OrgActor, builtin_permissions, may_change};
use crate::store::error::StoreResult;

/// The guard of a change to `account_id`'s membership of `org_id` (its role changed to `role`,
/// or, with `None`, its removal), inside the change's transaction: what the change may do. It
/// locks the organization's row first, so changes to one organization's members take turns,
/// then reads the owners, the actor's own role and the member's with locking reads, which see
/// the latest committed rows. So the actor's right is judged on its role as it is now (one
/// demoted or removed a moment ago is refused), an owner promoted meanwhile is an owner here,
/// and two owners demoting each other at once cannot both succeed.
pub(super) async fn guard_members(
    tx: &mut impl Exec,
    org_id: Uuid,
    account_id: Uuid,
    role: Option<&str>,
    actor: OrgActor,
) -> StoreResult<MemberChange> {
    tx.lock(sql!("SELECT id FROM organizations WHERE id = ? FOR UPDATE"), args![org_id]).await?;
    let owners = tx
        .fetch_all(
            sql!("SELECT account_id FROM memberships WHERE org_id = ? AND role = ? ORDER BY account_id FOR UPDATE"),
            args![org_id, OWNER],
        )
        .await?;
    let role_of = sql!("SELECT role FROM memberships WHERE org_id = ? AND account_id = ? FOR UPDATE");
    let actor_role = match actor {
        OrgActor::AsOwner => Some(OWNER.to_owned()),
        OrgActor::Member(actor) => {
            tx.fetch_optional(role_of, args![org_id, actor]).await?.map(|row| row.text("role")).transpose()?
        }
    };
    let current = tx.fetch_optional(role_of, args![org_id, account_id]).await?;
    let Some(current) = current else { return Ok(MemberChange::NotFound) };
    let current = current.text("role")?;
    let leaving = actor == OrgActor::Member(account_id);
    let custom = custom_roles(tx, org_id).await?;
    let known = |role: &str| builtin_permissions(role).or_else(|| custom.get(role).cloned());
    let new_permissions = match role {
        Some(role) => match known(role) {
            Some(permissions) => Some(permissions),
            None => return Ok(MemberChange::UnknownRole),
        },
        None => None,
    };
    let Some(actor_role) = actor_role else { return Ok(MemberChange::Forbidden) };
    let (actor_permissions, current_permissions) =
        (known(&actor_role).unwrap_or_default(), known(&current).unwrap_or_default());
    let held = |role, permissions| Held { role, permissions };
    let new = role.zip(new_permissions.as_deref()).map(|(role, permissions)| held(role, permissions));
    if !may_change(held(&actor_role, &actor_permissions), held(&current, &current_permissions), new, leaving) {
        return Ok(MemberChange::Forbidden);
    }
    if current == OWNER && role != Some(OWNER) {
        let others = owners.iter().filter(|row| !matches!(row.id("account_id"), Ok(owner) if owner == account_id));
        if others.count() == 0 {
            return Ok(MemberChange::LastOwner);
        }
    }
    Ok(MemberChange::Done)
}
