//! Names that apps key on: `Remote-User` is the account id unless the operator chose the
//! username; a username once given never goes to another account; names that speak for the
//! service, and their look-alikes, are reserved for admins to give.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, assert_problem, spawn_app};

#[tokio::test]
async fn a_released_username_is_never_given_to_another_account() {
    let app = spawn_app().await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let named = app.send_json(Method::PATCH, "/user", &json!({"username": "finance"}), Some(&token)).await;
    assert_eq!(named.status(), StatusCode::OK);
    let renamed = app.send_json(Method::PATCH, "/user", &json!({"username": "ann"}), Some(&token)).await;
    assert_eq!(renamed.status(), StatusCode::OK);

    // Someone else asks for the name Ann let go, at sign-up or by renaming.
    let taken = app.sign_up(json!({"email": "eve@example.com", "password": PASSWORD, "username": "Finance"})).await;
    assert_problem(taken, StatusCode::CONFLICT, "username_taken").await;
    let (_, eve) = app.logged_in_user("eve@example.com").await;
    let taken = app.send_json(Method::PATCH, "/user", &json!({"username": "finance"}), Some(&eve)).await;
    assert_problem(taken, StatusCode::CONFLICT, "username_taken").await;
    // Ann may take it back.
    let back = app.send_json(Method::PATCH, "/user", &json!({"username": "finance"}), Some(&token)).await;
    assert_eq!(back.status(), StatusCode::OK);

    // Deleted, the account keeps its names from everyone else.
    let reauth: Value =
        app.post_json("/auth/reauthenticate", &json!({"password": PASSWORD}), Some(&token)).await.json().await.unwrap();
    assert_eq!(app.delete("/user", reauth["access_token"].as_str()).await.status(), StatusCode::NO_CONTENT);
    let taken = app.send_json(Method::PATCH, "/user", &json!({"username": "ann"}), Some(&eve)).await;
    assert_problem(taken, StatusCode::CONFLICT, "username_taken").await;
}

#[tokio::test]
async fn names_that_speak_for_the_service_and_their_look_alikes_are_for_admins_to_give() {
    let app = spawn_app().await;
    for name in ["admin", "Admin", "ADMlN", "adrnin", "r00t", "support", "postmaster", "gatehouse", "n0reply"] {
        let body =
            json!({"email": format!("{}@example.com", name.to_lowercase()), "password": PASSWORD, "username": name});
        let refused = app.sign_up(body).await;
        let problem = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(problem.to_string().contains("reserved"), "{name}: {problem}");
    }
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let refused = app.send_json(Method::PATCH, "/user", &json!({"username": "Security"}), Some(&token)).await;
    assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let admin = app.admin("root@example.com").await;
    let given =
        app.send_json(Method::PATCH, "/user/ann@example.com", &json!({"username": "support"}), Some(&admin)).await;
    assert_eq!(given.status(), StatusCode::OK, "an admin may give a reserved name");
}
