//! Organizations: creating one makes its creator the owner; members read it and its members;
//! permissions decide who changes it, its members' roles and who is removed; the last owner
//! stays; and every check reads the membership at the request, so a removal or a promotion
//! acts on the very next request with the token the member already holds.

use gatehouse::model::org::OrgKey;
use gatehouse::model::outcome::Effects;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Options, TestApp, assert_problem, spawn_app, spawn_app_with};
use crate::stored::Stored;

async fn create(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app.post_json("/orgs", &body, Some(token)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn patch(app: &TestApp, path: &str, body: Value, token: &str) -> reqwest::Response {
    app.send_json(Method::PATCH, path, &body, Some(token)).await
}

/// Adds `account` to the organization with `role`, as an accepted invitation would.
pub(crate) async fn add_member(app: &TestApp, slug: &str, account: &Value, role: &str) {
    let store = app.services().await.backend.store;
    let org = store.find_org(OrgKey::Slug(slug)).await.unwrap().unwrap();
    let id = Uuid::parse_str(account["id"].as_str().unwrap()).unwrap();
    assert!(store.add_member(org.id, id, role, chrono::Utc::now(), &Effects::none()).await.unwrap());
}

fn member_path(slug: &str, account: &Value) -> String {
    format!("/orgs/{slug}/members/{}", account["id"].as_str().unwrap())
}

#[tokio::test]
async fn an_organization_is_created_read_changed_and_deleted_by_its_owner_and_read_by_no_one_else() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (_, bob) = app.logged_in_user("bob@example.com").await;

    let acme = create(&app, &ann, json!({"name": "Acme, Inc.", "data": {"plan": "team"}})).await;
    assert_eq!((acme["name"].as_str(), acme["slug"].as_str()), (Some("Acme, Inc."), Some("acme-inc")));
    assert_eq!(acme["data"], json!({"plan": "team"}));
    let id = acme["id"].as_str().unwrap();
    for path in [format!("/orgs/{id}"), "/orgs/acme-inc".to_owned()] {
        let read: Value = app.get(&path, Some(&ann)).await.json().await.unwrap();
        assert_eq!(read["org"]["id"], acme["id"]);
        assert_eq!(read["role"], "owner");
        assert!(read["permissions"].as_array().unwrap().contains(&json!("org:delete")));
    }
    let mine: Value = app.get("/orgs", Some(&ann)).await.json().await.unwrap();
    assert_eq!(mine["orgs"].as_array().unwrap().len(), 1);
    assert_eq!(mine["orgs"][0]["role"], "owner");
    let none: Value = app.get("/orgs", Some(&bob)).await.json().await.unwrap();
    assert_eq!(none["orgs"], json!([]));

    assert_problem(app.get("/orgs/acme-inc", Some(&bob)).await, StatusCode::FORBIDDEN, "not_a_member").await;
    let refused = patch(&app, "/orgs/acme-inc", json!({"name": "Mine"}), &bob).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "not_a_member").await;
    assert_problem(app.get("/orgs/nothing-here", Some(&ann)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get("/orgs", None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;

    create(&app, &bob, json!({"name": "Globex", "slug": "globex"})).await;
    let taken = app.post_json("/orgs", &json!({"name": "Another", "slug": "globex"}), Some(&ann)).await;
    assert_problem(taken, StatusCode::CONFLICT, "slug_taken").await;
    let taken = patch(&app, "/orgs/acme-inc", json!({"slug": "globex"}), &ann).await;
    assert_problem(taken, StatusCode::CONFLICT, "slug_taken").await;
    let big = json!({"blob": "x".repeat(17 * 1024)});
    for bad in [
        json!({"name": ""}),
        json!({"name": "Fine", "slug": "Not A Slug"}),
        json!({"name": "x".repeat(201)}),
        json!({"name": "a\u{0}b"}),
        json!({"name": "line\nbreak"}),
        json!({"name": "Fine", "data": {"k": "\u{0}"}}),
        json!({"name": "Fine", "data": big}),
    ] {
        let refused = app.post_json("/orgs", &bad, Some(&ann)).await;
        assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let unknown = app.post_json("/orgs", &json!({"name": "Acme", "owner": "me"}), Some(&ann)).await;
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST, "unknown fields are refused");

    let changed =
        patch(&app, "/orgs/acme-inc", json!({"name": "Acme", "slug": "acme", "data": {"plan": "pro"}}), &ann).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!((changed["name"].as_str(), changed["slug"].as_str()), (Some("Acme"), Some("acme")));
    assert_eq!(changed["data"], json!({"plan": "pro"}));
    assert_problem(app.get("/orgs/acme-inc", Some(&ann)).await, StatusCode::NOT_FOUND, "not_found").await;

    assert_eq!(app.delete("/orgs/acme", Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&format!("/orgs/{id}"), Some(&ann)).await, StatusCode::NOT_FOUND, "not_found").await;
    for kind in ["org.created", "org.updated", "org.deleted"] {
        let rows = app.count(Stored::AuditEvents(&[kind])).await;
        assert!(rows >= 1, "{kind} audited");
    }
}

#[tokio::test]
async fn a_role_change_and_a_removal_act_at_the_next_request_and_the_last_owner_stays() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (bob_account, bob) = app.logged_in_user("bob@example.com").await;
    let (cat_account, cat) = app.logged_in_user("cat@example.com").await;
    let (ann_account, _) = (app.get("/user", Some(&ann)).await.json::<Value>().await.unwrap(), ());
    create(&app, &ann, json!({"name": "Acme", "slug": "acme"})).await;
    add_member(&app, "acme", &bob_account, "member").await;
    add_member(&app, "acme", &cat_account, "member").await;

    // A member reads the organization and its members, and changes nothing.
    let page: Value = app.get("/orgs/acme/members?limit=2", Some(&bob)).await.json().await.unwrap();
    let emails: Vec<&str> =
        page["members"].as_array().unwrap().iter().map(|m| m["account"]["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["ann@example.com", "bob@example.com"], "in the order they joined");
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value =
        app.get(&format!("/orgs/acme/members?limit=2&cursor={cursor}"), Some(&bob)).await.json().await.unwrap();
    assert_eq!(rest["members"][0]["account"]["email"], "cat@example.com");
    assert!(rest.get("next_cursor").is_none(), "the last page");
    let refused = patch(&app, "/orgs/acme", json!({"name": "Bob's"}), &bob).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let refused = app.delete(&member_path("acme", &cat_account), Some(&bob)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;

    // Promoted, bob's very next request with the same token may change the organization.
    let promoted = patch(&app, &member_path("acme", &bob_account), json!({"role": "admin"}), &ann).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(promoted.json::<Value>().await.unwrap()["role"], "admin");
    assert_eq!(patch(&app, "/orgs/acme", json!({"name": "Acme Co"}), &bob).await.status(), StatusCode::OK);
    // An admin of the organization does not touch owners, nor makes one.
    let refused = patch(&app, &member_path("acme", &cat_account), json!({"role": "owner"}), &bob).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let refused = patch(&app, &member_path("acme", &ann_account), json!({"role": "member"}), &bob).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.delete("/orgs/acme", Some(&bob)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let refused = app.delete(&member_path("acme", &ann_account), Some(&bob)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let unknown_role = patch(&app, &member_path("acme", &cat_account), json!({"role": "emperor"}), &bob).await;
    assert_problem(unknown_role, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Removed, cat's very next request with the same token is refused.
    assert_eq!(app.get("/orgs/acme", Some(&cat)).await.status(), StatusCode::OK);
    assert_eq!(app.delete(&member_path("acme", &cat_account), Some(&bob)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/orgs/acme", Some(&cat)).await, StatusCode::FORBIDDEN, "not_a_member").await;
    assert_problem(app.get("/orgs/acme/members", Some(&cat)).await, StatusCode::FORBIDDEN, "not_a_member").await;
    let listed: Value = app.get("/orgs", Some(&cat)).await.json().await.unwrap();
    assert_eq!(listed["orgs"], json!([]));
    let gone = app.delete(&member_path("acme", &cat_account), Some(&ann)).await;
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;

    // The last owner can be neither demoted nor removed, nor leave; after making another
    // owner, she may leave.
    let refused = patch(&app, &member_path("acme", &ann_account), json!({"role": "admin"}), &ann).await;
    assert_problem(refused, StatusCode::CONFLICT, "last_owner").await;
    let refused = app.delete(&member_path("acme", &ann_account), Some(&ann)).await;
    assert_problem(refused, StatusCode::CONFLICT, "last_owner").await;
    assert_eq!(
        patch(&app, &member_path("acme", &bob_account), json!({"role": "owner"}), &ann).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.delete(&member_path("acme", &ann_account), Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/orgs/acme", Some(&ann)).await, StatusCode::FORBIDDEN, "not_a_member").await;
    let left = app.count(Stored::AuditEvents(&["org.member_removed"])).await;
    assert_eq!(left, 2, "cat's removal and ann's leaving");
}

#[tokio::test]
async fn the_last_owner_of_an_organization_with_members_cannot_delete_their_account() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (bob_account, _) = app.logged_in_user("bob@example.com").await;
    create(&app, &ann, json!({"name": "Acme", "slug": "acme"})).await;
    create(&app, &ann, json!({"name": "Solo", "slug": "solo"})).await;
    add_member(&app, "acme", &bob_account, "member").await;

    assert_problem(app.delete("/user", Some(&ann)).await, StatusCode::CONFLICT, "last_owner").await;
    assert_eq!(app.get("/orgs/solo", Some(&ann)).await.status(), StatusCode::OK, "nothing changed");

    assert_eq!(
        patch(&app, &member_path("acme", &bob_account), json!({"role": "owner"}), &ann).await.status(),
        StatusCode::OK
    );
    assert_eq!(app.delete("/user", Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    let admin = app.admin("root@example.com").await;
    assert_problem(app.get("/admin/orgs/solo", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found").await;
    let acme: Value = app.get("/admin/orgs/acme", Some(&admin)).await.json().await.unwrap();
    assert_eq!(acme["members"], 1, "the organization stays with its other owner");
}

#[tokio::test]
async fn with_creation_kept_to_admins_only_an_admin_creates_and_an_admin_acts_on_any_organization() {
    let app = spawn_app_with(Options::default().var("GATEHOUSE_ORG_CREATION", "admins")).await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let admin = app.admin("root@example.com").await;
    let refused = app.post_json("/orgs", &json!({"name": "Acme"}), Some(&ann)).await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let acme = create(&app, &admin, json!({"name": "Acme"})).await;
    assert_eq!(acme["slug"], "acme");

    let app = app.restart_changing(|config| config.policy.org_creation_open = true).await;
    let ann =
        app.tokens("ann@example.com", crate::helpers::PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let admin =
        app.tokens("root@example.com", crate::helpers::PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    create(&app, &ann, json!({"name": "Ann's", "slug": "anns"})).await;
    let seen: Value = app.get("/orgs/anns", Some(&admin)).await.json().await.unwrap();
    assert_eq!(
        (seen["role"].as_str(), seen["org"]["slug"].as_str()),
        (Some("owner"), Some("anns")),
        "an admin acts as an owner"
    );
    assert_eq!(patch(&app, "/orgs/anns", json!({"data": {"audited": true}}), &admin).await.status(), StatusCode::OK);

    // Admins list and search every organization, newest first, a page at a time.
    create(&app, &ann, json!({"name": "Globex", "slug": "globex"})).await;
    let page: Value = app.get("/admin/orgs?limit=2", Some(&admin)).await.json().await.unwrap();
    let slugs = |page: &Value| {
        page["orgs"].as_array().unwrap().iter().map(|o| o["slug"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(slugs(&page), ["globex", "anns"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest: Value =
        app.get(&format!("/admin/orgs?limit=2&cursor={cursor}"), Some(&admin)).await.json().await.unwrap();
    assert_eq!(slugs(&rest), ["acme"]);
    let found: Value = app.get("/admin/orgs?q=GLOB", Some(&admin)).await.json().await.unwrap();
    assert_eq!(slugs(&found), ["globex"]);
    let one: Value = app.get("/admin/orgs/anns", Some(&admin)).await.json().await.unwrap();
    assert_eq!((one["org"]["slug"].as_str(), one["members"].as_u64()), (Some("anns"), Some(1)));
    assert_problem(app.get("/admin/orgs", Some(&ann)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.get("/admin/orgs/nothing", Some(&admin)).await, StatusCode::NOT_FOUND, "not_found").await;
    let nul = app.get("/admin/orgs?q=a%00b", Some(&admin)).await;
    assert_problem(nul, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(app.delete("/orgs/anns", Some(&admin)).await.status(), StatusCode::NO_CONTENT);
}
