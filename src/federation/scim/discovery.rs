//! SCIM's discovery documents (RFC 7643 §5–7, RFC 7644 §4): what this server does (filters,
//! PATCH; no bulk, sorting, ETags or password changes) and the attributes of the User and
//! Group it keeps.

use serde_json::{Value, json};

use super::{GROUP_SCHEMA, USER_SCHEMA};

/// The most resources one page of a list holds.
pub const MAX_RESULTS: u32 = 200;

const CONFIG_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": [CONFIG_SCHEMA],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "SCIM token",
            "description": "A SCIM token of the organization (scim_…), made at POST /orgs/{org}/scim/tokens",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

pub fn resource_types(base: &str) -> Vec<Value> {
    let of = |id: &str, endpoint: &str, schema: &str| {
        json!({
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": id,
            "name": id,
            "endpoint": endpoint,
            "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{id}")},
        })
    };
    vec![of("User", "/Users", USER_SCHEMA), of("Group", "/Groups", GROUP_SCHEMA)]
}

/// An attribute's definition.
fn attribute(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    })
}

fn complex(name: &str, multi: bool, subs: Vec<Value>) -> Value {
    let mut value = attribute(name, "complex", false, "readWrite", "none");
    value["multiValued"] = json!(multi);
    value["subAttributes"] = json!(subs);
    value
}

pub fn schemas(base: &str) -> Vec<Value> {
    let text = |name: &str| attribute(name, "string", false, "readWrite", "none");
    let mut email_type = text("type");
    email_type["canonicalValues"] = json!(["work", "home", "other"]);
    let mut external_id = text("externalId");
    external_id["caseExact"] = json!(true);
    let user = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "A member of the organization, and its account",
        "attributes": [
            attribute("userName", "string", true, "readWrite", "server"),
            external_id.clone(),
            complex("name", false, vec![text("formatted"), text("givenName"), text("familyName")]),
            text("displayName"),
            attribute("active", "boolean", false, "readWrite", "none"),
            complex("emails", true, vec![text("value"), email_type, attribute("primary", "boolean", false, "readWrite", "none")]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{USER_SCHEMA}")},
    });
    let mut value = attribute("value", "string", false, "immutable", "none");
    value["caseExact"] = json!(true);
    let mut reference = attribute("$ref", "reference", false, "immutable", "none");
    reference["referenceTypes"] = json!(["User"]);
    let mut member_type = attribute("type", "string", false, "immutable", "none");
    member_type["canonicalValues"] = json!(["User"]);
    let group = json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A named set of the organization's members, carried in its org claim as `groups`",
        "attributes": [
            attribute("displayName", "string", true, "readWrite", "server"),
            external_id,
            complex("members", true, vec![value, reference, member_type]),
        ],
        "meta": {"resourceType": "Schema", "location": format!("{base}/Schemas/{GROUP_SCHEMA}")},
    });
    vec![user, group]
}
