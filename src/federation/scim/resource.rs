//! Users and Groups as SCIM shows them: the attributes a client reads and patches, and the
//! whole resource with its `schemas`, `id` and `meta` under gatehouse's public URL.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{GROUP_SCHEMA, USER_SCHEMA};
use crate::contract::rfc3339;
use crate::model::scim::{ScimGroup, ScimUser};

/// The URL of a SCIM resource of `kind` (`Users`, `Groups`) under the public URL `base`.
pub fn location(base: &str, kind: &str, id: Uuid) -> String {
    format!("{}/scim/v2/{kind}/{id}", base.trim_end_matches('/'))
}

/// A User as SCIM shows it, under the public URL `base`.
pub fn user(user: &ScimUser, base: &str) -> Value {
    framed(
        user_fields(user),
        (USER_SCHEMA, "User", "Users"),
        user.account_id,
        (&user.created_at, &user.updated_at),
        base,
    )
}

/// A Group as SCIM shows it, under the public URL `base`: each member with its `$ref`.
pub fn group(group: &ScimGroup, base: &str) -> Value {
    let mut resource = group_fields(group);
    if let Some(Value::Array(members)) = resource.get_mut("members") {
        for member in members.iter_mut() {
            let id = member["value"].as_str().and_then(|v| Uuid::parse_str(v).ok());
            if let Some(id) = id {
                member["$ref"] = json!(location(base, "Users", id));
                member["type"] = json!("User");
            }
        }
    }
    framed(resource, (GROUP_SCHEMA, "Group", "Groups"), group.id, (&group.created_at, &group.updated_at), base)
}

/// A resource's attributes with what the server sets around them: `schemas`, `id` and `meta`
/// (of `kind`: its schema, resource type and endpoint; its times; its location under `base`).
fn framed(
    mut resource: Value,
    (schema, resource_type, endpoint): (&str, &str, &str),
    id: Uuid,
    (created, updated): (&DateTime<Utc>, &DateTime<Utc>),
    base: &str,
) -> Value {
    resource["schemas"] = json!([schema]);
    resource["id"] = json!(id);
    resource["meta"] = json!({
        "resourceType": resource_type,
        "created": rfc3339(created),
        "lastModified": rfc3339(updated),
        "location": location(base, endpoint, id),
    });
    resource
}

/// A User's attributes as SCIM reads and writes them (no `id`, `schemas` nor `meta`): what the
/// client last wrote, with the server's own `userName`, `externalId` and `active`.
pub fn user_fields(user: &ScimUser) -> Value {
    let mut resource = user.attributes.clone();
    resource.insert("userName".into(), json!(user.user_name));
    if let Some(external_id) = &user.external_id {
        resource.insert("externalId".into(), json!(external_id));
    }
    // `active` as the server holds it, where the client wrote one or the member is suspended.
    let written = resource.keys().find(|k| k.eq_ignore_ascii_case("active")).cloned();
    if let Some(key) = written {
        resource.remove(&key);
        resource.insert("active".into(), json!(user.active));
    } else if !user.active {
        resource.insert("active".into(), json!(false));
    }
    Value::Object(resource)
}

/// A Group's attributes as SCIM reads and writes them (no `id`, `schemas` nor `meta`).
pub fn group_fields(group: &ScimGroup) -> Value {
    let members: Vec<Value> = group.members.iter().map(|id| json!({"value": id})).collect();
    let mut resource = json!({"displayName": group.display_name, "members": members});
    if let Some(external_id) = &group.external_id {
        resource["externalId"] = json!(external_id);
    }
    resource
}
