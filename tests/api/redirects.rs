//! Back to the app: `redirect_to` on sign-up, resend, forgot-password and email change, allowed
//! only under a prefix of `GATEHOUSE_REDIRECT_ALLOW`, carried in the emailed link and followed
//! with `303` by the browser that completes it; and the pages' link to `GATEHOUSE_APP_URL`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with};
use crate::stored::Stored;

const WELCOME: &str = "https://app.example.com/welcome?from=email";

async fn app() -> TestApp {
    let options = Options::default()
        .var("GATEHOUSE_REDIRECT_ALLOW", "https://app.example.com/, https://shop.example.com/account")
        .var("GATEHOUSE_APP_URL", "https://app.example.com/");
    spawn_app_with(options).await
}

/// Follows `link` as a browser does (asking for HTML, not following redirects).
async fn follow_in_browser(app: &TestApp, link: &str) -> reqwest::Response {
    app.client.get(link).header("accept", "text/html").send().await.unwrap()
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

#[tokio::test]
async fn a_browser_that_activates_is_sent_where_the_sign_up_asked_and_an_api_client_gets_json() {
    let app = app().await;
    let body = json!({"email": "ann@example.com", "password": PASSWORD, "redirect_to": WELCOME, "plan": "pro"});

    let created = app.sign_up(body).await;

    assert_eq!(created.status(), StatusCode::CREATED);
    let account: Value = created.json().await.unwrap();
    assert_eq!(account["data"], json!({"plan": "pro"}), "redirect_to is never kept in data");
    let link = app.activation_link("ann@example.com", 1).await;
    assert!(link.contains("&redirect_to=https%3A%2F%2Fapp.example.com%2Fwelcome%3Ffrom%3Demail"), "{link}");
    let followed = follow_in_browser(&app, &link).await;
    assert_eq!(followed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&followed), WELCOME);
    let again = app.client.get(&link).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "an API client gets JSON, not a redirect");
    assert_eq!(again.json::<Value>().await.unwrap()["user"]["status"], "active");
}

#[tokio::test]
async fn the_open_redirect_attack_list_is_refused_with_422_and_creates_nothing() {
    let app = app().await;
    let attacks = [
        "//evil.com",
        "/\\evil.com",
        "https://app.example.com.evil.com/",
        "https://app.example.com@evil.com/",
        "https:%2F%2Fevil.com",
        "https://app.example.com%2F@evil.com",
        "https://evil.com/?https://app.example.com/",
        "http://app.example.com/",
        "https://shop.example.com/accounts",
        "javascript:alert(1)",
    ];
    for (n, attack) in attacks.iter().enumerate() {
        let email = format!("mallory{n}@example.com");
        let body = json!({"email": email, "password": PASSWORD, "redirect_to": attack});
        let problem =
            assert_problem(app.sign_up(body).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(problem["errors"][0]["field"], "redirect_to", "{attack}");
    }
    assert_eq!(app.count(Stored::Accounts).await, 0);
    for path in ["/activate/resend", "/password/forgot"] {
        let body = json!({"email": "ann@example.com", "redirect_to": "https://evil.com/"});
        assert_problem(app.post_json(path, &body, None).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
    }
}

#[tokio::test]
async fn a_link_edited_on_the_way_activates_but_sends_the_browser_nowhere_new() {
    let app = app().await;
    app.sign_up(json!({"email": "ben@example.com", "password": PASSWORD, "redirect_to": WELCOME})).await;
    let link = app.activation_link("ben@example.com", 1).await;
    let (kept, _) = link.split_once("&redirect_to=").unwrap();
    let edited = format!("{kept}&redirect_to=https%3A%2F%2Fevil.com%2F");

    let followed = follow_in_browser(&app, &edited).await;

    assert_eq!(followed.status(), StatusCode::OK, "the page, not a redirect");
    let page = followed.text().await.unwrap();
    assert!(page.contains("Your account is active") && !page.contains("evil.com"), "{page}");
    assert!(page.contains(r#"<a href="https://app.example.com/">Continue to app.example.com</a>"#), "{page}");
}

#[tokio::test]
async fn resend_forgot_and_email_change_carry_redirect_to_through_their_links() {
    let app = app().await;
    app.sign_up(json!({"email": "cat@example.com", "password": PASSWORD})).await;
    let resend = json!({"email": "cat@example.com", "redirect_to": "https://shop.example.com/account/ready"});
    assert_eq!(app.post_json("/activate/resend", &resend, None).await.status(), StatusCode::ACCEPTED);
    let activation = app.activation_link("cat@example.com", 2).await;
    let activated = follow_in_browser(&app, &activation).await;
    assert_eq!(location(&activated), "https://shop.example.com/account/ready");

    // Forgot: the reset page keeps redirect_to in its form, and the form's post redirects.
    let forgot = json!({"email": "cat@example.com", "redirect_to": "https://app.example.com/signed-in"});
    assert_eq!(app.post_json("/password/forgot", &forgot, None).await.status(), StatusCode::ACCEPTED);
    let reset = app.reset_link("cat@example.com", 3).await; // after the two activation emails
    let page = follow_in_browser(&app, &reset).await.text().await.unwrap();
    assert!(page.contains(r#"name="redirect_to" value="https://app.example.com/signed-in""#), "{page}");
    let token = reset.split("token=").nth(1).unwrap().split('&').next().unwrap();
    let new_password = "a brand new passphrase";
    let form = [("token", token), ("new_password", new_password), ("redirect_to", "https://app.example.com/signed-in")];
    let done = app.client.post(app.url("/password/reset")).form(&form).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "https://app.example.com/signed-in");

    // Email change: the confirmation link sends the browser on.
    let access = app.tokens("cat@example.com", new_password).await["access_token"].as_str().unwrap().to_owned();
    let change = json!({"new_email": "kit@example.com", "current_password": new_password,
                        "redirect_to": "https://app.example.com/settings"});
    assert_eq!(app.post_json("/email/change", &change, Some(&access)).await.status(), StatusCode::ACCEPTED);
    let confirm = app.smtp.nth_to("kit@example.com", 1).await.link("/email/confirm?token=");
    let confirmed = follow_in_browser(&app, &confirm).await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&confirmed), "https://app.example.com/settings");
}

#[tokio::test]
async fn without_an_allow_list_every_redirect_to_is_refused_and_pages_have_no_app_link() {
    let app = spawn_app().await;
    let body = json!({"email": "dan@example.com", "password": PASSWORD, "redirect_to": "https://app.example.com/"});
    let problem = assert_problem(app.sign_up(body).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("GATEHOUSE_REDIRECT_ALLOW"), "{problem}");

    app.sign_up(json!({"email": "dan@example.com", "password": PASSWORD})).await;
    let link = app.activation_link("dan@example.com", 1).await;
    assert!(!link.contains("redirect_to"), "{link}");
    let page = follow_in_browser(&app, &link).await.text().await.unwrap();
    assert!(page.contains("Your account is active") && !page.contains("Continue to"), "{page}");
}
