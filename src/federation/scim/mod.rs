//! SCIM 2.0 (RFC 7643/7644) as gatehouse speaks it: reading the Users and Groups an identity
//! provider sends (leniently, as Okta and Entra ID write them: `"active": "False"` is false),
//! writing them back, filters and PATCH. Nothing here knows about accounts; the account rules
//! decide what a provisioned user may do.

pub mod discovery;
pub mod filter;
pub mod patch;
pub mod resource;

use serde_json::{Value, json};

use self::patch::find;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// SCIM's media type.
pub const MEDIA_TYPE: &str = "application/scim+json";

/// The longest `userName`, `externalId`, address or group name taken.
pub const MAX_TEXT: usize = 255;

/// A resource that cannot be read, and SCIM's `scimType` for it.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub scim_type: &'static str,
    pub detail: String,
}

fn invalid(scim_type: &'static str, detail: impl Into<String>) -> Invalid {
    Invalid { scim_type, detail: detail.into() }
}

/// Whether a character is invisible formatting (Unicode's `Cf`): bidirectional overrides,
/// zero-width characters, the soft hyphen, which make one name look like another.
fn invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

/// A string attribute, at most [`MAX_TEXT`] bytes; `None` when absent or null.
fn text(resource: &Value, name: &str) -> Result<Option<String>, Invalid> {
    match find(resource, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() > MAX_TEXT || s.chars().any(|c| c.is_control() || invisible(c)) => {
            let why =
                format!("`{name}` has at most {MAX_TEXT} bytes, and no control or invisible formatting characters");
            Err(invalid("invalidValue", why))
        }
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(invalid("invalidValue", format!("`{name}` is a string"))),
    }
}

/// A boolean, also as the strings `"true"` and `"false"` in any case (as Entra ID sends it).
fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A User as an identity provider sends it: what gatehouse keeps of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    /// The display name: `name.formatted`, else `name.givenName name.familyName`, else
    /// `displayName`.
    pub name: Option<String>,
    /// The address: the primary email, else the `work` one, else the first, else the
    /// `userName` when it is one.
    pub email: Option<String>,
}

impl UserInput {
    pub fn from_json(resource: &Value) -> Result<Self, Invalid> {
        if !resource.is_object() {
            return Err(invalid("invalidSyntax", "a User is a JSON object"));
        }
        let user_name = text(resource, "userName")?.ok_or_else(|| invalid("invalidValue", "`userName` is required"))?;
        let active = match find(resource, "active") {
            None | Some(Value::Null) => true,
            Some(value) => boolean(value).ok_or_else(|| invalid("invalidValue", "`active` is true or false"))?,
        };
        let name = match find(resource, "name") {
            Some(name @ Value::Object(_)) => {
                let formatted = text(name, "formatted")?;
                let given = text(name, "givenName")?;
                let family = text(name, "familyName")?;
                let parts: Vec<String> = given.into_iter().chain(family).collect();
                formatted.or_else(|| (!parts.is_empty()).then(|| parts.join(" ")))
            }
            None | Some(Value::Null) => None,
            Some(_) => return Err(invalid("invalidValue", "`name` is an object")),
        };
        let name = match name {
            Some(name) => Some(name),
            None => text(resource, "displayName")?,
        };
        let email = match find(resource, "emails") {
            None | Some(Value::Null) => None,
            Some(Value::Array(emails)) => {
                let primary = emails.iter().find(|e| find(e, "primary").and_then(boolean) == Some(true));
                let work = || emails.iter().find(|e| find(e, "type").and_then(Value::as_str) == Some("work"));
                match primary.or_else(work).or_else(|| emails.first()) {
                    Some(email) => text(email, "value")?,
                    None => None,
                }
            }
            Some(_) => return Err(invalid("invalidValue", "`emails` is an array")),
        };
        let email = email.or_else(|| user_name.contains('@').then(|| user_name.clone()));
        Ok(Self { user_name, external_id: text(resource, "externalId")?, active, name, email })
    }
}

/// A Group as an identity provider sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInput {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Its members' ids (`members[].value`), when given.
    pub members: Option<Vec<String>>,
}

/// The most members one request may name.
pub const MAX_MEMBERS: usize = patch::MAX_ELEMENTS;

impl GroupInput {
    pub fn from_json(resource: &Value) -> Result<Self, Invalid> {
        if !resource.is_object() {
            return Err(invalid("invalidSyntax", "a Group is a JSON object"));
        }
        let display_name =
            text(resource, "displayName")?.ok_or_else(|| invalid("invalidValue", "`displayName` is required"))?;
        let members = match find(resource, "members") {
            None | Some(Value::Null) => None,
            Some(Value::Array(members)) if members.len() > MAX_MEMBERS => {
                return Err(invalid("tooMany", format!("at most {MAX_MEMBERS} members in one request")));
            }
            Some(Value::Array(members)) => Some(
                members
                    .iter()
                    .map(|m| text(m, "value")?.ok_or_else(|| invalid("invalidValue", "each member has a `value`")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(invalid("invalidValue", "`members` is an array")),
        };
        Ok(Self { display_name, external_id: text(resource, "externalId")?, members })
    }
}

/// Cuts a resource to `attributes` (when any: those, with `id` and `schemas`), then drops
/// `excludedAttributes` (RFC 7644 §3.9). Names are paths, `name.givenName` or behind a URN.
pub fn project(resource: Value, attributes: &[String], excluded: &[String]) -> Value {
    const ALWAYS: [&str; 2] = ["id", "schemas"];
    let Value::Object(mut object) = resource else { return resource };
    let paths = |names: &[String]| -> Vec<filter::AttrPath> {
        names.iter().filter_map(|n| filter::parse_path(n).ok()).filter(|p| p.filter.is_none()).collect()
    };
    // Keeps only `subs` of an object, or of each object of an array.
    fn keep_subs(value: &mut Value, subs: &[&str], keep: bool) {
        let cut = |item: &mut Value| {
            if let Value::Object(fields) = item {
                fields.retain(|k, _| subs.contains(&k.to_lowercase().as_str()) == keep);
            }
        };
        match value {
            Value::Array(items) => items.iter_mut().for_each(cut),
            other => cut(other),
        }
    }
    if !attributes.is_empty() {
        let wanted = paths(attributes);
        object.retain(|name, value| {
            let key = name.to_lowercase();
            if ALWAYS.contains(&key.as_str()) || wanted.iter().any(|p| p.attr == key && p.sub.is_none()) {
                return true;
            }
            let subs: Vec<&str> = wanted.iter().filter(|p| p.attr == key).filter_map(|p| p.sub.as_deref()).collect();
            keep_subs(value, &subs, true);
            !subs.is_empty()
        });
    }
    for path in paths(excluded) {
        if ALWAYS.contains(&path.attr.as_str()) {
            continue;
        }
        match &path.sub {
            None => object.retain(|name, _| name.to_lowercase() != path.attr),
            Some(sub) => {
                if let Some((_, value)) = object.iter_mut().find(|(name, _)| name.to_lowercase() == path.attr) {
                    keep_subs(value, &[sub.as_str()], false);
                }
            }
        }
    }
    Value::Object(object)
}

/// A list response (RFC 7644 §3.4.2).
pub fn list(resources: Vec<Value>, total: u64, start_index: u64) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// An error (RFC 7644 §3.12).
pub fn error(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut body = json!({"schemas": [ERROR_SCHEMA], "status": status.to_string(), "detail": detail});
    if let Some(scim_type) = scim_type {
        body["scimType"] = json!(scim_type);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_read_as_providers_write_them() {
        let okta = json!({
            "schemas": [USER_SCHEMA], "userName": "ada@acme.test",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"primary": true, "value": "ada@acme.test", "type": "work"}],
            "displayName": "Ada L", "active": true, "externalId": "00u1"
        });
        let user = UserInput::from_json(&okta).unwrap();
        assert_eq!(user.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(user.email.as_deref(), Some("ada@acme.test"));
        assert_eq!(user.external_id.as_deref(), Some("00u1"));
        let entra = json!({"UserName": "bob@acme.test", "active": "False", "emails": [{"type": "work", "value": "robert@acme.test"}]});
        let user = UserInput::from_json(&entra).unwrap();
        assert!(!user.active);
        assert_eq!(user.email.as_deref(), Some("robert@acme.test"));
        assert_eq!(UserInput::from_json(&json!({"userName": "carol"})).unwrap().email, None);
        for bad in [json!({}), json!({"userName": 3}), json!({"userName": "a", "active": "maybe"}), json!([1])] {
            assert!(UserInput::from_json(&bad).is_err(), "{bad}");
        }
        assert!(UserInput::from_json(&json!({"userName": "x".repeat(256)})).is_err());
        assert!(UserInput::from_json(&json!({"userName": "adm\u{202E}nimda@acme.test"})).is_err());
    }

    #[test]
    fn attributes_and_excluded_attributes_cut_a_resource() {
        let user = json!({"id": "1", "schemas": [USER_SCHEMA], "userName": "a", "externalId": "x",
                          "name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": "a@b.c", "type": "work"}]});
        let only = project(user.clone(), &["externalId".into(), "name.givenName".into()], &[]);
        assert_eq!(only, json!({"id": "1", "schemas": [USER_SCHEMA], "externalId": "x", "name": {"givenName": "A"}}));
        let without = project(user.clone(), &[], &["name".into(), "emails.type".into(), "id".into()]);
        assert_eq!(without["emails"], json!([{"value": "a@b.c"}]));
        assert!(without.get("name").is_none() && without["id"] == "1");
        let urn = format!("{USER_SCHEMA}:userName");
        assert_eq!(project(user, &[urn], &[]), json!({"id": "1", "schemas": [USER_SCHEMA], "userName": "a"}));
    }

    #[test]
    fn groups_are_read_with_their_members() {
        let group = GroupInput::from_json(
            &json!({"displayName": "Eng", "members": [{"value": "1"}, {"value": "2", "display": "b"}]}),
        )
        .unwrap();
        assert_eq!(group.members, Some(vec!["1".to_owned(), "2".to_owned()]));
        assert!(GroupInput::from_json(&json!({"members": []})).is_err());
        assert!(GroupInput::from_json(&json!({"displayName": "E", "members": [{"display": "b"}]})).is_err());
    }
}
