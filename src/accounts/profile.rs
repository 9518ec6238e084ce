//! Reading, editing and deleting accounts, with the access rules: a user may act on their own
//! account only (and is told `Forbidden` about any other, whether or not it exists); an admin
//! may act on any account, may change `role`, `status` and `app_data`, and is told `NotFound`
//! about an account that does not exist.

use serde_json::{Map, Value, json};

use super::access;
use super::access::matrix::Operation;
use super::{Accounts, Caller, ClientInfo, Core, Error, Result};
use crate::i18n::Locale;
use crate::model::account::{Account, AccountData, AccountKey, DisplayName, FieldError, Role, Status, Username};
use crate::model::outcome::{Effects, Kind};
use crate::store::ProfileChange;

/// The fields an edit may name; any other top-level field is kept in `data`.
const EDITABLE: &[&str] = &["username", "name", "data", "app_data", "role", "status", "locale"];
/// Fields of the account's representation that are not edited here. They may be sent back
/// unchanged (clients often PUT what they GET); a different value is refused.
const READ_ONLY: &[&str] = &["id", "email", "email_verified", "created_at", "updated_at"];

/// An edit as submitted. A PUT replaces `name` and `data` (omitted: cleared); `username` changes
/// only when the body names it (`null` clears it), and `role`, `status` and `app_data` stay when
/// omitted. A PATCH is a JSON merge patch (RFC 7396) of the same fields.
#[derive(Debug)]
pub enum Edit {
    Replace(Map<String, Value>),
    MergePatch(Map<String, Value>),
}

impl Accounts {
    /// The account `key` names, if the caller may see it.
    pub async fn get_account(&self, caller: &Caller, key: &str) -> Result<Account> {
        self.resolve(caller, key).await.map(|(_, target)| target)
    }

    /// Applies an edit to the account `key` names.
    pub async fn update_account(&self, caller: &Caller, key: &str, edit: Edit, client: &ClientInfo) -> Result<Account> {
        let (me, target) = self.resolve(caller, key).await?;
        let change = plan(&target, edit)?;
        let admin_only =
            change.role != target.role || change.status != target.status || change.app_data != target.app_data;
        if !access::has_admin_role(&me) && admin_only {
            return Err(Error::Forbidden);
        }
        let renamed = change.username.as_ref().filter(|name| target.username.as_ref() != Some(*name));
        if !access::has_admin_role(&me)
            && renamed.and_then(|name| Username::parse(name).ok()).is_some_and(|name| name.reserved())
        {
            return Err(Error::field("username", "this username is reserved; choose another"));
        }
        if access::grants_access(&target, change.role, &change.app_data) {
            self.admit(caller, Operation::AdminGrant).await?;
        }
        self.keep_an_admin(&target, change.role, change.status).await?;
        if change.status == Status::Disabled && target.status != Status::Disabled {
            // End the sessions first: should the update then fail, nobody kept access.
            self.close_all_sessions(target.id, None).await?;
        }
        let kind = if me.id == target.id { Kind::AccountUpdated } else { Kind::AdminAccountUpdated };
        let mut updated = self.outcome(kind, Some(target.id), client).detail(Value::Object(changes(&target, &change)));
        if me.id != target.id {
            updated = updated.actor(me.id);
        }
        let effects = Effects::of(updated);
        let updated = self
            .commit(&effects, self.store.update_profile(target.id, &change, &effects))
            .await?
            .ok_or(Error::NotFound)?;
        tracing::info!(account_id = %updated.id, by = %me.id, "account updated");
        Ok(updated)
    }

    /// Deletes the account `key` names, and everything of it; its sessions end. Deleting one's
    /// own account is a step-up.
    pub async fn delete_account(&self, caller: &Caller, key: &str, client: &ClientInfo) -> Result<()> {
        let (me, target) = self.resolve(caller, key).await?;
        if me.id == target.id {
            self.admit(caller, Operation::AccountDeletion).await?;
        }
        self.keep_an_admin(&target, Role::User, Status::Disabled).await?;
        self.keep_org_owners(target.id).await?;
        self.close_all_sessions(target.id, None).await?;
        let kind = if me.id == target.id { Kind::AccountDeleted } else { Kind::AdminAccountDeleted };
        let mut deleted = self.outcome(kind, Some(target.id), client).with("email", target.email.as_str());
        if me.id != target.id {
            deleted = deleted.actor(me.id);
        }
        let effects = Effects::of(deleted);
        if !self.commit(&effects, self.store.delete_account(target.id, &effects)).await? {
            return Err(Error::NotFound);
        }
        tracing::info!(account_id = %target.id, by = %me.id, "account deleted");
        Ok(())
    }

    /// Refuses, before any session is ended, a change that would leave no active admin. The
    /// store checks again inside its transaction, which is what decides a race.
    pub(super) async fn keep_an_admin(&self, target: &Account, role: Role, status: Status) -> Result<()> {
        let is_admin = access::is_active_admin(target);
        let stays_admin = access::stays_active_admin(role, status);
        if is_admin && !stays_admin {
            let query = crate::store::admin::AccountQuery {
                role: Some(Role::Admin),
                status: Some(Status::Active),
                ..Default::default()
            };
            if self.store.count_accounts(&query).await? <= 1 {
                return Err(Error::LastAdmin);
            }
        }
        Ok(())
    }

    /// The caller's account and the target account, once the access rules allow it.
    async fn resolve(&self, caller: &Caller, key: &str) -> Result<(Account, Account)> {
        let me = self.me(caller).await?;
        if AccountKey::is_me(key) {
            return Ok((me.clone(), me));
        }
        let key = AccountKey::parse(key);
        if key.names(&me) {
            return Ok((me.clone(), me));
        }
        // Impersonating an account never lends its power over others (asked first, so an
        // impersonation is told the same whatever the account's role).
        caller.refuse_impersonation()?;
        if !access::manages_others(&me) {
            return Err(Error::Forbidden);
        }
        let target = self.store.find_account(&key).await?.ok_or(Error::NotFound)?;
        Ok((me, target.account))
    }
}

/// Works out the account's editable fields after the edit, parsing each.
fn plan(current: &Account, edit: Edit) -> Result<ProfileChange> {
    let mut errors = Vec::new();
    let (body, patch) = match edit {
        Edit::Replace(body) => (body, false),
        Edit::MergePatch(body) => (body, true),
    };
    let mut fields = Map::new();
    let mut extra = Map::new();
    for (key, value) in body {
        if EDITABLE.contains(&key.as_str()) {
            fields.insert(key, value);
        } else if key == "password" || key == "new_password" {
            errors.push(FieldError::new("password", "change a password with POST /password/change"));
        } else if READ_ONLY.contains(&key.as_str()) {
            if !unchanged(current, &key, &value) {
                errors.push(FieldError::new(read_only_name(&key), format!("{key} cannot be changed here")));
            }
        } else {
            extra.insert(key, value);
        }
    }

    // A username is how the account is addressed (`/user/ben`): a PUT that does not name it
    // keeps it, so replacing the JSON data never makes the account unreachable by its name.
    let username = match fields.get("username").cloned() {
        Some(Value::Null) => None,
        Some(Value::String(name)) if name.trim().is_empty() => None,
        Some(Value::String(name)) => {
            Username::parse(&name).map_err(|e| errors.push(e)).ok().map(|u| u.as_str().to_owned())
        }
        Some(_) => {
            errors.push(FieldError::new("username", "username must be a string or null"));
            None
        }
        None => current.username.clone(),
    };
    let name = match edited(&fields, "name", patch) {
        Some(Value::Null) => None,
        Some(Value::String(name)) => {
            DisplayName::parse(&name).map_err(|e| errors.push(e)).ok().flatten().map(|n| n.as_str().to_owned())
        }
        Some(_) => {
            errors.push(FieldError::new("name", "name must be a string or null"));
            None
        }
        None => current.name.clone(),
    };
    let data = {
        let base = if patch { current.data.clone() } else { Map::new() };
        let mut doc = Value::Object(base);
        match edited(&fields, "data", patch) {
            Some(Value::Object(data)) if patch => merge_patch(&mut doc, &Value::Object(data)),
            Some(Value::Object(data)) => doc = Value::Object(data),
            Some(Value::Null) => doc = Value::Object(Map::new()),
            Some(_) => errors.push(FieldError::new("data", "data must be a JSON object")),
            None => {}
        }
        merge_patch(&mut doc, &Value::Object(extra));
        AccountData::parse(doc).map_err(|e| errors.push(e)).ok()
    };
    // Only an admin's edit may change it (checked by the caller); omitted, it stays.
    let app_data = {
        let mut doc = Value::Object(current.app_data.clone());
        match fields.get("app_data") {
            Some(Value::Object(app_data)) if patch => merge_patch(&mut doc, &Value::Object(app_data.clone())),
            Some(Value::Object(app_data)) => doc = Value::Object(app_data.clone()),
            Some(Value::Null) => doc = Value::Object(Map::new()),
            Some(_) => errors.push(FieldError::new("app_data", "app_data must be a JSON object")),
            None => {}
        }
        AccountData::parse_field(doc, "app_data").map_err(|e| errors.push(e)).ok()
    };
    let role = match fields.get("role") {
        None | Some(Value::Null) => Some(current.role),
        Some(Value::String(role)) => Role::parse(role).or_else(|| {
            errors.push(FieldError::new("role", "role is user or admin"));
            None
        }),
        Some(_) => {
            errors.push(FieldError::new("role", "role is user or admin"));
            None
        }
    };
    let status = match fields.get("status") {
        None | Some(Value::Null) => Some(current.status),
        Some(Value::String(status)) => Status::parse(status).or_else(|| {
            errors.push(FieldError::new("status", "status is pending, active or disabled"));
            None
        }),
        Some(_) => {
            errors.push(FieldError::new("status", "status is pending, active or disabled"));
            None
        }
    };
    // Like `username`, it changes only when the body names it.
    let locale = match fields.get("locale") {
        None => current.locale,
        Some(Value::Null) => None,
        Some(value) => value.as_str().and_then(Locale::parse).or_else(|| {
            errors.push(FieldError::new("locale", "locale is one of en, de, fr, es, or null for the default"));
            None
        }),
    };
    match (data, app_data, role, status) {
        (Some(data), Some(app_data), Some(role), Some(status)) if errors.is_empty() => Ok(ProfileChange {
            username,
            name,
            data: data.into_map(),
            app_data: app_data.into_map(),
            role,
            status,
            locale,
            now: chrono::Utc::now(),
        }),
        _ => Err(Error::Validation(errors)),
    }
}

/// The new value of a field: for a replacement, the field or null; for a patch, the field if
/// the patch names it.
fn edited(fields: &Map<String, Value>, key: &str, patch: bool) -> Option<Value> {
    match fields.get(key) {
        Some(value) => Some(value.clone()),
        None if patch => None,
        None => Some(Value::Null),
    }
}

/// RFC 7396: objects merge recursively, null removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(key);
        } else {
            merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

fn unchanged(current: &Account, key: &str, value: &Value) -> bool {
    match key {
        "id" => value.as_str() == Some(current.id.to_string().as_str()),
        "email" => value.as_str().map(|e| e.trim().to_lowercase()) == Some(current.email.to_lowercase()),
        "email_verified" => value.as_bool() == Some(current.email_verified),
        // Timestamps are the server's; whatever the client echoes back is ignored.
        _ => true,
    }
}

fn read_only_name(key: &str) -> &'static str {
    READ_ONLY.iter().find(|k| **k == key).copied().unwrap_or("body")
}

/// What an update changes that the audit trail keeps: the role, the status and the app's data,
/// each from and to; and `activated` when it takes a pending account to active (the webhook
/// `user.activated` follows from it).
pub(super) fn changes(before: &Account, change: &ProfileChange) -> serde_json::Map<String, Value> {
    let mut detail = serde_json::Map::new();
    if before.role != change.role {
        detail.insert("role".into(), json!({ "from": before.role.as_str(), "to": change.role.as_str() }));
    }
    if before.status != change.status {
        detail.insert("status".into(), json!({ "from": before.status.as_str(), "to": change.status.as_str() }));
    }
    if before.app_data != change.app_data {
        detail.insert("app_data".into(), json!({ "from": before.app_data, "to": change.app_data }));
    }
    if before.status == Status::Pending && change.status == Status::Active {
        detail.insert("activated".into(), Value::Bool(true));
    }
    detail
}

impl Core {
    /// The caller's account, if it is an active admin's; `Forbidden` otherwise. Only
    /// [`Accounts::as_admin`] asks: admin operations hang off the capability it hands out.
    pub(super) async fn require_admin(&self, caller: &Caller) -> Result<Account> {
        caller.refuse_impersonation()?;
        let found = self.store.find_account(&AccountKey::Id(caller.account_id)).await?;
        let account = found.map(|c| c.account).ok_or(Error::Unauthorized)?;
        if !access::is_active_admin(&account) {
            return Err(Error::Forbidden);
        }
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn account() -> Account {
        Account {
            id: uuid::Uuid::now_v7(),
            email: "ann@example.com".into(),
            username: Some("ann".into()),
            name: Some("Ann".into()),
            data: json!({"phone": "+49", "address": {"city": "Berlin", "zip": "10115"}}).as_object().unwrap().clone(),
            app_data: serde_json::Map::new(),
            role: Role::User,
            status: Status::Active,
            email_verified: true,
            locale: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn put_replaces_name_and_data_and_keeps_an_unnamed_username() {
        let change = plan(&account(), Edit::Replace(obj(json!({"data": {"phone": "+1"}})))).unwrap();
        assert_eq!(change.username.as_deref(), Some("ann"));
        assert_eq!(change.name, None);
        assert_eq!(Value::Object(change.data), json!({"phone": "+1"}));
        assert_eq!((change.role, change.status), (Role::User, Status::Active));
    }

    #[test]
    fn patch_merges_recursively_and_null_removes() {
        let patch = json!({"name": null, "data": {"address": {"zip": null, "street": "Main"}}, "nickname": "annie"});
        let change = plan(&account(), Edit::MergePatch(obj(patch))).unwrap();
        assert_eq!(change.username.as_deref(), Some("ann"));
        assert_eq!(change.name, None);
        assert_eq!(
            Value::Object(change.data),
            json!({"phone": "+49", "address": {"city": "Berlin", "street": "Main"}, "nickname": "annie"})
        );
    }

    #[test]
    fn put_clears_the_username_only_when_it_is_null() {
        let change = plan(&account(), Edit::Replace(obj(json!({"username": null})))).unwrap();
        assert_eq!(change.username, None);
    }

    #[test]
    fn extra_top_level_fields_go_to_data() {
        let change = plan(&account(), Edit::Replace(obj(json!({"username": "ann", "phone": "+7"})))).unwrap();
        assert_eq!(Value::Object(change.data), json!({"phone": "+7"}));
    }

    #[test]
    fn echoing_the_representation_back_is_accepted_but_changing_the_email_is_not() {
        let a = account();
        let echo = json!({"id": a.id.to_string(), "email": "ANN@example.com", "created_at": "2020-01-01T00:00:00Z", "username": "ann"});
        assert!(plan(&a, Edit::Replace(obj(echo))).is_ok());
        let Err(Error::Validation(errors)) = plan(&a, Edit::Replace(obj(json!({"email": "bob@example.com"})))) else {
            panic!("an email change was accepted");
        };
        assert_eq!(errors[0].field, "email");
    }

    #[test]
    fn bad_values_are_all_reported() {
        let Err(Error::Validation(errors)) =
            plan(&account(), Edit::Replace(obj(json!({"username": "x", "data": [1], "role": "root", "status": 3}))))
        else {
            panic!("bad values were accepted");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["username", "data", "role", "status"]);
    }

    #[test]
    fn merge_patch_follows_rfc_7396_examples() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut doc, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(doc, json!({"a": "z", "c": {"d": "e"}}));
        let mut doc = json!({"a": [{"b": "c"}]});
        merge_patch(&mut doc, &json!({"a": [1]}));
        assert_eq!(doc, json!({"a": [1]}));
    }
}
