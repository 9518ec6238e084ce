//! Invitations and custom roles: an invitation is accepted only by an account whose verified
//! address is the invited one, once, before it expires; a revoked one is dead at once; nobody
//! invites to, or defines, a role mightier than its own; and a custom role's permissions act at
//! its holders' next request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app};
use crate::stored::Stored;

async fn org(app: &TestApp, token: &str, slug: &str) -> Value {
    let response = app.post_json("/orgs", &json!({"name": slug, "slug": slug}), Some(token)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn invite(app: &TestApp, token: &str, slug: &str, email: &str, role: &str) -> reqwest::Response {
    app.post_json(&format!("/orgs/{slug}/invitations"), &json!({"email": email, "role": role}), Some(token)).await
}

/// The token of the `nth` email to `email`, an invitation.
async fn invitation_token(app: &TestApp, email: &str, nth: usize) -> String {
    let link = app.smtp.nth_to(email, nth).await.link("/invitations/accept?token=");
    link.split("token=").nth(1).unwrap().to_owned()
}

/// A new access token (the test's clock may have moved past the last one's life).
async fn fresh(app: &TestApp, email: &str) -> String {
    app.tokens(email, PASSWORD).await["access_token"].as_str().unwrap().to_owned()
}

async fn accept(app: &TestApp, token: &str, invitation: &str) -> reqwest::Response {
    app.post_json("/invitations/accept", &json!({"token": invitation}), Some(token)).await
}

#[tokio::test]
async fn an_invitation_is_accepted_once_by_its_address_alone_and_a_forwarded_link_is_no_use() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (_, bob) = app.logged_in_user("bob@example.com").await;
    org(&app, &ann, "acme").await;

    let sent = invite(&app, &ann, "acme", "Carol@Example.com", "admin").await;
    assert_eq!(sent.status(), StatusCode::CREATED);
    let sent: Value = sent.json().await.unwrap();
    assert_eq!((sent["email"].as_str(), sent["role"].as_str()), (Some("carol@example.com"), Some("admin")));
    let email = app.smtp.nth_to("carol@example.com", 1).await;
    assert!(email.subject().contains("acme"), "{}", email.subject());
    let token = invitation_token(&app, "carol@example.com", 1).await;

    // The link's page hands the token to the account page; nothing is spent.
    let page = app.client.get(app.url(&format!("/invitations/accept?token={token}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    let to = page.headers()["location"].to_str().unwrap().to_owned();
    assert!(to.ends_with(&format!("/account?invitation={token}")), "{to}");

    // Carol has no account yet; she signs up, confirms, logs in, and finds it waiting.
    let signed_up = app.sign_up(json!({"email": "carol@example.com", "password": PASSWORD})).await;
    assert_eq!(signed_up.status(), StatusCode::CREATED);
    let confirmed = app.client.get(app.activation_link("carol@example.com", 2).await).send().await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    let carol = fresh(&app, "carol@example.com").await;
    let mine: Value = app.get("/invitations", Some(&carol)).await.json().await.unwrap();
    assert_eq!(mine["invitations"][0]["org"]["slug"], "acme");
    assert_eq!(mine["invitations"][0]["role"], "admin");
    let pending: Value = app.get("/orgs/acme/invitations", Some(&ann)).await.json().await.unwrap();
    assert_eq!(pending["invitations"].as_array().unwrap().len(), 1);

    // Bob holds the link (forwarded, or leaked): it is not his.
    assert_problem(accept(&app, &bob, &token).await, StatusCode::FORBIDDEN, "invitation_email_mismatch").await;
    assert_problem(app.get("/orgs/acme", Some(&bob)).await, StatusCode::FORBIDDEN, "not_a_member").await;
    let id = sent["id"].as_str().unwrap();
    let by_id = app.post_json(&format!("/invitations/{id}/accept"), &json!({}), Some(&bob)).await;
    assert_problem(by_id, StatusCode::FORBIDDEN, "invitation_email_mismatch").await;

    let joined = accept(&app, &carol, &token).await;
    assert_eq!(joined.status(), StatusCode::OK);
    let joined: Value = joined.json().await.unwrap();
    assert_eq!((joined["org"]["slug"].as_str(), joined["role"].as_str()), (Some("acme"), Some("admin")));
    assert!(joined["permissions"].as_array().unwrap().contains(&json!("members:invite")));
    let read: Value = app.get("/orgs/acme", Some(&carol)).await.json().await.unwrap();
    assert_eq!(read["role"], "admin");

    assert_problem(accept(&app, &carol, &token).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(accept(&app, &carol, "x").await, StatusCode::NOT_FOUND, "not_found").await;
    let left: Value = app.get("/orgs/acme/invitations", Some(&ann)).await.json().await.unwrap();
    assert_eq!(left["invitations"], json!([]));
    let again = invite(&app, &ann, "acme", "carol@example.com", "member").await;
    assert_problem(again, StatusCode::CONFLICT, "already_member").await;

    let kinds = app.count(Stored::AuditEvents(&["invitation.created", "invitation.accepted"])).await;
    assert_eq!(kinds, 2);
}

#[tokio::test]
async fn an_invitation_expires_is_replaced_and_revoked_and_only_inviters_see_them() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (dan_account, dan) = app.logged_in_user("dan@example.com").await;
    let (_, eve) = app.logged_in_user("eve@example.com").await;
    org(&app, &ann, "acme").await;

    // A revoked invitation's link is dead at once.
    let sent: Value = invite(&app, &ann, "acme", "eve@example.com", "member").await.json().await.unwrap();
    let revoked = invitation_token(&app, "eve@example.com", 2).await;
    let path = format!("/orgs/acme/invitations/{}", sent["id"].as_str().unwrap());
    assert_eq!(app.delete(&path, Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.delete(&path, Some(&ann)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(accept(&app, &eve, &revoked).await, StatusCode::NOT_FOUND, "not_found").await;

    // A member may not invite or list; an admin may invite members but no owner.
    let member =
        app.post_json("/orgs/acme/invitations", &json!({"email": "x@example.com", "role": "member"}), Some(&dan)).await;
    assert_problem(member, StatusCode::FORBIDDEN, "not_a_member").await;
    crate::orgs::add_member(&app, "acme", &dan_account, "member").await;
    assert_problem(invite(&app, &dan, "acme", "x@example.com", "member").await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    assert_problem(app.get("/orgs/acme/invitations", Some(&dan)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let dan_path = format!("/orgs/acme/members/{}", dan_account["id"].as_str().unwrap());
    let promoted = app.send_json(Method::PATCH, &dan_path, &json!({"role": "admin"}), Some(&ann)).await;
    assert_eq!(promoted.status(), StatusCode::OK);
    assert_eq!(invite(&app, &dan, "acme", "x@example.com", "member").await.status(), StatusCode::CREATED);
    assert_problem(invite(&app, &dan, "acme", "y@example.com", "owner").await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    for bad in [json!({"email": "not an address", "role": "member"}), json!({"email": "z@example.com", "role": "nope"})]
    {
        let refused = app.post_json("/orgs/acme/invitations", &bad, Some(&dan)).await;
        assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    // Eve: invited twice; the second replaces the first, whose link then works no more.
    assert_eq!(invite(&app, &ann, "acme", "eve@example.com", "member").await.status(), StatusCode::CREATED);
    let first = invitation_token(&app, "eve@example.com", 3).await;
    assert_eq!(invite(&app, &ann, "acme", "eve@example.com", "member").await.status(), StatusCode::CREATED);
    let second = invitation_token(&app, "eve@example.com", 4).await;
    assert_problem(accept(&app, &eve, &first).await, StatusCode::NOT_FOUND, "not_found").await;
    app.clock.advance(std::time::Duration::from_secs(8 * 24 * 3600));
    let eve = fresh(&app, "eve@example.com").await;
    assert_problem(accept(&app, &eve, &second).await, StatusCode::GONE, "invitation_expired").await;
    let none: Value = app.get("/invitations", Some(&eve)).await.json().await.unwrap();
    assert_eq!(none["invitations"], json!([]), "an expired invitation is not listed");
}

#[tokio::test]
async fn custom_roles_grant_their_permissions_live_and_never_more_than_their_maker_holds() {
    let app = spawn_app().await;
    let (_, ann) = app.logged_in_user("ann@example.com").await;
    let (fay_account, fay) = app.logged_in_user("fay@example.com").await;
    let (gus_account, _) = app.logged_in_user("gus@example.com").await;
    org(&app, &ann, "acme").await;

    let hr = json!({"name": "hr", "permissions": ["members:update", "members:remove", "docs:read", "docs:read"]});
    let made = app.post_json("/orgs/acme/roles", &hr, Some(&ann)).await;
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: Value = made.json().await.unwrap();
    assert_eq!(made["permissions"], json!(["docs:read", "members:remove", "members:update"]), "sorted, once each");
    let again = app.post_json("/orgs/acme/roles", &hr, Some(&ann)).await;
    assert_problem(again, StatusCode::CONFLICT, "role_exists").await;
    let builtin = app.post_json("/orgs/acme/roles", &json!({"name": "admin", "permissions": []}), Some(&ann)).await;
    assert_problem(builtin, StatusCode::CONFLICT, "role_exists").await;
    for bad in [
        json!({"name": "Bad Name", "permissions": []}),
        json!({"name": "ok", "permissions": ["nocolon"]}),
        json!({"name": "ok", "permissions": ["A:b"]}),
    ] {
        let refused = app.post_json("/orgs/acme/roles", &bad, Some(&ann)).await;
        assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }
    let roles: Value = app.get("/orgs/acme/roles", Some(&ann)).await.json().await.unwrap();
    let names: Vec<&str> = roles["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["owner", "admin", "member", "hr"]);

    crate::orgs::add_member(&app, "acme", &fay_account, "member").await;
    crate::orgs::add_member(&app, "acme", &gus_account, "member").await;
    let fay_path = format!("/orgs/acme/members/{}", fay_account["id"].as_str().unwrap());
    let gus_path = format!("/orgs/acme/members/{}", gus_account["id"].as_str().unwrap());
    let given = app.send_json(Method::PATCH, &fay_path, &json!({"role": "hr"}), Some(&ann)).await;
    assert_eq!(given.status(), StatusCode::OK);
    let unknown = app.send_json(Method::PATCH, &gus_path, &json!({"role": "ghost"}), Some(&ann)).await;
    assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    // Fay (hr) manages members' app roles, but makes no admin, not even of herself.
    let read: Value = app.get("/orgs/acme", Some(&fay)).await.json().await.unwrap();
    assert_eq!(read["role"], "hr");
    assert!(read["permissions"].as_array().unwrap().contains(&json!("docs:read")));
    let to_admin = app.send_json(Method::PATCH, &gus_path, &json!({"role": "admin"}), Some(&fay)).await;
    assert_problem(to_admin, StatusCode::FORBIDDEN, "forbidden").await;
    let herself = app.send_json(Method::PATCH, &fay_path, &json!({"role": "admin"}), Some(&fay)).await;
    assert_problem(herself, StatusCode::FORBIDDEN, "forbidden").await;
    let to_hr = app.send_json(Method::PATCH, &gus_path, &json!({"role": "hr"}), Some(&fay)).await;
    assert_eq!(to_hr.status(), StatusCode::OK);
    let roles = app.get("/orgs/acme/roles", Some(&fay)).await;
    assert_problem(roles, StatusCode::FORBIDDEN, "forbidden").await;

    // A change of the role acts at its holders' next request, with the token they hold.
    let wider = json!({"permissions": ["members:update", "members:remove", "docs:read", "docs:write"]});
    let changed = app.send_json(Method::PATCH, "/orgs/acme/roles/hr", &wider, Some(&ann)).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let read: Value = app.get("/orgs/acme", Some(&fay)).await.json().await.unwrap();
    assert!(read["permissions"].as_array().unwrap().contains(&json!("docs:write")));
    let builtin = app.send_json(Method::PATCH, "/orgs/acme/roles/owner", &wider, Some(&ann)).await;
    assert_problem(builtin, StatusCode::FORBIDDEN, "forbidden").await;

    // An admin cannot make a role with org:delete, which it lacks.
    let gus = app.tokens("gus@example.com", PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    let to_admin = app.send_json(Method::PATCH, &gus_path, &json!({"role": "admin"}), Some(&ann)).await;
    assert_eq!(to_admin.status(), StatusCode::OK);
    let mighty = json!({"name": "reaper", "permissions": ["org:delete"]});
    assert_problem(app.post_json("/orgs/acme/roles", &mighty, Some(&gus)).await, StatusCode::FORBIDDEN, "forbidden")
        .await;
    let modest = json!({"name": "editor", "permissions": ["docs:write", "members:invite"]});
    assert_eq!(app.post_json("/orgs/acme/roles", &modest, Some(&gus)).await.status(), StatusCode::CREATED);

    let in_use = app.delete("/orgs/acme/roles/hr", Some(&ann)).await;
    assert_problem(in_use, StatusCode::CONFLICT, "role_in_use").await;
    for path in [&fay_path, &gus_path] {
        app.send_json(Method::PATCH, path, &json!({"role": "member"}), Some(&ann)).await;
    }
    assert_eq!(app.delete("/orgs/acme/roles/hr", Some(&ann)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.delete("/orgs/acme/roles/hr", Some(&ann)).await, StatusCode::NOT_FOUND, "not_found").await;
}
