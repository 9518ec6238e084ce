//! SCIM's PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: `add`, `remove` and `replace`
//! (in any case: one identity provider writes `Replace`), with or without a `path`, on plain
//! attributes, sub-attributes and the elements a value filter picks. The result is read again
//! as a whole resource, so a PATCH can do nothing a PUT could not. Attributes of extension
//! schemas are passed over: gatehouse keeps none of them.

use serde_json::{Map, Value};

use super::filter::{AttrPath, Filter, parse_path};

/// Why an operation was refused, and SCIM's `scimType` for it.
#[derive(Debug, PartialEq, Eq)]
pub struct PatchRefused {
    pub scim_type: &'static str,
    pub detail: String,
}

fn refused(scim_type: &'static str, detail: impl Into<String>) -> PatchRefused {
    PatchRefused { scim_type, detail: detail.into() }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Add,
    Remove,
    Replace,
}

/// The most operations one request may hold.
const MAX_OPERATIONS: usize = 1000;
/// The most elements a multi-valued attribute may hold after an operation.
pub const MAX_ELEMENTS: usize = 10_000;
/// The most bytes one PATCH may copy into the elements a filter picks (a value written into
/// each of them): a small body must not grow into a large resource.
const MAX_COPIED: usize = 1024 * 1024;

/// Applies a `PatchOp` body's operations to `resource`, in order.
pub fn apply(resource: &mut Value, body: &Value) -> Result<(), PatchRefused> {
    let schemas = body.get("schemas").and_then(Value::as_array);
    let patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    if !schemas.is_some_and(|s| s.iter().any(|s| s.as_str() == Some(patch_op))) {
        return Err(refused("invalidSyntax", format!("a PATCH body names the schema {patch_op}")));
    }
    let operations = find(body, "operations")
        .and_then(Value::as_array)
        .ok_or_else(|| refused("invalidSyntax", "a PATCH body has `Operations`, an array"))?;
    if operations.len() > MAX_OPERATIONS {
        return Err(refused("tooMany", format!("at most {MAX_OPERATIONS} operations in one PATCH")));
    }
    let mut copied = 0;
    for operation in operations {
        let op = match find(operation, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
            Some("add") => Op::Add,
            Some("remove") => Op::Remove,
            Some("replace") => Op::Replace,
            _ => return Err(refused("invalidSyntax", "each operation's `op` is add, remove or replace")),
        };
        let path = match find(operation, "path") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(parse_path(text).map_err(|e| refused("invalidPath", e.0))?),
            Some(_) => return Err(refused("invalidPath", "a `path` is a string")),
        };
        let value = find(operation, "value").cloned();
        let object = resource.as_object_mut().ok_or_else(|| refused("invalidSyntax", "not a resource"))?;
        match path {
            None => {
                let Some(Value::Object(values)) = value else {
                    return Err(refused("invalidValue", "an operation without a path takes an object as its value"));
                };
                if op == Op::Remove {
                    return Err(refused("noTarget", "a remove names its path"));
                }
                for (name, value) in values {
                    if name.eq_ignore_ascii_case("schemas") || name.eq_ignore_ascii_case("id") {
                        continue;
                    }
                    let path = parse_path(&name).map_err(|e| refused("invalidPath", e.0))?;
                    if path.sub.is_none() && value.is_object() && !path.extension {
                        // `{"name": {"givenName": …}}`: each sub-attribute, as its own path.
                        for (sub, value) in value.as_object().into_iter().flatten() {
                            let spelled = (path.spelled.0.clone(), Some(sub.clone()));
                            let sub_path = AttrPath { sub: Some(sub.to_lowercase()), spelled, ..path.clone() };
                            at_path(object, op, &sub_path, Some(value.clone()), &mut copied)?;
                        }
                        continue;
                    }
                    at_path(object, op, &path, Some(value), &mut copied)?;
                }
            }
            Some(path) => at_path(object, op, &path, value, &mut copied)?,
        }
    }
    Ok(())
}

/// A member of an object by its name in any case.
pub fn find<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    value.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// The key an object holds `name` under (in whatever case), or `name` itself.
fn key_of(object: &Map<String, Value>, name: &str) -> String {
    object.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned().unwrap_or_else(|| name.to_owned())
}

/// Leaves `primary` on the last element given it alone: a multi-valued attribute has at most
/// one primary value (RFC 7643 §2.4).
fn one_primary(items: &mut [Value]) {
    let is_primary = |item: &Value| find(item, "primary").is_some_and(|p| p == &Value::Bool(true));
    let Some(last) = items.iter().rposition(is_primary) else { return };
    for (i, item) in items.iter_mut().enumerate() {
        if i != last
            && is_primary(item)
            && let Value::Object(fields) = item
        {
            let key = key_of(fields, "primary");
            fields.insert(key, Value::Bool(false));
        }
    }
}

/// An element's identity for de-duplication: its `value` (strings in lower case), else itself.
fn element_key(item: &Value) -> String {
    match find(item, "value") {
        Some(Value::String(v)) => v.to_lowercase(),
        Some(other) => other.to_string(),
        None => item.to_string(),
    }
}

fn too_many(name: &str) -> PatchRefused {
    refused("tooMany", format!("`{name}` would hold more than {MAX_ELEMENTS} values"))
}

fn at_path(
    object: &mut Map<String, Value>,
    op: Op,
    path: &AttrPath,
    value: Option<Value>,
    copied: &mut usize,
) -> Result<(), PatchRefused> {
    if path.extension {
        return Ok(());
    }
    let key = key_of(object, &path.spelled.0);
    if op != Op::Remove && value.is_none() {
        return Err(refused("invalidValue", format!("`{}` needs a value", path.attr)));
    }
    match (&path.filter, &path.sub) {
        (None, None) => {
            match op {
                Op::Remove => match (object.get_mut(&key), value) {
                    // Remove the listed elements (`members` with a value, as one provider sends).
                    (Some(Value::Array(items)), Some(Value::Array(gone))) => {
                        let gone: std::collections::HashSet<String> = gone.iter().map(element_key).collect();
                        items.retain(|item| !gone.contains(&element_key(item)));
                    }
                    _ => {
                        object.remove(&key);
                    }
                },
                Op::Add => match (object.get_mut(&key), value) {
                    (Some(Value::Array(items)), Some(Value::Array(more))) => {
                        let mut held: std::collections::HashSet<String> = items.iter().map(element_key).collect();
                        for item in more {
                            if held.insert(element_key(&item)) {
                                items.push(item);
                            }
                        }
                        if items.len() > MAX_ELEMENTS {
                            return Err(too_many(&path.attr));
                        }
                        one_primary(items);
                    }
                    (_, Some(value)) => {
                        if value.as_array().is_some_and(|a| a.len() > MAX_ELEMENTS) {
                            return Err(too_many(&path.attr));
                        }
                        object.insert(key, value);
                    }
                    (_, None) => {}
                },
                Op::Replace => {
                    if value.as_ref().and_then(Value::as_array).is_some_and(|a| a.len() > MAX_ELEMENTS) {
                        return Err(too_many(&path.attr));
                    }
                    object.insert(key, value.unwrap_or(Value::Null));
                }
            }
            Ok(())
        }
        (None, Some(sub)) => {
            let parent = object.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(parent) = parent else {
                return Err(refused("invalidPath", format!("`{}` has no sub-attributes", path.attr)));
            };
            let sub_key = key_of(parent, path.spelled.1.as_deref().unwrap_or(sub));
            match value {
                None => {
                    parent.remove(&sub_key);
                }
                Some(value) => {
                    parent.insert(sub_key, value);
                }
            }
            Ok(())
        }
        (Some(filter), sub) => {
            let items = object.entry(key).or_insert_with(|| Value::Array(Vec::new()));
            let Value::Array(items) = items else {
                return Err(refused("invalidPath", format!("`{}` is not multi-valued", path.attr)));
            };
            let matched = items.iter().filter(|item| filter.matches(item)).count();
            if op != Op::Remove {
                let size = value.as_ref().map_or(0, |v| v.to_string().len());
                *copied = copied.saturating_add(size.saturating_mul(matched.max(1)));
                if *copied > MAX_COPIED {
                    return Err(refused(
                        "invalidValue",
                        "the PATCH would copy more than 1 MiB into the values its filters pick",
                    ));
                }
            }
            match (op, sub) {
                (Op::Remove, None) => items.retain(|item| !filter.matches(item)),
                (Op::Remove, Some(sub)) => {
                    for item in items.iter_mut().filter(|item| filter.matches(item)) {
                        if let Value::Object(item) = item {
                            let sub_key = key_of(item, sub);
                            item.remove(&sub_key);
                        }
                    }
                }
                (_, Some(sub)) if matched == 0 => {
                    // Replacing `emails[type eq "work"].value` where there is none adds one.
                    if items.len() >= MAX_ELEMENTS {
                        return Err(too_many(&path.attr));
                    }
                    let mut item = element_of(filter);
                    item.insert(path.spelled.1.clone().unwrap_or_else(|| sub.clone()), value.unwrap_or(Value::Null));
                    items.push(Value::Object(item));
                }
                (_, Some(sub)) => {
                    for item in items.iter_mut().filter(|item| filter.matches(item)) {
                        if let Value::Object(item) = item {
                            let sub_key = key_of(item, sub);
                            item.insert(sub_key, value.clone().unwrap_or(Value::Null));
                        }
                    }
                }
                (_, None) => {
                    let Some(Value::Object(fields)) = value else {
                        return Err(refused("invalidValue", "a filtered element is replaced by an object"));
                    };
                    for item in items.iter_mut().filter(|item| filter.matches(item)) {
                        if let Value::Object(item) = item {
                            for (k, v) in &fields {
                                let k = key_of(item, k);
                                item.insert(k, v.clone());
                            }
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

/// The element a filter's `eq` comparisons describe (`type eq "work"` → `{"type": "work"}`).
fn element_of(filter: &Filter) -> Map<String, Value> {
    let mut item = Map::new();
    for term in filter.terms() {
        if let Filter::Eq(path, value) = term {
            item.insert(path.attr.clone(), value.clone());
        }
    }
    item
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patch(resource: Value, operations: Value) -> Result<Value, PatchRefused> {
        let mut resource = resource;
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
        apply(&mut resource, &body)?;
        Ok(resource)
    }

    #[test]
    fn the_operations_identity_providers_send_apply() {
        let user = json!({"userName": "a@x.io", "active": true, "name": {"givenName": "A"}, "emails": [{"value": "a@x.io", "type": "work", "primary": true}]});
        // Without a path, an object (one provider's deactivation).
        let off = patch(user.clone(), json!([{"op": "replace", "value": {"active": false}}])).unwrap();
        assert_eq!(off["active"], json!(false));
        // With paths, in any case, values as strings (another's).
        let changed = patch(
            user.clone(),
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "Add", "path": "name.familyName", "value": "B"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x.io"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
                {"op": "Remove", "path": "externalId"}
            ]),
        )
        .unwrap();
        assert_eq!(changed["active"], json!("False"));
        assert_eq!(find(&changed["name"], "familyName"), Some(&json!("B")));
        assert_eq!(find(&changed["name"], "givenName"), Some(&json!("A")));
        assert_eq!(changed["emails"][0]["value"], json!("b@x.io"));
        assert!(changed.get("department").is_none());
        // A nested object without a path sets its sub-attributes, leaving the rest.
        let named = patch(user, json!([{"op": "replace", "value": {"name": {"familyName": "C"}}}])).unwrap();
        assert_eq!(find(&named["name"], "familyName"), Some(&json!("C")));
        assert_eq!(find(&named["name"], "givenName"), Some(&json!("A")));
    }

    #[test]
    fn group_members_are_added_removed_and_replaced() {
        let group = json!({"displayName": "Eng", "members": [{"value": "1"}, {"value": "2"}]});
        let added =
            patch(group.clone(), json!([{"op": "add", "path": "members", "value": [{"value": "3"}, {"value": "1"}]}]))
                .unwrap();
        assert_eq!(added["members"].as_array().unwrap().len(), 3);
        let primary = patch(
            json!({"emails": [{"value": "a@x.io", "primary": true}]}),
            json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.io", "primary": true}]}]),
        )
        .unwrap();
        assert_eq!(
            primary["emails"],
            json!([{"value": "a@x.io", "primary": false}, {"value": "b@x.io", "primary": true}])
        );
        let removed = patch(group.clone(), json!([{"op": "remove", "path": "members[value eq \"1\"]"}])).unwrap();
        assert_eq!(removed["members"], json!([{"value": "2"}]));
        let listed =
            patch(group.clone(), json!([{"op": "Remove", "path": "members", "value": [{"value": "2"}]}])).unwrap();
        assert_eq!(listed["members"], json!([{"value": "1"}]));
        let replaced =
            patch(group.clone(), json!([{"op": "replace", "path": "members", "value": [{"value": "9"}]}])).unwrap();
        assert_eq!(replaced["members"], json!([{"value": "9"}]));
        let renamed =
            patch(group, json!([{"op": "replace", "value": {"id": "x", "displayName": "Platform"}}])).unwrap();
        assert_eq!(renamed["displayName"], json!("Platform"));
        assert!(renamed.get("id").is_none());
    }

    #[test]
    fn a_small_body_cannot_grow_into_a_large_resource() {
        let many: Vec<Value> = (0..10_001).map(|i| json!({"value": i.to_string()})).collect();
        let grown =
            patch(json!({"displayName": "g", "members": []}), json!([{"op": "add", "path": "members", "value": many}]));
        assert_eq!(grown.unwrap_err().scim_type, "tooMany");
        let items: Vec<Value> = (0..5_000).map(|i| json!({"v": i})).collect();
        let copies = json!([
            {"op": "replace", "path": "x", "value": items},
            {"op": "add", "path": "x[v pr].y", "value": "z".repeat(1024)}
        ]);
        assert_eq!(patch(json!({"userName": "a"}), copies).unwrap_err().scim_type, "invalidValue");
        // Many members added at once are told apart in linear time.
        let mut group = json!({"displayName": "g", "members": []});
        let half: Vec<Value> = (0..5_000).map(|i| json!({"value": format!("id-{i}")})).collect();
        group = patch(group, json!([{"op": "add", "path": "members", "value": half.clone()}])).unwrap();
        let again = patch(group, json!([{"op": "add", "path": "members", "value": half}])).unwrap();
        assert_eq!(again["members"].as_array().unwrap().len(), 5_000);
    }

    #[test]
    fn malformed_operations_are_refused() {
        let user = json!({"userName": "a"});
        for (operations, scim_type) in [
            (json!([{"op": "move", "path": "userName", "value": "b"}]), "invalidSyntax"),
            (json!([{"op": "replace", "path": "userName["}]), "invalidPath"),
            (json!([{"op": "remove"}]), "invalidValue"),
            (json!([{"op": "add", "path": "userName"}]), "invalidValue"),
        ] {
            assert_eq!(patch(user.clone(), operations).unwrap_err().scim_type, scim_type);
        }
        let mut resource = user;
        assert_eq!(apply(&mut resource, &json!({"Operations": []})).unwrap_err().scim_type, "invalidSyntax");
    }
}
