//! `/user` and `/user/{key}`: reading, replacing, patching and deleting accounts, with the
//! access rules for users and admins; and the greeting at `GET /`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_problem, spawn_app};
use crate::stored::Stored;

/// An active user with a username, logged in: `(account, access token)`.
async fn logged_in_with_username(app: &TestApp, email: &str, username: &str) -> (Value, String) {
    let account = app.active_user(email, Some(username)).await;
    let token = app.tokens(email, PASSWORD).await["access_token"].as_str().unwrap().to_owned();
    (account, token)
}

/// Reads the account behind `key` with `token`, expecting 200.
async fn read(app: &TestApp, key: &str, token: &str) -> Value {
    let response = app.get(&format!("/user/{key}"), Some(token)).await;
    assert_eq!(response.status(), StatusCode::OK, "GET /user/{key}");
    response.json().await.unwrap()
}

/// Sends a merge patch with the given content type.
async fn patch_as(app: &TestApp, key: &str, content_type: &str, body: &Value, token: &str) -> reqwest::Response {
    app.client
        .patch(app.url(&format!("/user/{key}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn get_user_returns_the_callers_own_account() {
    let app = spawn_app().await;
    let (account, token) = logged_in_with_username(&app, "ann@example.com", "ann").await;

    let response = app.get("/user", Some(&token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], account["id"]);
    assert_eq!(body["email"], "ann@example.com");
    assert_eq!(body["username"], "ann");
    assert_eq!(body["status"], "active");
    assert!(body.get("password").is_none() && body.get("password_hash").is_none());
}

/// With sessions in Redis, `GET /user` answers from a copy of the account kept there; every
/// change must show on the very next read, whoever made it.
#[tokio::test]
async fn get_user_shows_every_change_on_the_next_read() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (account, token) = logged_in_with_username(&app, "ivy@example.com", "ivy").await;
    let me = |token: String| {
        let app = &app;
        async move {
            let response = app.get("/user", Some(&token)).await;
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    for _ in 0..2 {
        assert_eq!(me(token.clone()).await["data"], json!({}), "read twice: the second may be the copy");
    }

    let patched =
        patch_as(&app, "ivy", "application/merge-patch+json", &json!({"data": {"plan": "pro"}}), &token).await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(me(token.clone()).await["data"], json!({"plan": "pro"}), "the owner's own change");
    assert_eq!(me(token.clone()).await["data"], json!({"plan": "pro"}));

    let id = account["id"].as_str().unwrap();
    let promoted = app
        .send_json(Method::PUT, &format!("/user/{id}"), &json!({"username": "ivy2", "role": "admin"}), Some(&admin))
        .await;
    assert_eq!(promoted.status(), StatusCode::OK);
    let after = me(token.clone()).await;
    assert_eq!(
        (after["role"].as_str(), after["username"].as_str()),
        (Some("admin"), Some("ivy2")),
        "an admin's change"
    );
    assert_eq!(after["data"], json!({}), "PUT replaced the data");
}

#[tokio::test]
async fn get_user_without_a_token_is_unauthorized() {
    let app = spawn_app().await;

    let response = app.get("/user", None).await;

    assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="gatehouse""#);
    assert_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_user_reads_their_own_account_by_id_username_or_email_in_any_case() {
    let app = spawn_app().await;
    let (account, token) = logged_in_with_username(&app, "Ben@Example.com", "Ben").await;
    let id = account["id"].as_str().unwrap();

    for key in [id, "Ben", "bEN", "ben@example.com", "BEN@EXAMPLE.COM"] {
        let body = read(&app, key, &token).await;
        assert_eq!(body["id"], account["id"], "key {key}");
    }
}

#[tokio::test]
async fn a_user_asking_for_another_account_gets_the_same_403_whether_or_not_it_exists() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("cat@example.com").await;
    let other = app.active_user("dan@example.com", Some("dan")).await;

    let existing = app.get(&format!("/user/{}", other["id"].as_str().unwrap()), Some(&token)).await;
    let existing = assert_problem(existing, StatusCode::FORBIDDEN, "forbidden").await;
    let missing = app.get(&format!("/user/{}", uuid::Uuid::now_v7()), Some(&token)).await;
    let missing = assert_problem(missing, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(existing, missing);

    for (existing, missing) in [("dan", "nobody"), ("dan@example.com", "nobody@example.com")] {
        let existing = app.get(&format!("/user/{existing}"), Some(&token)).await;
        let existing = assert_problem(existing, StatusCode::FORBIDDEN, "forbidden").await;
        let missing = app.get(&format!("/user/{missing}"), Some(&token)).await;
        let missing = assert_problem(missing, StatusCode::FORBIDDEN, "forbidden").await;
        assert_eq!(existing, missing);
    }
}

#[tokio::test]
async fn an_admin_reads_any_account_and_gets_404_for_a_missing_one() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let other = app.active_user("eve@example.com", Some("eve")).await;

    for key in [other["id"].as_str().unwrap(), "EVE", "Eve@Example.com"] {
        let body = read(&app, key, &admin).await;
        assert_eq!(body["id"], other["id"], "key {key}");
        assert_eq!(body["email"], "eve@example.com");
    }

    for missing in [uuid::Uuid::now_v7().to_string(), "nobody".to_owned(), "nobody@example.com".to_owned()] {
        let response = app.get(&format!("/user/{missing}"), Some(&admin)).await;
        assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }
}

#[tokio::test]
async fn put_replaces_name_and_data_clears_them_when_omitted_and_keeps_the_username_unless_named() {
    let app = spawn_app().await;
    let (account, token) = logged_in_with_username(&app, "fay@example.com", "fay").await;
    let id = account["id"].as_str().unwrap();
    let first = app
        .send_json(
            Method::PUT,
            &format!("/user/{id}"),
            &json!({"name": "Fay", "username": "fay", "data": {"phone": "+49", "lang": "de"}}),
            Some(&token),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);

    let response = app.send_json(Method::PUT, "/user/fay", &json!({"data": {"phone": "+1"}}), Some(&token)).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], account["id"]);
    assert_eq!(body["name"], Value::Null);
    assert_eq!(body["username"], "fay", "a PUT that does not name the username keeps it");
    assert_eq!(body["data"], json!({"phone": "+1"}));
    assert_eq!(
        (body["role"].as_str(), body["status"].as_str()),
        (Some("user"), Some("active")),
        "role and status stay"
    );
    assert_eq!(body["email"], "fay@example.com");
    let stored = read(&app, "fay", &token).await;
    assert_eq!(stored["data"], json!({"phone": "+1"}));
    assert_eq!(stored["name"], Value::Null);

    // Top-level fields other than the account's own are the JSON data, as on sign-up.
    let bare = app.send_json(Method::PUT, "/user/fay", &json!({"address": "1 Main St"}), Some(&token)).await;
    assert_eq!(bare.status(), StatusCode::OK);
    let bare: Value = bare.json().await.unwrap();
    assert_eq!((bare["username"].as_str(), &bare["data"]), (Some("fay"), &json!({"address": "1 Main St"})));

    // A null username clears it.
    let cleared = app.send_json(Method::PUT, "/user/fay", &json!({"username": null}), Some(&token)).await;
    assert_eq!(cleared.status(), StatusCode::OK);
    assert_eq!(read(&app, id, &token).await["username"], Value::Null);
}

#[tokio::test]
async fn me_names_the_caller_and_put_patch_and_delete_without_a_key_act_on_the_caller() {
    let app = spawn_app().await;
    let (account, token) = logged_in_with_username(&app, "moe@example.com", "moe").await;
    let admin = app.admin("root@example.com").await;

    assert_eq!(read(&app, "me", &token).await["id"], account["id"]);
    assert_eq!(read(&app, "ME", &token).await["id"], account["id"]);
    let admins_me = app.get("/user/me", Some(&admin)).await.json::<Value>().await.unwrap();
    assert_eq!(admins_me["email"], "root@example.com", "`me` is the caller, admin or not");
    assert_eq!(app.get("/admin/users/me/sessions", Some(&admin)).await.status(), StatusCode::OK);

    let put = app.send_json(Method::PUT, "/user", &json!({"name": "Moe", "phone": "+1"}), Some(&token)).await;
    assert_eq!(put.status(), StatusCode::OK);
    let put: Value = put.json().await.unwrap();
    assert_eq!((put["name"].as_str(), put["username"].as_str()), (Some("Moe"), Some("moe")));
    assert_eq!(put["data"], json!({"phone": "+1"}));

    let patched = app.send_json(Method::PATCH, "/user/me", &json!({"data": {"lang": "de"}}), Some(&token)).await;
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(patched.json::<Value>().await.unwrap()["data"], json!({"phone": "+1", "lang": "de"}));
    let patched = app.send_json(Method::PATCH, "/user", &json!({"name": null}), Some(&token)).await;
    assert_eq!(patched.json::<Value>().await.unwrap()["name"], Value::Null);

    assert_problem(app.delete("/user", None).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(app.delete("/user", Some(&token)).await.status(), StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/user/{}", account["id"].as_str().unwrap()), Some(&admin)).await;
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn patch_is_a_json_merge_patch_sent_as_merge_patch_json_or_plain_json() {
    let app = spawn_app().await;
    let (account, token) = logged_in_with_username(&app, "gus@example.com", "gus").await;
    let id = account["id"].as_str().unwrap();
    let setup = json!({"username": "gus", "name": "Gus", "data": {"phone": "+49", "address": {"city": "Berlin", "zip": "10115"}}});
    let response = app.send_json(Method::PUT, &format!("/user/{id}"), &setup, Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let merge = json!({"data": {"address": {"zip": null, "street": "Main St"}, "phone": null}});
    let response = patch_as(&app, id, "application/merge-patch+json", &merge, &token).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"], json!({"address": {"city": "Berlin", "street": "Main St"}}));
    assert_eq!(body["name"], "Gus", "fields the patch does not name stay");
    assert_eq!(body["username"], "gus");

    let response =
        patch_as(&app, "gus", "application/json", &json!({"name": null, "data": {"lang": "de"}}), &token).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], Value::Null, "null removes");
    assert_eq!(body["data"], json!({"address": {"city": "Berlin", "street": "Main St"}, "lang": "de"}));
    assert_eq!(read(&app, id, &token).await["data"], body["data"]);
}

#[tokio::test]
async fn unknown_top_level_fields_in_put_and_patch_end_up_in_data() {
    let app = spawn_app().await;
    let (account, token) = app.logged_in_user("hal@example.com").await;
    let id = account["id"].as_str().unwrap();

    let put = app
        .send_json(
            Method::PUT,
            &format!("/user/{id}"),
            &json!({"name": "Hal", "data": {"lang": "en"}, "phone": "+44"}),
            Some(&token),
        )
        .await;
    assert_eq!(put.status(), StatusCode::OK);
    let body: Value = put.json().await.unwrap();
    assert_eq!(body["data"], json!({"lang": "en", "phone": "+44"}));
    assert!(body.get("phone").is_none());

    let patch =
        patch_as(&app, id, "application/merge-patch+json", &json!({"address": {"city": "Leeds"}}), &token).await;
    assert_eq!(patch.status(), StatusCode::OK);
    let body: Value = patch.json().await.unwrap();
    assert_eq!(body["data"], json!({"lang": "en", "phone": "+44", "address": {"city": "Leeds"}}));
    assert_eq!(body["name"], "Hal");
}

#[tokio::test]
async fn a_user_cannot_change_their_own_role_or_status_and_nothing_changes() {
    let app = spawn_app().await;
    let (account, token) = logged_in_with_username(&app, "ivy@example.com", "ivy").await;
    let id = account["id"].as_str().unwrap();
    let before = read(&app, id, &token).await;

    let promote = app
        .send_json(
            Method::PUT,
            &format!("/user/{id}"),
            &json!({"name": "Boss", "username": "ivy", "role": "admin"}),
            Some(&token),
        )
        .await;
    assert_problem(promote, StatusCode::FORBIDDEN, "forbidden").await;
    let disable =
        patch_as(&app, id, "application/merge-patch+json", &json!({"name": "Gone", "status": "disabled"}), &token)
            .await;
    assert_problem(disable, StatusCode::FORBIDDEN, "forbidden").await;
    let activate = patch_as(&app, "ivy", "application/json", &json!({"status": "pending"}), &token).await;
    assert_problem(activate, StatusCode::FORBIDDEN, "forbidden").await;

    let after = read(&app, id, &token).await;
    assert_eq!(after, before);
    assert_eq!(after["role"], "user");
    assert_eq!(after["status"], "active");
    assert_eq!(after["name"], Value::Null);
}

#[tokio::test]
async fn an_admin_may_set_role_and_status() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let other = app.active_user("jon@example.com", Some("jon")).await;
    let id = other["id"].as_str().unwrap();

    let promote = app
        .send_json(Method::PUT, &format!("/user/{id}"), &json!({"username": "jon", "role": "admin"}), Some(&admin))
        .await;
    assert_eq!(promote.status(), StatusCode::OK);
    let body: Value = promote.json().await.unwrap();
    assert_eq!(body["role"], "admin");
    assert_eq!(body["status"], "active", "an omitted status stays");

    let demote =
        patch_as(&app, "jon", "application/merge-patch+json", &json!({"role": "user", "status": "disabled"}), &admin)
            .await;
    assert_eq!(demote.status(), StatusCode::OK);
    let body: Value = demote.json().await.unwrap();
    assert_eq!((body["role"].as_str(), body["status"].as_str()), (Some("user"), Some("disabled")));
    assert_eq!(read(&app, id, &admin).await["status"], "disabled");
}

#[tokio::test]
async fn a_demoted_admin_loses_admin_rights_on_the_next_request() {
    let app = spawn_app().await;
    let root = app.admin("root@example.com").await;
    let (deputy, deputy_token) = app.logged_in_user("uma@example.com").await;
    let deputy_id = deputy["id"].as_str().unwrap();
    let promote = patch_as(&app, deputy_id, "application/merge-patch+json", &json!({"role": "admin"}), &root).await;
    assert_eq!(promote.status(), StatusCode::OK);
    assert_eq!(read(&app, "root@example.com", &deputy_token).await["role"], "admin", "promotion counts at once");

    let demote = patch_as(&app, deputy_id, "application/merge-patch+json", &json!({"role": "user"}), &root).await;

    assert_eq!(demote.status(), StatusCode::OK);
    let response = app.get("/user/root@example.com", Some(&deputy_token)).await;
    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn an_admin_disabling_an_account_ends_its_sessions_at_once_and_blocks_its_login() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (account, token) = app.logged_in_user("kim@example.com").await;
    assert_eq!(app.get("/user", Some(&token)).await.status(), StatusCode::OK);

    let response = patch_as(
        &app,
        account["id"].as_str().unwrap(),
        "application/merge-patch+json",
        &json!({"status": "disabled"}),
        &admin,
    )
    .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_problem(app.get("/user", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(app.log_in("kim@example.com", PASSWORD).await, StatusCode::FORBIDDEN, "account_disabled").await;
    assert_problem(
        app.log_in("kim@example.com", "not the password at all").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;

    let enable = patch_as(&app, "kim@example.com", "application/json", &json!({"status": "active"}), &admin).await;
    assert_eq!(enable.status(), StatusCode::OK);
    assert_eq!(app.log_in("kim@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn taking_another_accounts_username_is_a_conflict_whatever_its_case() {
    let app = spawn_app().await;
    app.active_user("lea@example.com", Some("Lea")).await;
    let (account, token) = logged_in_with_username(&app, "max@example.com", "max").await;
    let id = account["id"].as_str().unwrap();

    let patch = patch_as(&app, id, "application/merge-patch+json", &json!({"username": "lEA"}), &token).await;
    assert_problem(patch, StatusCode::CONFLICT, "username_taken").await;
    let put = app.send_json(Method::PUT, &format!("/user/{id}"), &json!({"username": "lea"}), Some(&token)).await;
    assert_problem(put, StatusCode::CONFLICT, "username_taken").await;

    assert_eq!(read(&app, id, &token).await["username"], "max");
}

#[tokio::test]
async fn invalid_values_are_refused_with_the_fields_named() {
    let app = spawn_app().await;
    let (account, token) = logged_in_with_username(&app, "ned@example.com", "ned").await;
    let id = account["id"].as_str().unwrap();

    let response =
        patch_as(&app, id, "application/merge-patch+json", &json!({"username": "x!", "data": [1, 2]}), &token).await;

    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let fields = error_fields(&body);
    assert!(fields.contains(&"username".to_owned()) && fields.contains(&"data".to_owned()), "{body}");
    for error in body["errors"].as_array().unwrap() {
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }

    let put =
        app.send_json(Method::PUT, &format!("/user/{id}"), &json!({"username": "ned", "name": 42}), Some(&token)).await;
    let body = assert_problem(put, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["name"]);

    let admin = app.admin("root@example.com").await;
    let bad_role = patch_as(&app, id, "application/json", &json!({"role": "root", "status": "sleeping"}), &admin).await;
    let body = assert_problem(bad_role, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(error_fields(&body), ["role", "status"]);

    let unchanged = read(&app, id, &token).await;
    assert_eq!(unchanged["username"], "ned");
    assert_eq!(unchanged["data"], json!({}));
    assert_eq!(unchanged["role"], "user");
}

#[tokio::test]
async fn deleting_ones_own_account_kills_the_token_and_the_login() {
    let app = spawn_app().await;
    let (account, token) = app.logged_in_user("oli@example.com").await;

    let response = app.delete(&format!("/user/{}", account["id"].as_str().unwrap()), Some(&token)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/user", Some(&token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_problem(app.log_in("oli@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED, "invalid_credentials")
        .await;
    assert_eq!(app.count(Stored::AccountsWithEmail("oli@example.com")).await, 0);
}

#[tokio::test]
async fn a_user_cannot_delete_another_account() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("pam@example.com").await;
    let (other, other_token) = app.logged_in_user("quin@example.com").await;

    let response = app.delete(&format!("/user/{}", other["id"].as_str().unwrap()), Some(&token)).await;

    assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.get("/user", Some(&other_token)).await.status(), StatusCode::OK);
    assert_eq!(app.log_in("quin@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_deleting_another_account_kills_that_accounts_token() {
    let app = spawn_app().await;
    let admin = app.admin("root@example.com").await;
    let (other, other_token) = app.logged_in_user("ray@example.com").await;

    let response = app.delete("/user/RAY@example.com", Some(&admin)).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/user", Some(&other_token)).await, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let gone = app.get(&format!("/user/{}", other["id"].as_str().unwrap()), Some(&admin)).await;
    assert_problem(gone, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get("/user", Some(&admin)).await.status(), StatusCode::OK, "the admin's own session lives on");
}

#[tokio::test]
async fn the_root_greets_a_logged_in_user_by_username_or_else_email() {
    let app = spawn_app().await;
    let (with_name, named_token) = logged_in_with_username(&app, "sam@example.com", "sam").await;
    let (_, plain_token) = app.logged_in_user("tia@example.com").await;

    let named: Value = app.get("/", Some(&named_token)).await.json().await.unwrap();
    let plain: Value = app.get("/", Some(&plain_token)).await.json().await.unwrap();

    assert_eq!(named["message"], "Hello sam");
    assert_eq!(named["user"]["id"], with_name["id"]);
    assert_eq!(plain["message"], "Hello tia@example.com");
    assert_eq!(plain["user"]["email"], "tia@example.com");
}

#[tokio::test]
async fn the_root_greets_an_anonymous_caller_with_hello_world() {
    let app = spawn_app().await;

    let response = app.get("/", None).await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"message": "Hello World"}));
    assert!(body.get("user").is_none());
}
