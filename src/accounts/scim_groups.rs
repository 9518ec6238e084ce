//! The Groups of an organization's SCIM client: named sets of its members. A membership
//! carries its groups' names, so they ride in the `org` claim (`groups`) and forward-auth's
//! `org:SLUG:group:NAME` rules read them with the membership, at the request. A group names
//! members of its organization only.

use serde_json::Value;
use uuid::Uuid;

use super::scim::{ListPage, ScimCaller, not_found, page_of, patch_refused, scim, unreadable};
use super::{ClientInfo, Federation, Result};
use crate::federation::scim::filter::{Filter, parse_filter};
use crate::federation::scim::{self as wire, GroupInput};
use crate::model::outcome::{Effects, Kind};
use crate::model::scim::{GroupWrite, MAX_GROUP_NAME_BYTES, MAX_GROUPS, MAX_MEMBER_GROUPS, MembersChange, ScimGroup};

/// The most groups a page holds when their members come with them.
pub const MAX_PAGE_WITH_MEMBERS: u32 = 20;

/// The members' ids a request names; `invalidValue` for one that is no id.
fn member_ids(values: &[String]) -> Result<Vec<Uuid>> {
    values
        .iter()
        .map(|v| Uuid::parse_str(v).map_err(|_| scim(400, Some("invalidValue"), format!("`{v}` names no User"))))
        .collect()
}

/// A group filter's name or `externalId`.
fn group_filter(text: Option<&str>) -> Result<(Option<String>, Option<String>)> {
    let (mut name, mut external_id) = (None, None);
    let Some(text) = text else { return Ok((name, external_id)) };
    let parsed = parse_filter(text).map_err(|e| scim(400, Some("invalidFilter"), e.0))?;
    for term in parsed.terms() {
        match term {
            Filter::Eq(path, Value::String(value)) if path.is("displayname") => name = Some(value.clone()),
            Filter::Eq(path, Value::String(value)) if path.is("externalid") => external_id = Some(value.clone()),
            _ => {
                let why = "groups are filtered by displayName or externalId, compared with `eq` to a string";
                return Err(scim(400, Some("invalidFilter"), why));
            }
        }
    }
    Ok((name, external_id))
}

fn written(write: GroupWrite) -> Result<()> {
    match write {
        GroupWrite::Done => Ok(()),
        GroupWrite::NotFound => Err(not_found("Group")),
        GroupWrite::NameTaken => Err(scim(409, Some("uniqueness"), "another Group has this displayName")),
        GroupWrite::UnknownMember(id) => {
            Err(scim(400, Some("invalidValue"), format!("{id} is no member of the organization")))
        }
        GroupWrite::TooManyGroups(id) => Err(scim(
            400,
            Some("invalidValue"),
            format!(
                "{id} would be in more than {MAX_MEMBER_GROUPS} groups, or their names would pass {MAX_GROUP_NAME_BYTES} bytes"
            ),
        )),
        GroupWrite::GroupLimit => Err(scim(403, None, format!("an organization has at most {MAX_GROUPS} groups"))),
        GroupWrite::TooLarge { at_most } => Err(scim(
            400,
            Some("tooMany"),
            format!(
                "this change would add or remove too many members at once ({at_most} always fit): send \
                 them in smaller PATCH operations; a group of more members cannot be renamed on this store"
            ),
        )),
    }
}

impl Federation {
    pub async fn scim_group(&self, who: &ScimCaller, id: &str) -> Result<ScimGroup> {
        let id = Uuid::parse_str(id).map_err(|_| not_found("Group"))?;
        self.store.scim_group(who.org_id, id).await?.ok_or_else(|| not_found("Group"))
    }

    /// A page of groups, with their members when `members` (then at most
    /// [`MAX_PAGE_WITH_MEMBERS`] a page: clients that list groups leave members out).
    pub async fn scim_groups(
        &self,
        who: &ScimCaller,
        filter: Option<&str>,
        start_index: Option<u64>,
        count: Option<u32>,
        members: bool,
    ) -> Result<ListPage<ScimGroup>> {
        let (name, external_id) = group_filter(filter)?;
        let (start_index, mut count) = page_of(start_index, count);
        if members {
            count = count.min(MAX_PAGE_WITH_MEMBERS);
        }
        let (name, external_id) = (name.as_deref(), external_id.as_deref());
        let page = self.store.scim_groups(who.org_id, name, external_id, start_index - 1, count, members).await?;
        Ok(ListPage { items: page.items, total: page.total, start_index })
    }

    pub async fn scim_create_group(&self, who: &ScimCaller, body: &Value, client: &ClientInfo) -> Result<ScimGroup> {
        let input = GroupInput::from_json(body).map_err(unreadable)?;
        let members = member_ids(input.members.as_deref().unwrap_or_default())?;
        let now = self.now();
        let group = ScimGroup {
            id: Uuid::now_v7(),
            org_id: who.org_id,
            display_name: input.display_name,
            external_id: input.external_id,
            members: Vec::new(),
            created_at: now,
            updated_at: now,
        };
        let added = self
            .scim_outcome(Kind::OrgGroupAdded, who, None, client)
            .with("group_id", group.id.to_string())
            .with("name", group.display_name.as_str())
            .with("members", members.len());
        let effects = Effects::of(added);
        written(self.commit(&effects, self.store.insert_scim_group(&group, &members, &effects)).await?)?;
        self.store.scim_group(who.org_id, group.id).await?.ok_or_else(|| not_found("Group"))
    }

    /// Replaces a Group (`PUT`): its name, `externalId` and members, as given.
    pub async fn scim_replace_group(
        &self,
        who: &ScimCaller,
        id: &str,
        body: &Value,
        client: &ClientInfo,
    ) -> Result<ScimGroup> {
        let current = self.scim_group(who, id).await?;
        let input = GroupInput::from_json(body).map_err(unreadable)?;
        self.scim_update_group(who, current, input, client).await
    }

    /// Changes a Group by SCIM's PATCH, applied to the Group as it is.
    pub async fn scim_patch_group(
        &self,
        who: &ScimCaller,
        id: &str,
        body: &Value,
        client: &ClientInfo,
    ) -> Result<ScimGroup> {
        let current = self.scim_group(who, id).await?;
        let mut resource = wire::resource::group_fields(&current);
        wire::patch::apply(&mut resource, body).map_err(patch_refused)?;
        let input = GroupInput::from_json(&resource).map_err(unreadable)?;
        self.scim_update_group(who, current, input, client).await
    }

    async fn scim_update_group(
        &self,
        who: &ScimCaller,
        current: ScimGroup,
        input: GroupInput,
        client: &ClientInfo,
    ) -> Result<ScimGroup> {
        let members = MembersChange::Replace(member_ids(input.members.as_deref().unwrap_or_default())?);
        let group = ScimGroup {
            display_name: input.display_name,
            external_id: input.external_id,
            updated_at: self.now(),
            ..current
        };
        let updated = self
            .scim_outcome(Kind::OrgGroupUpdated, who, None, client)
            .with("group_id", group.id.to_string())
            .with("name", group.display_name.as_str());
        let effects = Effects::of(updated);
        written(self.commit(&effects, self.store.update_scim_group(&group, &members, &effects)).await?)?;
        self.store.scim_group(who.org_id, group.id).await?.ok_or_else(|| not_found("Group"))
    }

    pub async fn scim_delete_group(&self, who: &ScimCaller, id: &str, client: &ClientInfo) -> Result<()> {
        let group = self.scim_group(who, id).await?;
        let removed =
            self.scim_outcome(Kind::OrgGroupRemoved, who, None, client).with("group_id", group.id.to_string());
        let effects = Effects::of(removed);
        if !self.commit(&effects, self.store.delete_scim_group(who.org_id, group.id, &effects)).await? {
            return Err(not_found("Group"));
        }
        Ok(())
    }
}
