//! An organization's SCIM directory in a copy: its provisioned members (with their `userName`,
//! `externalId`, the attributes the client last wrote, whether SCIM made or disabled the
//! account, and their suspension), its groups with their members, and its tokens (by hash,
//! with their last use). It runs after the organization's members are copied: provisioning
//! finds each membership there and makes it SCIM's.

use super::orgs::members_of;
use super::tally::{Copied, PAGE};
use crate::model::org::{MEMBER, Member, Organization};
use crate::model::outcome::Effects;
use crate::model::scim::{GroupWrite, MembersChange, Provision, Provisioned, ScimGroup, ScimUserFilter};
use crate::store::Store;

/// How many members are added to a group in one write, unless the target takes fewer.
const MEMBERS_AT_ONCE: usize = 50;

/// Copies the organization's SCIM directory (nothing when it has none).
pub(super) async fn copy_directory(
    from: &dyn Store,
    to: &dyn Store,
    org: &Organization,
    copied: &mut Copied,
) -> anyhow::Result<()> {
    let quiet = Effects::none();
    let mut offset = 0;
    loop {
        let page = from.scim_users(org.id, &ScimUserFilter::default(), offset, PAGE).await?;
        if page.items.is_empty() {
            break;
        }
        offset += page.items.len() as u64;
        for user in &page.items {
            let provision = Provision {
                org_id: org.id,
                account_id: user.account_id,
                new_account: None,
                role: MEMBER,
                user_name: &user.user_name,
                external_id: user.external_id.as_deref(),
                active: user.active,
                attributes: &user.attributes,
                created_account: user.created_account,
                disabled_account: user.disabled_account,
                now: user.created_at,
            };
            match to.provision_scim_user(&provision, u64::MAX, &quiet).await? {
                Provisioned::Done => copied.scim_users += 1,
                refused => anyhow::bail!(
                    "organization {}: the target refused the provisioned member {} ({refused:?})",
                    org.slug,
                    user.user_name
                ),
            }
        }
    }
    // A suspension is SCIM's: every suspended member was provisioned, and is suspended again.
    let suspended = |members: Vec<Member>| members.iter().filter(|m| m.suspended).count();
    let (was, is) = (suspended(members_of(from, org.id).await?), suspended(members_of(to, org.id).await?));
    if was != is {
        anyhow::bail!("organization {}: {was} members are suspended, but {is} were after the copy", org.slug);
    }

    offset = 0;
    loop {
        let page = from.scim_groups(org.id, None, None, offset, PAGE, true).await?;
        if page.items.is_empty() {
            break;
        }
        offset += page.items.len() as u64;
        for group in &page.items {
            let mut written = to.insert_scim_group(group, &[], &quiet).await?;
            if written == GroupWrite::Done {
                written = add_members(to, group, &quiet).await?;
            }
            if written != GroupWrite::Done {
                anyhow::bail!(
                    "organization {}: the target refused its group {} ({written:?})",
                    org.slug,
                    group.display_name
                );
            }
            copied.scim_groups += 1;
        }
    }

    for token in from.scim_tokens_with_hashes(org.id).await? {
        if !to.insert_scim_token(&token, usize::MAX, &quiet).await? {
            anyhow::bail!("organization {}: the target refused its SCIM token {}", org.slug, token.token.name);
        }
        if let Some(used) = token.token.last_used_at {
            to.scim_token_used(token.token.id, used).await?;
        }
        copied.scim_tokens += 1;
    }
    Ok(())
}

/// Adds the group's members to its copy a few at a time, fewer when the target says it takes
/// fewer in one write (DynamoDB's transactions); the first refusal otherwise.
async fn add_members(to: &dyn Store, group: &ScimGroup, quiet: &Effects) -> anyhow::Result<GroupWrite> {
    let (mut left, mut at_once) = (group.members.as_slice(), MEMBERS_AT_ONCE);
    while !left.is_empty() {
        let chunk = &left[..at_once.min(left.len())];
        let change = MembersChange::AddRemove { add: chunk.to_vec(), remove: Vec::new() };
        match to.update_scim_group(group, &change, quiet).await? {
            GroupWrite::Done => left = &left[chunk.len()..],
            GroupWrite::TooLarge { at_most } if at_most > 0 && at_most < chunk.len() => at_once = at_most,
            refused => return Ok(refused),
        }
    }
    Ok(GroupWrite::Done)
}
