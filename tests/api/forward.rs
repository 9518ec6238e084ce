//! Forward-auth (`GET /auth/forward`) and the browser session behind it (`/login`, `/logout`),
//! asked the way nginx, Caddy and Traefik ask. (Real nginx and Caddy run in `e2e/proxy/`.)

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::browser::{Browser, field, location, query_param};
use crate::helpers::{Options, PASSWORD, TestApp, assert_problem, spawn_app_with};

const APP: &str = "http://app.test:8081";

/// gatehouse behind a proxy on this host, guarding `APP`.
async fn guarded(rules: &str) -> TestApp {
    let options = Options::default()
        .var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")
        .var("GATEHOUSE_REDIRECT_ALLOW", &format!("{APP}/"))
        .var("GATEHOUSE_FORWARD_RULES", rules);
    spawn_app_with(options).await
}

/// The question a proxy asks about `method path` on `APP`, as Traefik and Caddy put it.
fn ask(app: &TestApp, client: &reqwest::Client, method: &str, path: &str) -> reqwest::RequestBuilder {
    client
        .get(app.url("/auth/forward"))
        .header("x-forwarded-method", method)
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "app.test:8081")
        .header("x-forwarded-uri", path)
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_token_or_a_browser_session_passes_with_remote_headers_and_nobody_else_does() {
    let app =
        guarded("app.test:8081/health=public, app.test:8081/admin=group:admin, app.test:8081/staff=group:staff").await;
    let (account, token) = app.logged_in_user("ann@example.com").await;

    let passed = ask(&app, &app.client, "GET", "/reports?x=1").bearer_auth(&token).send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-user").as_deref(), account["id"].as_str(), "the id, which no one else gets");
    assert_eq!(header(&passed, "remote-email").as_deref(), Some("ann@example.com"));
    assert_eq!(header(&passed, "remote-groups").as_deref(), Some("user"));

    let api = ask(&app, &app.client, "GET", "/reports").send().await.unwrap();
    assert_problem(api, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let forged = ask(&app, &app.client, "GET", "/reports")
        .bearer_auth("not-a-token")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED, "a client that sent a token hears 401, not a redirect");
    let posted = ask(&app, &app.client, "POST", "/reports").header("accept", "text/html").send().await.unwrap();
    assert_eq!(posted.status(), StatusCode::UNAUTHORIZED, "only page loads are sent to log in");

    let public = ask(&app, &app.client, "GET", "/health").send().await.unwrap();
    assert_eq!(public.status(), StatusCode::OK);
    assert!(header(&public, "remote-user").is_none());

    let admin_only = ask(&app, &app.client, "GET", "/admin/x").bearer_auth(&token).send().await.unwrap();
    assert_problem(admin_only, StatusCode::FORBIDDEN, "forbidden").await;
    let admin = app.admin("root@example.com").await;
    let id = account["id"].as_str().unwrap();
    let roles = json!({"app_data": {"roles": ["staff", "a,b"]}});
    assert_eq!(
        app.send_json(Method::PATCH, &format!("/user/{id}"), &roles, Some(&admin)).await.status(),
        StatusCode::OK
    );
    let staff = ask(&app, &app.client, "GET", "/staff").bearer_auth(&token).send().await.unwrap();
    assert_eq!(staff.status(), StatusCode::OK, "a group from app_data.roles");
    assert_eq!(header(&staff, "remote-groups").as_deref(), Some("user,staff"), "a role with a comma is left out");
    let as_admin = ask(&app, &app.client, "GET", "/admin/x").bearer_auth(&admin).send().await.unwrap();
    assert_eq!(as_admin.status(), StatusCode::OK);

    // Logout acts on the very next question.
    assert_eq!(app.delete("/auth", Some(&token)).await.status(), StatusCode::NO_CONTENT);
    let after = ask(&app, &app.client, "GET", "/reports").bearer_auth(&token).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_browser_is_sent_to_log_in_and_back_and_its_logout_acts_at_once() {
    let options = Options::default()
        .var("GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1,::1")
        .var("GATEHOUSE_REDIRECT_ALLOW", &format!("{APP}/"))
        .var("GATEHOUSE_FORWARD_REMOTE_USER", "username");
    let app = spawn_app_with(options).await;
    app.active_user("ann@example.com", Some("ann")).await;
    let browser = Browser::new(&app);

    let asked = ask(&app, &browser.client, "GET", "/reports?x=1").header("accept", "text/html").send().await.unwrap();
    assert_eq!(asked.status(), StatusCode::FOUND);
    let login = location(&asked);
    assert_eq!(query_param(&login, "next").as_deref(), Some("http://app.test:8081/reports?x=1"));
    let nginx =
        ask(&app, &browser.client, "GET", "/reports").header("accept", "text/html").query(&[("redirect", "401")]);
    let nginx = nginx.send().await.unwrap();
    assert_eq!(nginx.status(), StatusCode::UNAUTHORIZED, "nginx's auth_request passes only 2xx, 401 and 403");
    assert!(header(&nginx, "location").unwrap().starts_with(&app.url("/login?next=")));

    let wrong = browser.log_in(&login, "ann@example.com", "wrong password!").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Wrong email, username or password."), "the form again, saying why");
    let logged_in = browser.log_in(&login, "ann", PASSWORD).await;
    assert_eq!(location(&logged_in), "http://app.test:8081/reports?x=1");
    let cookie = header(&logged_in, "set-cookie").unwrap();
    assert!(cookie.starts_with("gatehouse_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));

    let passed = ask(&app, &browser.client, "GET", "/reports?x=1").header("accept", "text/html").send().await.unwrap();
    assert_eq!(passed.status(), StatusCode::OK);
    assert_eq!(header(&passed, "remote-user").as_deref(), Some("ann"));

    let page = browser.get(&app.url("/login")).await.text().await.unwrap();
    assert!(page.contains("logged in as ann@example.com"));
    let form = field(&page, "form").unwrap();
    assert_eq!(browser.post_form(&app.url("/logout"), &[("form", &form)]).await.status(), StatusCode::OK);
    let after = ask(&app, &browser.client, "GET", "/reports").header("accept", "text/html").send().await.unwrap();
    assert_eq!(after.status(), StatusCode::FOUND, "the ended session is refused at once");
}

#[tokio::test]
async fn forms_from_elsewhere_and_addresses_outside_the_allow_list_lead_nowhere() {
    let app = guarded("").await;
    app.active_user("ann@example.com", None).await;
    let browser = Browser::new(&app);
    let page = browser.get(&app.url("/login?login_hint=ann%40example.com")).await.text().await.unwrap();
    assert!(page.contains("value=\"ann@example.com\""), "the hint fills in the login field");
    let form = field(&page, "form").unwrap();
    let fields = [("form", form.as_str()), ("login", "ann@example.com"), ("password", PASSWORD)];
    let cross_site = browser.client.post(app.url("/login")).header("origin", "https://evil.example").form(&fields);
    assert_eq!(cross_site.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let other_browser = Browser::new(&app);
    assert_eq!(
        other_browser.post_form(&app.url("/login"), &fields).await.status(),
        StatusCode::FORBIDDEN,
        "the token is this browser's"
    );

    let evil = app
        .client
        .get(app.url("/auth/forward"))
        .header("accept", "text/html")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-uri", "/")
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), StatusCode::UNAUTHORIZED, "no redirect to a host the operator did not list");
    let login = app.url("/login?next=https%3A%2F%2Fevil.example%2F");
    let logged_in = browser.log_in(&login, "ann@example.com", PASSWORD).await;
    assert_eq!(location(&logged_in), app.url("/login"), "an unlisted next is dropped");
}

#[tokio::test]
async fn a_forwarded_request_the_app_could_see_as_another_url_is_refused() {
    let app = guarded("app.test:8081/admin=group:admin, app.test:8081/public=public").await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    let cases: [&[(&str, &str)]; 8] = [
        &[("x-forwarded-host", "app.test:8081"), ("x-forwarded-uri", "/%61dmin/x")],
        &[("x-forwarded-host", "app.test:8081"), ("x-forwarded-uri", "/public/x%")],
        &[
            ("x-forwarded-host", "app.test:8081"),
            ("x-forwarded-uri", "/admin/x"),
            ("x-original-url", "http://app.test:8081/public/x"),
        ],
        &[("x-forwarded-host", "app.test:8081?"), ("x-forwarded-uri", "/admin/x")],
        &[("x-forwarded-host", "app.test:8081/public"), ("x-forwarded-uri", "/admin/x")],
        &[("x-forwarded-host", "app.test:8081"), ("x-forwarded-uri", "/public/x#/../../admin/x")],
        &[("x-forwarded-host", "app.test:8081"), ("x-forwarded-uri", "/public/..%2fadmin/x")],
        &[("x-original-url", "http://app.test:8081?/admin/x")],
    ];
    for headers in cases {
        let mut request =
            app.client.get(app.url("/auth/forward")).bearer_auth(&token).header("x-forwarded-proto", "http");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.unwrap();
        assert_problem(answer, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let agreeing = ask(&app, &app.client, "GET", "/public/x").header("x-original-url", "http://app.test:8081/public/x");
    assert_eq!(agreeing.send().await.unwrap().status(), StatusCode::OK);
    let shouting = ask(&app, &app.client, "GET", "/ADMIN/x").bearer_auth(&token).send().await.unwrap();
    assert_problem(shouting, StatusCode::FORBIDDEN, "forbidden").await;
    let spaced = ask(&app, &app.client, "GET", "/public/a%20b%C3%A9").send().await.unwrap();
    assert_eq!(spaced.status(), StatusCode::OK, "other escapes are an ordinary path");
}

#[tokio::test]
async fn only_a_trusted_proxy_may_ask() {
    let options = Options::default()
        .var("GATEHOUSE_TRUSTED_PROXIES", "10.0.0.0/8")
        .var("GATEHOUSE_FORWARD_RULES", "app.test:8081=public");
    let app = spawn_app_with(options).await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    // The rules would make this request public, and the token would pass any rule: from a peer
    // that is no proxy, neither counts.
    let answer = ask(&app, &app.client, "GET", "/").send().await.unwrap();
    assert_problem(answer, StatusCode::FORBIDDEN, "forbidden").await;
    let answer = ask(&app, &app.client, "GET", "/").bearer_auth(&token).send().await.unwrap();
    assert_problem(answer, StatusCode::FORBIDDEN, "forbidden").await;
    let bare = app.client.get(app.url("/auth/forward")).bearer_auth(&token).send().await.unwrap();
    assert_problem(bare, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn paths_a_servlet_container_reads_differently_are_refused() {
    let app = guarded("app.test:8081/health=public, app.test:8081/admin=group:admin").await;
    let (_, token) = app.logged_in_user("ann@example.com").await;
    for path in [
        "/health/..;/admin",
        "/admin;x=1",
        "/admin;/users",
        "//admin",
        "/admin/.",
        "/%2e%2e/admin",
        "/health/%2E%2e/admin",
    ] {
        let answer = ask(&app, &app.client, "GET", path).bearer_auth(&token).send().await.unwrap();
        assert_problem(answer, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let fully_qualified = app
        .client
        .get(app.url("/auth/forward"))
        .bearer_auth(&token)
        .header("x-forwarded-proto", "http")
        .header("x-forwarded-host", "APP.test.:8081")
        .header("x-forwarded-uri", "/admin/x")
        .send()
        .await
        .unwrap();
    assert_problem(fully_qualified, StatusCode::FORBIDDEN, "forbidden").await;
}

/// Ann, in a browser sent to the login page by a guarded app, asks for a login by email: the
/// app, the browser, the page's form token and `next`, and the "Check your email" page.
async fn email_login_asked() -> (TestApp, Browser, String, String, String) {
    let app = guarded("").await;
    app.active_user("ann@example.com", None).await;
    let browser = Browser::new(&app);
    let page = browser.get(&app.url("/login?next=http%3A%2F%2Fapp.test%3A8081%2Freports")).await.text().await.unwrap();
    let (form, next) = (field(&page, "form").unwrap(), field(&page, "next").unwrap());
    let fields = [("form", form.as_str()), ("next", next.as_str()), ("email_link", "ann@example.com")];
    let sent = browser.post_form(&app.url("/login"), &fields).await;
    assert_eq!(sent.status(), StatusCode::OK);
    let sent = sent.text().await.unwrap();
    assert!(sent.contains("a login link is on its way"), "{sent}");
    (app, browser, form, next, sent)
}

#[tokio::test]
async fn the_login_page_takes_a_link_by_email_and_goes_on_to_next() {
    let (app, browser, _, _, _) = email_login_asked().await;
    let link = app.smtp.nth_to("ann@example.com", 2).await.link("/auth/email/verify?token=");
    let page = browser.get(&link).await.text().await.unwrap();
    let (token, redirect_to) = (field(&page, "token").unwrap(), field(&page, "redirect_to").unwrap());
    assert!(redirect_to.starts_with(&app.url("/login?next=")), "the link comes back to the login page: {redirect_to}");
    let back =
        browser.post_form(&app.url("/auth/email/verify"), &[("token", &token), ("redirect_to", &redirect_to)]).await;
    let done = browser.get(&location(&back)).await;
    assert_eq!(location(&done), "http://app.test:8081/reports");
    let passed = ask(&app, &browser.client, "GET", "/reports").header("accept", "text/html").send().await.unwrap();
    assert_eq!(header(&passed, "remote-email").as_deref(), Some("ann@example.com"));
}

#[tokio::test]
async fn the_login_page_takes_the_code_of_the_email_and_goes_on_to_next() {
    let (app, browser, form, next, sent) = email_login_asked().await;
    assert!(sent.contains("Or type the code from the email"), "{sent}");
    assert_eq!(field(&sent, "email").as_deref(), Some("ann@example.com"));
    let text = app.smtp.nth_to("ann@example.com", 2).await.text();
    let code = text.lines().map(str::trim).find(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit())).unwrap();

    // A wrong code shows the same page again, saying why; the right one logs in.
    let wrong =
        [("form", form.as_str()), ("next", next.as_str()), ("email", "ann@example.com"), ("email_code", "00000000")];
    let refused = browser.post_form(&app.url("/login"), &wrong).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.text().await.unwrap().contains("Or type the code from the email"));
    let right = [("form", form.as_str()), ("next", next.as_str()), ("email", "ann@example.com"), ("email_code", code)];
    let done = browser.post_form(&app.url("/login"), &right).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "http://app.test:8081/reports");
    let passed = ask(&app, &browser.client, "GET", "/reports").header("accept", "text/html").send().await.unwrap();
    assert_eq!(header(&passed, "remote-email").as_deref(), Some("ann@example.com"));
}
