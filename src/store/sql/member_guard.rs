//! The last-owner guard: the memberships a change of one of them is judged on, read inside its
//! transaction; the judgement is the model's ([`member_change`]).

use uuid::Uuid;

use super::org_roles::custom_roles;
use super::{Exec, Row, args, sql};
use crate::model::org::{MemberChange, MemberFacts, OWNER, OrgActor, member_change};
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
    let current =
        tx.fetch_optional(role_of, args![org_id, account_id]).await?.map(|row| row.text("role")).transpose()?;
    let another_owner = owners.iter().any(|row| !matches!(row.id("account_id"), Ok(owner) if owner == account_id));
    let custom = custom_roles(tx, org_id).await?;
    let facts =
        MemberFacts { actor_role: actor_role.as_deref(), current: current.as_deref(), another_owner, custom: &custom };
    Ok(member_change(facts, role, actor == OrgActor::Member(account_id)))
}
