//! An organization's SCIM directory in the copy: members provisioned over existing accounts and
//! one SCIM made and then disabled and suspended, groups with members, and a token used once.

use chrono::{DateTime, Utc};
use gatehouse::model::account::{AccountKey, Status};
use gatehouse::model::outcome::Effects;
use gatehouse::model::scim::{
    GroupWrite, NewScimToken, Provision, Provisioned, ScimGroup, ScimToken, ScimUser, ScimUserChange, ScimUserFilter,
    UserWrite,
};
use gatehouse::model::token::TokenHash;
use gatehouse::store::{NewAccount, Store};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::scenarios::{account, minutes};

fn attributes(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

/// Provisions `account_id` into `org_id` (a new account when `new` is given).
async fn provision(
    store: &dyn Store,
    org_id: Uuid,
    account_id: Uuid,
    new: Option<&NewAccount>,
    (user_name, external_id, active): (&str, &str, bool),
    at: DateTime<Utc>,
) {
    let attributes = attributes(json!({"userName": user_name, "title": "Engineer", "name": {"givenName": "Ü"}}));
    let provision = Provision {
        org_id,
        account_id,
        new_account: new,
        role: "member",
        user_name,
        external_id: Some(external_id),
        active,
        attributes: &attributes,
        created_account: new.is_some(),
        disabled_account: false,
        now: at,
    };
    assert_eq!(store.provision_scim_user(&provision, 100, &Effects::none()).await.unwrap(), Provisioned::Done);
}

/// Fills the organization's directory: bob and cem (members already) and dee, an account SCIM
/// made and then disabled and suspended; two groups; a token used once. Returns dee's id.
pub(super) async fn fill(store: &dyn Store, org_id: Uuid, bob: Uuid, cem: Uuid, at: DateTime<Utc>) -> Uuid {
    let quiet = Effects::none();
    provision(store, org_id, bob, None, ("Bob.K", "ext-bob", true), at + minutes(10)).await;
    provision(store, org_id, cem, None, ("cem", "ext-cem", true), at + minutes(11)).await;
    let mut dee = account("dee@acme.example", None);
    (dee.status, dee.email_verified, dee.now) = (Status::Active, true, at + minutes(12));
    provision(store, org_id, dee.id, Some(&dee), ("dee", "ext-dee", true), at + minutes(12)).await;
    set_dee_active(store, org_id, dee.id, false, at + minutes(13)).await;

    for (n, name, members) in [(1, "Engineering", vec![bob, dee.id]), (2, "Auditors", vec![cem])] {
        let group = ScimGroup {
            id: Uuid::now_v7(),
            org_id,
            display_name: name.into(),
            external_id: (n == 1).then(|| "grp-1".into()),
            members: members.clone(),
            created_at: at + minutes(20 + n),
            updated_at: at + minutes(30 + n),
        };
        assert_eq!(store.insert_scim_group(&group, &members, &quiet).await.unwrap(), GroupWrite::Done);
    }
    let token =
        ScimToken { id: Uuid::now_v7(), org_id, name: "Okta".into(), created_at: at + minutes(5), last_used_at: None };
    let token_id = token.id;
    assert!(
        store.insert_scim_token(&NewScimToken { token, hash: TokenHash::of("scim token") }, 2, &quiet).await.unwrap()
    );
    store.scim_token_used(token_id, at + minutes(40)).await.unwrap();
    dee.id
}

async fn users(store: &dyn Store, org_id: Uuid) -> Vec<ScimUser> {
    let page = store.scim_users(org_id, &ScimUserFilter::default(), 0, 100).await.unwrap();
    assert_eq!(page.total, page.items.len() as u64);
    page.items
}

async fn groups(store: &dyn Store, org_id: Uuid) -> Vec<ScimGroup> {
    let mut groups = store.scim_groups(org_id, None, None, 0, 100, true).await.unwrap().items;
    groups.iter_mut().for_each(|group| group.members.sort());
    groups
}

/// Asserts that `to` holds the directory `from` holds, as each reads it.
pub(super) async fn assert_same(from: &dyn Store, to: &dyn Store, org_id: Uuid, bob: Uuid) {
    let expected: Vec<ScimUser> =
        users(from, org_id).await.into_iter().map(|user| ScimUser { updated_at: user.created_at, ..user }).collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(users(to, org_id).await, expected);
    assert_eq!(
        expected.iter().map(|u| (u.active, u.created_account, u.disabled_account)).collect::<Vec<_>>(),
        vec![(true, false, false), (true, false, false), (false, true, true)],
        "bob, cem, and dee made, disabled and suspended by SCIM"
    );
    let by = |filter: ScimUserFilter| async move { to.scim_users(org_id, &filter, 0, 10).await.unwrap().items };
    let named = by(ScimUserFilter { user_name: Some("BOB.k".into()), ..Default::default() }).await;
    let external = by(ScimUserFilter { external_id: Some("ext-bob".into()), ..Default::default() }).await;
    assert_eq!((named[0].account_id, external[0].account_id), (bob, bob), "found by userName and externalId");

    let groups_were = groups(from, org_id).await;
    assert_eq!(groups_were.len(), 2);
    assert_eq!(groups(to, org_id).await, groups_were, "with their members and times");
    let membership = to.membership(org_id, bob).await.unwrap().expect("bob is a member");
    assert_eq!(membership.groups, vec!["Engineering".to_owned()], "the token's groups claim is read with it");
    let grp = to.scim_groups(org_id, None, Some("grp-1"), 0, 10, false).await.unwrap().items;
    assert_eq!(grp.iter().map(|g| g.display_name.as_str()).collect::<Vec<_>>(), ["Engineering"]);

    let tokens =
        |tokens: Vec<NewScimToken>| tokens.into_iter().map(|t| (t.token, *t.hash.as_bytes())).collect::<Vec<_>>();
    let tokens_were = tokens(from.scim_tokens_with_hashes(org_id).await.unwrap());
    assert_eq!(tokens_were.len(), 1);
    assert_eq!(tokens(to.scim_tokens_with_hashes(org_id).await.unwrap()), tokens_were);
    let found = to.scim_token_by_hash(&TokenHash::of("scim token")).await.unwrap().expect("the token opens");
    assert_eq!((found.org_id, found.last_used_at), (org_id, tokens_were[0].0.last_used_at));
}

/// SCIM's `PUT` of dee with `active`: the membership suspended or not, the account disabled
/// or enabled with it.
async fn set_dee_active(store: &dyn Store, org_id: Uuid, dee: Uuid, active: bool, at: DateTime<Utc>) {
    let written = attributes(json!({"userName": "dee", "active": active}));
    let change = ScimUserChange {
        user_name: "dee",
        external_id: Some("ext-dee"),
        active,
        account_enabled: Some(active),
        profile: None,
        attributes: &written,
        now: at,
    };
    assert_eq!(store.update_scim_user(org_id, dee, &change, &Effects::none()).await.unwrap(), UserWrite::Done);
}

/// SCIM may enable again the account it disabled, on the store the copy ended in: the mark
/// that it was SCIM's doing came along.
pub(super) async fn scim_enables_what_it_disabled(store: &dyn Store, org_id: Uuid) {
    let dee = store.find_account(&AccountKey::Email("dee@acme.example".into())).await.unwrap().unwrap().account;
    assert_eq!(dee.status, Status::Disabled);
    set_dee_active(store, org_id, dee.id, true, crate::scenarios::now()).await;
    let dee = store.find_account(&AccountKey::Id(dee.id)).await.unwrap().unwrap().account;
    assert_eq!(dee.status, Status::Active);
}
