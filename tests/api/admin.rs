//! The admin API: every route refuses non-admins; listing, searching and paging accounts;
//! creating them; disabling, promoting, the last-admin guard; ending sessions; sending links;
//! the outbox and its retry; and the audit of it all.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, eventually, spawn_app};

async fn body(response: reqwest::Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
}

async fn admin_get(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    body(response).await
}

async fn patch(app: &TestApp, key: &str, change: Value, token: &str) -> reqwest::Response {
    app.send_json(Method::PATCH, &format!("/user/{key}"), &change, Some(token)).await
}

#[tokio::test]
async fn every_admin_route_refuses_a_non_admin_and_an_anonymous_caller() {
    let app = spawn_app().await;
    let (user, token) = app.logged_in_user("plain@example.com").await;
    let id = user["id"].as_str().unwrap();
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/admin/users".into(), None),
        (Method::POST, "/admin/users".into(), Some(json!({"email": "x@example.com", "password": PASSWORD}))),
        (Method::GET, format!("/admin/users/{id}/sessions"), None),
        (Method::DELETE, format!("/admin/users/{id}/sessions"), None),
        (Method::POST, format!("/admin/users/{id}/password-reset"), None),
        (Method::POST, format!("/admin/users/{id}/activation"), None),
        (Method::GET, "/admin/outbox".into(), None),
        (Method::POST, format!("/admin/outbox/{}/retry", uuid::Uuid::now_v7()), None),
        (Method::GET, "/admin/events".into(), None),
    ];
    for (method, path, payload) in routes {
        for token in [Some(token.as_str()), None] {
            let mut request = app.client.request(method.clone(), app.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(payload) = &payload {
                request = request.json(payload);
            }
            let response = request.send().await.unwrap();
            let (status, code) = if token.is_some() {
                (StatusCode::FORBIDDEN, "forbidden")
            } else {
                (StatusCode::UNAUTHORIZED, "unauthorized")
            };
            assert_eq!(response.status(), status, "{method} {path}");
            assert_problem(response, status, code).await;
        }
    }
    let forbidden = patch(&app, id, json!({"role": "admin"}), &token).await;
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn admins_list_search_and_filter_accounts() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    for (email, username, name) in [
        ("ann.lee@example.com", "annlee", "Ann Lee"),
        ("bob@example.org", "bobby", "Robert Ståhl"),
        ("carol@example.com", "carol", "Carol"),
    ] {
        let created = app
            .post_json(
                "/admin/users",
                &json!({"email": email, "password": PASSWORD, "username": username, "name": name}),
                Some(&admin),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let pending = app.sign_up(json!({"email": "dan@example.com", "password": PASSWORD})).await;
    assert_eq!(pending.status(), StatusCode::CREATED);

    let all = admin_get(&app, "/admin/users", &admin).await;
    let emails: Vec<&str> = all["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(
        emails,
        ["dan@example.com", "carol@example.com", "bob@example.org", "ann.lee@example.com", "root@example.com"]
    );
    assert_eq!(all["total"], 5);
    assert!(all["next_cursor"].is_null());

    let emails_of = |page: &Value| -> Vec<String> {
        page["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(emails_of(&admin_get(&app, "/admin/users?q=ANN", &admin).await), ["ann.lee@example.com"]);
    assert_eq!(emails_of(&admin_get(&app, "/admin/users?q=bobb", &admin).await), ["bob@example.org"], "username");
    assert_eq!(emails_of(&admin_get(&app, "/admin/users?q=robert", &admin).await), ["bob@example.org"], "name");
    assert_eq!(emails_of(&admin_get(&app, "/admin/users?q=example.org", &admin).await), ["bob@example.org"]);
    assert!(emails_of(&admin_get(&app, "/admin/users?q=%25", &admin).await).is_empty(), "% is literal");
    assert_eq!(emails_of(&admin_get(&app, "/admin/users?status=pending", &admin).await), ["dan@example.com"]);
    assert_eq!(emails_of(&admin_get(&app, "/admin/users?role=admin", &admin).await), ["root@example.com"]);
    let filtered = admin_get(&app, "/admin/users?status=active&role=user", &admin).await;
    assert_eq!(filtered["total"], 3);
    let searched = admin_get(&app, "/admin/users?q=example", &admin).await;
    assert!(searched["total"].is_null(), "no count for a text search");

    let future = admin_get(&app, "/admin/users?created_after=2999-01-01T00:00:00Z", &admin).await;
    assert!(future["users"].as_array().unwrap().is_empty());
    let past = admin_get(&app, "/admin/users?created_before=2999-01-01T00:00:00Z&limit=2", &admin).await;
    assert_eq!(past["users"].as_array().unwrap().len(), 2);
    assert_eq!(past["total"], 5);
    assert!(past["next_cursor"].is_string());
    let cursor = past["next_cursor"].as_str().unwrap();
    let next =
        admin_get(&app, &format!("/admin/users?created_before=2999-01-01T00:00:00Z&limit=2&cursor={cursor}"), &admin)
            .await;
    assert_eq!(next["users"].as_array().unwrap().len(), 2);
    assert!(next["total"].is_null(), "counted on the first page only");

    let bad = app.get("/admin/users?status=asleep&limit=501", Some(&admin)).await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);
}

/// Pages of 7 while other accounts are being created: every account that existed at the start
/// comes back exactly once, and nothing comes back twice.
#[tokio::test]
async fn keyset_pages_return_every_account_exactly_once_while_accounts_are_added() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    for n in 0..40 {
        let response = app
            .post_json(
                "/admin/users",
                &json!({"email": format!("u{n}@example.com"), "password": PASSWORD}),
                Some(&admin),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let existing: HashSet<String> =
        (0..40).map(|n| format!("u{n}@example.com")).chain(["root@example.com".into()]).collect();

    let writer = {
        let client = app.client.clone();
        let url = app.url("/admin/users");
        let admin = admin.clone();
        tokio::spawn(async move {
            for n in 0..30 {
                let body = json!({"email": format!("late{n}@example.com"), "password": PASSWORD});
                client.post(&url).bearer_auth(&admin).json(&body).send().await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/users?limit=7&cursor={c}"),
            None => "/admin/users?limit=7".into(),
        };
        let page = admin_get(&app, &path, &admin).await;
        seen.extend(page["users"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    writer.await.unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an account came back twice");
    for email in &existing {
        assert!(seen.contains(email), "{email} was skipped");
    }
}

#[tokio::test]
async fn admins_create_active_pending_and_invited_accounts() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;

    let active = app
        .post_json(
            "/admin/users",
            &json!({"email": "act@example.com", "password": PASSWORD, "role": "admin"}),
            Some(&admin),
        )
        .await;
    assert_eq!(active.status(), StatusCode::CREATED);
    assert!(active.headers()["location"].to_str().unwrap().starts_with("/user/"));
    let active = body(active).await;
    assert_eq!((active["status"].as_str(), active["role"].as_str()), (Some("active"), Some("admin")));
    assert_eq!(app.log_in("act@example.com", PASSWORD).await.status(), StatusCode::OK);

    let pending = app
        .post_json(
            "/admin/users",
            &json!({"email": "pend@example.com", "password": PASSWORD, "status": "pending"}),
            Some(&admin),
        )
        .await;
    assert_eq!(body(pending).await["status"], "pending");
    let link = app.activation_link("pend@example.com", 1).await;
    assert_eq!(app.client.get(&link).send().await.unwrap().status(), StatusCode::OK);

    let invited = app.post_json("/admin/users", &json!({"email": "invite@example.com"}), Some(&admin)).await;
    assert_eq!(invited.status(), StatusCode::CREATED);
    let token = app.reset_link("invite@example.com", 1).await.split("token=").nth(1).unwrap().to_owned();
    let reset = app
        .post_json("/password/reset", &json!({"token": token, "new_password": "my own fine passphrase"}), None)
        .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.log_in("invite@example.com", "my own fine passphrase").await.status(), StatusCode::OK);

    let taken =
        app.post_json("/admin/users", &json!({"email": "ACT@example.com", "password": PASSWORD}), Some(&admin)).await;
    assert_problem(taken, StatusCode::CONFLICT, "email_taken").await;
    let bad = app
        .post_json(
            "/admin/users",
            &json!({"email": "nope", "password": "short", "role": "king", "status": "disabled"}),
            Some(&admin),
        )
        .await;
    let problem = assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["errors"].as_array().unwrap().len() >= 2, "{problem}");
}

#[tokio::test]
async fn disabling_acts_on_the_next_request_and_enabling_restores_login() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (user, token) = app.logged_in_user("victim@example.com").await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(app.get("/protected", Some(&token)).await.status(), StatusCode::OK);

    let disabled = patch(&app, id, json!({"status": "disabled"}), &admin).await;
    assert_eq!(body(disabled).await["status"], "disabled");
    assert_problem(app.get("/protected", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(app.log_in("victim@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_disabled").await;

    let enabled = patch(&app, "victim@example.com", json!({"status": "active"}), &admin).await;
    assert_eq!(body(enabled).await["status"], "active");
    assert_eq!(app.log_in("victim@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_disabled_or_deleted() {
    let app = spawn_app().await;
    let root = app.admin("root@example.com").await;
    for change in [json!({"role": "user"}), json!({"status": "disabled"})] {
        let refused = patch(&app, "root@example.com", change, &root).await;
        let problem = assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(problem["detail"].as_str().unwrap().contains("last active admin"), "{problem}");
    }
    assert_problem(app.delete("/user/root@example.com", Some(&root)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let me = admin_get(&app, "/user", &root).await;
    assert_eq!((me["role"].as_str(), me["status"].as_str()), (Some("admin"), Some("active")));

    let second = app.admin("second@example.com").await;
    let demoted = patch(&app, "root@example.com", json!({"role": "user"}), &second).await;
    assert_eq!(body(demoted).await["role"], "user", "with another admin, one may step down");
    let last = patch(&app, "second@example.com", json!({"role": "user"}), &second).await;
    assert_problem(last, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn admins_end_sessions_and_send_links() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (user, token) = app.logged_in_user("eve@example.com").await;
    let id = user["id"].as_str().unwrap();

    let sessions = admin_get(&app, &format!("/admin/users/{id}/sessions"), &admin).await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(app.delete(&format!("/admin/users/{id}/sessions"), Some(&admin)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/protected", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert!(
        admin_get(&app, &format!("/admin/users/{id}/sessions"), &admin).await["sessions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        app.get("/protected", Some(&admin)).await.status(),
        StatusCode::OK,
        "the admin's own session is untouched"
    );

    let reset = app.post_json(&format!("/admin/users/{id}/password-reset"), &json!({}), Some(&admin)).await;
    assert_eq!(reset.status(), StatusCode::ACCEPTED);
    assert!(app.reset_link("eve@example.com", 2).await.contains("/password/reset?token="));
    let active = app.post_json(&format!("/admin/users/{id}/activation"), &json!({}), Some(&admin)).await;
    assert_problem(active, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    assert_eq!(
        app.sign_up(json!({"email": "late@example.com", "password": PASSWORD})).await.status(),
        StatusCode::CREATED
    );
    let resent = app.post_json("/admin/users/late@example.com/activation", &json!({}), Some(&admin)).await;
    assert_eq!(resent.status(), StatusCode::ACCEPTED);
    let second = app.activation_link("late@example.com", 2).await;
    assert_eq!(app.client.get(&second).send().await.unwrap().status(), StatusCode::OK);

    let missing = app.post_json("/admin/users/nobody@example.com/password-reset", &json!({}), Some(&admin)).await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_outbox_lists_emails_without_their_links_and_retries_a_failed_one() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    assert_eq!(
        app.sign_up(json!({"email": "mail@example.com", "password": PASSWORD})).await.status(),
        StatusCode::CREATED
    );
    app.smtp.wait_for("mail@example.com", 1).await;

    let page = eventually("the activation email marked sent", Duration::from_secs(5), || async {
        let page = admin_get(&app, "/admin/outbox?recipient=MAIL@example.com", &admin).await;
        (page["emails"][0]["status"] == "sent").then_some(page)
    })
    .await;
    let email = &page["emails"][0];
    assert_eq!((email["kind"].as_str(), email["status"].as_str()), (Some("activation"), Some("sent")), "{page}");
    let text = page.to_string();
    assert!(!text.contains("token=") && !text.contains("/activate"), "no link in the listing: {text}");
    let id = email["id"].as_str().unwrap().to_owned();

    let not_failed = app.post_json(&format!("/admin/outbox/{id}/retry"), &json!({}), Some(&admin)).await;
    assert_problem(not_failed, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let missing =
        app.post_json(&format!("/admin/outbox/{}/retry", uuid::Uuid::now_v7()), &json!({}), Some(&admin)).await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;

    // A second email that the mail server refused for good.
    app.post_json("/activate/resend", &json!({"email": "mail@example.com"}), None).await;
    app.smtp.wait_for("mail@example.com", 2).await;
    app.outbox_settled().await;
    let failed_id = admin_get(&app, "/admin/outbox?recipient=mail@example.com", &admin).await["emails"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.fail_email(&failed_id, "550 mailbox unavailable").await;
    let failed = admin_get(&app, "/admin/outbox?status=failed", &admin).await;
    assert_eq!(failed["emails"][0]["last_error"], "550 mailbox unavailable");
    let retried = app.post_json(&format!("/admin/outbox/{failed_id}/retry"), &json!({}), Some(&admin)).await;
    assert_eq!(retried.status(), StatusCode::OK);
    let retried = body(retried).await;
    // Queued again with a fresh count; the worker may already have picked it up.
    assert!(["queued", "sending", "sent"].contains(&retried["status"].as_str().unwrap()), "{retried}");
    assert!(retried["attempts"].as_u64().unwrap() <= 1, "{retried}");
    app.smtp.wait_for("mail@example.com", 3).await;

    let events = admin_get(&app, "/admin/events?kind=admin.", &admin).await;
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"admin.email_retried"), "{kinds:?}");
}

#[tokio::test]
async fn admin_actions_are_audited_with_the_acting_admin() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let admin_id = admin_get(&app, "/user", &admin).await["id"].as_str().unwrap().to_owned();
    let created = body(
        app.post_json("/admin/users", &json!({"email": "t@example.com", "password": PASSWORD}), Some(&admin)).await,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    patch(&app, id, json!({"status": "disabled"}), &admin).await;
    app.delete(&format!("/admin/users/{id}/sessions"), Some(&admin)).await;
    app.delete(&format!("/user/{id}"), Some(&admin)).await;

    let list = eventually("the four admin events", Duration::from_secs(5), || async {
        let events = admin_get(&app, &format!("/admin/events?account={id}"), &admin).await;
        let list = events["events"].as_array().unwrap().clone();
        (list.len() >= 4).then_some(list)
    })
    .await;
    assert!(list.iter().all(|e| e["actor_id"] == admin_id.as_str()), "{list:?}");
    let kinds: Vec<&str> = list.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for kind in ["admin.account_created", "admin.account_updated", "admin.sessions_ended", "admin.account_deleted"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
}
